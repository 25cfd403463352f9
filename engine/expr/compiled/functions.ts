// JSONata's standard library for compiled expressions: synchronous ports of the `jsonata` package's
// functions (same parameter lists, because arity decides what higher-order functions pass), and the
// package's own implementations for the pure, synchronous ones whose logic is long (number and date
// pictures). Signatures are the package's parsed signatures, so argument errors are the same.
/* eslint-disable @typescript-eslint/no-explicit-any */
import jsonata from 'jsonata';
import { formatNumberWith } from './format-number.ts';
import {
  AsyncRequired, G, append, applyFn, boolean, charge, getFunctionArity, isArrayOfNumbers, isArrayOfStrings, isDeepEqual, isFunction,
  isNumeric, isPromise, isSeq, keysOf, quickValidator, seq, seq1, sizeCheck, sortWith, string, stringToArray, setNativeParams, type Any, type Signature,
} from './runtime.ts';

export interface Builtin {
  readonly _jsonata_function: true;
  readonly implementation: (...args: Any[]) => Any;
  readonly signature?: Signature;
  /** parameter count jsonata's partial application derives from the implementation's source */
  readonly params: number;
  /** what jsonata throws when it cannot derive that parameter list */
  readonly paramsError?: unknown;
  /** calls back into JSONata functions, so the caller must set the current depth first */
  readonly callsBack: boolean;
  /** arguments that satisfy the signature one to one, without the full validation */
  readonly quick?: (args: Any[]) => Any[] | undefined;
}

// jsonata's own definitions: parsed signatures, parameter lists, and the pure implementations reused here.
const NAMES = ['sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase',
  'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase',
  'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round', 'abs', 'sqrt', 'power', 'random', 'boolean', 'not',
  'map', 'zip', 'filter', 'single', 'reduce', 'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse',
  'each', 'error', 'assert', 'type', 'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent',
  'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'eval', 'toMillis', 'fromMillis', 'clone', 'now', 'millis'] as const;
const reference: Record<string, Any> = await jsonata(`{${NAMES.map((n) => `"${n}": $${n}`).join(', ')}}`).evaluate(null);

/** The parameter count jsonata derives from a native function's source for partial application; throws
 *  like jsonata when that source does not parse as a lambda parameter list. */
export function nativeParams(fn: Any): number {
  const src = String(fn);
  const m = /\(([^)]*)\)/.exec(src);
  if (!m) throw new TypeError("Cannot read properties of null (reading '1')");
  const names = m[1].split(',').map((s) => '$' + s.trim());
  const body = 'function(' + names.join(', ') + '){ _ }';
  (jsonata as Any).parser(body);
  return names.length;
}

// ---- string functions -------------------------------------------------------------------------------

function substring(str: Any, start: Any, length: Any): Any {
  if (str === undefined) return undefined;
  const strArray = stringToArray(str);
  const strLength = strArray.length;
  if (strLength + start < 0) start = 0;
  if (length !== undefined) {
    if (length <= 0) return '';
    const end = start >= 0 ? start + length : strLength + start + length;
    return strArray.slice(start, end).join('');
  }
  return strArray.slice(start).join('');
}
function substringBefore(str: Any, chars: Any): Any {
  if (str === undefined) return undefined;
  const pos = str.indexOf(chars);
  return pos > -1 ? str.substr(0, pos) : str;
}
function substringAfter(str: Any, chars: Any): Any {
  if (str === undefined) return undefined;
  const pos = str.indexOf(chars);
  return pos > -1 ? str.substr(pos + chars.length) : str;
}
function lowercase(str: Any): Any { return str === undefined ? undefined : str.toLowerCase(); }
function uppercase(str: Any): Any { return str === undefined ? undefined : str.toUpperCase(); }
function length(str: Any): Any { return str === undefined ? undefined : stringToArray(str).length; }
/** Whether trim() changes a string: a tab, newline or carriage return, two spaces, or a space at an end. */
const UNTRIMMED = /[\t\n\r]| {2}|^ | $/;
function trim(str: Any): Any {
  if (str === undefined) return undefined;
  if (!UNTRIMMED.test(str)) return str;
  // jsonata's replace(/[ \t\n\r]+/gm, ' ') and then one space off each end, as one scan
  const n = str.length;
  let result = '';
  let start = 0;
  let i = 0;
  while (i < n) {
    const ch = str.charCodeAt(i);
    if (ch === 32 || ch === 9 || ch === 10 || ch === 13) {
      let j = i + 1;
      for (let c = str.charCodeAt(j); j < n && (c === 32 || c === 9 || c === 10 || c === 13); c = str.charCodeAt(++j));
      if (j - i > 1 || ch !== 32) {
        result += str.substring(start, i) + ' ';
        start = j;
      }
      i = j;
    } else {
      i++;
    }
  }
  result = start === 0 ? str : result + str.substring(start);
  if (result.charAt(0) === ' ') result = result.substring(1);
  if (result.charAt(result.length - 1) === ' ') result = result.substring(0, result.length - 1);
  return result;
}
function pad(str: Any, width: Any, char: Any): Any {
  if (str === undefined) return undefined;
  if (char === undefined || char.length === 0) char = ' ';
  width = Math.trunc(width);
  const padLength = Math.abs(width) - length(str);
  if (padLength > 0) {
    if (padLength * char.length > G.maxString) sizeCheck(' '.repeat(G.maxString + 1));
    let padding = new Array(padLength + 1).join(char);
    if (char.length > 1) padding = substring(padding, 0, padLength);
    return width > 0 ? str + padding : padding + str;
  }
  return str;
}

/** Calls a function passed to a builtin; jsonata does fn.apply(…), so anything else is a TypeError. */
function applyFunctionArg(fn: Any, args: Any[], dc: number): Any {
  if (!isFunction(fn)) throw new TypeError(fn === undefined || fn === null ? `Cannot read properties of ${fn} (reading 'apply')` : 'fn.apply is not a function');
  return applyFn(fn, args, null, dc);
}

/** Runs a matcher (regex closure or JSONata function) on a string; checks the structure it returns. */
function evaluateMatcher(matcher: Any, str: Any, dc: number): Any {
  const result = applyFunctionArg(matcher, [str], dc);
  if (result && !(typeof result.start === 'number' || result.end === 'number' || Array.isArray(result.groups) || isFunction(result.next))) {
    throw { code: 'T1010' };
  }
  return result;
}
function contains(str: Any, token: Any): Any {
  if (str === undefined || token === undefined) return undefined;
  if (typeof token === 'string') return str.indexOf(token) !== -1;
  return evaluateMatcher(token, str, G.d) !== undefined;
}
function match(str: Any, regex: Any, limit: Any): Any {
  if (str === undefined) return undefined;
  if (limit < 0) throw { value: limit, code: 'D3040', index: 3 };
  const dc = G.d;
  const result = seq();
  if (limit === undefined || limit > 0) {
    let count = 0;
    let matches = evaluateMatcher(regex, str, dc);
    if (matches !== undefined) {
      while (matches !== undefined && (limit === undefined || count < limit)) {
        result.push({ match: matches.match, index: matches.start, groups: matches.groups });
        matches = evaluateMatcher(matches.next, undefined, dc);
        count++;
      }
    }
  }
  return result;
}
function replace(str: Any, pattern: Any, replacement: Any, limit: Any): Any {
  if (str === undefined) return undefined;
  if (pattern === '') throw { code: 'D3010', value: pattern, index: 2 };
  if (limit < 0) throw { code: 'D3011', value: limit, index: 4 };
  const dc = G.d;
  let result = '';
  let position = 0;
  if (limit === undefined || limit > 0) {
    let count = 0;
    if (typeof pattern === 'string') {
      let index = str.indexOf(pattern, position);
      while (index !== -1 && (limit === undefined || count < limit)) {
        result += str.substring(position, index);
        result += replacement;
        if (result.length > G.maxString) sizeCheck(result);
        position = index + pattern.length;
        count++;
        index = str.indexOf(pattern, position);
      }
      result += str.substring(position);
    } else {
      let matches = evaluateMatcher(pattern, str, dc);
      if (matches !== undefined) {
        while (matches !== undefined && (limit === undefined || count < limit)) {
          result += str.substring(position, matches.start);
          const replacedWith = typeof replacement === 'string' ? substitute(replacement, matches) : applyFunctionArg(replacement, [matches], dc);
          if (typeof replacedWith === 'string') result += replacedWith;
          else throw { code: 'D3012', value: replacedWith };
          if (result.length > G.maxString) sizeCheck(result);
          position = matches.start + matches.match.length;
          count++;
          matches = evaluateMatcher(matches.next, undefined, dc);
        }
        result += str.substring(position);
      } else {
        result = str;
      }
    }
  } else {
    result = str;
  }
  return result;
}
/** A replacement string with $0, $1… and $$ filled in from a regex match (fn.replace's replacer). */
function substitute(replacement: string, regexMatch: Any): string {
  let out = '';
  let position = 0;
  let index = replacement.indexOf('$', position);
  while (index !== -1 && position < replacement.length) {
    out += replacement.substring(position, index);
    position = index + 1;
    const dollarVal = replacement.charAt(position);
    if (dollarVal === '$') {
      out += '$';
      position++;
    } else if (dollarVal === '0') {
      out += regexMatch.match;
      position++;
    } else {
      const maxDigits = regexMatch.groups.length === 0 ? 1 : Math.floor(Math.log(regexMatch.groups.length) * Math.LOG10E) + 1;
      index = parseInt(replacement.substring(position, position + maxDigits), 10);
      if (maxDigits > 1 && index > regexMatch.groups.length) index = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
      if (!isNaN(index)) {
        if (regexMatch.groups.length > 0) {
          const submatch = regexMatch.groups[index - 1];
          if (submatch !== undefined) out += submatch;
        }
        position += index.toString().length;
      } else {
        out += '$';
      }
    }
    index = replacement.indexOf('$', position);
  }
  out += replacement.substring(position);
  return out;
}
function base64encode(str: Any): Any { return str === undefined ? undefined : Buffer.from(str, 'binary').toString('base64'); }
function base64decode(str: Any): Any { return str === undefined ? undefined : Buffer.from(str, 'base64').toString('binary'); }
function urlCodec(name: string, codec: (s: string) => string) {
  return (str: Any): Any => {
    if (str === undefined) return undefined;
    try { return codec(str); } catch { throw { code: 'D3140', value: str, functionName: name }; }
  };
}
function split(str: Any, separator: Any, limit: Any): Any {
  if (str === undefined) return undefined;
  if (limit < 0) throw { code: 'D3020', value: limit, index: 3 };
  let result: Any = [];
  if (limit === undefined || limit > 0) {
    if (typeof separator === 'string') {
      result = str.split(separator, limit);
    } else {
      const dc = G.d;
      let count = 0;
      let matches = evaluateMatcher(separator, str, dc);
      if (matches !== undefined) {
        let start = 0;
        while (matches !== undefined && (limit === undefined || count < limit)) {
          result.push(str.substring(start, matches.start));
          start = matches.end;
          matches = evaluateMatcher(matches.next, undefined, dc);
          count++;
        }
        if (limit === undefined || count < limit) result.push(str.substring(start));
      } else {
        result.push(str);
      }
    }
  }
  return result;
}
function join(strs: Any, separator: Any): Any {
  if (strs === undefined) return undefined;
  if (separator === undefined) separator = '';
  const r = strs.join(separator);
  return r.length > G.maxString ? sizeCheck(r) : r;
}

// ---- numeric functions ------------------------------------------------------------------------------

function sum(args: Any): Any {
  if (args === undefined) return undefined;
  let total = 0;
  args.forEach((num: Any) => { total += num; });
  return total;
}
function count(args: Any): Any { return args === undefined ? 0 : args.length; }
function max(args: Any): Any { return args === undefined || args.length === 0 ? undefined : Math.max.apply(Math, args); }
function min(args: Any): Any { return args === undefined || args.length === 0 ? undefined : Math.min.apply(Math, args); }
function average(args: Any): Any {
  if (args === undefined || args.length === 0) return undefined;
  let total = 0;
  args.forEach((num: Any) => { total += num; });
  return total / args.length;
}
/** Whether a string matches /^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$/ (jsonata's decimal test), by one scan. */
function isDecimal(s: string): boolean {
  const n = s.length;
  let i = s.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  let from = i;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  if (i === from) return false;
  if (i < n && s.charCodeAt(i) === 46 /* . */) {
    from = ++i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === from) return false;
  }
  if (i < n && (s.charCodeAt(i) | 32) === 101 /* e or E */) {
    i++;
    const c = s.charCodeAt(i);
    if (c === 43 || c === 45) i++;
    from = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === from) return false;
  }
  return i === n;
}
const isDigit = (c: number) => c >= 48 && c <= 57;
function number(arg: Any): Any {
  if (arg === undefined) return undefined;
  if (typeof arg === 'number') return arg;
  if (typeof arg === 'string' && isDecimal(arg)) {
    // for such a string parseFloat and Number agree: jsonata's !isNaN(parseFloat) && isFinite in one parse
    const n = parseFloat(arg);
    if (isFinite(n)) return n;
  }
  if (typeof arg === 'string' && /^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$/.test(arg)) return Number(arg);
  if (arg === true) return 1;
  if (arg === false) return 0;
  throw { code: 'D3030', value: arg, index: 1 };
}
function abs(arg: Any): Any { return arg === undefined ? undefined : Math.abs(arg); }
function floor(arg: Any): Any { return arg === undefined ? undefined : Math.floor(arg); }
function ceil(arg: Any): Any { return arg === undefined ? undefined : Math.ceil(arg); }
function round(arg: Any, precision: Any): Any {
  if (arg === undefined) return undefined;
  let value: Any;
  if (precision) {
    value = arg.toString().split('e');
    arg = +(value[0] + 'e' + (value[1] ? (+value[1] + precision) : precision));
  }
  let result = Math.round(arg);
  const diff = result - arg;
  if (Math.abs(diff) === 0.5 && Math.abs(result % 2) === 1) result = result - 1;
  if (precision) {
    value = result.toString().split('e');
    result = +(value[0] + 'e' + (value[1] ? (+value[1] - precision) : -precision));
  }
  if (Object.is(result, -0)) result = 0;
  return result;
}
function sqrt(arg: Any): Any {
  if (arg === undefined) return undefined;
  if (arg < 0) throw { code: 'D3060', index: 1, value: arg };
  return Math.sqrt(arg);
}
function power(arg: Any, exp: Any): Any {
  if (arg === undefined) return undefined;
  const result = Math.pow(arg, exp);
  if (!isFinite(result)) throw { code: 'D3061', index: 1, value: arg, exp };
  return result;
}
function random(): Any { return Math.random(); }
function not(arg: Any): Any { return arg === undefined ? undefined : !boolean(arg); }

// ---- higher-order functions -------------------------------------------------------------------------

function hofFuncArgs(func: Any, arg1: Any, arg2: Any, arg3: Any): Any[] {
  const args = [arg1];
  const n = getFunctionArity(func);
  if (n >= 2) args.push(arg2);
  if (n >= 3) args.push(arg3);
  return args;
}
function map(arr: Any, func: Any): Any {
  if (arr === undefined) return undefined;
  const dc = G.d;
  const result = seq();
  for (let i = 0; i < arr.length; i++) {
    const res = applyFn(func, hofFuncArgs(func, arr[i], i, arr), null, dc);
    if (res !== undefined) result.push(res);
  }
  return result;
}
function filter(arr: Any, func: Any): Any {
  if (arr === undefined) return undefined;
  const dc = G.d;
  const result = seq();
  for (let i = 0; i < arr.length; i++) {
    const entry = arr[i];
    if (boolean(applyFn(func, hofFuncArgs(func, entry, i, arr), null, dc))) result.push(entry);
  }
  return result;
}
function single(arr: Any, func: Any): Any {
  if (arr === undefined) return undefined;
  const dc = G.d;
  let hasFoundMatch = false;
  let result: Any;
  for (let i = 0; i < arr.length; i++) {
    const entry = arr[i];
    let positiveResult = true;
    if (func !== undefined) positiveResult = boolean(applyFn(func, hofFuncArgs(func, entry, i, arr), null, dc));
    if (positiveResult) {
      if (!hasFoundMatch) {
        result = entry;
        hasFoundMatch = true;
      } else {
        throw { code: 'D3138', index: i };
      }
    }
  }
  if (!hasFoundMatch) throw { code: 'D3139' };
  return result;
}
function zip(...arrays: Any[]): Any {
  const result = [];
  const len = Math.min.apply(Math, arrays.map((arg) => (Array.isArray(arg) ? arg.length : 0)));
  charge(len * arrays.length);
  for (let i = 0; i < len; i++) result.push(arrays.map((arg) => arg[i]));
  return result;
}
Object.defineProperty(zip, 'length', { value: 0 });
function foldLeft(sequence: Any, func: Any, init: Any): Any {
  if (sequence === undefined) return undefined;
  const dc = G.d;
  const arity = getFunctionArity(func);
  if (arity < 2) throw { code: 'D3050', index: 1 };
  let result: Any;
  let index: number;
  if (init === undefined && sequence.length > 0) {
    result = sequence[0];
    index = 1;
  } else {
    result = init;
    index = 0;
  }
  while (index < sequence.length) {
    const args = [result, sequence[index]];
    if (arity >= 3) args.push(index);
    if (arity >= 4) args.push(sequence);
    result = applyFn(func, args, null, dc);
    index++;
  }
  return result;
}
/** Keys of an argument; jsonata passes function arguments wrapped in closures, which have none. */
const argKeys = (arg: Any): string[] => (isFunction(arg) ? [] : keysOf(arg));
function sift(arg: Any, func: Any): Any {
  const dc = G.d;
  let result: Any = Object.create(null);
  for (const item of argKeys(arg)) {
    const entry = arg[item];
    if (boolean(applyFn(func, hofFuncArgs(func, entry, item, arg), null, dc))) result[item] = entry;
  }
  if (keysOf(result).length === 0) result = undefined;
  return result;
}
function each(obj: Any, func: Any): Any {
  const dc = G.d;
  const result = seq();
  for (const key of argKeys(obj)) {
    const val = applyFn(func, hofFuncArgs(func, obj[key], key, obj), null, dc);
    if (val !== undefined) result.push(val);
  }
  return result;
}
function sort(arr: Any, comparator: Any): Any {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  if (comparator === undefined) {
    if (!isArrayOfNumbers(arr) && !isArrayOfStrings(arr)) throw { code: 'D3070', index: 1 };
    return sortWith(arr, defaultCompare);
  }
  return sortWith(arr, userCompare, { fn: comparator, dc: G.d });
}
function defaultCompare(a: Any, b: Any): boolean { return a > b; }
function userCompare(a: Any, b: Any, ctx: { fn: Any; dc: number }): Any { return applyFn(ctx.fn, [a, b], null, ctx.dc); }

// ---- object and array functions ---------------------------------------------------------------------

function keys(arg: Any): Any {
  let result = seq();
  if (Array.isArray(arg)) {
    const merged = Object.create(null);
    for (let i = 0; i < arg.length; i++) for (const key of keys(arg[i])) merged[key] = true;
    result = keys(merged);
  } else if (arg !== null && typeof arg === 'object' && !isFunction(arg)) {
    for (const key of keysOf(arg)) result.push(key);
  }
  return result;
}
function lookupFn(input: Any, key: Any): Any {
  if (Array.isArray(input)) {
    const result = seq();
    for (let i = 0; i < input.length; i++) {
      const res = lookupFn(input[i], key);
      if (res !== undefined) {
        if (Array.isArray(res)) res.forEach((val) => result.push(val));
        else result.push(res);
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && Object.prototype.hasOwnProperty.call(input, key) && !isFunction(input)) return input[key];
  return undefined;
}
function exists(arg: Any): Any { return arg !== undefined; }
function spread(arg: Any): Any {
  let result: Any = seq();
  if (Array.isArray(arg)) {
    for (let i = 0; i < arg.length; i++) result = append(result, spread(arg[i]));
  } else if (arg !== null && typeof arg === 'object' && !isFunction(arg)) {
    for (const key of keysOf(arg)) {
      const obj = Object.create(null);
      obj[key] = arg[key];
      result.push(obj);
    }
  } else {
    result = arg;
  }
  return result;
}
function merge(arg: Any): Any {
  if (arg === undefined) return undefined;
  const result = Object.create(null);
  arg.forEach((obj: Any) => { for (const prop of argKeys(obj)) result[prop] = obj[prop]; });
  return result;
}
function reverse(arr: Any): Any {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  const len = arr.length;
  const result = new Array(len);
  for (let i = 0; i < len; i++) result[len - i - 1] = arr[i];
  return result;
}
function error(message: Any): Any {
  throw { code: 'D3137', message: message || '$error() function evaluated' };
}
function assert(condition: Any, message: Any): Any {
  if (!condition) throw { code: 'D3141', message: message || '$assert() statement failed' };
  return undefined;
}
function type(value: Any): Any {
  if (value === undefined) return undefined;
  if (value === null) return 'null';
  if (isNumeric(value)) return 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (Array.isArray(value)) return 'array';
  if (isFunction(value)) return 'function';
  return 'object';
}
function shuffle(arr: Any): Any {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  const result = new Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const j = Math.floor(Math.random() * (i + 1));
    if (i !== j) result[i] = result[j];
    result[j] = arr[i];
  }
  return result;
}
function distinct(arr: Any): Any {
  if (arr === undefined) return undefined;
  if (!Array.isArray(arr) || arr.length <= 1) return arr;
  const results: Any[] = isSeq(arr) ? seq() : [];
  for (let i = 0; i < arr.length; i++) {
    const value = arr[i];
    let found = false;
    for (let j = 0; j < results.length; j++) {
      if (isDeepEqual(value, results[j])) { found = true; break; }
    }
    if (!found) results.push(value);
  }
  return results;
}
function clone(arg: Any): Any { return arg === undefined ? undefined : JSON.parse(string(arg)); }

// ---- date/time and number pictures: jsonata's implementations, with the evaluation's timestamp ----------

const focus = () => ({ environment: { timestamp: G.ts } });
function pure(name: string): (...args: Any[]) => Any {
  const impl = reference[name].implementation;
  const f = function (this: Any, ...args: Any[]) {
    const r = impl.apply(focus(), args);
    if (isPromise(r)) throw new AsyncRequired();
    return r;
  };
  Object.defineProperty(f, 'length', { value: impl.length });
  return f;
}
const fromMillisImpl = reference.fromMillis.implementation;
function now(picture: Any, timezone: Any): Any { return fromMillisImpl.call(focus(), G.ts.getTime(), picture, timezone); }
function millis(): Any { return G.ts.getTime(); }

const implementations: Record<string, (...args: Any[]) => Any> = {
  sum, count, max, min, average, string, substring, substringBefore, substringAfter, lowercase, uppercase, length, trim, pad,
  match, contains, replace, split, join, formatNumber: formatNumberWith(round), formatBase: pure('formatBase'),
  formatInteger: pure('formatInteger'), parseInteger: pure('parseInteger'), number, floor, ceil, round, abs, sqrt, power, random,
  boolean, not, map, zip, filter, single, reduce: foldLeft, sift, keys, lookup: lookupFn, append, exists, spread, merge, reverse,
  each, error, assert, type, sort, shuffle, distinct, base64encode, base64decode,
  encodeUrlComponent: urlCodec('encodeUrlComponent', encodeURIComponent), encodeUrl: urlCodec('encodeUrl', encodeURI),
  decodeUrlComponent: urlCodec('decodeUrlComponent', decodeURIComponent), decodeUrl: urlCodec('decodeUrl', decodeURI),
  toMillis: pure('toMillis'), fromMillis: pure('fromMillis'), clone, now, millis,
};
const CALLS_BACK = new Set(['match', 'contains', 'replace', 'split', 'map', 'filter', 'single', 'reduce', 'sift', 'each', 'sort']);

export const BUILTINS: Record<string, Builtin> = Object.create(null);
for (const [name, impl] of Object.entries(implementations)) {
  const ref = reference[name];
  if (impl.length !== ref.implementation.length) Object.defineProperty(impl, 'length', { value: ref.implementation.length });
  let params = -1;
  let paramsError: unknown;
  try { params = nativeParams(ref.implementation); } catch (e) { paramsError = e; }
  const quick = ref.signature ? quickValidator(ref.signature.definition) : undefined;
  const def: Any = { _jsonata_function: true, implementation: impl, signature: ref.signature };
  // what the compiler needs stays out of sight of $keys/$spread/$each, like jsonata's definitions
  for (const [k, v] of Object.entries({ params, paramsError, callsBack: CALLS_BACK.has(name), quick })) Object.defineProperty(def, k, { value: v, enumerable: false });
  BUILTINS[name] = def;
}
/** Functions the compiler does not run ($eval needs the evaluator itself): expressions using them fall back. */
export const UNSUPPORTED_FUNCTIONS = new Set(['eval']);

/** Parses a signature string (e.g. `<s-:s>`) with jsonata's own parser. */
export function parseSignature(sig: string): Signature {
  return (jsonata(`function()${sig}{0}`).ast() as Any).signature;
}

setNativeParams(nativeParams);

export { seq1 };
