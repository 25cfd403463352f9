// Test support for the compiler: evaluate an expression both ways (`jsonata` and compiled) and compare the
// outcomes value for value (prototypes and sequence flags included) or error code for error code; and a
// seeded generator of awkward variants of a record (missing fields, numbers as strings, singletons as
// arrays, nulls) for differential fuzzing.
/* eslint-disable @typescript-eslint/no-explicit-any */
import jsonata from 'jsonata';
import { isDeepStrictEqual } from 'node:util';
import { AsyncRequired, compileAst, type CompiledJsonata, type ExtraFunction, type RunLimits } from './index.ts';

export type Outcome = { value: unknown } | { code: string; message?: string } | { deferred: string };

export interface Pair {
  reference: jsonata.Expression;
  compiled?: CompiledJsonata;
  /** why it did not compile */
  reason?: string;
}

/** The expression parsed once, for `jsonata` (with the given functions registered) and for the compiler. */
export function pair(source: string, functions: Readonly<Record<string, ExtraFunction>> = {}): Pair {
  const reference = jsonata(source);
  for (const [name, [fn, sig]] of Object.entries(functions)) reference.registerFunction(name, fn, sig);
  try {
    return { reference, compiled: compileAst(reference.ast(), functions) };
  } catch (e) {
    return { reference, reason: (e as Error).message };
  }
}

const errorOutcome = (e: any): Outcome => ({ code: e?.code ?? `JS:${e?.name ?? typeof e}`, message: e?.message });

export async function referenceOutcome(p: Pair, input: unknown, bindings?: Record<string, unknown>): Promise<Outcome> {
  try {
    return { value: await p.reference.evaluate(input, bindings) };
  } catch (e) {
    return errorOutcome(e);
  }
}

/** The compiled outcome; `deferred` when the engine would ask jsonata instead (see AsyncRequired). */
export function compiledOutcome(p: Pair, input: unknown, bindings: Record<string, unknown> | undefined, limits: RunLimits): Outcome {
  try {
    return { value: p.compiled!.run(input, bindings, limits) };
  } catch (e) {
    if (e instanceof AsyncRequired) return { deferred: e.why };
    return errorOutcome(e);
  }
}

/** Same value (functions compare as "a function") or same error code. */
export function sameOutcome(a: Outcome, b: Outcome, equivalentCodes: string[][] = []): boolean {
  if ('deferred' in a || 'deferred' in b) return false;
  if ('code' in a || 'code' in b) {
    if (!('code' in a) || !('code' in b)) return false;
    if (a.code === b.code) return true;
    return equivalentCodes.some((set) => set.includes(a.code) && set.includes(b.code));
  }
  return isDeepStrictEqual(functionsAsMarkers(a.value), functionsAsMarkers(b.value));
}

const isFunctionValue = (v: any): boolean => typeof v === 'function' || (v !== null && typeof v === 'object' && (v._jsonata_function === true || v._jsonata_lambda === true));

/** A copy with functions replaced by a marker, keeping prototypes and the flags jsonata puts on arrays. */
export function functionsAsMarkers(v: unknown, seen = new Map<object, unknown>()): unknown {
  if (isFunctionValue(v)) return '<function>';
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v)) return seen.get(v);
  if (Array.isArray(v)) {
    const out: any[] = [];
    seen.set(v, out);
    for (let i = 0; i < v.length; i++) out[i] = functionsAsMarkers(v[i], seen);
    for (const flag of ['sequence', 'keepSingleton', 'tupleStream', 'outerWrapper', 'cons']) {
      if ((v as any)[flag] !== undefined) (out as any)[flag] = (v as any)[flag];
    }
    return out;
  }
  const out = Object.create(Object.getPrototypeOf(v));
  seen.set(v, out);
  for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: functionsAsMarkers((v as any)[k], seen), enumerable: true, writable: true, configurable: true });
  return out;
}

export function describe(o: Outcome): string {
  if ('deferred' in o) return `deferred to jsonata (${o.deferred})`;
  if ('code' in o) return `error ${o.code}${o.message ? ` (${o.message})` : ''}`;
  try {
    return JSON.stringify(o.value, (_k, v) => (isFunctionValue(v) ? '<function>' : v))?.slice(0, 400) ?? 'undefined';
  } catch {
    return String(o.value);
  }
}

// ---- a fixed clock, so $now() and $millis() agree between the two evaluations ---------------------------

/** Runs `fn` with `new Date()` and Date.now() frozen at `at`. */
export async function atFixedTime<T>(at: number, fn: () => Promise<T>): Promise<T> {
  const RealDate = globalThis.Date;
  class FixedDate extends RealDate {
    constructor(...args: any[]) {
      if (args.length === 0) super(at);
      else super(...(args as [any]));
    }
    static override now(): number { return at; }
  }
  globalThis.Date = FixedDate as DateConstructor;
  try {
    return await fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

// ---- fuzzing ------------------------------------------------------------------------------------------

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)];

/** A variant of a JSON-like value where some fields go missing, change type, become arrays or singletons. */
export function mutate(v: unknown, r: () => number, depth = 0): unknown {
  if (depth > 6) return v;
  const p = r();
  if (Array.isArray(v)) {
    if (p < 0.1) return v.length ? mutate(v[0], r, depth + 1) : undefined;
    if (p < 0.15) return [];
    if (p < 0.2) return [v];
    return v.map((x) => (r() < 0.5 ? mutate(x, r, depth + 1) : x)).filter((x) => x !== undefined);
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const q = r();
      if (q < 0.12) continue;
      out[k] = q < 0.55 ? mutate(x, r, depth + 1) : x;
    }
    if (r() < 0.05) out[pick(r, ['extra', 'id', 'name', 'price'])] = pick(r, [1, 'x', null, [1, 2], { a: 1 }]);
    return p < 0.05 ? [out] : out;
  }
  if (p < 0.15) return undefined;
  if (p < 0.25) return null;
  if (typeof v === 'string') {
    if (p < 0.35) return v === '' ? 'x' : '';
    if (p < 0.45 && v.trim() !== '' && !isNaN(Number(v))) return Number(v);
    if (p < 0.5) return [v, v];
    if (p < 0.55) return [v];
    if (p < 0.6) return 12.5;
    return v;
  }
  if (typeof v === 'number') {
    if (p < 0.4) return String(v);
    if (p < 0.5) return -v;
    if (p < 0.55) return [v, 0];
    if (p < 0.6) return 0;
    return v;
  }
  if (typeof v === 'boolean') return p < 0.5 ? !v : String(v);
  if (v === null) return pick(r, ['', 0, 'null', false]);
  return v;
}
