// Compiles a parsed JSONata expression to a synchronous JavaScript function, or says why it cannot (the
// caller then evaluates with `jsonata` itself). The generated source only ever sees `rt` (a frozen table
// of runtime helpers) and `K` (constants: signatures, regexes, builtin definitions).
/* eslint-disable @typescript-eslint/no-explicit-any */
import * as runtime from './runtime.ts';
import { AsyncRequired, G, populateMessage, quickValidator, type Any } from './runtime.ts';
import { BUILTINS, parseSignature } from './functions.ts';
import { generate, Unsupported } from './codegen.ts';

export { AsyncRequired, Unsupported, BUILTINS };

export interface RunLimits { timeoutMs: number; maxDepth: number; maxStringLength?: number; maxItems?: number }
export interface RunOptions {
  /** objects built by object constructors get Object.prototype instead of null (faster to create) */
  plainObjects?: boolean;
  /** with plainObjects: the result object may keep keys whose value is undefined (for callers that skip
   *  those, as normalizeOffer does): it is then built as one literal */
  looseResult?: boolean;
}

export interface CompiledJsonata {
  /** generated JavaScript, for inspection and tests */
  readonly source: string;
  /** variables the expression may read from its bindings */
  readonly freeNames: readonly string[];
  run(input: unknown, bindings: Record<string, unknown> | undefined, limits: RunLimits, options?: RunOptions): unknown;
}

const RT = Object.freeze({
  ...runtime,
  UNBOUND: runtime.UNBOUND,
  TAIL: runtime.TAIL,
});

/** A function the expression environment registers (name -> implementation and signature). */
export type ExtraFunction = [(...args: any[]) => unknown, string];

const extraDefs = new WeakMap<ExtraFunction, Any>();
function definition(fn: ExtraFunction): Any {
  let d = extraDefs.get(fn);
  if (!d) {
    d = { _jsonata_function: true, implementation: fn[0], signature: parseSignature(fn[1]) };
    Object.defineProperty(d, 'quick', { value: quickValidator(fn[1]), enumerable: false });
    Object.defineProperty(d, 'callsBack', { value: false, enumerable: false });
    extraDefs.set(fn, d);
  }
  return d;
}

/** Throws Unsupported when some construct has no compiled form. */
export function compileAst(ast: unknown, functions: Record<string, ExtraFunction> = {}): CompiledJsonata {
  const defs: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(functions)) defs[name] = definition(fn);
  const build = (depthChecks: boolean) => {
    const gen = generate(ast, { functions: defs, depthChecks });
    try {
      return { gen, root: new Function('rt', 'K', gen.source)(RT, gen.consts) as Root };
    } catch (e) {
      throw new Unsupported(`generated code did not compile: ${(e as Error).message}`);
    }
  };
  // The root function without depth checks (smaller, so V8 optimizes it; a limit at or above its deepest
  // leaf can never be hit there), and, made when a run's limit is lower, the one with them.
  const { gen, root: unchecked } = build(false);
  const rootDepth = gen.rootDepth;
  let checked: Root | undefined;
  const usesTime = gen.usesTime;
  return {
    source: gen.source,
    freeNames: gen.freeNames,
    run(input, bindings, limits, options) {
      const root = limits.maxDepth - 1 >= rootDepth ? unchecked : (checked ??= build(true).root);
      if (G.active) return nested(root, usesTime, input, bindings, limits, options);
      G.active = true;
      try {
        return start(root, usesTime, input, bindings, limits, options);
      } finally {
        G.active = false;
        G.tf = undefined;
        G.ta = EMPTY;
      }
    },
  };
}
const EMPTY: unknown[] = [];
type Root = (input: unknown, bindings: unknown) => unknown;

/** Resets the evaluation state for one run of `root` and maps its errors to JSONata's. */
function start(root: (i: unknown, b: unknown) => unknown, usesTime: boolean, input: unknown, bindings: unknown, limits: RunLimits, options?: RunOptions): unknown {
  G.plain = options?.plainObjects === true;
  G.loose = G.plain && options?.looseResult === true;
  G.d = 0;
  G.maxDepth = limits.maxDepth;
  G.timeoutMs = limits.timeoutMs;
  G.maxString = limits.maxStringLength ?? Infinity;
  G.work = 0;
  G.maxWork = limits.maxItems ?? Infinity;
  G.steps = 0;
  G.deadline = 0;
  G.par = 0;
  if (usesTime) G.ts = new Date();
  try {
    return root(input, bindings);
  } catch (e) {
    throw finishError(e, limits);
  }
}

/** An evaluation started from inside another (a function in the bindings evaluating an expression). */
function nested(root: (i: unknown, b: unknown) => unknown, usesTime: boolean, input: unknown, bindings: unknown, limits: RunLimits, options?: RunOptions): unknown {
  const saved = { ...G };
  try {
    return start(root, usesTime, input, bindings, limits, options);
  } finally {
    Object.assign(G, saved);
  }
}

function finishError(e: unknown, limits: RunLimits): unknown {
  if (e instanceof AsyncRequired) return e;
  const guard = e && typeof e === 'object' && /^U100/.test(String((e as { code?: unknown }).code));
  if (G.par > 0 && !guard && !(e instanceof RangeError)) return new AsyncRequired('error-order', e);
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    const err = { code: 'U1001', value: limits.maxDepth };
    populateMessage(err);
    return err;
  }
  populateMessage(e);
  return e;
}
