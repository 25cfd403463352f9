// The one expression language of the DSL: JSONata, for whole expressions and for {{ }} templates in strings.
// Expressions are compiled to JavaScript (./compiled) and run synchronously; the few constructs the compiler
// does not handle fall back, per expression, to the `jsonata` package, whose semantics the compiled code
// reproduces (engine/expr/conformance.test.ts holds it to the reference test suite). Compiled expressions
// are cached by source; evaluation is guarded by time and depth limits because specs can come from
// untrusted places (the wizard, a file someone sent).
import jsonata from 'jsonata';
import { createHash } from 'node:crypto';
import { AsyncRequired, compileAst, type CompiledJsonata, type ExtraFunction } from './compiled/index.ts';
import { GuardedRegExp, regexProblem, UNSAFE_REGEX } from './regex-guard.ts';
import { noteExpressionUse } from './usage.ts';

export type Bindings = Record<string, unknown>;

export interface ExpressionLimits {
  timeoutMs: number;
  /** JSONata evaluator depth (nesting of evaluated nodes, recursion included) */
  maxDepth: number;
  /** longest string `&`, $join, $pad or $replace may build (compiled path) */
  maxStringLength?: number;
  /** items one evaluation may copy into ranges, array constructors, $append and path results (compiled
   *  path): a step can copy millions of items, faster than the time guard notices the heap filling up */
  maxItems?: number;
}
const DEFAULT_LIMITS: ExpressionLimits = { timeoutMs: 2_000, maxDepth: 200, maxStringLength: 16_000_000, maxItems: 20_000_000 };

/** Longest expression source accepted; the shipped connectors' longest map is a few kilobytes. */
export const MAX_EXPRESSION_LENGTH = 65_536;
/** Deepest expression syntax tree accepted (shipped connectors nest about 15 levels). */
export const MAX_EXPRESSION_NESTING = 100;

export class ExpressionError extends Error {
  constructor(message: string, readonly source: string, readonly position?: number, readonly code?: string) {
    super(message);
    this.name = 'ExpressionError';
  }
}

/** An evaluation stopped by a guard (time, depth, string size, items copied, range size, unsafe regex):
 *  the expression is at fault, not the record, so a run stops instead of trying every other record. */
export class ExpressionGuardError extends ExpressionError {
  constructor(message: string, source: string, position: number | undefined, code: string) {
    super(message, source, position, code);
    this.name = 'ExpressionGuardError';
  }
}
const GUARD_CODES = new Set(['U1001', 'U1002', 'U1003', 'U1004', UNSAFE_REGEX, 'D2014']);

/** Thrown by evaluateSync() when only `jsonata` can give the exact outcome: the expression called a
 *  function that returned a promise (a function passed in bindings or data), or failed in a branch jsonata
 *  evaluates concurrently with others (which error it reports depends on its scheduling). The caller
 *  evaluates again with evaluate(), which hands the evaluation to jsonata. */
export class AsyncEvaluationRequired extends Error {
  constructor(readonly source: string, readonly reason: 'async-function' | 'error-order' = 'async-function') {
    super(reason === 'async-function' ? 'expression called an asynchronous function; use evaluate()' : 'which error jsonata reports first is decided by evaluate()');
    this.name = 'AsyncEvaluationRequired';
  }
}

export interface EvaluateOptions {
  /** object constructors may build plain objects instead of null-prototype ones: for callers that only
   *  read own enumerable properties of the result (faster to create; same keys and values) */
  plainObjects?: boolean;
  /** with plainObjects: the result object may keep keys whose value is undefined, for callers that skip
   *  those (faster to build: one object literal whatever is missing) */
  looseResult?: boolean;
}

export interface CompiledExpression {
  readonly source: string;
  /** true when the expression runs as compiled JavaScript, false when it is evaluated by `jsonata` */
  readonly compiled: boolean;
  /** why the expression falls back to `jsonata` */
  readonly fallbackReason?: string;
  evaluate(input: unknown, bindings?: Bindings): Promise<unknown>;
  /** Synchronous evaluation, present when compiled. Throws AsyncEvaluationRequired when only evaluate()
   *  can give jsonata's exact outcome (see there). */
  evaluateSync?(input: unknown, bindings?: Bindings, options?: EvaluateOptions): unknown;
}

// Helpers a mapping commonly needs that JSONata lacks; pure functions only, no I/O.
export const EXTRA_FUNCTIONS: Readonly<Record<string, ExtraFunction>> = {
  hash: [(s: unknown) => (s === undefined ? undefined : createHash('sha1').update(String(s)).digest('hex')), '<x-:s>'],
  // (an absolute URL has a scheme and so a colon: without one, no URL is tried, as its error would be costly)
  urlHost: [(s: unknown) => { try { return typeof s === 'string' && s.includes(':') ? new URL(s).hostname : undefined; } catch { return undefined; } }, '<s-:s>'],
  urlParam: [(s: unknown, name: string) => { try { return typeof s === 'string' && s.includes(':') ? new URL(s).searchParams.get(name) ?? undefined : undefined; } catch { return undefined; } }, '<s-s:s>'],
  toArray: [(v: unknown) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]), '<x-:a>'],
};

// ---- compilation report ------------------------------------------------------------------------------

export interface CompiledStats {
  compiled: number;
  fallback: number;
  /** the expressions evaluated by `jsonata`, and why */
  fallbacks: Array<{ source: string; reason: string }>;
}
const stats: CompiledStats = { compiled: 0, fallback: 0, fallbacks: [] };
type FallbackListener = (source: string, reason: string) => void;
const fallbackListeners = new Set<FallbackListener>();

/** Counts of compiled and fallback expressions so far, with the fallbacks' reasons. */
export function compiledStats(): CompiledStats {
  return { compiled: stats.compiled, fallback: stats.fallback, fallbacks: stats.fallbacks.map((f) => ({ ...f })) };
}
/** Called once per expression that falls back to `jsonata` (a run logs these). Returns an unsubscribe. */
export function onExpressionFallback(listener: FallbackListener): () => void {
  fallbackListeners.add(listener);
  return () => fallbackListeners.delete(listener);
}
function recordFallback(source: string, reason: string): void {
  stats.fallback++;
  if (stats.fallbacks.length < 1000) stats.fallbacks.push({ source, reason });
  for (const l of fallbackListeners) l(source, reason);
  if (process.env.OFFERFEED_DEBUG_EXPRESSIONS) process.stderr.write(`expression runs on jsonata (${reason}): ${source}\n`);
}

// ---- evaluation observer (differential tests record what expressions see) ------------------------------

type EvaluationObserver = (source: string, input: unknown, bindings: Bindings | undefined) => void;
let observer: EvaluationObserver | undefined;
/** Calls `fn` with every expression evaluation's source, input and bindings until the returned function
 *  is called; for tests that replay real inputs through both evaluators. */
export function observeEvaluations(fn: EvaluationObserver): () => void {
  observer = fn;
  return () => { if (observer === fn) observer = undefined; };
}

// ---- compile ---------------------------------------------------------------------------------------

const cache = new Map<string, CompiledExpression>();

export function compileExpression(source: string, limits: ExpressionLimits = DEFAULT_LIMITS): CompiledExpression {
  const cached = cache.get(source);
  if (cached) {
    noteExpressionUse(source, cached.compiled, cached.fallbackReason);
    return cached;
  }
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(`expression is ${source.length} characters long (limit ${MAX_EXPRESSION_LENGTH})`, source, 0, 'U1006');
  }
  let expr: jsonata.Expression;
  try {
    // jsonata's own timeout guards the fallback path; its depth counter is not used because async
    // evaluation inflates it for wide expressions (a 200-field object would fail), the JS stack bounds it.
    // Its RegexEngine builds the regexes of expressions given to $eval, which no compile-time check sees.
    expr = jsonata(source, { timeout: limits.timeoutMs, RegexEngine: GuardedRegExp as unknown as RegExpConstructor });
  } catch (e) {
    if (e instanceof RangeError) throw new ExpressionError(`expression nests too deeply to be parsed (limit ${MAX_EXPRESSION_NESTING} levels)`, source, 0, 'U1006');
    const err = e as { message: string; position?: number; code?: string };
    throw new ExpressionError(`invalid JSONata: ${err.message}`, source, err.position, err.code);
  }
  checkStructure(expr.ast(), source);
  for (const [name, [fn, sig]] of Object.entries(EXTRA_FUNCTIONS)) expr.registerFunction(name, fn, sig);

  let program: CompiledJsonata | undefined;
  let fallbackReason: string | undefined;
  if (process.env.OFFERFEED_JSONATA_COMPILER === 'off') {
    // the switch to take if the compiled path is ever suspected: every expression runs on jsonata
    fallbackReason = 'compiler switched off (OFFERFEED_JSONATA_COMPILER=off)';
  } else {
    try {
      program = compileAst(expr.ast(), EXTRA_FUNCTIONS);
    } catch (e) {
      fallbackReason = (e as Error).message;
    }
  }

  const fail = (e: unknown): ExpressionError => {
    const err = e as { message?: string; position?: number; code?: string };
    const message = `JSONata evaluation failed: ${err?.message ?? String(e)}`;
    const guard = guardCode(e);
    if (guard) return new ExpressionGuardError(message, source, err?.position, guard);
    return new ExpressionError(message, source, err?.position, err?.code);
  };
  const viaJsonata = async (input: unknown, bindings?: Bindings, observed = false): Promise<unknown> => {
    if (observer && !observed) observer(source, input, bindings);
    try {
      return normalizeResult(await expr.evaluate(input, bindings));
    } catch (e) {
      throw fail(guardError(e, limits));
    }
  };

  let compiled: CompiledExpression;
  if (program) {
    const prog = program;
    const runLimits = { timeoutMs: limits.timeoutMs, maxDepth: limits.maxDepth, maxStringLength: limits.maxStringLength, maxItems: limits.maxItems };
    const freeNames = prog.freeNames;
    const evaluateSync = (input: unknown, bindings?: Bindings, options?: EvaluateOptions): unknown => {
      if (observer) observer(source, input, bindings);
      try {
        return normalizeResult(prog.run(input, bindings, runLimits, options));
      } catch (e) {
        if (e instanceof AsyncRequired) throw new AsyncEvaluationRequired(source, e.why);
        throw fail(e);
      }
    };
    compiled = {
      source,
      compiled: true,
      async evaluate(input, bindings) {
        // a function in the bindings may be asynchronous: jsonata awaits it, so let jsonata call it
        if (bindings && bindsFunction(bindings, freeNames)) return viaJsonata(input, bindings);
        try {
          return evaluateSync(input, bindings);
        } catch (e) {
          if (e instanceof AsyncEvaluationRequired) return viaJsonata(input, bindings, true);
          throw e;
        }
      },
      evaluateSync,
    };
    stats.compiled++;
  } else {
    compiled = { source, compiled: false, fallbackReason, evaluate: viaJsonata };
    recordFallback(source, fallbackReason ?? 'not compiled');
  }
  cache.set(source, compiled);
  noteExpressionUse(source, compiled.compiled, compiled.fallbackReason);
  return compiled;
}

function bindsFunction(bindings: Bindings, names: readonly string[]): boolean {
  for (const name of names) {
    const v = Object.prototype.hasOwnProperty.call(bindings, name) ? bindings[name] : undefined;
    if (typeof v === 'function' || (v !== null && typeof v === 'object' && ((v as { _jsonata_function?: unknown })._jsonata_function === true || (v as { _jsonata_lambda?: unknown })._jsonata_lambda === true))) return true;
  }
  return false;
}

/** The fallback's guard errors under the codes the compiled path uses (U1001 depth, U1002 time). */
function guardError(e: unknown, limits: ExpressionLimits): unknown {
  const err = e as { code?: string; message?: string };
  if (err && err.code === 'D1012') return { ...err, code: 'U1002', message: `expression exceeded the time limit of ${limits.timeoutMs} ms` };
  if (e instanceof RangeError && /call stack/i.test(e.message)) return { code: 'U1001', message: `expression exceeded the maximum evaluation depth of ${limits.maxDepth}` };
  return e;
}

/** The guard an evaluation error comes from, if any: also through $eval's wrapper (D3121 around the
 *  inner error), and for the engine's own limits (an array or string longer than JavaScript allows). */
function guardCode(e: unknown): string | undefined {
  for (let cur = e as { code?: unknown; error?: unknown } | undefined, hops = 0; cur && typeof cur === 'object' && hops < 5; cur = cur.error as typeof cur, hops++) {
    if (cur instanceof RangeError) return /call stack/i.test(cur.message) ? 'U1001' : /string length/i.test(cur.message) ? 'U1003' : 'U1004';
    const code = String(cur.code);
    if (GUARD_CODES.has(code)) return code;
    if (code === 'D1012') return 'U1002';
  }
  return undefined;
}

// ---- compile-time checks ------------------------------------------------------------------------------

/** Refuses a syntax tree nested deeper than MAX_EXPRESSION_NESTING and regex literals that can backtrack
 *  catastrophically (a RegExp cannot be stopped once it runs; see regex-guard.ts). */
function checkStructure(ast: unknown, source: string): void {
  const stack: Array<[unknown, number]> = [[ast, 1]];
  const seen = new Set<object>();
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (!node || typeof node !== 'object' || node instanceof RegExp || seen.has(node)) continue;
    seen.add(node);
    const n = node as { type?: unknown; value?: unknown; position?: number };
    const isNode = !Array.isArray(node) && typeof n.type === 'string';
    if (isNode && depth > MAX_EXPRESSION_NESTING) {
      throw new ExpressionError(`expression nests more than ${MAX_EXPRESSION_NESTING} levels deep`, source, n.position, 'U1006');
    }
    if (n.type === 'regex' && n.value instanceof RegExp) {
      // jsonata adds the g flag itself; the literal as written is reported
      const re = n.value;
      const why = regexProblem(re.source, re.flags);
      if (why) {
        const at = source.lastIndexOf(`/${re.source}/`, n.position);
        throw new ExpressionError(`unsafe regular expression /${re.source}/: ${why}`, source, at >= 0 ? at : n.position, UNSAFE_REGEX);
      }
    }
    for (const [k, v] of Object.entries(node)) {
      // parent links and shared tables, not children
      if (k === 'ancestor' || k === 'slot' || k === 'signature' || k === 'tuple' || k === 'seekingParent') continue;
      if (v && typeof v === 'object') stack.push([v, Array.isArray(node) || !isNode ? depth : depth + 1]);
    }
  }
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
      const lead = m[1].length - m[1].trimStart().length;
      throw new ExpressionError(err.message, source, (m.index ?? 0) + 2 + lead + (err.position ?? 0), err.code);
    }
    last = m.index! + m[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  const single = parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : undefined;
  return {
    source,
    isStatic: parts.every((p) => typeof p === 'string'),
    async render(bindings, input = {}) {
      for (const p of parts) if (typeof p !== 'string') noteExpressionUse(p.source, p.compiled, p.fallbackReason);
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
