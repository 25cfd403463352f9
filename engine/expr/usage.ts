// Which expressions a piece of work (one sync run) used, and how each runs: compiled to JavaScript or on
// `jsonata` (a fallback, with the compiler's reason). Expressions are compiled once per process and cached,
// so a run cannot learn this from compilation: every use (compileExpression, a template's render) notes
// the expression in the usage of the work it belongs to, found through AsyncLocalStorage.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface ExpressionFallback {
  source: string;
  reason: string;
}

export interface ExpressionSummary {
  /** distinct expressions used that run as compiled JavaScript */
  compiled: number;
  /** distinct expressions used that run on `jsonata` */
  fallback: number;
  /** the fallbacks, where they are (see locate) and why */
  fallbacks: Array<{ where: string; reason: string }>;
}

export class ExpressionUsage {
  private readonly compiledSources = new Set<string>();
  private readonly fallbacks = new Map<string, string>();

  note(source: string, compiled: boolean, reason: string | undefined): void {
    if (compiled) this.compiledSources.add(source);
    else if (!this.fallbacks.has(source)) this.fallbacks.set(source, reason ?? 'not compiled');
  }

  /** `locate` names an expression for people (spec file, line and field); the source itself otherwise. */
  summary(locate: (source: string) => string | undefined = () => undefined): ExpressionSummary {
    return {
      compiled: this.compiledSources.size,
      fallback: this.fallbacks.size,
      fallbacks: [...this.fallbacks].map(([source, reason]) => ({ where: locate(source) ?? oneLine(source), reason })),
    };
  }

  list(): { compiled: string[]; fallbacks: ExpressionFallback[] } {
    return { compiled: [...this.compiledSources], fallbacks: [...this.fallbacks].map(([source, reason]) => ({ source, reason })) };
  }
}

const current = new AsyncLocalStorage<ExpressionUsage>();

/** Runs `fn` with `usage` noting every expression used inside it (including its asynchronous work). */
export function trackExpressions<T>(usage: ExpressionUsage, fn: () => Promise<T>): Promise<T> {
  return current.run(usage, fn);
}

/** Notes an expression's use in the current work, if it is tracked. */
export function noteExpressionUse(source: string, compiled: boolean, reason: string | undefined): void {
  current.getStore()?.note(source, compiled, reason);
}

const oneLine = (s: string) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 120 ? `${t.slice(0, 117)}...` : t;
};
