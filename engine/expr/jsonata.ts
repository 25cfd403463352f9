// The one expression language of the DSL: JSONata, for whole expressions and for {{ }} templates in strings.
// Compiled expressions are cached by source; evaluation is guarded by time and depth limits because specs
// can come from untrusted places (the wizard, a file someone sent).
import jsonata from 'jsonata';
import { createHash } from 'node:crypto';

export type Bindings = Record<string, unknown>;

export interface ExpressionLimits { timeoutMs: number; maxDepth: number }
const DEFAULT_LIMITS: ExpressionLimits = { timeoutMs: 2_000, maxDepth: 200 };

export class ExpressionError extends Error {
  constructor(message: string, readonly source: string, readonly position?: number, readonly code?: string) {
    super(message);
    this.name = 'ExpressionError';
  }
}

export interface CompiledExpression {
  readonly source: string;
  evaluate(input: unknown, bindings?: Bindings): Promise<unknown>;
}

// Helpers a mapping commonly needs that JSONata lacks; pure functions only, no I/O.
const extraFunctions: Record<string, [(...args: any[]) => unknown, string]> = {
  hash: [(s: unknown) => (s === undefined ? undefined : createHash('sha1').update(String(s)).digest('hex')), '<x-:s>'],
  urlHost: [(s: unknown) => { try { return typeof s === 'string' ? new URL(s).hostname : undefined; } catch { return undefined; } }, '<s-:s>'],
  urlParam: [(s: unknown, name: string) => { try { return typeof s === 'string' ? new URL(s).searchParams.get(name) ?? undefined : undefined; } catch { return undefined; } }, '<s-s:s>'],
  toArray: [(v: unknown) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]), '<x-:a>'],
};

const cache = new Map<string, CompiledExpression>();

export function compileExpression(source: string, limits: ExpressionLimits = DEFAULT_LIMITS): CompiledExpression {
  const cached = cache.get(source);
  if (cached) return cached;
  let expr: jsonata.Expression;
  try {
    expr = jsonata(source);
  } catch (e) {
    const err = e as { message: string; position?: number; code?: string };
    throw new ExpressionError(`invalid JSONata: ${err.message}`, source, err.position, err.code);
  }
  for (const [name, [fn, sig]] of Object.entries(extraFunctions)) expr.registerFunction(name, fn, sig);
  const compiled: CompiledExpression = {
    source,
    async evaluate(input, bindings) {
      const guard = guardBindings(limits);
      try {
        return normalizeResult(await expr.evaluate(input, bindings ? { ...bindings, ...guard } : guard));
      } catch (e) {
        const err = e as { message: string; position?: number; code?: string };
        throw new ExpressionError(`JSONata evaluation failed: ${err.message}`, source, err.position, err.code);
      }
    },
  };
  cache.set(source, compiled);
  return compiled;
}

// JSONata's evaluate-entry/exit hooks let us stop runaway (deep or endless) evaluations.
function guardBindings(limits: ExpressionLimits): Bindings {
  const deadline = Date.now() + limits.timeoutMs;
  let depth = 0;
  let steps = 0;
  return {
    [Symbol.for('jsonata.__evaluate_entry') as unknown as string]: () => {
      depth++;
      if (depth > limits.maxDepth) throw { code: 'U1001', message: `expression exceeded maximum depth ${limits.maxDepth}` };
      if ((++steps & 1023) === 0 && Date.now() > deadline) {
        throw { code: 'U1002', message: `expression exceeded time limit ${limits.timeoutMs}ms` };
      }
    },
    [Symbol.for('jsonata.__evaluate_exit') as unknown as string]: () => { depth--; },
  };
}

// JSONata marks sequences with extra properties; plain arrays keep results comparable and serializable.
function normalizeResult(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalizeResult);
  return v;
}

// ---- templates -------------------------------------------------------------------------------------

const SEGMENT = /\{\{([\s\S]*?)\}\}/g;

export interface CompiledTemplate {
  readonly source: string;
  readonly isStatic: boolean;
  render(bindings: Bindings, input?: unknown): Promise<unknown>;
}

/** Splits a template into literal text and expressions; throws ExpressionError on bad JSONata. */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: Array<string | CompiledExpression> = [];
  let last = 0;
  for (const m of source.matchAll(SEGMENT)) {
    if (m.index! > last) parts.push(source.slice(last, m.index));
    const body = m[1].trim();
    if (!body) throw new ExpressionError('empty {{ }} in template', source, m.index);
    try {
      parts.push(compileExpression(body));
    } catch (e) {
      const err = e as ExpressionError;
      throw new ExpressionError(err.message, source, (m.index ?? 0) + 2 + (err.position ?? 0), err.code);
    }
    last = m.index! + m[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  const single = parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : undefined;
  return {
    source,
    isStatic: parts.every((p) => typeof p === 'string'),
    async render(bindings, input = {}) {
      if (single) return single.evaluate(input, bindings);
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') out += p;
        else {
          const v = await p.evaluate(input, bindings);
          if (v !== undefined && v !== null) out += typeof v === 'object' ? JSON.stringify(v) : String(v);
        }
      }
      return out;
    },
  };
}

const templateCache = new Map<string, CompiledTemplate>();
export function template(source: string): CompiledTemplate {
  let t = templateCache.get(source);
  if (!t) { t = compileTemplate(source); templateCache.set(source, t); }
  return t;
}

export const hasTemplate = (s: string): boolean => s.includes('{{');

/** Renders any value: strings as templates, objects and arrays recursively; other scalars as they are. */
export async function renderValue(value: unknown, bindings: Bindings): Promise<unknown> {
  if (typeof value === 'string') return hasTemplate(value) ? template(value).render(bindings) : value;
  if (Array.isArray(value)) return Promise.all(value.map((v) => renderValue(v, bindings)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = await renderValue(v, bindings);
      if (r !== undefined && r !== null) out[k] = r;
    }
    return out;
  }
  return value;
}

/** Renders a name → template map to strings, dropping entries that render to nothing. */
export async function renderStringMap(map: Record<string, unknown> | undefined, bindings: Bindings): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) {
    const r = await renderValue(v, bindings);
    if (r === undefined || r === null || r === '') continue;
    out[k] = Array.isArray(r) ? r.join(',') : typeof r === 'object' ? JSON.stringify(r) : String(r);
  }
  return out;
}
