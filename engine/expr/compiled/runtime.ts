// Runtime of compiled JSONata: the value model (sequences and their flags), operators, path helpers, the
// calling convention for functions and the guard state. Each helper mirrors the evaluator of the `jsonata`
// package (2.2) statement for statement where the result can differ, because compiled code must produce
// the same values and the same error codes; comments point out the quirks that are kept on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
import jsonata from 'jsonata';

export type Any = any;

// ---- guard state ---------------------------------------------------------------------------------------
// One evaluation runs synchronously, so guard state is module-global and saved/restored around each
// top-level evaluation (a foreign function may start another evaluation from inside one).
export interface GuardState {
  /** JSONata evaluator depth of the node that is applying a function (the callee body runs one deeper). */
  d: number;
  maxDepth: number;
  deadline: number;
  timeoutMs: number;
  steps: number;
  maxString: number;
  /** an evaluation is running (nested evaluations save and restore this state) */
  active: boolean;
  /** depth of concurrently evaluated branches (not the last of their constructor) being evaluated */
  par: number;
  /** object constructors may return plain objects instead of jsonata's null-prototype ones (for callers
   *  that only enumerate own properties, where the prototype cannot matter) */
  plain: boolean;
  /** the expression's result object (an object constructor in result position) may keep keys whose value
   *  is undefined, built as one literal (for callers that skip such keys; needs `plain`) */
  loose: boolean;
  /** evaluation timestamp for $now() and $millis() */
  ts: Date;
  /** pending tail call: function, arguments, and its procedure's position and name (for errors) */
  tf: Any;
  ta: Any[];
  tpos: number;
  ttok: string | undefined;
  /** items copied so far and the budget (see charge()) */
  work: number;
  maxWork: number;
}
export const G: GuardState = { d: 0, maxDepth: Infinity, deadline: Infinity, timeoutMs: 0, steps: 0, maxString: Infinity, active: false, plain: false, loose: false, par: 0, ts: new Date(0), tf: undefined, ta: [], tpos: 0, ttok: undefined, work: 0, maxWork: Infinity };

export const TAIL = Symbol('tail-call');
export const UNBOUND = Symbol('unbound');
/** Compiled lambdas carry their body under this key; the function object itself stays callable from JS. */
export const LAMBDA = Symbol('compiled-lambda');

/** The compiled code cannot give jsonata's exact outcome: a function returned a promise, or an error came
 *  out of a branch that jsonata evaluates concurrently with others (it reports whichever fails first). */
export class AsyncRequired extends Error {
  constructor(readonly why: 'async-function' | 'error-order' = 'async-function', readonly error?: unknown) {
    super(why === 'async-function' ? 'an asynchronous function was called during synchronous evaluation' : 'an error in a concurrently evaluated branch');
    this.name = 'AsyncRequired';
  }
}

/** Time guard, counted in steps: the clock is read every 1024 steps; the deadline starts at the first read,
 *  so short evaluations never read the clock at all. */
export function tick(): void {
  if ((++G.steps & 1023) === 0) {
    const now = Date.now();
    if (G.deadline === 0) G.deadline = now + G.timeoutMs;
    else if (now > G.deadline) throw timeoutError();
  }
}
export const timeoutError = () => ({ code: 'U1002', value: G.timeoutMs });
export const depthError = () => ({ code: 'U1001', value: G.maxDepth });
export function deep(): never { throw depthError(); }

export function sizeCheck(s: string): string {
  if (s.length > G.maxString) throw { code: 'U1003', value: G.maxString };
  return s;
}

/** Work guard (hostile specs): one step can copy millions of items (a 1e7 range, flattened again for
 *  every item of another), filling the heap before the step-counted clock is read. Operations that copy
 *  items charge them: a budget per evaluation, and a clock read whenever a big copy starts. */
export function charge(n: number): void {
  if ((G.work += n) > G.maxWork) throw { code: 'U1004', value: G.maxWork };
  if (n >= 4096) {
    const now = Date.now();
    if (G.deadline === 0) G.deadline = now + G.timeoutMs;
    else if (now > G.deadline) throw timeoutError();
  }
}

// ---- value model ---------------------------------------------------------------------------------------

export function seq(): Any[] {
  const s: Any = [];
  s.sequence = true;
  return s;
}
export function seq1(v: Any): Any[] {
  const s: Any = [v];
  s.sequence = true;
  return s;
}
export const isSeq = (v: Any): boolean => v.sequence === true && Array.isArray(v);

/** The post-processing jsonata applies to every node's result. */
export function fin(r: Any): Any {
  // Array.isArray first: reading .sequence off every kind of value would make the access megamorphic
  if (Array.isArray(r) && (r as Any).sequence === true && !(r as Any).tupleStream) {
    if (r.length === 0) return undefined;
    if (r.length === 1) return (r as Any).keepSingleton ? r : r[0];
  }
  return r;
}
/** fin() for nodes carrying the `[]` keep-array flag. */
export function finK(r: Any): Any {
  if (Array.isArray(r) && (r as Any).sequence === true && !(r as Any).tupleStream) {
    (r as Any).keepSingleton = true;
    if (r.length === 0) return undefined;
    if (r.length === 1) return r;
  }
  return r;
}

export function isNumeric(n: Any): boolean {
  if (typeof n === 'number') {
    if (n !== n) return false;
    if (!isFinite(n)) throw { code: 'D1001', value: n };
    return true;
  }
  return false;
}
export function isArrayOfStrings(arg: Any): boolean {
  if (!Array.isArray(arg)) return false;
  for (let i = 0; i < arg.length; i++) if (typeof arg[i] !== 'string') return false;
  return true;
}
// jsonata filters over every item, so an Infinity anywhere throws even after a non-number was seen.
export function isArrayOfNumbers(arg: Any): boolean {
  if (!Array.isArray(arg)) return false;
  let ok = true;
  for (let i = 0; i < arg.length; i++) if (!isNumeric(arg[i])) ok = false;
  return ok;
}
export function isFunction(arg: Any): boolean {
  return (arg && (arg._jsonata_function === true || arg._jsonata_lambda === true)) || typeof arg === 'function';
}
export function getFunctionArity(func: Any): number {
  return typeof func.arity === 'number' ? func.arity
    : typeof func.implementation === 'function' ? func.implementation.length
      : typeof func.length === 'number' ? func.length : func.arguments.length;
}
export function isPromise(arg: Any): boolean {
  return typeof arg === 'object' && arg !== null && 'then' in arg && typeof arg.then === 'function';
}
export function isIterable(arg: Any): boolean {
  return typeof arg === 'object' && arg !== null && Symbol.iterator in arg && 'next' in arg && typeof arg.next === 'function';
}
export function isDeepEqual(lhs: Any, rhs: Any): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    tick(); // shared substructures make a walk exponential in the steps that built them (hostile specs)
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false;
      return true;
    }
    let lkeys = Object.getOwnPropertyNames(lhs);
    let rkeys = Object.getOwnPropertyNames(rhs);
    if (lkeys.length !== rkeys.length) return false;
    lkeys = lkeys.sort();
    rkeys = rkeys.sort();
    for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
    for (let i = 0; i < lkeys.length; i++) if (!isDeepEqual(lhs[lkeys[i]], rhs[lkeys[i]])) return false;
    return true;
  }
  return false;
}
export function stringToArray(str: string): string[] {
  const arr: string[] = [];
  for (const ch of str) arr.push(ch);
  return arr;
}
export const keysOf = (arg: Any): string[] => (typeof arg === 'object' && arg !== null ? Object.keys(arg) : []);
export const hop = Object.prototype.hasOwnProperty;

/** fn.append */
export function append(arg1: Any, arg2: Any): Any {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  if (!Array.isArray(arg1)) arg1 = seq1(arg1);
  if (!Array.isArray(arg2)) arg2 = [arg2];
  charge(arg1.length + arg2.length);
  return arg1.concat(arg2);
}

/** fn.lookup: the value of a name step. */
export function lookup(input: Any, key: string): Any {
  if (Array.isArray(input)) {
    tick(); // nested arrays may share parts: see isDeepEqual
    const result = seq();
    for (let i = 0; i < input.length; i++) {
      const res = lookup(input[i], key);
      if (res !== undefined) {
        if (Array.isArray(res)) for (let j = 0; j < res.length; j++) result.push(res[j]);
        else result.push(res);
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && hop.call(input, key) && !isFunction(input)) return input[key];
  return undefined;
}

/** The context value `$`: the outer wrapper of an array input stands for the array itself. */
export const ctxValue = (input: Any): Any => (input && input.outerWrapper ? input[0] : input);

export function wildcard(input: Any): Any {
  let results: Any = seq();
  if (Array.isArray(input) && (input as Any).outerWrapper && input.length > 0) input = input[0];
  if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of keysOf(input)) {
      let value = input[key];
      if (Array.isArray(value)) {
        value = flatten(value, []);
        results = append(results, value);
      } else {
        results.push(value);
      }
    }
  }
  return results;
}
function flatten(arg: Any, flattened: Any[]): Any[] {
  tick(); // nested arrays may share parts: see isDeepEqual
  if (Array.isArray(arg)) for (const item of arg) flatten(item, flattened);
  else flattened.push(arg);
  return flattened;
}
export function descendants(input: Any): Any {
  const rs = seq();
  if (input !== undefined) {
    recurseDescendants(input, rs);
    return rs.length === 1 ? rs[0] : rs;
  }
  return undefined;
}
function recurseDescendants(input: Any, results: Any[]): void {
  tick(); // values may share parts: see isDeepEqual
  if (!Array.isArray(input)) results.push(input);
  if (Array.isArray(input)) {
    for (const member of input) recurseDescendants(member, results);
  } else if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of keysOf(input)) recurseDescendants(input[key], results);
  }
}

/** Result of a path step: flattens one level, except a lone array at the last step. */
export function flattenStep(result: Any[], lastStep: boolean): Any {
  if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSeq(result[0])) return result[0];
  const rs = seq();
  for (let i = 0; i < result.length; i++) {
    const res = result[i];
    if (!Array.isArray(res) || (res as Any).cons) rs.push(res);
    else { charge(res.length); for (let j = 0; j < res.length; j++) rs.push(res[j]); }
  }
  return rs;
}
/** jsonata's evaluatePath for the name steps `keys[from..]` over the sequence `cur` (the path's value
 *  before its final fin()): each step looks the name up in every item (own properties; arrays in a
 *  sequence are constructed ones, looked up item by item), drops what is undefined and flattens arrays one
 *  level, except that a single raw array at the last step is the result itself (when `final`: the keys'
 *  last step is the path's last one). */
export function nameSteps(cur: Any, keys: string[], from: number, final = true): Any {
  for (let k = from; k < keys.length; k++) {
    const key = keys[k];
    const last = k === keys.length - 1;
    const inherited = (OP as Any)[key] !== undefined;
    const rs = seq();
    let count = 0;
    let first: Any;
    for (let i = 0; i < cur.length; i++) {
      tick();
      let v = cur[i];
      if (v === null || typeof v !== 'object') continue;
      if (Array.isArray(v)) {
        v = lookup(v, key);
      } else {
        const w = v[key];
        v = w !== undefined && ((v.constructor === Object && !inherited) || hop.call(v, key)) && v._jsonata_function !== true && v._jsonata_lambda !== true ? w : undefined;
      }
      if (v === undefined) continue;
      if (Array.isArray(v) && (v as Any).sequence === true) {
        v = fin(v);
        if (v === undefined) continue;
      }
      if (++count === 1) first = v;
      if (!Array.isArray(v) || (v as Any).cons) rs.push(v);
      else { charge(v.length); for (let j = 0; j < v.length; j++) rs.push(v[j]); }
    }
    if (last && final && count === 1 && Array.isArray(first) && !isSeq(first)) return first;
    if (rs.length === 0 || last) return rs;
    cur = rs;
  }
  return cur;
}
/** Context of every value in an object constructor with literal keys applied to an array: jsonata's
 *  grouping appends all items under each key (and pushes undefined into an empty input). */
export function groupContext(input: Any[]): Any {
  if (input.length === 0) {
    input.push(undefined);
    return undefined;
  }
  let data = input[0];
  for (let i = 1; i < input.length; i++) data = append(data, input[i]);
  return data;
}
/** Flags on the result of a path with `[]`; can throw a TypeError like jsonata on an undefined result. */
export function keepSingletonArray(rs: Any): Any {
  if (Array.isArray(rs) && (rs as Any).cons && !(rs as Any).sequence) rs = seq1(rs);
  rs.keepSingleton = true;
  return rs;
}
export function markCons(a: Any[]): Any[] {
  Object.defineProperty(a, 'cons', { enumerable: false, configurable: false, value: true });
  return a;
}
/** tuple stream -> sequence of context values */
export function tupleValues(tb: Any[]): Any[] {
  const rs = seq();
  for (let i = 0; i < tb.length; i++) rs.push(tb[i]['@']);
  return rs;
}
export function toTuples(input: Any): Any[] {
  return input.map((item: Any) => ({ '@': item }));
}
export function tupleSeq(): Any[] {
  const s: Any = seq();
  s.tupleStream = true;
  return s;
}
export function newTuple(from: Any): Any {
  const t = Object.create(null);
  Object.assign(t, from);
  return t;
}
export function reduceTupleStream(tupleStream: Any): Any {
  if (!Array.isArray(tupleStream)) return tupleStream;
  const result = Object.create(null);
  Object.assign(result, tupleStream[0]);
  for (let i = 1; i < tupleStream.length; i++) {
    for (const prop of keysOf(tupleStream[i])) result[prop] = append(result[prop], tupleStream[i][prop]);
  }
  return result;
}
/** How many times a filter predicate result keeps the item at `index` (an index list may repeat it). */
export function predicateHits(res: Any, index: number, length: number): number {
  if (isNumeric(res)) res = [res];
  if (isArrayOfNumbers(res)) {
    let n = 0;
    for (let k = 0; k < res.length; k++) {
      let ii = Math.floor(res[k]);
      if (ii < 0) ii = length + ii;
      if (ii === index) n++;
    }
    return n;
  }
  return boolean(res) ? 1 : 0;
}
/** indexFilter where only the final value matters (no [] on the node, no tuple stream): the item itself
 *  rather than a one-item sequence, undefined rather than an empty one. */
export function indexItem(input: Any, n: number): Any {
  if (input && input.tupleStream) return indexFilter(input, n);
  let index = Math.floor(n);
  if (!Array.isArray(input)) return index === 0 || index === -1 ? input : undefined;
  if (index < 0) index = input.length + index;
  return input[index];
}
/** $replace(str, /re/, "text") with a replacement free of `$`: jsonata's match loop (same matches, same
 *  D1004 on an empty match after the first) without building match objects. */
export function replaceLiteral(re: RegExp, str: string, replacement: string, pos: number): string {
  re.lastIndex = 0;
  let m = re.exec(str);
  if (m === null) return str;
  let result = '';
  let position = 0;
  for (;;) {
    result += str.substring(position, m.index) + replacement;
    if (result.length > G.maxString) sizeCheck(result);
    position = m.index + m[0].length;
    if (re.lastIndex >= str.length) break;
    m = re.exec(str);
    if (m === null) break;
    if (m[0] === '') throw { code: 'D1004', position: pos, value: re.source };
  }
  return result + str.substring(position);
}
/** A filter with a literal number: item at that index (from the end when negative). */
export function indexFilter(input: Any, n: number): Any {
  let results: Any = seq();
  if (input && input.tupleStream) results.tupleStream = true;
  if (!Array.isArray(input)) input = seq1(input);
  let index = Math.floor(n);
  if (index < 0) index = input.length + index;
  const item = input[index];
  if (item !== undefined) {
    if (Array.isArray(item)) results = item;
    else results.push(item);
  }
  return results;
}

// ---- operators -----------------------------------------------------------------------------------------

export function arith(op: string, lhs: Any, rhs: Any, pos: number): Any {
  try {
    if (lhs !== undefined && !isNumeric(lhs)) throw { code: 'T2001', value: lhs };
    if (rhs !== undefined && !isNumeric(rhs)) throw { code: 'T2002', value: rhs };
  } catch (e) { throw opError(e, pos, op); }
  if (lhs === undefined || rhs === undefined) return undefined;
  switch (op) {
    case '+': return lhs + rhs;
    case '-': return lhs - rhs;
    case '*': return lhs * rhs;
    case '/': return lhs / rhs;
    default: return lhs % rhs;
  }
}
export function opError(e: Any, pos: number, op: string): Any {
  if (e && typeof e === 'object') { e.position = pos; e.token = op; }
  return e;
}
export function compare(op: string, lhs: Any, rhs: Any, pos: number): Any {
  const ltype = typeof lhs;
  const rtype = typeof rhs;
  const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
  const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
  if (!lcomparable || !rcomparable) {
    throw opError({ code: 'T2010', value: !(ltype === 'string' || ltype === 'number') ? lhs : rhs }, pos, op);
  }
  if (ltype === 'undefined' || rtype === 'undefined') return undefined;
  if (ltype !== rtype) throw opError({ code: 'T2009', value: lhs, value2: rhs }, pos, op);
  switch (op) {
    case '<': return lhs < rhs;
    case '<=': return lhs <= rhs;
    case '>': return lhs > rhs;
    default: return lhs >= rhs;
  }
}
export function eq(lhs: Any, rhs: Any): boolean {
  if (lhs === undefined || rhs === undefined) return false;
  return isDeepEqual(lhs, rhs);
}
export function neq(lhs: Any, rhs: Any): boolean {
  if (lhs === undefined || rhs === undefined) return false;
  return !isDeepEqual(lhs, rhs);
}
export function includes(lhs: Any, rhs: Any): boolean {
  if (lhs === undefined || rhs === undefined) return false;
  if (!Array.isArray(rhs)) rhs = [rhs];
  for (let i = 0; i < rhs.length; i++) if (rhs[i] === lhs) return true;
  return false;
}
export function concat(lhs: Any, rhs: Any, pos: number): string {
  let l = '';
  let r = '';
  try {
    if (lhs !== undefined) l = string(lhs);
    if (rhs !== undefined) r = string(rhs);
  } catch (e) { throw opError(e, pos, '&'); }
  return l.length + r.length > G.maxString ? sizeCheck(l + r) : l + r;
}
export function range(lhs: Any, rhs: Any, pos: number): Any {
  if (lhs !== undefined && !Number.isInteger(lhs)) throw opError({ code: 'T2003', value: lhs }, pos, '..');
  if (rhs !== undefined && !Number.isInteger(rhs)) throw opError({ code: 'T2004', value: rhs }, pos, '..');
  if (lhs === undefined || rhs === undefined) return undefined;
  if (lhs > rhs) return undefined;
  const size = rhs - lhs + 1;
  if (size > 1e7) throw opError({ code: 'D2014', value: size }, pos, '..');
  charge(size);
  const result: Any = new Array(size);
  for (let item = lhs, index = 0; item <= rhs; item++, index++) result[index] = item;
  result.sequence = true;
  return result;
}
export function neg(v: Any, pos: number): Any {
  if (v === undefined) return undefined;
  if (isNumeric(v)) return -v;
  throw { code: 'D1002', position: pos, token: '-', value: v };
}
/** and/or operand: jsonata's boolize() */
export function boolize(v: Any): boolean {
  const b = boolean(v);
  return b === undefined ? false : b;
}

/** fn.boolean: the effective boolean value (undefined stays undefined). */
export function boolean(arg: Any): Any {
  if (arg === undefined) return undefined;
  let result = false;
  if (Array.isArray(arg)) {
    if (arg.length === 1) {
      result = boolean(arg[0]);
    } else if (arg.length > 1) {
      let trues = 0;
      for (let i = 0; i < arg.length; i++) if (boolean(arg[i])) trues++;
      result = trues > 0;
    }
  } else if (typeof arg === 'string') {
    if (arg.length > 0) result = true;
  } else if (isNumeric(arg)) {
    if (arg !== 0) result = true;
  } else if (arg !== null && typeof arg === 'object' && !isFunction(arg)) {
    if (keysOf(arg).length > 0) result = true;
  } else if (typeof arg === 'boolean' && arg === true) {
    result = true;
  }
  return result;
}

/** fn.string */
export function string(arg: Any, prettify: Any = false): Any {
  if (arg === undefined) return undefined;
  if (typeof arg === 'string') return arg;
  if (isFunction(arg)) return '';
  if (typeof arg === 'number') {
    if (!isFinite(arg)) throw { code: 'D3001', value: arg };
    // the text JSON.stringify gives with jsonata's 15-significant-digit replacer
    if (Number.isInteger(arg)) return '' + arg;
    const s = '' + arg;
    // a shortest form of at most 15 significant digits is what rounding to 15 digits gives back (doubles
    // keep 15 decimal digits exactly), so the slow toPrecision is only needed for longer ones
    return significantDigits(s) <= 15 ? s : '' + Number(arg.toPrecision(15));
  }
  const space = prettify ? 2 : 0;
  if (Array.isArray(arg) && (arg as Any).outerWrapper) arg = arg[0];
  return JSON.stringify(arg, stringifyReplacer, space);
}
function significantDigits(s: string): number {
  let n = 0;
  let leading = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 101 /* e */) break;
    if (c < 48 || c > 57) continue;
    if (leading && c === 48) continue;
    leading = false;
    n++;
  }
  return n;
}
function stringifyReplacer(_key: string, val: Any): Any {
  tick(); // values may share parts: see isDeepEqual
  if (val !== undefined && val !== null && isNumeric(val)) {
    return val.toPrecision && !Number.isInteger(val) ? Number(val.toPrecision(15)) : val;
  }
  return val && isFunction(val) ? '' : val;
}

// ---- functions and calls -------------------------------------------------------------------------------

export interface Signature { definition: string; validate(args: Any[], context: Any): Any[] }

/** Calls a compiled lambda, a function definition ({_jsonata_function}) or a plain JS function, running
 *  tail calls to completion (jsonata's apply() with its trampoline). `dc` is the evaluator depth of the
 *  node applying the function. */
export function applyFn(p: Any, args: Any[], ctx: Any, dc: number): Any {
  const r = applyInner(p, args, ctx, dc);
  return r === TAIL ? trampoline(ctx, dc) : r;
}

export function applyInner(p: Any, args: Any[], ctx: Any, dc: number): Any {
  if (p !== null && typeof p === 'object') {
    const body = p[LAMBDA];
    if (body !== undefined) {
      const a = p.signature !== undefined ? p.signature.validate(args, ctx) : args;
      tick();
      return body(dc + 1, a);
    }
    if (p._jsonata_function === true) {
      const a = p.signature === undefined ? args : (p.quick !== undefined && p.quick(args)) || p.signature.validate(args, ctx);
      const saved = G.d;
      G.d = dc;
      let r = p.implementation.apply(focusFor(ctx), a);
      G.d = saved;
      if (isIterable(r)) r = r.next().value;
      if (isPromise(r)) throw new AsyncRequired();
      return r;
    }
    // a lambda of a `jsonata` evaluation (passed in bindings): only jsonata can run it
    if (p._jsonata_lambda === true) throw new AsyncRequired();
  }
  if (typeof p === 'function') {
    const a = p.signature !== undefined ? p.signature.validate(args, ctx) : args;
    const saved = G.d;
    G.d = dc;
    const r = p.apply(ctx, a);
    G.d = saved;
    if (isPromise(r)) throw new AsyncRequired();
    return r;
  }
  if (p && p.signature !== undefined) p.signature.validate(args, ctx);
  throw { code: 'T1006' };
}

const FOCUS = { environment: { timestamp: G.ts }, input: undefined as Any, createSequence: (...a: Any[]) => (a.length === 1 ? seq1(a[0]) : seq()) };
function focusFor(ctx: Any): Any {
  FOCUS.environment.timestamp = G.ts;
  FOCUS.input = ctx;
  return FOCUS;
}

/** A call from compiled code, with jsonata's error annotation (position and function name). */
export function call(p: Any, args: Any[], ctx: Any, dc: number, pos: number, tok: string): Any {
  let r: Any;
  try {
    r = applyInner(p, args, ctx, dc);
  } catch (e) {
    throw annotate(e, p, pos, tok);
  }
  if (r !== TAIL) return r;
  // jsonata's trampoline runs outside the first applyInner: its errors only get the call site's defaults
  try {
    return trampoline(ctx, dc);
  } catch (e) {
    throw annotate(e, undefined, pos, tok);
  }
}
/** `value ~> $f`: apply($f, [value]) without a call site (errors get only the function's name). */
export function applyTo(p: Any, value: Any, dc: number, tok: string | undefined): Any {
  try {
    return applyFn(p, [value], null, dc);
  } catch (e) {
    const err = e as Any;
    if (err && typeof err === 'object' && p !== null && typeof p === 'object' && err.token === undefined && tok !== undefined && !(err instanceof AsyncRequired)) err.token = tok;
    throw err;
  }
}
export function annotate(e: Any, p: Any, pos: number, tok: string): Any {
  if (e && typeof e === 'object' && !(e instanceof AsyncRequired)) {
    // jsonata records the call site on object procedures (lambdas, definitions) and overrides the position
    const objectProc = p !== null && typeof p === 'object';
    if (objectProc) {
      if (e.token === undefined) e.token = tok;
      e.position = pos;
    }
    if (!e.position) e.position = pos;
    if (!e.token) e.token = tok;
  }
  return e;
}
/** The call site of a builtin that was called directly (fast path). */
export function annotateBuiltin(e: Any, pos: number, tok: string): Any {
  if (e && typeof e === 'object' && !(e instanceof AsyncRequired)) {
    if (e.token === undefined) e.token = tok;
    e.position = pos;
  }
  return e;
}

/** A compiled lambda: an object like jsonata's own lambdas ({_jsonata_lambda}), whose body(D, args) runs
 *  at evaluator depth D. Like jsonata's, it has an apply(self, args) method for code outside. */
export function lambda(body: (D: number, a: Any[]) => Any, arity: number, signature: Signature | undefined): Any {
  // `body` makes two lambdas unequal under jsonata's deep equality, as their own `apply` closures do
  return { _jsonata_lambda: true, arity, signature, apply: lambdaApply, body, [LAMBDA]: body };
}
function lambdaApply(this: Any, _self: Any, args: Any[]): Any {
  return applyFn(this, Array.isArray(args) ? args : [], undefined, G.d);
}
/** Stands for a lambda value that compiled code never made (all its uses are direct calls) where errors
 *  are annotated: jsonata treats the callee as an object there. */
export const LAMBDA_MARK = Object.freeze({});
export const isCompiledLambda = (p: Any): boolean => p !== null && typeof p === 'object' && p[LAMBDA] !== undefined;

/** Runs pending tail calls after a direct call of a lambda body returned the marker (applyFn's loop). */
export function trampoline(ctx: Any, dc: number): Any {
  let r: Any = TAIL;
  while (r === TAIL) {
    tick();
    const p = G.tf;
    const pos = G.tpos;
    const tok = G.ttok;
    try {
      r = applyInner(p, G.ta, ctx, dc);
    } catch (e) {
      // jsonata's loop stamps the procedure's name and position on it, applyInner copies them to the error
      const err = e as Any;
      if (err && typeof err === 'object' && !(err instanceof AsyncRequired)) {
        if (err.token === undefined && tok !== undefined) err.token = tok;
        err.position = pos || err.position;
      }
      throw err;
    }
  }
  return r;
}

/** Tail position: the trampoline of the enclosing apply() makes the call. */
export function tailCall(p: Any, args: Any[], pos: number, tok: string | undefined): typeof TAIL {
  if (p === undefined || p === null || (typeof p !== 'object' && typeof p !== 'function')) {
    // jsonata sets token/position on the evaluated procedure before applying it
    throw new TypeError(`Cannot set properties of ${p === undefined || p === null ? String(p) : typeof p} (setting '${tok !== undefined ? 'token' : 'position'}')`);
  }
  G.tf = p;
  G.ta = args;
  G.tpos = pos;
  G.ttok = tok;
  return TAIL;
}

/** Partial application ($f(?, x)) of a lambda or a native function. */
export function partial(p: Any, args: Any[], holes: boolean[], pos: number, tok: string, t1007: boolean): Any {
  if (isCompiledLambda(p)) {
    const body = p[LAMBDA];
    const n = p.arity;
    const bound: Any[] = [];
    const open: number[] = [];
    for (let i = 0; i < n; i++) {
      if (i < args.length && holes[i]) open.push(i);
      else bound[i] = i < args.length ? args[i] : undefined;
    }
    return lambda((D, a) => {
      const full = bound.slice();
      for (let k = 0; k < open.length; k++) full[open[k]] = a[k];
      return body(D, full);
    }, open.length, undefined);
  }
  if (p && p._jsonata_function === true) {
    if (p.paramsError !== undefined) throw p.paramsError;
    return partialNative(p.implementation, args, holes, p.params);
  }
  if (typeof p === 'function') return partialNative(p, args, holes, undefined);
  if (p === undefined && t1007) throw { code: 'T1007', position: pos, token: tok };
  throw { code: 'T1008', position: pos, token: tok };
}
let nativeParamsOf: (fn: Any) => number = () => 0;
/** Set by the compiler: parses a native function's parameter list the way jsonata does (may throw). */
export function setNativeParams(f: (fn: Any) => number): void { nativeParamsOf = f; }
function partialNative(native: Any, args: Any[], holes: boolean[], params: number | undefined): Any {
  const n = params ?? nativeParamsOf(native);
  const bound: Any[] = [];
  const open: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i < args.length && holes[i]) open.push(i);
    else bound[i] = i < args.length ? args[i] : undefined;
  }
  return lambda((D, a) => {
    const full = bound.slice();
    for (let k = 0; k < open.length; k++) full[open[k]] = a[k];
    const saved = G.d;
    G.d = D - 1;
    const r = native.apply(focusFor(undefined), full);
    G.d = saved;
    if (isPromise(r)) throw new AsyncRequired();
    return r;
  }, open.length, undefined);
}

/** f ~> g for two functions: λ($x){ $g($f($x)) } with jsonata's depth accounting. */
export function chain(f: Any, g: Any): Any {
  return lambda((D, a) => {
    if (D + 1 > G.maxDepth) deep();
    const inner = call(f, [a[0]], undefined, D, 0, 'f');
    return tailCall(g, [inner], 0, 'g');
  }, 1, undefined);
}

export const isFn = isFunction;


/** `a` parameters of builtin signatures, the common cases: an array or undefined passes through, a
 *  singleton of the right type is wrapped. Returns BAD when the full signature check must decide. */
export const BAD = Symbol('bad-argument');
export function arrayParam(v: Any, sub: string): Any {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (sub === '' || v.length === 0) return v;
    const t = symbolOf(v[0]);
    if (t !== sub) return BAD;
    for (let i = 1; i < v.length; i++) if (symbolOf(v[i]) !== t) return BAD;
    return v;
  }
  const t = symbolOf(v);
  if (sub === '') return t === 'f' ? BAD : [v];
  return t === sub ? [v] : BAD;
}
export function symbolOf(value: Any): string {
  if (isFunction(value)) return 'f';
  switch (typeof value) {
    case 'string': return 's';
    case 'number': return 'n';
    case 'boolean': return 'b';
    case 'object': return value === null ? 'l' : Array.isArray(value) ? 'a' : 'o';
    default: return 'm';
  }
}

// ---- signatures ------------------------------------------------------------------------------------------

export interface Param { type: string; sub: string; ctx: boolean; opt: boolean; plus: boolean }

/** The parameters of a signature string such as `<s-nn?:s>` (types, context, optional, one-or-more). */
export function parseParams(def: string): Param[] {
  const params: Param[] = [];
  let i = 1;
  while (i < def.length) {
    const ch = def[i];
    if (ch === ':' || ch === '>') break;
    const last = params[params.length - 1];
    if ('snblofjxa'.includes(ch)) params.push({ type: ch, sub: '', ctx: false, opt: false, plus: false });
    else if (ch === '(') {
      const end = def.indexOf(')', i);
      params.push({ type: '(' + def.slice(i + 1, end), sub: '', ctx: false, opt: false, plus: false });
      i = end;
    } else if (ch === '<') {
      let depth = 1;
      let j = i;
      while (depth > 0) { j++; if (def[j] === '<') depth++; else if (def[j] === '>') depth--; }
      if (last) last.sub = def.slice(i + 1, j);
      i = j;
    } else if (ch === '-') { last.ctx = true; last.opt = true; } else if (ch === '?') last.opt = true;
    else if (ch === '+') last.plus = true;
    i++;
  }
  return params;
}

const LETTERS: Record<string, string> = { s: 's', n: 'n', b: 'b', l: 'l', o: 'o', a: 'a', f: 'f', j: 'asnblo', x: 'asnblfo' };

/** A check of arguments against a signature for the common case: every argument matches its own parameter
 *  (nothing shifts to the context or coerces except `a` wrapping). Returns the arguments to call with, or
 *  undefined when the full signature validation must decide (and raise its errors). */
export function quickValidator(def: string): (args: Any[]) => Any[] | undefined {
  const params = parseParams(def);
  if (params.some((p) => p.plus)) return () => undefined;
  const allowed = params.map((p) => {
    const letters = p.type.startsWith('(') ? p.type.slice(1).split('').map((l) => LETTERS[l] ?? '').join('') : LETTERS[p.type] ?? '';
    return p.type === 'f' ? letters : letters + 'm';
  });
  return (args) => {
    const n = args.length;
    if (n > params.length) return undefined;
    for (let i = n; i < params.length; i++) if (!params[i].opt || params[i].ctx) return undefined;
    let out = args;
    for (let i = 0; i < n; i++) {
      const p = params[i];
      if (p.type === 'a') {
        if (p.sub.length > 1) return undefined;
        const v = arrayParam(args[i], p.sub);
        if (v === BAD) return undefined;
        if (v !== args[i]) {
          if (out === args) out = args.slice();
          out[i] = v;
        }
      } else if (!allowed[i].includes(symbolOf(args[i]))) {
        return undefined;
      }
    }
    return out;
  };
}

// ---- errors --------------------------------------------------------------------------------------------

// Messages of the evaluator's error codes, as the `jsonata` package words them (MIT), so an error reads
// the same whichever path evaluated the expression. U10xx are OfferFeed's guard errors.
const MESSAGES: Record<string, string> = {
  S0208: 'Parameter {{value}} of function definition must be a variable name (start with $)',
  T0410: 'Argument {{index}} of function {{token}} does not match function signature',
  T0411: 'Context value is not a compatible type with argument {{index}} of function {{token}}',
  T0412: 'Argument {{index}} of function {{token}} must be an array of {{type}}',
  D1001: 'Number out of range: {{value}}',
  D1002: 'Cannot negate a non-numeric value: {{value}}',
  T1003: 'Key in object structure must evaluate to a string; got: {{value}}',
  D1004: 'Regular expression matches zero length string',
  T1005: 'Attempted to invoke a non-function. Did you mean ${{{token}}}?',
  T1006: 'Attempted to invoke a non-function',
  T1007: 'Attempted to partially apply a non-function. Did you mean ${{{token}}}?',
  T1008: 'Attempted to partially apply a non-function',
  D1009: 'Multiple key definitions evaluate to same key: {{value}}',
  T1010: 'The matcher function argument passed to function {{token}} does not return the correct object structure',
  D1013: 'Object property names starting with _jsonata_ are reserved for internal use: {{value}}',
  T2001: 'The left side of the {{token}} operator must evaluate to a number',
  T2002: 'The right side of the {{token}} operator must evaluate to a number',
  T2003: 'The left side of the range operator (..) must evaluate to an integer',
  T2004: 'The right side of the range operator (..) must evaluate to an integer',
  T2006: 'The right side of the function application operator ~> must be a function',
  T2007: 'Type mismatch when comparing values {{value}} and {{value2}} in order-by clause',
  T2008: 'The expressions within an order-by clause must evaluate to numeric or string values',
  T2009: 'The values {{value}} and {{value2}} either side of operator {{token}} must be of the same data type',
  T2010: 'The expressions either side of operator {{token}} must evaluate to numeric or string values',
  T2011: 'The insert/update clause of the transform expression must evaluate to an object: {{value}}',
  T2012: 'The delete clause of the transform expression must evaluate to a string or array of strings: {{value}}',
  T2013: 'The transform expression clones the input object using the $clone() function.  This has been overridden in the current scope by a non-function.',
  D2014: 'The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate {{value}}.',
  D3001: 'Attempting to invoke string function on Infinity or NaN',
  D3010: 'Second argument of replace function cannot be an empty string',
  D3011: 'Fourth argument of replace function must evaluate to a positive number',
  D3012: 'Attempted to replace a matched string with a non-string value',
  D3020: 'Third argument of split function must evaluate to a positive number',
  D3030: 'Unable to cast value to a number: {{value}}',
  D3040: 'Third argument of match function must evaluate to a positive number',
  D3050: 'The second argument of reduce function must be a function with at least two arguments',
  D3060: 'The sqrt function cannot be applied to a negative number: {{value}}',
  D3061: 'The power function has resulted in a value that cannot be represented as a JSON number: base={{value}}, exponent={{exp}}',
  D3070: 'The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function',
  D3080: 'The picture string must only contain a maximum of two sub-pictures',
  D3081: "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
  D3082: "The sub-picture must not contain more than one instance of the 'percent' character",
  D3083: "The sub-picture must not contain more than one instance of the 'per-mille' character",
  D3084: "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
  D3085: "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'",
  D3086: 'The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character',
  D3087: "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character",
  D3088: "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
  D3089: "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
  D3090: "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'",
  D3091: "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'",
  D3092: "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'",
  D3093: "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'",
  D3100: 'The radix of the formatBase function must be between 2 and 36.  It was given {{value}}',
  D3110: 'The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {{value}}',
  D3130: 'Formatting or parsing an integer as a sequence starting with {{value}} is not supported by this implementation',
  D3131: 'In a decimal digit pattern, all digits must be from the same decimal group',
  D3132: 'Unknown component specifier {{value}} in date/time picture string',
  D3133: "The 'name' modifier can only be applied to months and days in the date/time picture string, not {{value}}",
  D3134: 'The timezone integer format specifier cannot have more than four digits',
  D3135: "No matching closing bracket ']' in date/time picture string",
  D3136: 'The date/time picture string is missing specifiers required to parse the timestamp',
  D3137: '{{{message}}}',
  D3138: 'The $single() function expected exactly 1 matching result.  Instead it matched more.',
  D3139: 'The $single() function expected exactly 1 matching result.  Instead it matched 0.',
  D3140: 'Malformed URL passed to ${{{functionName}}}(): {{value}}',
  D3141: '{{{message}}}',
  U1001: 'expression exceeded the maximum evaluation depth of {{value}}',
  U1002: 'expression exceeded the time limit of {{value}} ms',
  U1003: 'expression produced a string longer than the limit of {{value}} characters',
  U1004: 'expression copied more than {{value}} items into ranges, arrays and paths',
};

/** jsonata's populateMessage() */
export function populateMessage(err: Any): void {
  if (!err || typeof err !== 'object') return;
  const template = MESSAGES[err.code];
  if (template !== undefined) {
    let message = template.replace(/\{\{\{([^}]+)}}}/g, (_m, k) => err[k]);
    message = message.replace(/\{\{([^}]+)}}/g, (_m, k) => JSON.stringify(err[k]));
    err.message = message;
  }
}

// ---- helpers named by generated code ----------------------------------------------------------------

/** Array constructor item: fn.append flattens arrays one level. */
export function pushAll(arr: Any[], v: Any): void {
  if (Array.isArray(v)) { charge(v.length); for (let i = 0; i < v.length; i++) arr.push(v[i]); }
  else arr.push(v);
}
/** The key phase of evaluateGroupExpression for one item and one key/value pair. */
export function groupKey(groups: Any, key: Any, pairIndex: number, item: Any, pos: number): void {
  if (typeof key !== 'string' && key !== undefined) throw { code: 'T1003', position: pos, value: key };
  if (key === undefined) return;
  if (key === '_jsonata_lambda' || key === '_jsonata_function') throw { code: 'D1013', position: pos, value: key };
  if (hop.call(groups, key)) {
    if (groups[key].exprIndex !== pairIndex) throw { code: 'D1009', position: pos, value: key };
    groups[key].data = append(groups[key].data, item);
  } else {
    groups[key] = { data: item, exprIndex: pairIndex };
  }
}
/** One order-by term: -1, 0 or 1 (undefined sorts last, whatever the direction). */
export function sortCompare(aa: Any, bb: Any, descending: boolean, pos: number): number {
  const atype = typeof aa;
  const btype = typeof bb;
  if (atype === 'undefined') return btype === 'undefined' ? 0 : 1;
  if (btype === 'undefined') return -1;
  if (!(atype === 'string' || atype === 'number') || !(btype === 'string' || btype === 'number')) {
    throw { code: 'T2008', position: pos, value: !(atype === 'string' || atype === 'number') ? aa : bb };
  }
  if (atype !== btype) throw { code: 'T2007', position: pos, value: aa, value2: bb };
  if (aa === bb) return 0;
  const comp = aa < bb ? -1 : 1;
  return descending ? -comp : comp;
}
/** jsonata's stable merge sort (same comparisons in the same order, without its recursion depth). */
export function sortWith(arr: Any[], comp: (a: Any, b: Any, ctx: Any) => Any, ctx?: Any): Any[] {
  if (!Array.isArray(arr) || arr.length <= 1) return arr;
  const middle = Math.floor(arr.length / 2);
  return mergeSorted(sortWith(arr.slice(0, middle), comp, ctx), sortWith(arr.slice(middle), comp, ctx), comp, ctx);
}
function mergeSorted(l: Any[], r: Any[], comp: (a: Any, b: Any, ctx: Any) => Any, ctx: Any): Any[] {
  const result: Any[] = [];
  let i = 0;
  let j = 0;
  while (i < l.length && j < r.length) {
    if (comp(l[i], r[j], ctx)) result.push(r[j++]);
    else result.push(l[i++]);
  }
  while (i < l.length) result.push(l[i++]);
  while (j < r.length) result.push(r[j++]);
  return result;
}
export function sortArr(arr: Any, comp: (a: Any, b: Any) => Any): Any {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  return sortWith(arr, comp);
}
/** A regex literal evaluates to a matcher function (jsonata's evaluateRegex). Each matcher keeps its own
 *  lastIndex like jsonata's private RegExp; the compiled RegExp itself is shared by the call site. */
export function regexMatcher(re: RegExp, pos: number): Any {
  const st = { lastIndex: 0 };
  return function (str: Any, fromIndex: Any): Any { return regexExec(re, st, pos, str, fromIndex); };
}
export function regexExec(re: RegExp, st: { lastIndex: number }, pos: number, str: Any, fromIndex: Any): Any {
  re.lastIndex = fromIndex || 0;
  const match = re.exec(str);
  st.lastIndex = re.lastIndex;
  if (match === null) return undefined;
  const groups: Any[] = [];
  for (let i = 1; i < match.length; i++) groups.push(match[i]);
  return { match: match[0], start: match.index, end: match.index + match[0].length, groups, next: regexNext(re, st, pos, str) };
}
function regexNext(re: RegExp, st: { lastIndex: number }, pos: number, str: Any): Any {
  return function (): Any {
    if (st.lastIndex >= str.length) return undefined;
    const next = regexExec(re, st, pos, str, st.lastIndex);
    if (next && next.match === '') throw { code: 'D1004', position: pos, value: re.source };
    return next;
  };
}
/** `$match(s, /re/)`: fn.match's loop over the regex matcher (same matches, same D1004 on an empty match
 *  after the first) without the matcher and `next` closures. */
export function matchLiteral(re: RegExp, str: string, pos: number): Any {
  const result = seq();
  re.lastIndex = 0;
  let m = re.exec(str);
  let last = re.lastIndex;
  while (m !== null) {
    const groups: Any[] = [];
    for (let i = 1; i < m.length; i++) groups.push(m[i]);
    result.push({ match: m[0], index: m.index, groups });
    if (last >= str.length) break;
    re.lastIndex = last;
    m = re.exec(str);
    last = re.lastIndex;
    if (m !== null && m[0] === '') throw { code: 'D1004', position: pos, value: re.source };
  }
  return result;
}
/** `$contains(s, /re/)` without building the matcher: whether the regex matches from the start. */
export function regexTest(re: RegExp, str: string): boolean {
  re.lastIndex = 0;
  return re.exec(str) !== null;
}

const TRANSFORM_SIGNATURE: Signature = (jsonata('function()<(oa):o>{0}').ast() as Any).signature;
/** The function a transform expression |pattern|update,delete| evaluates to. */
export function transformer(impl: (obj: Any) => Any): Any {
  return { _jsonata_function: true, implementation: impl, signature: TRANSFORM_SIGNATURE };
}
export function cloneFor(cloneFn: Any, obj: Any, pos: number, dc: number): Any {
  if (!isFunction(cloneFn)) throw { code: 'T2013', position: pos };
  return applyFn(cloneFn, [obj], null, dc);
}
export function transformUpdate(match: Any, update: Any, pos: number): void {
  if (update === undefined) return;
  if (typeof update !== 'object' || update === null || Array.isArray(update)) throw { code: 'T2011', position: pos, value: update };
  for (const prop of keysOf(update)) {
    // an own property, never the prototype, even for a key named __proto__
    if (prop === '__proto__' && match !== null && typeof match === 'object') {
      Object.defineProperty(match, prop, { value: update[prop], writable: true, enumerable: true, configurable: true });
    } else {
      match[prop] = update[prop];
    }
  }
}
export function transformDelete(match: Any, deletions: Any, pos: number): void {
  if (deletions === undefined) return;
  const val = deletions;
  if (!Array.isArray(deletions)) deletions = [deletions];
  if (!isArrayOfStrings(deletions)) throw { code: 'T2012', position: pos, value: val };
  for (let i = 0; i < deletions.length; i++) if (typeof match === 'object' && match !== null) delete match[deletions[i]];
}

/** An object made with a null prototype (jsonata's object constructors make those): its properties are its own. */
export const nullProto = (x: Any): boolean => x.constructor === undefined && Object.getPrototypeOf(x) === null;
export const isArray = Array.isArray;
export const objCreate = Object.create;
export const objKeys = Object.keys;
export const objAssign = Object.assign;
export const setProto = Object.setPrototypeOf;
export const ObjectCtor = Object;
export const getProto = Object.getPrototypeOf;
export const OP = Object.prototype;
