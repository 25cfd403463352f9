// Refuses regular expressions that can backtrack catastrophically. A JavaScript RegExp runs to the end once
// started (no time guard can stop it), and a spec may come from an untrusted place, so every regex of an
// expression is checked when the expression is compiled, and again whenever jsonata builds one at run time
// (an expression passed to $eval).
//
// The check is a star-height analysis on the pattern, refined for JavaScript's engine:
// - a loop (a quantifier that may repeat more than once: *, +, {2,5}, {30}) must not contain a choice of
//   count (a nested quantifier, even ?) that can take the characters which may follow it in the loop:
//   (a+)+, (\w\d?)+, (a{1,9}){1,9}, (.*a){12} are refused, (,[0-9]+)* and (\s*,\s*\w+)* are fine;
// - inside a loop, the alternatives of a group must not be able to start with the same character: (x|x)*,
//   (\w|\d)+, (a|ab)* (the last is refused although V8 copes with it: the check is conservative).
// safe-regex2 implements the plain star-height rule, but it counts an optional group around a loop as a
// nested quantifier (it refuses the harmless /^[0-9]+(\.[0-9]+)?$/ that shipped connectors use) and it
// does not see ambiguous alternatives (/(x|x)*y/ takes 80 s on 28 characters), hence this analysis.
// Not covered: polynomial backtracking such as /\s+$/ on very long input (quadratic, not exponential).

export const MAX_REGEX_LENGTH = 1000;

// jsonata builds a regex literal's RegExp on every evaluation of it: verdicts are kept
const verdicts = new Map<string, string | null>();

/** Why `pattern` is refused, or undefined when it is safe to run on any input. */
export function regexProblem(pattern: string, flags = ''): string | undefined {
  const key = `${flags}/${pattern}`;
  const known = verdicts.get(key);
  if (known !== undefined) return known ?? undefined;
  const why = analyse(pattern, flags);
  if (verdicts.size >= 10_000) verdicts.clear();
  verdicts.set(key, why ?? null);
  return why;
}

function analyse(pattern: string, flags: string): string | undefined {
  if (pattern.length > MAX_REGEX_LENGTH) return `the pattern is ${pattern.length} characters long (limit ${MAX_REGEX_LENGTH})`;
  let ast: Alt;
  try {
    ast = new PatternParser(pattern, flags).parse();
  } catch (e) {
    return `the pattern cannot be analysed (${(e as Error).message})`;
  }
  return new Analysis(pattern, flags.includes('i')).check(ast);
}

/** A jsonata-style error for an unsafe regex (the code the evaluators report it under). */
export const UNSAFE_REGEX = 'U1005';

/** The RegExp jsonata builds regex literals with (its RegexEngine option): refuses unsafe patterns. */
export class GuardedRegExp extends RegExp {
  constructor(pattern: string | RegExp, flags?: string) {
    const source = typeof pattern === 'string' ? pattern : pattern.source;
    const f = flags ?? (typeof pattern === 'string' ? '' : pattern.flags);
    const why = regexProblem(source, f);
    if (why) throw { code: UNSAFE_REGEX, message: `unsafe regular expression /${source}/: ${why}` };
    super(pattern, flags);
  }
}

// ---- pattern model -------------------------------------------------------------------------------------

type Range = [number, number];
/** A set of code points as sorted, disjoint ranges. */
type CharSet = Range[];
const MAX_CP = 0x10ffff;

interface Span { start: number; end: number }
type Node =
  | ({ t: 'chars'; set: CharSet } & Span)
  | ({ t: 'empty' } & Span) // assertions: ^ $ \b \B
  | ({ t: 'backref' } & Span)
  | ({ t: 'group'; body: Alt; look: boolean } & Span)
  | ({ t: 'rep'; min: number; max: number; body: Node } & Span);
interface Seq { items: Node[]; start: number; end: number }
interface Alt { branches: Seq[]; start: number; end: number }

const ANY: CharSet = [[0, MAX_CP]];
const DIGIT: CharSet = [[0x30, 0x39]];
const WORD: CharSet = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const SPACE: CharSet = normalize([[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]]);
const LINE_TERMINATORS: CharSet = [[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]];

function normalize(ranges: Range[]): CharSet {
  const sorted = ranges.filter(([a, b]) => a <= b).sort((x, y) => x[0] - y[0]);
  const out: CharSet = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
function complement(set: CharSet): CharSet {
  const out: CharSet = [];
  let next = 0;
  for (const [a, b] of set) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}
function intersects(x: CharSet, y: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i][1] < y[j][0]) i++;
    else if (y[j][1] < x[i][0]) j++;
    else return true;
  }
  return false;
}
/** With the i flag, letters stand for both cases. */
function caseFold(set: CharSet): CharSet {
  const extra: Range[] = [];
  for (const [a, b] of set) {
    // ASCII letters by range; other code points one by one up to a small budget, else the set is widened
    const lo = Math.max(a, 0x41);
    const hi = Math.min(b, 0x5a);
    if (lo <= hi) extra.push([lo + 32, hi + 32]);
    const lo2 = Math.max(a, 0x61);
    const hi2 = Math.min(b, 0x7a);
    if (lo2 <= hi2) extra.push([lo2 - 32, hi2 - 32]);
    if (b >= 0x80) {
      if (b - Math.max(a, 0x80) > 256) return ANY;
      for (let c = Math.max(a, 0x80); c <= b; c++) {
        for (const v of [String.fromCodePoint(c).toLowerCase(), String.fromCodePoint(c).toUpperCase()]) {
          const cp = v.codePointAt(0)!;
          if (v.length === String.fromCodePoint(cp).length) extra.push([cp, cp]);
        }
      }
    }
    // U+017F and U+212A fold to s and k
    if (a <= 0x73 && b >= 0x73) extra.push([0x17f, 0x17f]);
    if (a <= 0x6b && b >= 0x6b) extra.push([0x212a, 0x212a]);
  }
  return normalize([...set, ...extra]);
}

// ---- parser --------------------------------------------------------------------------------------------

class PatternParser {
  private i = 0;
  private readonly unicode: boolean;

  constructor(private readonly src: string, flags: string) {
    this.unicode = flags.includes('u') || flags.includes('v');
  }

  parse(): Alt {
    const alt = this.alternation();
    if (this.i < this.src.length) throw new Error(`unexpected "${this.src[this.i]}" at ${this.i}`);
    return alt;
  }

  private alternation(): Alt {
    const start = this.i;
    const branches = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return { branches, start, end: this.i };
  }

  private sequence(): Seq {
    const start = this.i;
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    return { items, start, end: this.i };
  }

  private quantified(atom: Node): Node {
    const q = this.quantifier();
    if (!q) return atom;
    if (this.src[this.i] === '?') this.i++; // lazy: the same backtracking on a failing match
    if (atom.t === 'empty') throw new Error(`nothing to repeat at ${atom.start}`);
    return { t: 'rep', min: q.min, max: q.max, body: atom, start: atom.start, end: this.i };
  }

  private quantifier(): { min: number; max: number } | undefined {
    const c = this.src[this.i];
    if (c === '*') { this.i++; return { min: 0, max: Infinity }; }
    if (c === '+') { this.i++; return { min: 1, max: Infinity }; }
    if (c === '?') { this.i++; return { min: 0, max: 1 }; }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) {
        if (this.unicode) throw new Error(`incomplete quantifier at ${this.i}`);
        return undefined; // a literal "{" outside unicode mode
      }
      this.i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      return { min, max };
    }
    return undefined;
  }

  private atom(): Node {
    const start = this.i;
    const c = this.src[this.i++];
    switch (c) {
      case '^': case '$':
        return { t: 'empty', start, end: this.i };
      case '.':
        return { t: 'chars', set: DOT, start, end: this.i };
      case '[':
        return { t: 'chars', set: this.charClass(), start, end: this.i };
      case '(': {
        let look = false;
        if (this.src.startsWith('?:', this.i)) this.i += 2;
        else if (this.src.startsWith('?=', this.i) || this.src.startsWith('?!', this.i)) { this.i += 2; look = true; }
        else if (this.src.startsWith('?<=', this.i) || this.src.startsWith('?<!', this.i)) { this.i += 3; look = true; }
        else if (this.src.startsWith('?<', this.i)) {
          const close = this.src.indexOf('>', this.i);
          if (close === -1) throw new Error(`unterminated group name at ${this.i}`);
          this.i = close + 1;
        } else if (this.src[this.i] === '?') throw new Error(`unsupported group syntax at ${this.i}`);
        const body = this.alternation();
        if (this.src[this.i] !== ')') throw new Error(`unterminated group at ${start}`);
        this.i++;
        // a lookaround is an assertion (matches no text) but its body backtracks like any other
        return { t: 'group', body, look, start, end: this.i };
      }
      case ')':
        throw new Error(`unmatched ")" at ${start}`);
      case '*': case '+': case '?':
        throw new Error(`nothing to repeat at ${start}`);
      case '{':
        if (this.unicode || /^\d+(,\d*)?\}/.test(this.src.slice(this.i))) throw new Error(`nothing to repeat at ${start}`);
        return { t: 'chars', set: [[0x7b, 0x7b]], start, end: this.i };
      case '\\':
        return this.escape(start, false);
      default: {
        const cp = this.src.codePointAt(start)!;
        if (cp > 0xffff) this.i++;
        return { t: 'chars', set: [[cp, cp]], start, end: this.i };
      }
    }
  }

  /** After a backslash; inside a class, \b is a backspace and assertions do not exist. */
  private escape(start: number, inClass: boolean): Node {
    const c = this.src[this.i++];
    if (c === undefined) throw new Error('pattern ends with a backslash');
    const chars = (set: CharSet): Node => ({ t: 'chars', set, start, end: this.i });
    switch (c) {
      case 'd': return chars(DIGIT);
      case 'D': return chars(complement(DIGIT));
      case 'w': return chars(WORD);
      case 'W': return chars(complement(WORD));
      case 's': return chars(SPACE);
      case 'S': return chars(complement(SPACE));
      case 'b': return inClass ? chars([[8, 8]]) : { t: 'empty', start, end: this.i };
      case 'B': return { t: 'empty', start, end: this.i };
      case 'n': return chars([[0x0a, 0x0a]]);
      case 'r': return chars([[0x0d, 0x0d]]);
      case 't': return chars([[0x09, 0x09]]);
      case 'v': return chars([[0x0b, 0x0b]]);
      case 'f': return chars([[0x0c, 0x0c]]);
      case 'c': {
        const l = this.src[this.i];
        if (l && /[A-Za-z]/.test(l)) { this.i++; return chars([[l.charCodeAt(0) % 32, l.charCodeAt(0) % 32]]); }
        return chars([[0x5c, 0x5c]]);
      }
      case 'x': {
        const m = /^[0-9a-fA-F]{2}/.exec(this.src.slice(this.i));
        if (!m) return chars([[0x78, 0x78]]);
        this.i += 2;
        const cp = parseInt(m[0], 16);
        return chars([[cp, cp]]);
      }
      case 'u': {
        const braced = this.unicode ? /^\{([0-9a-fA-F]{1,6})\}/.exec(this.src.slice(this.i)) : null;
        const m = braced ?? /^[0-9a-fA-F]{4}/.exec(this.src.slice(this.i));
        if (!m) return chars([[0x75, 0x75]]);
        this.i += m[0].length;
        const cp = parseInt(braced ? m[1] : m[0], 16);
        return chars([[cp, cp]]);
      }
      case 'p': case 'P':
        if (this.unicode && this.src[this.i] === '{') {
          const close = this.src.indexOf('}', this.i);
          if (close === -1) throw new Error(`unterminated property escape at ${start}`);
          this.i = close + 1;
          return chars(ANY); // the property's exact set does not matter to a conservative check
        }
        return chars([[c.charCodeAt(0), c.charCodeAt(0)]]);
      case 'k':
        if (this.src[this.i] === '<') {
          const close = this.src.indexOf('>', this.i);
          if (close === -1) throw new Error(`unterminated group reference at ${start}`);
          this.i = close + 1;
          return { t: 'backref', start, end: this.i };
        }
        return chars([[0x6b, 0x6b]]);
      case '0':
        if (!/[0-9]/.test(this.src[this.i] ?? '')) return chars([[0, 0]]);
        break;
      default:
        break;
    }
    if (/[1-9]/.test(c)) {
      const m = /^\d*/.exec(this.src.slice(this.i))!;
      this.i += m[0].length;
      // without the u flag \1 may be an octal escape; treating it as a back reference is the cautious reading
      return inClass ? chars(ANY) : { t: 'backref', start, end: this.i };
    }
    if (c === '0') {
      const m = /^[0-7]{0,2}/.exec(this.src.slice(this.i))!;
      this.i += m[0].length;
      const cp = parseInt(`0${m[0]}`, 8);
      return chars([[cp, cp]]);
    }
    const cp = this.src.codePointAt(this.i - 1)!;
    if (cp > 0xffff) this.i++;
    return chars([[cp, cp]]);
  }

  /** After "[": the class's set (v-mode set operations are approximated by their widest reading). */
  private charClass(): CharSet {
    const negate = this.src[this.i] === '^';
    if (negate) this.i++;
    const ranges: Range[] = [];
    let wide = false;
    let rangeFrom: number | undefined;
    while (this.i < this.src.length && this.src[this.i] !== ']') {
      const start = this.i;
      let set: CharSet;
      const c = this.src[this.i];
      if (c === '\\') {
        this.i++;
        set = (this.escape(start, true) as { set: CharSet }).set;
      } else if (c === '[') {
        // a nested class (v flag): widen to anything
        this.skipNestedClass();
        set = ANY;
        wide = true;
      } else {
        const cp = this.src.codePointAt(this.i)!;
        this.i += cp > 0xffff ? 2 : 1;
        set = [[cp, cp]];
      }
      if (rangeFrom !== undefined) {
        const to = set.length === 1 && set[0][0] === set[0][1] ? set[0][0] : undefined;
        if (to === undefined) { ranges.push([rangeFrom, rangeFrom], [0x2d, 0x2d], ...set); }
        else if (to < rangeFrom) throw new Error(`range out of order in character class at ${start}`);
        else ranges.push([rangeFrom, to]);
        rangeFrom = undefined;
        continue;
      }
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.src[this.i + 1] !== undefined && set.length === 1 && set[0][0] === set[0][1]) {
        this.i++;
        rangeFrom = set[0][0];
        continue;
      }
      ranges.push(...set);
    }
    if (this.src[this.i] !== ']') throw new Error('unterminated character class');
    this.i++;
    if (rangeFrom !== undefined) ranges.push([rangeFrom, rangeFrom], [0x2d, 0x2d]);
    const set = wide ? ANY : normalize(ranges);
    return negate ? (wide ? ANY : complement(set)) : set;
  }

  private skipNestedClass(): void {
    let depth = 0;
    while (this.i < this.src.length) {
      const c = this.src[this.i++];
      if (c === '\\') this.i++;
      else if (c === '[') depth++;
      else if (c === ']' && --depth === 0) return;
    }
    throw new Error('unterminated character class');
  }
}
// `.` without the s flag: anything but a line terminator (the analysis does not need the s distinction)
const DOT: CharSet = complement(LINE_TERMINATORS);

// ---- analysis ------------------------------------------------------------------------------------------

interface First { set: CharSet; nullable: boolean }

class Analysis {
  constructor(private readonly src: string, private readonly ignoreCase: boolean) {}

  check(ast: Alt): string | undefined {
    return this.alt(ast, [], undefined);
  }

  private text(n: Span): string {
    const s = this.src.slice(n.start, n.end);
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  }

  /**
   * `follow`: the characters that can come right after this part of the pattern within the innermost
   * enclosing loop (the rest of its body, then its next iteration); `loop`: that loop, if any.
   */
  private alt(a: Alt, follow: CharSet, loop: Node | undefined): string | undefined {
    if (loop && a.branches.length > 1) {
      const firsts = a.branches.map((b) => this.firstOfSeq(b.items));
      for (let x = 0; x < firsts.length; x++) {
        for (let y = x + 1; y < firsts.length; y++) {
          if (intersects(firsts[x].set, firsts[y].set)) {
            return `the alternatives "${this.text(a.branches[x])}" and "${this.text(a.branches[y])}" can start with the same character inside the repetition "${this.text(loop)}", so backtracking over them is exponential on input that almost matches`;
          }
        }
      }
    }
    for (const b of a.branches) {
      const why = this.seq(b.items, follow, loop);
      if (why) return why;
    }
    return undefined;
  }

  private seq(items: Node[], follow: CharSet, loop: Node | undefined): string | undefined {
    // right to left, so each item knows what can follow it
    let after = follow;
    for (let i = items.length - 1; i >= 0; i--) {
      const why = this.node(items[i], after, loop);
      if (why) return why;
      const f = this.first(items[i]);
      after = f.nullable ? normalize([...f.set, ...after]) : f.set;
    }
    return undefined;
  }

  private node(n: Node, follow: CharSet, loop: Node | undefined): string | undefined {
    if (n.t === 'group') return this.alt(n.body, follow, loop);
    if (n.t !== 'rep') return undefined;
    // Inside a loop, a quantifier with a choice of count is ambiguous when what follows it can take the
    // characters it can take: the loop then splits the same text many ways, (a+)+ or (\w\d?)+; when they
    // cannot, the split is forced: (,[0-9]+)* is safe.
    if (loop && n.max > n.min && intersects(this.chars(n), follow)) {
      return `the repetition "${this.text(loop)}" contains the repetition "${this.text(n)}" (nested quantifiers), so backtracking is exponential on input that almost matches`;
    }
    if (n.max <= 1) return this.node(n.body, follow, loop);
    // a loop, even of fixed count: (a+){30} splits the input 30 ways, (a|a){30} tries 2^30 paths; its body is
    // followed by its own next iteration (and, inside another loop, by what follows it there)
    const next = this.first(n.body).set;
    return this.node(n.body, loop ? normalize([...next, ...follow]) : next, n);
  }

  private firstOfSeq(items: Node[]): First {
    let set: CharSet = [];
    for (const item of items) {
      const f = this.first(item);
      set = normalize([...set, ...f.set]);
      if (!f.nullable) return { set, nullable: false };
    }
    return { set, nullable: true };
  }

  private first(n: Node): First {
    switch (n.t) {
      case 'chars': return { set: this.fold(n.set), nullable: false };
      case 'empty': return { set: [], nullable: true };
      case 'backref': return { set: ANY, nullable: true };
      case 'group': {
        if (n.look) return { set: [], nullable: true };
        let set: CharSet = [];
        let nullable = false;
        for (const b of n.body.branches) {
          const f = this.firstOfSeq(b.items);
          set = normalize([...set, ...f.set]);
          nullable ||= f.nullable;
        }
        return { set, nullable };
      }
      case 'rep': {
        const f = this.first(n.body);
        return { set: f.set, nullable: f.nullable || n.min === 0 };
      }
    }
  }

  /** Every character `n` can consume. */
  private chars(n: Node): CharSet {
    switch (n.t) {
      case 'chars': return this.fold(n.set);
      case 'empty': return [];
      case 'backref': return ANY;
      case 'rep': return this.chars(n.body);
      case 'group': return n.look ? [] : normalize(n.body.branches.flatMap((b) => b.items.flatMap((item) => this.chars(item))));
    }
  }

  private fold(set: CharSet): CharSet {
    return this.ignoreCase ? caseFold(set) : set;
  }
}
