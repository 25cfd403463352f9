// JSONata AST (as parsed and post-processed by the `jsonata` package) -> JavaScript source. Each AST node
// becomes straight-line statements that compute exactly what jsonata's evaluate() returns for it: the
// node's value, then its predicates, its grouping and the sequence post-processing. Variables become
// JavaScript variables (jsonata's frames are lexical); tuple frames of joins (`@`, `#`, `%`) become
// objects. The generated source names nothing but its own locals, the runtime object `rt` and the
// constants array `K`: no globals, no `this`. Data is read as jsonata reads it, own properties only; for
// JSON objects (prototype Object.prototype or null) and names Object.prototype lacks, that is a plain read.
//
// Common shapes get fast paths that give the same values without jsonata's intermediate sequences:
// `a.b.c` and `a[0].b` over single objects, object constructors with literal keys (one literal object),
// builtin calls whose arguments already fit the signature, `[cond][n]`, `$lookup` of a literal table,
// `$contains`/`$replace` with a regex literal, and calls of lambdas bound once in a block.
//
// Depth accounting: jsonata increments a depth counter on every evaluate(). Compiled code knows each
// node's depth statically relative to `D`, the depth of the enclosing function body's root, so it only
// checks at leaves (every evaluation reaches a leaf before it can observe anything) and only when the
// body could exceed the limit at all (`ck`).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { BUILTINS, UNSUPPORTED_FUNCTIONS, type Builtin } from './functions.ts';
import { parseParams } from './runtime.ts';

type Node = any;

export class Unsupported extends Error {
  constructor(reason: string) { super(reason); this.name = 'Unsupported'; }
}

// ---- scopes --------------------------------------------------------------------------------------------

interface Scope {
  kind: 'root' | 'frame' | 'tuple';
  parent: Scope | null;
  /** frame: JSONata name -> JS variable */
  vars: Map<string, string>;
  /** frame: names certainly bound at this point of the generated code (lambda parameters, and block
   *  variables after their binding statement) */
  params: Set<string>;
  /** tuple: JS variable holding the tuple object */
  tp?: string;
  /** frame: variables bound once, to a lambda literal, by a statement of the block: calls go straight
   *  to the body function */
  lambdas?: Map<string, KnownLambda>;
  /** frame: variables bound once whose value was checked to be a JSON object when bound (name -> flag) */
  trust?: Map<string, string>;
}

/** A lambda bound once to a block variable: `body(D, a0, a1, …)` takes its arguments one by one; `obj` is
 *  the lambda value for error annotation (a constant marker when the value never escapes). */
interface KnownLambda {
  body: string; obj: string; tails: boolean; arity: number;
  /** a small body generated in place at each direct call (in a frame of its own under the scope and
   *  context where the lambda was defined) instead of calling `body` */
  inline?: { node: Node; ctx: Ctx };
}

interface Ctx {
  /** JS identifier of the context value; always a const (lambdas may capture it) */
  input: string;
  /** depth of this node relative to D */
  off: number;
  scope: Scope;
  /** the context may be the outer wrapper jsonata puts around an array input */
  wrap: boolean;
  /** inside a lambda body: tail calls compile to trampoline returns */
  lambda: boolean;
  /** a flag variable saying `input` is a JSON object (constructor Object, not a function definition) */
  trust?: { input: string; flag: string };
}

// ---- analysis: which frame each := binds into, and what cannot be compiled ---------------------------------

interface Frame { binds: Set<string>; counts: Map<string, number>; parallel: number; tuple: boolean }

interface Analysis {
  frames: Map<Node, Set<string>>;
  /** how many := in a frame bind each name */
  bindCounts: Map<Node, Map<string, number>>;
  rootBinds: Set<string>;
  tupleNames: Set<string>;
  usesTime: boolean;
}

const TIME_FUNCTIONS = new Set(['now', 'millis', 'toMillis']);

function analyze(ast: Node): Analysis {
  const frames = new Map<Node, Set<string>>();
  const bindCounts = new Map<Node, Map<string, number>>();
  const tupleNames = new Set<string>(['@']);
  let usesTime = false;
  let parallel = 0;
  const rootFrame: Frame = { binds: new Set(), counts: new Map(), parallel: 0, tuple: false };
  const newFrame = (node: Node): Frame => {
    const f: Frame = { binds: new Set(), counts: new Map(), parallel, tuple: false };
    frames.set(node, f.binds);
    bindCounts.set(node, f.counts);
    return f;
  };
  const tupleFrame = (): Frame => ({ binds: new Set(), counts: new Map(), parallel, tuple: true });
  const name = (n: unknown) => {
    if (typeof n !== 'string') return;
    if (n === '__proto__') throw new Unsupported('a variable or label named __proto__');
    tupleNames.add(n);
  };
  const par = (f: () => void) => { parallel++; try { f(); } finally { parallel--; } };

  const walkStep = (step: Node, f: Frame) => {
    if (step.focus !== undefined) name(step.focus);
    if (step.index !== undefined) name(step.index);
    if (step.type === 'sort' && step.index === undefined) tupleNames.add('undefined');
    if (step.ancestor) name(step.ancestor.label);
    if (step.type === 'sort') {
      for (const term of step.terms) walk(term.expression, f);
    } else {
      walk(step, f);
    }
    for (const stage of step.stages ?? []) {
      if (stage.type === 'index') name(stage.value);
      else walk(stage.expr, f);
    }
  };

  const walkGroup = (group: Node, f: Frame) => {
    par(() => { for (const [k, v] of group.lhs) { walk(k, f); walk(v, f); } });
  };

  const walk = (node: Node, f: Frame): void => {
    if (node === undefined || node === null) return;
    switch (node.type) {
      case 'path': {
        let tuple = false;
        node.steps.forEach((step: Node, ii: number) => {
          if (step.tuple) tuple = true;
          walkStep(step, ii === 0 && step.consarray ? f : tuple ? tupleFrame() : f);
        });
        if (node.group) walkGroup(node.group, tuple ? tupleFrame() : f);
        return;
      }
      case 'binary':
        walk(node.lhs, f);
        walk(node.rhs, f);
        break;
      case 'unary':
        if (node.value === '-') walk(node.expression, f);
        else if (node.value === '[') par(() => node.expressions.forEach((e: Node) => walk(e, f)));
        else if (node.value === '{') par(() => { for (const [k, v] of node.lhs) { walk(k, f); walk(v, f); } });
        else throw new Unsupported(`unary ${node.value}`);
        break;
      case 'name': case 'string': case 'number': case 'value': case 'wildcard': case 'descendant': case 'regex':
        break;
      case 'parent':
        name(node.slot.label);
        break;
      case 'variable':
        if (node.value === 'eval' || UNSUPPORTED_FUNCTIONS.has(node.value)) throw new Unsupported(`$${node.value}()`);
        if (TIME_FUNCTIONS.has(node.value)) usesTime = true;
        break;
      case 'condition':
        walk(node.condition, f);
        walk(node.then, f);
        walk(node.else, f);
        break;
      case 'block': {
        const bf = newFrame(node);
        for (const e of node.expressions) walk(e, bf);
        break;
      }
      case 'bind': {
        if (f.tuple) throw new Unsupported('variable binding inside a join step');
        if (parallel > f.parallel) throw new Unsupported('variable binding inside an array or object constructor');
        walk(node.rhs, f);
        f.binds.add(node.lhs.value);
        f.counts.set(node.lhs.value, (f.counts.get(node.lhs.value) ?? 0) + 1);
        break;
      }
      case 'function': case 'partial':
        walk(node.procedure, f);
        for (const a of node.arguments) if (!(a.type === 'operator' && a.value === '?')) walk(a, f);
        break;
      case 'apply':
        walk(node.lhs, f);
        walk(node.rhs, f);
        break;
      case 'lambda': {
        if (node.thunk) {
          // a tail call: procedure and arguments evaluate in the current frame
          walk(node.body.procedure, f);
          for (const a of node.body.arguments) walk(a, f);
          break;
        }
        walk(node.body, newFrame(node));
        break;
      }
      case 'transform':
        walk(node.pattern, f);
        walk(node.update, f);
        walk(node.delete, f);
        break;
      default:
        throw new Unsupported(`node type ${node.type}`);
    }
    for (const p of node.predicate ?? []) walk(p.expr, f);
    if (node.group) {
      if (node.tuple) throw new Unsupported('grouping on a join result');
      walkGroup(node.group, f);
    }
  };
  walk(ast, rootFrame);
  return { frames, bindCounts, rootBinds: rootFrame.binds, tupleNames, usesTime };
}

/** Tail calls (thunks) under a predicate or grouping would filter jsonata's thunk object itself. */
function checkTails(node: Node, underFilter: boolean): void {
  if (!node || typeof node !== 'object') return;
  if (node.type === 'lambda' && node.thunk) {
    if (underFilter) throw new Unsupported('tail call under a predicate');
    return;
  }
  if (node.type === 'condition') {
    const f = underFilter || !!node.predicate || !!node.group;
    checkTails(node.then, f);
    checkTails(node.else, f);
    return;
  }
  if (node.type === 'block' && node.expressions.length) {
    checkTails(node.expressions[node.expressions.length - 1], underFilter || !!node.predicate || !!node.group);
  }
}

// ---- signatures (fast argument checks for builtins) ---------------------------------------------------

/** JS condition that a value has one of the given signature type letters (plus "missing"). */
function typeTest(v: string, letters: string, missing: boolean): string {
  const parts: string[] = [];
  for (const l of letters) {
    switch (l) {
      case 's': parts.push(`typeof ${v} === "string"`); break;
      case 'n': parts.push(`typeof ${v} === "number"`); break;
      case 'b': parts.push(`typeof ${v} === "boolean"`); break;
      case 'l': parts.push(`${v} === null`); break;
      case 'o': parts.push(`(typeof ${v} === "object" && ${v} !== null && !isArray(${v}) && !isFn(${v}))`); break;
      case 'a': parts.push(`isArray(${v})`); break;
      case 'f': parts.push(`isFn(${v})`); break;
      case 'j': parts.push(`!isFn(${v})`); return parts.join(' || ');
      case 'x': return 'true';
      default: return 'false';
    }
  }
  if (missing) parts.push(`${v} === undefined`);
  return parts.join(' || ') || 'false';
}

// ---- code generation --------------------------------------------------------------------------------

/** `checked`: the function checks depth at its leaves (lambda bodies always do: their depth is only known
 *  when they run; the root does in the variant made for depth limits it could reach). */
interface FnState { temps: string[]; maxLeaf: number; checked: boolean }

const RT = ['G', 'UNBOUND', 'TAIL', 'BAD', 'seq', 'seq1', 'fin', 'finK', 'isSeq', 'lookup', 'ctxValue', 'wildcard', 'descendants', 'flattenStep',
  'keepSingletonArray', 'markCons', 'tupleValues', 'toTuples', 'tupleSeq', 'newTuple', 'reduceTupleStream', 'predicateHits',
  'indexFilter', 'arith', 'compare', 'eq', 'neq', 'includes', 'concat', 'range', 'neg', 'boolize', 'boolean', 'call', 'applyFn',
  'annotateBuiltin', 'lambda', 'tailCall', 'partial', 'chain', 'isFn', 'arrayParam', 'deep', 'tick', 'opError', 'pushAll',
  'groupKey', 'sortCompare', 'sortArr', 'regexMatcher', 'regexExec', 'regexTest', 'matchLiteral', 'transformer', 'isArray', 'objCreate', 'objKeys', 'objAssign', 'setProto',
  'hop', 'LAMBDA_MARK', 'nullProto', 'getProto', 'keysOf', 'transformUpdate', 'transformDelete', 'cloneFor', 'nameSteps', 'groupContext', 'ObjectCtor', 'OP', 'annotate', 'trampoline', 'indexItem', 'replaceLiteral', 'applyTo'];

export interface Generated {
  source: string;
  /** depth of the root function's deepest leaf below its own (D = 1) */
  rootDepth: number;
  /** lines of the root function's body */
  rootLines: number;
  consts: unknown[];
  usesTime: boolean;
  freeNames: string[];
}

export interface GenOptions {
  /** functions registered on the expression (name -> definition), resolved before builtins */
  functions: Record<string, unknown>;
  /** check the depth limit at the root function's leaves: only needed when a run's limit is below
   *  `rootDepth` (the deepest leaf of the root), which the runner checks before choosing a variant */
  depthChecks?: boolean;
}

export function generate(ast: Node, opts: GenOptions): Generated {
  const analysis = analyze(ast);
  checkAllTails(ast);
  // one function while it stays small enough for V8 to optimize quickly; else parts of its own (genPart)
  const whole = new CodeGen(analysis, opts, false).root(ast);
  if (whole.rootLines <= SPLIT_LINES) return whole;
  return new CodeGen(analysis, opts, true).root(ast);
}

function checkAllTails(node: Node): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) { node.forEach(checkAllTails); return; }
  if (node.type === 'lambda' && !node.thunk) checkTails(node.body, false);
  for (const [k, v] of Object.entries(node)) {
    if (k === 'signature' || k === 'slot' || k === 'ancestor' || v instanceof RegExp) continue;
    if (v && typeof v === 'object') checkAllTails(v);
  }
}

class CodeGen {
  private readonly consts: unknown[] = [];
  private readonly constIndex = new Map<unknown, number>();
  private uid = 0;
  private lines: string[] = [];
  private fn: FnState;
  private readonly rootVars = new Map<string, string>();
  private readonly builtinConsts = new Map<string, { def: string; impl: string }>();
  /** object constructors whose value is the expression's value (see RunOptions.looseResult) */
  private resultNodes = new Set<Node>();
  /** names the fast paths read with plain property reads: Object.prototype must have none of them (OPK) */
  private readonly opKeys = new Set<string>();
  /** temps holding a node's value already post-processed (gen() applies no fin() to them) */
  private readonly finalized = new Set<string>();

  constructor(private readonly an: Analysis, private readonly opts: GenOptions, private readonly split: boolean) {
    this.fn = { temps: [], maxLeaf: -1, checked: opts.depthChecks === true };
    this.rootFn = this.fn;
  }

  // ---- plumbing ----
  private k(value: unknown): string {
    let i = this.constIndex.get(value);
    if (i === undefined) {
      i = this.consts.length;
      this.consts.push(value);
      this.constIndex.set(value, i);
    }
    return `K[${i}]`;
  }
  private id(prefix: string): string { return `${prefix}${++this.uid}`; }
  private tmp(): string {
    const t = this.id('t');
    this.fn.temps.push(t);
    return t;
  }
  private emit(line: string): void { this.lines.push(line); }
  private capture(f: () => void): string[] {
    const saved = this.lines;
    this.lines = [];
    try { f(); return this.lines; } finally { this.lines = saved; }
  }
  /** value of an expression in a temp (or as is when trivially pure) */
  private val(expr: string): string {
    if (/^[A-Za-z_$][\w$]*$/.test(expr) || /^\(?-?[\d.e+]+\)?$/.test(expr) || expr === 'undefined' || expr === 'true' || expr === 'false' || expr === 'null' || /^"(?:[^"\\]|\\.)*"$/.test(expr)) return expr;
    const t = this.tmp();
    this.emit(`${t} = ${expr};`);
    return t;
  }
  /** a const binding for a context value */
  private ctxVar(expr: string): string {
    const c = this.id('c');
    this.emit(`const ${c} = ${expr};`);
    return c;
  }
  private leaf(c: Ctx): void {
    if (c.off > this.fn.maxLeaf) this.fn.maxLeaf = c.off;
    if (this.fn.checked) this.emit(`if (ck && ${c.off} > lim) deep();`);
  }
  private literal(v: unknown): string {
    if (typeof v === 'number') return Object.is(v, -0) ? '(-0)' : `(${JSON.stringify(v)})`;
    if (v === undefined) return 'undefined';
    return JSON.stringify(v);
  }
  /** An own property of a value known not to be an array (jsonata's lookup on a single value). Objects
   *  whose constructor is Object (JSON data) skip the own-property check for names Object.prototype
   *  does not have; `OP[key] === undefined` keeps that true even if something adds one later. */
  private ownRead(x: string, name: string): string {
    const key = JSON.stringify(name);
    const notFn = `${x}._jsonata_function !== true && ${x}._jsonata_lambda !== true`;
    if (name in Object.prototype) {
      return `((${x} !== null && typeof ${x} === "object" && hop.call(${x}, ${key}) && ${notFn}) ? ${x}[${key}] : undefined)`;
    }
    const v = this.tmp();
    return `((${x} !== null && typeof ${x} === "object" && (${v} = ${x}[${key}]) !== undefined && ((${x}.constructor === ObjectCtor && OP[${key}] === undefined) || hop.call(${x}, ${key})) && ${notFn}) ? ${v} : undefined)`;
  }

  /** the call site's own RegExp (its lastIndex is set before every use) */
  private regexConst(node: Node): string {
    let re = this.regexes.get(node);
    if (!re) { re = this.k(new RegExp(node.value)); this.regexes.set(node, re); }
    return re;
  }
  private readonly regexes = new Map<Node, string>();

  private rootVar(name: string): string {
    let v = this.rootVars.get(name);
    if (!v) { v = this.id('r'); this.rootVars.set(name, v); }
    return v;
  }
  /** The definition a root variable defaults to: a registered function, else a builtin. */
  private functionDef(name: string): Builtin | undefined {
    if (name in this.opts.functions) return this.opts.functions[name] as Builtin;
    return UNSUPPORTED_FUNCTIONS.has(name) ? undefined : BUILTINS[name];
  }

  private builtin(name: string): { def: string; impl: string } {
    let b = this.builtinConsts.get(name);
    if (!b) {
      b = { def: this.id('B'), impl: this.id('I') };
      this.builtinConsts.set(name, b);
    }
    return b;
  }

  /** A branch jsonata evaluates concurrently with later ones (array items, object values): an error in
   *  it may not be the error jsonata reports first, so the run counts such branches (see index.ts). */
  private parallel(counted: boolean, f: () => string): string {
    if (!counted) return f();
    this.emit('G.par++;');
    const v = f();
    this.emit('G.par--;');
    return v;
  }

  /** A node's value, generated in place, or, when its code is long and it belongs to the root function, as
   *  a function of its own declared beside the root (called with the root's variables it reads): V8 then
   *  optimizes several small functions instead of one huge one (which takes long, and beyond about 60 KB of
   *  bytecode not at all). */
  private genPart(node: Node, c: Ctx): string {
    if (!this.split || this.fn !== this.rootFn) return this.gen(node, c);
    const savedLines = this.lines;
    const savedTemps = this.fn.temps;
    this.lines = [];
    this.fn.temps = [];
    let r: string;
    let lines: string[];
    let temps: string[];
    try {
      r = this.gen(node, c);
    } finally {
      lines = this.lines;
      temps = this.fn.temps;
      this.lines = savedLines;
      this.fn.temps = savedTemps;
    }
    if (lines.length < HOIST_LINES) {
      savedTemps.push(...temps);
      savedLines.push(...lines);
      return r;
    }
    const body = lines.join('\n');
    const code = body.replace(/"(?:[^"\\]|\\.)*"/g, '""') + `\n${r}`;
    const declared = new Set<string>();
    for (const m of code.matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)/g)) declared.add(m[1]);
    for (const m of code.matchAll(/\bvar\s+([\w$]+(?:,\s*[\w$]+)+);/g)) for (const d of m[1].split(',')) declared.add(d.trim());
    const free = new Set<string>(['D', 'lim', 'ck']);
    for (const m of code.matchAll(/\b(?:c\d+|v\d+|r\d+|T\d+|LB\d+|OPK|input|bindings)\b/g)) if (!declared.has(m[0])) free.add(m[0]);
    const params = [...free].join(', ');
    const name = this.id('F');
    this.hoisted.push(`function ${name}(${params}) {\n${temps.length ? `var ${temps.join(', ')};\n` : ''}${body}\nreturn ${r};\n}`);
    return this.val(`${name}(${params})`);
  }
  private rootFn!: FnState;
  /** lambdas whose body is being generated in place (a recursive call inside calls the function) */
  private readonly inlining = new Set<Node>();
  private readonly hoisted: string[] = [];

  /** A nested JS function (lambda body, transform, sort term): own temps and depth base. */
  private subFunction(f: () => string, ownDepth: boolean): { body: string; maxLeaf: number } {
    const savedFn = this.fn;
    const savedLines = this.lines;
    this.fn = { temps: [], maxLeaf: ownDepth ? -1 : savedFn.maxLeaf, checked: ownDepth || savedFn.checked };
    this.lines = [];
    try {
      const r = f();
      const temps = this.fn.temps.length ? `var ${this.fn.temps.join(', ')};\n` : '';
      const body = temps + this.lines.join('\n') + `\nreturn ${r};`;
      const maxLeaf = this.fn.maxLeaf;
      if (!ownDepth) savedFn.maxLeaf = Math.max(savedFn.maxLeaf, maxLeaf);
      return { body, maxLeaf };
    } finally {
      this.fn = savedFn;
      this.lines = savedLines;
    }
  }

  // ---- entry ----
  root(ast: Node): Generated {
    const mark = (n: Node): void => {
      if (!n || n.predicate || n.group || n.keepArray) return;
      if (n.type === 'unary' && n.value === '{') this.resultNodes.add(n);
      else if (n.type === 'block' && n.expressions.length) mark(n.expressions[n.expressions.length - 1]);
      else if (n.type === 'condition') { mark(n.then); mark(n.else); }
    };
    mark(ast);
    const rootScope: Scope = { kind: 'root', parent: null, vars: new Map(), params: new Set() };
    const dollar = this.rootVar('$');
    const body = this.capture(() => {
      // whether the input is a JSON object, once for every path that starts from it
      this.emit(`var T0 = c0 !== null && typeof c0 === "object" && (${plainObject('c0')}) && c0._jsonata_function !== true && c0._jsonata_lambda !== true;`);
      const r = this.gen(ast, { input: 'c0', off: 0, scope: rootScope, wrap: true, lambda: false, trust: { input: 'c0', flag: 'T0' } });
      this.emit(`return ${r};`);
    });
    // root variables: the registered function or builtin of that name, or nothing, unless the bindings have
    // it as an own enumerable property (jsonata binds Object.keys(bindings)); one pass over the bindings'
    // keys instead of a lookup per name
    const decls: string[] = [];
    const cases: string[] = [];
    for (const [name, v] of this.rootVars) {
      if (name === '$') continue;
      const dflt = name in this.opts.functions ? this.opts.functions[name] : BUILTINS[name] ?? undefined;
      decls.push(`var ${v} = ${dflt === undefined ? 'undefined' : this.k(dflt)};`);
      cases.push(`case ${JSON.stringify(name)}: if (hop.call(bindings, k)) ${v} = bindings[k]; break;`);
    }
    if (cases.length) decls.push(`if (bindings !== null && typeof bindings === "object") for (const k in bindings) switch (k) { ${cases.join(' ')} }`);
    const builtins: string[] = [];
    for (const [name, b] of this.builtinConsts) {
      builtins.push(`var ${b.def} = ${this.k(this.functionDef(name))}, ${b.impl} = ${b.def}.implementation;`);
    }
    // function-level declarations are `var`: closures reading them then need no temporal-dead-zone checks
    // (block-level ones stay `let`/`const`, a loop gives each iteration its own)
    const source = [
      '"use strict";',
      `var {${RT.join(', ')}} = rt;`,
      ...builtins,
      ...this.hoisted,
      'return function root(input, bindings) {',
      `var ${dollar} = input;`,
      'if (isArray(input) && !isSeq(input)) { input = seq1(input); input.outerWrapper = true; }',
      'var c0 = input;',
      ...decls,
      ...[...this.rootTrusts].map(([name, f]) => `var ${f} = ${jsonObject(this.rootVar(name))};`),
      // plain reads of these names are own-property reads while Object.prototype lacks them all
      `var OPK = ${[...this.opKeys].map((k) => `OP[${JSON.stringify(k)}] === undefined`).join(' && ') || 'true'};`,
      `var D = 1, lim = G.maxDepth - D, ck = ${this.fn.maxLeaf} > lim;`,
      this.fn.temps.length ? `var ${this.fn.temps.join(', ')};` : '',
      ...body,
      '};',
    ].join('\n');
    return { source, rootLines: body.length, rootDepth: this.fn.maxLeaf, consts: this.consts, usesTime: this.an.usesTime, freeNames: [...this.rootVars.keys()].filter((n) => n !== '$') };
  }

  // ---- nodes ----
  gen(node: Node, c: Ctx): string {
    let r: string;
    let maySeq = true;
    switch (node.type) {
      case 'path': {
        const fast = this.fastPath(node, c);
        if (fast !== undefined) return fast;
        r = this.genPath(node, c);
        break;
      }
      case 'binary':
        r = this.genBinary(node, c);
        maySeq = node.value === '..';
        break;
      case 'unary':
        r = this.genUnary(node, c);
        maySeq = false;
        break;
      case 'string': case 'number': case 'value':
        this.leaf(c);
        r = this.literal(node.value);
        maySeq = false;
        break;
      case 'name': {
        // fn.lookup, with the single-object case inline
        this.leaf(c);
        const x = c.input;
        r = this.val(`isArray(${x}) ? lookup(${x}, ${JSON.stringify(node.value)}) : ${this.ownRead(x, node.value)}`);
        break;
      }
      case 'wildcard':
        this.leaf(c);
        r = this.val(`wildcard(${c.input})`);
        break;
      case 'descendant':
        this.leaf(c);
        r = this.val(`descendants(${c.input})`);
        break;
      case 'parent':
        this.leaf(c);
        r = this.val(this.resolve(node.slot.label, c.scope));
        break;
      case 'condition':
        r = this.genCondition(node, c);
        maySeq = false;
        break;
      case 'block':
        r = this.genBlock(node, c);
        maySeq = false;
        break;
      case 'bind':
        r = this.genBind(node, c);
        maySeq = false;
        break;
      case 'regex':
        this.leaf(c);
        r = this.val(`regexMatcher(${this.regexConst(node)}, ${node.position})`);
        maySeq = false;
        break;
      case 'function':
        r = this.genCall(node, c, undefined, !node.predicate && !node.group && !node.keepArray);
        break;
      case 'variable':
        this.leaf(c);
        r = node.value === '' ? (c.wrap ? this.val(`ctxValue(${c.input})`) : c.input) : this.val(this.resolve(node.value, c.scope));
        break;
      case 'lambda':
        if (node.thunk) {
          if (!c.lambda) throw new Unsupported('tail call outside a lambda');
          r = this.genTailCall(node, c);
          maySeq = false;
        } else {
          r = this.genLambda(node, c);
          maySeq = false;
        }
        break;
      case 'partial':
        r = this.genPartial(node, c);
        maySeq = false;
        break;
      case 'apply':
        r = this.genApply(node, c, !node.predicate && !node.group && !node.keepArray);
        break;
      case 'transform':
        this.leaf(c);
        r = this.genTransform(node, c);
        maySeq = false;
        break;
      default:
        throw new Unsupported(`node type ${node.type}`);
    }
    if (node.predicate) {
      // a join result (a block ending in a join path) is a tuple stream: its predicates see the tuples
      const tuple = node.type !== 'path' && node.tuple === true ? 'dynamic' : false;
      r = this.genFilters(node.predicate, r, c, c.off + 1, tuple, !node.keepArray);
      maySeq = true;
    }
    if (node.type !== 'path' && node.group) {
      r = this.genGroup(node.group, r, c, c.off + 1, false);
      maySeq = false;
    }
    if (maySeq && !this.finalized.has(r)) r = this.val(`${node.keepArray ? 'finK' : 'fin'}(${r})`);
    else if (node.keepArray) r = this.val(`finK(${r})`);
    return r;
  }

  /** `$x := value` binds in the innermost frame */
  private genBind(node: Node, c: Ctx): string {
    const v = this.gen(node.rhs, { ...c, off: c.off + 1 });
    const target = this.frameVar(node.lhs.value, c.scope);
    this.emit(`${target} = ${v};`);
    return v;
  }
  private frameVar(name: string, scope: Scope): string {
    let s: Scope | null = scope;
    while (s && s.kind === 'tuple') s = s.parent;
    if (!s) throw new Unsupported('binding outside a frame');
    if (s.kind === 'root') return this.rootVar(name);
    const v = s.vars.get(name);
    if (!v) throw new Unsupported(`binding of $${name} in an unanalysed frame`);
    return v;
  }
  /** JS expression for the value of a variable: innermost frame that binds it, else the root. */
  private resolve(name: string, scope: Scope | null): string {
    if (!scope) return 'undefined';
    if (scope.kind === 'tuple') {
      if (!this.an.tupleNames.has(name)) return this.resolve(name, scope.parent);
      const key = JSON.stringify(name);
      return `(hop.call(${scope.tp}, ${key}) ? ${scope.tp}[${key}] : ${this.resolve(name, scope.parent)})`;
    }
    if (scope.kind === 'frame') {
      const v = scope.vars.get(name);
      if (v === undefined) return this.resolve(name, scope.parent);
      if (scope.params.has(name)) return v;
      return `(${v} !== UNBOUND ? ${v} : ${this.resolve(name, scope.parent)})`;
    }
    if (name.startsWith('!')) return 'undefined';
    return this.rootVar(name);
  }
  /** The lambda a variable certainly holds here, when it was bound once to a lambda literal. */
  private knownLambda(name: string, scope: Scope | null): KnownLambda | undefined {
    for (let s = scope; s; s = s.parent) {
      if (s.kind === 'tuple') { if (this.an.tupleNames.has(name)) return undefined; continue; }
      if (s.kind === 'root') return undefined;
      if (s.vars.has(name)) return s.params.has(name) ? s.lambdas?.get(name) : undefined;
    }
    return undefined;
  }

  /** The flag saying a variable's value is a JSON object, when it was computed where the variable was bound. */
  private trustFor(name: string, scope: Scope | null): string | undefined {
    for (let s = scope; s; s = s.parent) {
      if (s.kind === 'tuple') { if (this.an.tupleNames.has(name)) return undefined; continue; }
      if (s.kind === 'root') return this.an.rootBinds.has(name) ? undefined : this.rootTrust(name);
      if (s.vars.has(name)) return s.params.has(name) ? s.trust?.get(name) : undefined;
    }
    return undefined;
  }
  /** A binding's variable read by paths: its JSON-object flag, computed once per run (see root()). */
  private rootTrust(name: string): string {
    let f = this.rootTrusts.get(name);
    if (!f) { f = this.id('T'); this.rootTrusts.set(name, f); }
    return f;
  }
  private readonly rootTrusts = new Map<string, string>();

  /** The known lambda a plain variable argument (`$f`) names, when its value is made (it escapes). */
  private knownValue(arg: Node, scope: Scope | null): KnownLambda | undefined {
    if (arg.type !== 'variable' || arg.value === '' || arg.predicate || arg.group || arg.keepArray) return undefined;
    const known = this.knownLambda(arg.value, scope);
    return known && known.obj !== 'LAMBDA_MARK' ? known : undefined;
  }

  /** true when $name can only come from the root (bindings, registered functions, builtins) */
  private rootOnly(name: string, scope: Scope | null): boolean {
    for (let s = scope; s; s = s.parent) {
      if (s.kind === 'tuple' && this.an.tupleNames.has(name)) return false;
      if (s.kind === 'frame' && s.vars.has(name)) return false;
      if (s.kind === 'root' && this.an.rootBinds.has(name)) return false;
    }
    return true;
  }

  private newFrame(node: Node, parent: Scope, params: string[]): Scope {
    const scope: Scope = { kind: 'frame', parent, vars: new Map(), params: new Set() };
    for (const p of params) {
      if (!scope.vars.has(p)) scope.vars.set(p, this.id('p'));
      scope.params.add(p);
    }
    for (const b of this.an.frames.get(node) ?? []) if (!scope.vars.has(b)) scope.vars.set(b, this.id('v'));
    return scope;
  }

  // ---- paths ----

  /** a.b.c / $v.a.b: over single JSON objects, plain property reads; an array before the last step is
   *  looped over in place; anything else unusual starts over in nameSteps() (name steps have no effects). */
  private fastPath(node: Node, c: Ctx): string | undefined {
    if (node.keepSingletonArray || node.group || node.tuple || node.keepArray) return undefined;
    const steps: Node[] = node.steps;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i];
      if (s.predicate || s.group || s.focus !== undefined || s.index !== undefined || s.ancestor || s.tuple || s.keepArray) return undefined;
      // a name step may carry one literal index: images[0].src
      if (s.stages && !(s.type === 'name' && s.stages.length === 1 && s.stages[0].type === 'filter' && s.stages[0].expr.type === 'number' && !s.stages[0].expr.predicate)) return undefined;
      if (s.type === 'name') continue;
      if (i === 0 && s.type === 'variable' && steps.length > 1) continue;
      return undefined;
    }
    const variableFirst = steps[0].type === 'variable';
    const keys = steps.slice(variableFirst ? 1 : 0).map((s) => s.value as string);
    const indexes = steps.slice(variableFirst ? 1 : 0).map((s) => (s.stages ? Math.floor(s.stages[0].expr.value) : undefined));
    const indexed = indexes.some((i) => i !== undefined);
    if (indexed && keys.some((k) => k in Object.prototype)) return undefined;
    const r = this.tmp();
    const x = this.tmp();
    const done = this.id('FD');
    const fast = this.id('FP');
    // every step is a leaf one below the path
    this.leaf({ ...c, off: c.off + 1 });
    if (variableFirst) {
      const name = steps[0].value;
      this.emit(`${x} = ${name === '' ? (c.wrap ? `ctxValue(${c.input})` : c.input) : this.resolve(name, c.scope)};`);
    } else {
      this.emit(`${x} = ${c.input};`);
    }
    const v0 = variableFirst ? this.tmp() : undefined;
    if (v0) this.emit(`${v0} = ${x};`);
    this.emit(`${done}: {`);
    this.emit(`${fast}: {`);
    const plainKeys = keys.every((k) => !(k in Object.prototype));
    if (plainKeys) {
      // JSON objects (constructor Object, not a function definition): own properties are plain reads, as
      // long as Object.prototype has none of the names (OPK, checked once per run). Anything else (arrays,
      // primitives where an object should be, null-prototype objects jsonata builds) starts over below.
      for (const k of keys) this.opKeys.add(k);
      const firstTrusted = !variableFirst ? (c.trust !== undefined && c.trust.input === c.input ? c.trust.flag : undefined)
        : steps[0].value !== '' ? this.trustFor(steps[0].value, c.scope) : undefined;
      const notJson = `${x} === null || (${x}.constructor !== ObjectCtor && !nullProto(${x})) || ${x}._jsonata_function === true || ${x}._jsonata_lambda === true`;
      if (variableFirst) this.emit(`if (${x} === undefined) { ${r} = undefined; break ${done}; }`);
      this.emit(firstTrusted ? `if (!OPK || !${firstTrusted}) break ${fast};` : `if (!OPK || ${x} === undefined || ${notJson}) break ${fast};`);
      keys.forEach((k, i) => {
        this.emit(`${x} = ${x}[${JSON.stringify(k)}];`);
        const idx = indexes[i];
        if (idx !== undefined) {
          // evaluateFilter with a number: the item at that index of an array, or the value itself at 0 / -1
          this.emit(`if (isArray(${x})) { ${x} = ${x}[${idx < 0 ? `${x}.length + ${idx}` : idx}]; if (isArray(${x}) && (${i < keys.length - 1} || ${x}.sequence === true)) break ${fast}; }`);
          this.emit(`else if (${x} !== undefined && ${idx} !== 0 && ${idx} !== -1) ${x} = undefined;`);
        }
        if (i < keys.length - 1) {
          this.emit(`if (${x} === undefined) { ${r} = undefined; break ${done}; }`);
          if (i === keys.length - 2 && !indexed) this.lastStepOverArray(x, keys[i + 1], r, fast, done);
          this.emit(`if (${notJson}) break ${fast};`);
        } else {
          this.emit(`if (isArray(${x}) && ${x}.sequence === true) break ${fast};`);
        }
      });
    } else {
      this.emit(`if (isArray(${x})) break ${fast};`);
      if (variableFirst) this.emit(`if (${x} === undefined) { ${r} = undefined; break ${done}; }`);
      keys.forEach((k, i) => {
        this.emit(`${x} = ${this.ownRead(x, k)};`);
        if (i < keys.length - 1) {
          this.emit(`if (${x} === undefined) { ${r} = undefined; break ${done}; }`);
          this.emit(`if (isArray(${x})) break ${fast};`);
        } else {
          this.emit(`if (isArray(${x}) && ${x}.sequence === true) break ${fast};`);
        }
      });
    }
    this.emit(`${r} = ${x};`);
    this.emit(`break ${done};`);
    this.emit('}');
    if (indexed) {
      this.emit(`${r} = fin(${this.genPath(node, c)});`);
    } else if (variableFirst) {
      // the path's input sequence: the variable's value flattened like a first step's result
      this.emit(`${x} = fin(${v0});`);
      this.emit(`${r} = fin(nameSteps(${x} === undefined ? seq() : isArray(${x}) && !${x}.cons ? ${x} : seq1(${x}), ${this.k(keys)}, 0));`);
    } else {
      this.emit(`${r} = fin(nameSteps(isArray(${c.input}) ? ${c.input} : seq1(${c.input}), ${this.k(keys)}, 0));`);
    }
    this.emit('}');
    return r;
  }

  /** `…a.b` where `a` is a JSON array: the last step over its items in place (evaluateStep's lookup, fin and
   *  flattening, a single raw array being the result itself); anything unusual starts over (`fast`). */
  private lastStepOverArray(x: string, key: string, r: string, fast: string, done: string): void {
    const w = this.tmp();
    const n = this.tmp();
    const f = this.tmp();
    const v = this.tmp();
    const i = this.id('i');
    const k = JSON.stringify(key);
    this.emit(`if (isArray(${x})) {`);
    this.emit(`if (${x}.sequence === true || ${x}.cons) break ${fast};`);
    this.emit(`${w} = seq(); ${n} = 0; ${f} = undefined;`);
    this.emit(`for (let ${i} = 0; ${i} < ${x}.length; ${i}++) {`);
    this.emit('tick();');
    this.emit(`${v} = ${x}[${i}];`);
    this.emit(`if (${v} === null || typeof ${v} !== "object") continue;`);
    this.emit(`if (isArray(${v}) || (${v}.constructor !== ObjectCtor && !nullProto(${v})) || ${v}._jsonata_function === true || ${v}._jsonata_lambda === true) break ${fast};`);
    this.emit(`${v} = ${v}[${k}];`);
    this.emit(`if (${v} === undefined) continue;`);
    this.emit(`if (++${n} === 1) ${f} = ${v};`);
    this.emit(`if (!isArray(${v})) ${w}.push(${v}); else if (${v}.sequence === true || ${v}.cons) break ${fast}; else pushAll(${w}, ${v});`);
    this.emit('}');
    this.emit(`${r} = ${n} === 1 && isArray(${f}) ? ${f} : fin(${w});`);
    this.emit(`break ${done};`);
    this.emit('}');
  }

  private genPath(node: Node, c: Ctx): string {
    const steps: Node[] = node.steps;
    const inSeq = this.tmp();
    const rs = this.tmp();
    const label = this.id('P');
    // leading name steps (after an optional variable) that are not the last step: one chain of reads
    let start = 0;
    while (start < steps.length - 1 && plainNameStep(steps[start], start, steps.length)) start++;
    if (start === 1 && steps[0].type === 'variable') start = 0;
    if (start > 0) {
      this.namePrefix(steps.slice(0, start), c, inSeq);
      this.emit(`${rs} = ${inSeq};`);
    } else {
      this.emit(steps[0].type === 'variable' ? `${inSeq} = seq1(${c.input});` : `${inSeq} = isArray(${c.input}) ? ${c.input} : seq1(${c.input});`);
      this.emit(`${rs} = undefined;`);
    }
    let tb: string | undefined;
    // the tuple stream, once a join step is reached (a step before it may end the path first)
    const tbAll = steps.some((st) => st.tuple) ? this.tmp() : undefined;
    if (tbAll) this.emit(`${tbAll} = undefined;`);
    this.emit(`${label}: {`);
    if (start > 0) this.emit(`if (${rs}.length === 0) break ${label};`);
    let isTuple = false;
    for (let ii = start; ii < steps.length; ii++) {
      const step = steps[ii];
      if (step.tuple) isTuple = true;
      const last = ii === steps.length - 1;
      if (ii === 0 && step.consarray) {
        const cv = this.ctxVar(inSeq);
        const v = this.gen(step, { ...c, input: cv, off: c.off + 1 });
        this.emit(`${rs} = ${v};`);
      } else if (isTuple) {
        tb = this.genTupleStep(step, inSeq, tb, c, ii === 0 && step.type === 'variable' && c.wrap);
        this.emit(`${tbAll} = ${tb};`);
      } else {
        const v = this.genStep(step, inSeq, c, last, ii === 0 && step.type === 'variable');
        this.emit(`${rs} = ${v};`);
      }
      if (!isTuple) this.emit(`if (${rs} === undefined || ${rs}.length === 0) break ${label};`);
      if (step.focus === undefined) this.emit(`${inSeq} = ${rs};`);
    }
    this.emit('}');
    if (isTuple) {
      if (tb === undefined || tbAll === undefined) throw new Unsupported('join path without tuple steps');
      this.emit(`if (${tbAll} !== undefined) ${rs} = ${node.tuple ? tbAll : `tupleValues(${tbAll})`};`);
    }
    if (node.keepSingletonArray) this.emit(`${rs} = keepSingletonArray(${rs});`);
    if (node.group) {
      if (!isTuple) return this.genGroup(node.group, rs, c, c.off + 1, false);
      // grouping reduces a tuple stream; the join may not have been reached, and an order-by returns its
      // tuples as a plain array (jsonata's sort drops the flag), which groups the tuples themselves
      const gr = this.tmp();
      const gin = this.tmp();
      this.emit(`${gin} = ${tbAll} !== undefined ? ${tbAll} : ${rs};`);
      this.emit(`if (${gin} && ${gin}.tupleStream) {`);
      this.emit(`${gr} = ${this.genGroup(node.group, gin, c, c.off + 1, true)};`);
      this.emit('} else {');
      this.emit(`${gr} = ${this.genGroup(node.group, gin, c, c.off + 1, false)};`);
      this.emit('}');
      return gr;
    }
    return rs;
  }

  /** The sequence a path's leading name steps (not its last step) give, into `out`: a chain of plain reads
   *  while the values are single JSON objects, else nameSteps() from the first step. */
  private namePrefix(steps: Node[], c: Ctx, out: string): void {
    const variableFirst = steps[0].type === 'variable';
    const keys = steps.slice(variableFirst ? 1 : 0).map((s) => s.value as string);
    const K = this.k(keys);
    const x = this.tmp();
    const done = this.id('FD');
    const fast = this.id('FP');
    this.leaf({ ...c, off: c.off + 1 });
    if (variableFirst) {
      const name = steps[0].value;
      this.emit(`${x} = ${name === '' ? (c.wrap ? `ctxValue(${c.input})` : c.input) : this.resolve(name, c.scope)};`);
    } else {
      this.emit(`${x} = ${c.input};`);
    }
    const v0 = this.tmp();
    this.emit(`${v0} = ${x};`);
    this.emit(`${done}: {`);
    this.emit(`${fast}: {`);
    if (keys.some((k) => k in Object.prototype)) this.emit(`break ${fast};`);
    else this.emit(`if (${keys.map((k) => `OP[${JSON.stringify(k)}] !== undefined`).join(' || ')}) break ${fast};`);
    if (variableFirst) this.emit(`if (${x} === undefined) { ${out} = seq(); break ${done}; }`);
    const firstTrusted = variableFirst && steps[0].value !== '' ? this.trustFor(steps[0].value, c.scope) : undefined;
    keys.forEach((k, i) => {
      if (i === 0 && firstTrusted) {
        this.emit(`if (!${firstTrusted}) break ${fast};`);
      } else {
        this.emit(`if (${x} === null || typeof ${x} !== "object") { ${out} = seq(); break ${done}; }`);
        this.emit(`if (!(${plainObject(x)}) || ${x}._jsonata_function === true || ${x}._jsonata_lambda === true) break ${fast};`);
      }
      this.emit(`${x} = ${x}[${JSON.stringify(k)}];`);
      this.emit(`if (${x} === undefined) { ${out} = seq(); break ${done}; }`);
      // a raw array is flattened into the next step's input
      const flat = i === keys.length - 1 ? `${out} = seq(); pushAll(${out}, ${x});` : `${out} = nameSteps(${x}, ${K}, ${i + 1}, false);`;
      this.emit(`if (isArray(${x})) { if (${x}.sequence === true || ${x}.cons) break ${fast}; ${flat} break ${done}; }`);
    });
    this.emit(`${out} = seq1(${x});`);
    this.emit(`break ${done};`);
    this.emit('}');
    if (variableFirst) {
      this.emit(`${x} = fin(${v0});`);
      this.emit(`${out} = nameSteps(${x} === undefined ? seq() : isArray(${x}) && !${x}.cons ? ${x} : seq1(${x}), ${K}, 0, false);`);
    } else {
      this.emit(`${out} = nameSteps(isArray(${c.input}) ? ${c.input} : seq1(${c.input}), ${K}, 0, false);`);
    }
    this.emit('}');
  }

  private genStep(step: Node, inSeq: string, c: Ctx, last: boolean, firstVariable: boolean): string {
    if (step.type === 'sort') {
      let r = this.genSort(step, inSeq, c, false);
      if (step.stages) r = this.genStages(step.stages, r, c, false);
      return r;
    }
    // evaluateStep: the step's values, flattened one level as they come (flattenStep without the
    // intermediate list), a single raw array at the last step being the result itself
    const rs = this.tmp();
    const cnt = last ? this.tmp() : '';
    const first = last ? this.tmp() : '';
    this.emit(`${rs} = seq();`);
    if (last) this.emit(`${cnt} = 0;`);
    const i = this.id('i');
    this.emit(`for (let ${i} = 0; ${i} < ${inSeq}.length; ${i}++) {`);
    this.emit('tick();');
    const it = this.ctxVar(`${inSeq}[${i}]`);
    let v = this.gen(step, { ...c, input: it, off: c.off + 1, wrap: firstVariable && c.wrap });
    if (step.stages) {
      if (step.stages.some((st: Node) => st.type !== 'filter')) throw new Unsupported('index stage outside a join');
      // (a stage's empty result still counts as a step value in jsonata, so no indexItem here)
      v = this.genFilters(step.stages, v, c, c.off + 1, false, false);
    }
    this.emit(`if (${v} !== undefined) {`);
    if (last) this.emit(`if (++${cnt} === 1) ${first} = ${v};`);
    this.emit(`if (!isArray(${v}) || ${v}.cons) ${rs}.push(${v}); else pushAll(${rs}, ${v});`);
    this.emit('}');
    this.emit('}');
    if (last) this.emit(`if (${cnt} === 1 && isArray(${first}) && !isSeq(${first})) ${rs} = ${first};`);
    return rs;
  }

  private tupleKey(name: unknown): string {
    const key = String(name);
    if (key === '__proto__') throw new Unsupported('a variable or label named __proto__');
    return JSON.stringify(key);
  }

  private genTupleStep(step: Node, inSeq: string, tbPrev: string | undefined, c: Ctx, wrap: boolean): string {
    if (step.type === 'sort') {
      let r: string;
      if (tbPrev !== undefined) {
        r = this.genSort(step, tbPrev, c, true);
      } else {
        const sorted = this.genSort(step, inSeq, c, false);
        r = this.tmp();
        const k = this.id('k');
        this.emit(`${r} = tupleSeq();`);
        this.emit(`for (let ${k} = 0; ${k} < ${sorted}.length; ${k}++) { const t = { "@": ${sorted}[${k}] }; t[${this.tupleKey(step.index)}] = ${k}; ${r}.push(t); }`);
      }
      if (step.stages) r = this.genStages(step.stages, r, c, true);
      return r;
    }
    const out = this.tmp();
    this.emit(`${out} = tupleSeq();`);
    const src = this.val(tbPrev !== undefined ? tbPrev : `toTuples(${inSeq})`);
    const e = this.id('e');
    this.emit(`for (let ${e} = 0; ${e} < ${src}.length; ${e}++) {`);
    this.emit('tick();');
    const tp = this.ctxVar(`${src}[${e}]`);
    const cv = this.ctxVar(`${tp}["@"]`);
    const scope: Scope = { kind: 'tuple', parent: c.scope, vars: new Map(), params: new Set(), tp };
    const v = this.gen(step, { ...c, input: cv, off: c.off + 1, scope, wrap });
    const w = this.tmp();
    const b = this.id('b');
    this.emit(`if (${v} !== undefined) {`);
    this.emit(`${w} = isArray(${v}) ? ${v} : [${v}];`);
    this.emit(`for (let ${b} = 0; ${b} < ${w}.length; ${b}++) {`);
    this.emit(`const t = newTuple(${tp});`);
    this.emit(`if (${w}.tupleStream) objAssign(t, ${w}[${b}]); else {`);
    if (step.focus !== undefined) {
      this.emit(`t[${this.tupleKey(step.focus)}] = ${w}[${b}];`);
      this.emit(`t["@"] = ${tp}["@"];`);
    } else {
      this.emit(`t["@"] = ${w}[${b}];`);
    }
    if (step.index !== undefined && step.index !== '') this.emit(`t[${this.tupleKey(step.index)}] = ${b};`);
    if (step.ancestor) this.emit(`t[${this.tupleKey(step.ancestor.label)}] = ${tp}["@"];`);
    this.emit('}');
    this.emit(`${out}.push(t);`);
    this.emit('}');
    this.emit('}');
    this.emit('}');
    let r = out;
    if (step.stages) r = this.genStages(step.stages, out, c, true);
    return r;
  }

  private genStages(stages: Node[], input: string, c: Ctx, tuple: boolean): string {
    let r = input;
    for (const stage of stages) {
      if (stage.type === 'filter') {
        // after an order-by the tuples come as a plain array, which jsonata filters as plain values
        r = this.genFilter(stage.expr, r, c, c.off + 1, tuple ? 'dynamic' : false);
      } else {
        const k = this.id('k');
        this.emit(`for (let ${k} = 0; ${k} < ${r}.length; ${k}++) ${r}[${k}][${this.tupleKey(stage.value)}] = ${k};`);
      }
    }
    return r;
  }

  /** A chain of filters; `[cond][n]` with a condition that cannot fail or have effects becomes one scan
   *  for the n-th match (no intermediate sequence). */
  private genFilters(filters: Node[], input: string, c: Ctx, off: number, tuple: boolean | 'dynamic', itemOk = false): string {
    let r = input;
    for (let i = 0; i < filters.length; i++) {
      const pred = filters[i].expr;
      const next = filters[i + 1]?.expr;
      if (!tuple && next && next.type === 'number' && Number.isInteger(next.value) && next.value >= 0 && safeCondition(pred)) {
        r = this.genNthMatch(pred, next.value, r, c, off);
        i++;
      } else if (!tuple && itemOk && pred.type === 'number') {
        r = this.val(`indexItem(${r}, ${this.literal(pred.value)})`);
      } else {
        r = this.genFilter(pred, r, c, off, tuple);
      }
    }
    return r;
  }

  private genNthMatch(pred: Node, n: number, input: string, c: Ctx, off: number): string {
    const inp = this.tmp();
    const found = this.tmp();
    const res = this.tmp();
    this.emit(`${inp} = ${input};`);
    this.emit(`${found} = undefined;`);
    this.emit(`if (${inp} && ${inp}.tupleStream) {`);
    // tuple streams keep jsonata's two passes (they never occur here, the check keeps it exact)
    const general = this.genFilter({ type: 'number', value: n }, this.genFilter(pred, inp, c, off, false), c, off, false);
    this.emit(`${res} = ${general};`);
    this.emit('} else {');
    this.emit(`if (!isArray(${inp})) ${inp} = seq1(${inp});`);
    const i = this.id('i');
    const left = this.id('n');
    this.emit(`for (let ${i} = 0, ${left} = ${n}; ${i} < ${inp}.length; ${i}++) {`);
    const item = this.ctxVar(`${inp}[${i}]`);
    const pv = this.gen(pred, { ...c, input: item, off, wrap: false });
    this.emit(`if (${pv}) { if (${left} === 0) { ${found} = ${item}; break; } ${left}--; }`);
    this.emit('}');
    this.emit(`${res} = ${found} === undefined ? seq() : isArray(${found}) ? ${found} : seq1(${found});`);
    this.emit('}');
    return res;
  }

  /** evaluateFilter: `off` is the depth the predicate evaluates at. */
  private genFilter(pred: Node, input: string, c: Ctx, off: number, tuple: boolean | 'dynamic'): string {
    if (pred.type === 'number') return this.val(`indexFilter(${input}, ${this.literal(pred.value)})`);
    const inp = this.tmp();
    const res = this.tmp();
    this.emit(`${inp} = ${input};`);
    this.emit(`${res} = seq();`);
    this.emit(`if (${inp} && ${inp}.tupleStream) ${res}.tupleStream = true;`);
    if (tuple === 'dynamic') {
      // a join result is a tuple stream only when its join was reached
      this.emit(`if (${res}.tupleStream) {`);
      this.filterLoop(pred, inp, res, c, off, true);
      this.emit('} else {');
      this.emit(`if (!isArray(${inp})) ${inp} = seq1(${inp});`);
      this.filterLoop(pred, inp, res, c, off, false);
      this.emit('}');
      return res;
    }
    this.emit(`if (!isArray(${inp})) ${inp} = seq1(${inp});`);
    this.filterLoop(pred, inp, res, c, off, tuple);
    return res;
  }

  private filterLoop(pred: Node, inp: string, res: string, c: Ctx, off: number, tuple: boolean): void {
    const i = this.id('i');
    this.emit(`for (let ${i} = 0; ${i} < ${inp}.length; ${i}++) {`);
    const item = this.ctxVar(`${inp}[${i}]`);
    let ctx: Ctx;
    if (tuple) {
      const cv = this.ctxVar(`${item}["@"]`);
      ctx = { ...c, input: cv, off, wrap: false, scope: { kind: 'tuple', parent: c.scope, vars: new Map(), params: new Set(), tp: item } };
    } else {
      ctx = { ...c, input: item, off, wrap: false };
    }
    const pv = this.gen(pred, ctx);
    if (isBooleanNode(pred)) this.emit(`if (${pv}) ${res}.push(${item});`);
    // (true, false and undefined keep the item once or not at all: only numbers and lists are indexes)
    else this.emit(`if (${pv} === true) ${res}.push(${item}); else if (${pv} !== false && ${pv} !== undefined) for (let n = predicateHits(${pv}, ${i}, ${inp}.length); n > 0; n--) ${res}.push(${item});`);
    this.emit('}');
  }

  private genSort(step: Node, input: string, c: Ctx, tuple: boolean): string {
    const terms: string[] = [];
    for (const term of step.terms) {
      const fnName = this.id('te');
      const { body } = this.subFunction(() => {
        let ctx: Ctx;
        if (tuple) {
          const cv = this.ctxVar('x["@"]');
          ctx = { ...c, input: cv, off: c.off + 1, wrap: false, scope: { kind: 'tuple', parent: c.scope, vars: new Map(), params: new Set(), tp: 'x' } };
        } else {
          const cv = this.ctxVar('x');
          ctx = { ...c, input: cv, off: c.off + 1, wrap: false };
        }
        return this.gen(term.expression, ctx);
      }, false);
      this.emit(`const ${fnName} = function (x) {\n${body}\n};`);
      terms.push(`if (comp === 0) comp = sortCompare(${fnName}(a), ${fnName}(b), ${term.descending === true}, ${step.position});`);
    }
    const cmp = this.id('cmp');
    this.emit(`const ${cmp} = function (a, b) { let comp = 0; ${terms.join(' ')} return comp === 1; };`);
    return this.val(`sortArr(${input}, ${cmp})`);
  }

  // ---- grouping and constructors ----

  private genGroup(group: Node, input: string, c: Ctx, off: number, reduce: boolean): string {
    const pairs: Node[][] = group.lhs;
    const gi = this.tmp();
    const groups = this.tmp();
    this.emit(`${gi} = ${input};`);
    this.emit(`if (!isArray(${gi})) ${gi} = seq1(${gi});`);
    if (!reduce) this.emit(`if (${gi}.length === 0) ${gi}.push(undefined);`);
    this.emit(`${groups} = objCreate(null);`);
    const i = this.id('i');
    this.emit(`for (let ${i} = 0; ${i} < ${gi}.length; ${i}++) {`);
    const item = this.ctxVar(`${gi}[${i}]`);
    let kctx: Ctx;
    if (reduce) {
      const cv = this.ctxVar(`${item}["@"]`);
      kctx = { ...c, input: cv, off, wrap: false, scope: { kind: 'tuple', parent: c.scope, vars: new Map(), params: new Set(), tp: item } };
    } else {
      kctx = { ...c, input: item, off, wrap: false };
    }
    pairs.forEach((pair, pi) => {
      const key = this.gen(pair[0], kctx);
      this.emit(`groupKey(${groups}, ${key}, ${pi}, ${item}, ${group.position});`);
    });
    this.emit('}');
    const res = this.tmp();
    this.emit(`${res} = objCreate(null);`);
    const key = this.id('key');
    const keyList = this.tmp();
    this.emit(`${keyList} = objKeys(${groups});`);
    this.emit(`for (const ${key} of ${keyList}) {`);
    const entry = this.ctxVar(`${groups}[${key}]`);
    let vctx: Ctx;
    if (reduce) {
      const tp = this.ctxVar(`reduceTupleStream(${entry}.data)`);
      const cv = this.ctxVar(`${tp}["@"]`);
      this.emit(`delete ${tp}["@"];`);
      vctx = { ...c, input: cv, off, wrap: false, scope: { kind: 'tuple', parent: c.scope, vars: new Map(), params: new Set(), tp } };
    } else {
      const cv = this.ctxVar(`${entry}.data`);
      vctx = { ...c, input: cv, off, wrap: false };
    }
    const v = this.tmp();
    this.emit(`${v} = undefined;`);
    const throws = pairs.some((pair) => mayThrow(pair[1]));
    if (throws) this.emit(`if (${entry} !== ${groups}[${keyList}[${keyList}.length - 1]]) G.par++;`);
    this.emit(`switch (${entry}.exprIndex) {`);
    pairs.forEach((pair, pi) => {
      this.emit(`case ${pi}: {`);
      const pv = this.gen(pair[1], vctx);
      this.emit(`${v} = ${pv};`);
      this.emit('break; }');
    });
    this.emit('}');
    if (throws) this.emit(`if (${entry} !== ${groups}[${keyList}[${keyList}.length - 1]]) G.par--;`);
    this.emit(`if (${v} !== undefined) ${res}[${key}] = ${v};`);
    this.emit('}');
    return res;
  }

  private genUnary(node: Node, c: Ctx): string {
    if (node.value === '-') {
      const v = this.gen(node.expression, { ...c, off: c.off + 1 });
      return this.val(`neg(${v}, ${node.position})`);
    }
    if (node.value === '[') {
      if (node.expressions.length === 0) this.leaf(c);
      const arr = this.tmp();
      const items: Array<[Node, string]> = node.expressions.map((item: Node, i: number) => [item, this.parallel(i < node.expressions.length - 1 && mayThrow(item), () => this.gen(item, { ...c, off: c.off + 1 }))]);
      // single values only (no undefined, no arrays to flatten): the array literal itself
      const singles = items.filter(([item]) => item.value !== '[').map(([, v]) => `!isArray(${v})`)
        .concat(items.map(([, v]) => `${v} !== undefined`));
      if (items.length > 0) this.emit(`if (${singles.join(' && ')}) ${arr} = [${items.map(([, v]) => v).join(', ')}]; else {`);
      this.emit(`${arr} = [];`);
      for (const [item, v] of items) {
        if (item.value === '[') this.emit(`if (${v} !== undefined) ${arr}.push(${v});`);
        else this.emit(`if (${v} !== undefined) pushAll(${arr}, ${v});`);
      }
      if (items.length > 0) this.emit('}');
      if (node.consarray) this.emit(`markCons(${arr});`);
      return arr;
    }
    // object constructor
    const pairs: Node[][] = node.lhs;
    if (pairs.length === 0) this.leaf(c);
    const keys = pairs.map((p) => (p[0].type === 'string' && !p[0].predicate && !p[0].group && !p[0].keepArray ? p[0].value : undefined));
    const literalKeys = keys.every((k) => typeof k === 'string') && new Set(keys).size === keys.length
      && !keys.some((k) => k === '__proto__' || k === '_jsonata_lambda' || k === '_jsonata_function');
    if (!literalKeys || pairs.length === 0) return this.genGroup(node, c.input, c, c.off + 1, false);
    // literal, distinct keys: every item of the context lands in every key's group, so all values share
    // one context (the context itself, or jsonata's append of its items); values in jsonata's key order
    const ctx = this.ctxVar(`isArray(${c.input}) ? groupContext(${c.input}) : ${c.input}`);
    // (the context's own flag when it has one: an array context, whose group context differs, has a false one)
    const trust = c.trust !== undefined && c.trust.input === c.input ? c.trust.flag
      : this.ctxVar(`${ctx} !== null && typeof ${ctx} === "object" && (${plainObject(ctx)}) && ${ctx}._jsonata_function !== true && ${ctx}._jsonata_lambda !== true`);
    this.leaf({ ...c, off: c.off + 1 });
    const order: Record<string, number> = {};
    keys.forEach((k, i) => { order[k as string] = i; });
    const entries: Array<[string, string, boolean]> = [];
    const orderedKeys = Object.keys(order);
    orderedKeys.forEach((k, i) => {
      const pair = pairs[order[k]];
      const v = this.parallel(i < orderedKeys.length - 1 && mayThrow(pair[1]), () => this.genPart(pair[1], { ...c, input: ctx, off: c.off + 1, wrap: false, trust: { input: ctx, flag: trust } }));
      entries.push([k, v, neverUndefined(pair[1])]);
    });
    // usually every value is defined: one literal (one allocation, final shape); else add them one by one
    const o = this.tmp();
    const defined = entries.filter((e) => !e[2]).map((e) => `${e[1]} !== undefined`);
    const literal = `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`;
    if (defined.length === 0) {
      this.emit(`${o} = ${literal};`);
    } else {
      // the result object, when the caller takes undefined-valued keys (G.loose): always the literal
      const loose = this.resultNodes.has(node) ? 'G.loose || ' : '';
      this.emit(`if (${loose}${defined.join(' && ')}) ${o} = ${literal}; else {`);
      this.emit(`${o} = {};`);
      for (const [k, v, always] of entries) this.emit(always ? `${o}[${JSON.stringify(k)}] = ${v};` : `if (${v} !== undefined) ${o}[${JSON.stringify(k)}] = ${v};`);
      this.emit('}');
    }
    return this.val(`G.plain ? ${o} : setProto(${o}, null)`);
  }

  // ---- operators ----

  private genBinary(node: Node, c: Ctx): string {
    const op: string = node.value;
    const sub = { ...c, off: c.off + 1 };
    if (op === 'and' || op === 'or') {
      const l = this.gen(node.lhs, sub);
      const r = this.tmp();
      this.emit('try {');
      this.emit(`${r} = boolize(${l});`);
      this.emit(op === 'and' ? `if (${r}) {` : `if (!${r}) {`);
      const rv = this.gen(node.rhs, sub);
      this.emit(`${r} = boolize(${rv});`);
      this.emit('}');
      this.emit(`} catch (e) { throw opError(e, ${node.position}, ${JSON.stringify(op)}); }`);
      return r;
    }
    const l = this.gen(node.lhs, sub);
    const r = this.gen(node.rhs, sub);
    const pos = node.position;
    switch (op) {
      case '+': case '-': case '*': case '/': case '%':
        return this.val(`(typeof ${l} === "number" && typeof ${r} === "number" && ${l} - ${l} === 0 && ${r} - ${r} === 0) ? ${l} ${op} ${r} : arith(${JSON.stringify(op)}, ${l}, ${r}, ${pos})`);
      case '=':
        // against a literal scalar, deep equality is identity
        if (scalarLiteral(node.rhs)) return this.val(`${l} === ${r}`);
        if (scalarLiteral(node.lhs)) return this.val(`${r} === ${l}`);
        return this.val(`(${l} === undefined || ${r} === undefined) ? false : (${l} === ${r} || eq(${l}, ${r}))`);
      case '!=':
        if (scalarLiteral(node.rhs)) return this.val(`${l} !== undefined && ${l} !== ${r}`);
        if (scalarLiteral(node.lhs)) return this.val(`${r} !== undefined && ${r} !== ${l}`);
        return this.val(`(typeof ${l} === "string" && typeof ${r} === "string") ? ${l} !== ${r} : neq(${l}, ${r})`);
      case '<': case '<=': case '>': case '>=':
        return this.val(`((typeof ${l} === "number" && typeof ${r} === "number") || (typeof ${l} === "string" && typeof ${r} === "string")) ? ${l} ${op} ${r} : compare(${JSON.stringify(op)}, ${l}, ${r}, ${pos})`);
      case '&':
        return this.val(`(typeof ${l} === "string" && typeof ${r} === "string" && ${l}.length + ${r}.length <= G.maxString) ? ${l} + ${r} : concat(${l}, ${r}, ${pos})`);
      case '..':
        return this.val(`range(${l}, ${r}, ${pos})`);
      case 'in':
        return this.val(`includes(${l}, ${r})`);
      default:
        throw new Unsupported(`operator ${op}`);
    }
  }

  private genCondition(node: Node, c: Ctx): string {
    const sub = { ...c, off: c.off + 1 };
    const r = this.tmp();
    const cn = node.condition;
    if (cn.type === 'apply' && plainRegex(cn.rhs) && !cn.predicate && !cn.group && !cn.keepArray) {
      // `value ~> /re/ ? …`: only whether it matched counts (a match object is always true, a chained
      // function false), so no match object is built
      const lhs = this.gen(cn.lhs, { ...sub, off: sub.off + 1 });
      this.leaf({ ...sub, off: sub.off + 1 });
      this.emit(`if (!isFn(${lhs}) && regexTest(${this.regexConst(cn.rhs)}, ${lhs})) {`);
    } else {
      const cond = this.gen(cn, sub);
      this.emit(isBooleanNode(cn) ? `if (${cond}) {` : `if (${cond} === true || (${cond} !== false && boolean(${cond}))) {`);
    }
    this.emit(`${r} = ${this.gen(node.then, sub)};`);
    this.emit('} else {');
    this.emit(node.else !== undefined ? `${r} = ${this.gen(node.else, sub)};` : `${r} = undefined;`);
    this.emit('}');
    return r;
  }

  private genBlock(node: Node, c: Ctx): string {
    if (node.expressions.length === 0) {
      this.leaf(c);
      return 'undefined';
    }
    const scope = this.newFrame(node, c.scope, []);
    const r = this.tmp();
    this.emit('{');
    for (const v of scope.vars.values()) this.emit(`let ${v} = UNBOUND;`);
    const sub: Ctx = { ...c, off: c.off + 1, scope };
    const counts = this.an.bindCounts.get(node);
    node.expressions.forEach((e: Node, i: number) => {
      let v: string;
      if (e.type === 'bind' && e.rhs.type === 'lambda' && !e.rhs.thunk && !e.rhs.signature && !e.predicate && !e.group && !e.keepArray
        && !e.rhs.predicate && !e.rhs.group && !e.rhs.keepArray && counts?.get(e.lhs.value) === 1) {
        const name: string = e.lhs.value;
        const body = this.id('LB');
        // the lambda value is only made when something other than a direct call after this statement can see it
        const escapes = i === node.expressions.length - 1 || node.expressions.slice(0, i).some((x: Node) => mentions(x, name)) || mentions(e.rhs, name)
          || node.expressions.slice(i + 1).some((x: Node) => !onlyCalled(x, name));
        const inline = inlinable(e.rhs.body) ? { node: e.rhs, ctx: sub } : undefined;
        // a lambda only ever called, and small enough to be generated at each call: no function at all
        const obj = inline && !escapes ? (this.leaf({ ...sub, off: sub.off + 1 }), 'undefined') : this.genLambda(e.rhs, { ...sub, off: sub.off + 1 }, body, !escapes);
        const fv = scope.vars.get(name) as string;
        this.emit(`${fv} = ${obj};`);
        (scope.lambdas ??= new Map()).set(name, { body, obj: escapes ? fv : 'LAMBDA_MARK', tails: hasTailCall(e.rhs.body), arity: e.rhs.arguments.length, inline });
        v = obj;
      } else {
        v = this.gen(e, sub);
      }
      if (i === node.expressions.length - 1) this.emit(`${r} = ${v};`);
      // after `$x := …` as a statement of the block, $x is bound for the rest of it (lambdas made later
      // included: frames never unbind), so later references need no unbound check
      for (let b = e; b && b.type === 'bind'; b = b.rhs) scope.params.add(b.lhs.value);
      // `$x := …` bound once and read by paths `$x.a.b` later: whether it is a JSON object, checked once
      if (e.type === 'bind' && e.rhs.type !== 'lambda' && counts?.get(e.lhs.value) === 1 && node.expressions.slice(i + 1).some((x: Node) => headsPath(x, e.lhs.value))) {
        const f = this.id('T');
        const fv = scope.vars.get(e.lhs.value) as string;
        this.emit(`const ${f} = ${jsonObject(fv)};`);
        (scope.trust ??= new Map()).set(e.lhs.value, f);
      }
    });
    this.emit('}');
    return r;
  }

  // ---- functions ----

  private procName(node: Node): string | undefined {
    const p = node.procedure;
    return p.type === 'path' ? p.steps[0].value : p.value;
  }

  /** A function call. With `final`, the result is returned already post-processed (fin) and recorded in
   *  `finalized`: builtins known to return no sequence skip that step on their direct path. */
  private genCall(node: Node, c: Ctx, applied: string | undefined, final = false): string {
    const proc = node.procedure;
    const sub = { ...c, off: c.off + 1 };
    const plainVar = proc.type === 'variable' && proc.value !== '' && !proc.predicate && !proc.group && !proc.keepArray;
    const known = applied === undefined && plainVar ? this.knownLambda(proc.value, c.scope) : undefined;
    // a plain variable as procedure: identity checks against a builtin use its raw value (a builtin's definition
    // is no array, so fin() could not have changed it), the general call its fin() value
    let pv: string;
    if (plainVar) {
      this.leaf(sub);
      if (known) {
        pv = 'undefined';
      } else {
        const raw = this.tmp();
        this.emit(`${raw} = ${this.resolve(proc.value, c.scope)};`);
        pv = raw;
      }
    } else {
      pv = this.gen(proc, sub);
    }
    const pvCall = plainVar ? `fin(${pv})` : pv;
    const pos = node.position;
    const name = this.procName(node);
    const tok = name === undefined ? 'undefined' : JSON.stringify(name);
    if (proc.type === 'path') {
      const lookupName = proc.steps[0].value;
      this.emit(`if (${pv} === undefined && ${this.resolve(lookupName, c.scope)}) throw { code: "T1005", position: ${pos}, token: ${JSON.stringify(lookupName)} };`);
    }
    const args: string[] = applied !== undefined ? [applied] : [];
    const r = this.tmp();
    const dc = `D + ${c.off}`;
    if (applied === undefined && proc.type === 'variable' && proc.value === 'contains' && !('contains' in this.opts.functions)
      && node.arguments.length === 2 && plainRegex(node.arguments[1]) && this.rootOnly('contains', c.scope)) {
      // $contains(s, /re/): a regex test, the matcher is only made for the general call
      const a0 = this.gen(node.arguments[0], sub);
      this.leaf(sub);
      const re = this.regexConst(node.arguments[1]);
      const bc = this.builtin('contains');
      this.emit(`if (${pv} === ${bc.def} && typeof ${a0} === "string") ${r} = regexTest(${re}, ${a0});`);
      this.emit(`else if (${pv} === ${bc.def} && ${a0} === undefined) ${r} = undefined;`);
      this.emit(`else ${r} = call(${pvCall}, [${a0}, regexMatcher(${re}, ${node.arguments[1].position})], ${c.input}, ${dc}, ${pos}, ${tok});`);
      return r;
    }
    if (applied === undefined && proc.type === 'variable' && proc.value === 'match' && !('match' in this.opts.functions)
      && node.arguments.length === 2 && plainRegex(node.arguments[1]) && this.rootOnly('match', c.scope)) {
      // $match(s, /re/): the match objects without the matcher function
      const a0 = this.gen(node.arguments[0], sub);
      this.leaf(sub);
      const re = this.regexConst(node.arguments[1]);
      const bc = this.builtin('match');
      this.emit(`if (${pv} === ${bc.def} && typeof ${a0} === "string") { try { ${r} = matchLiteral(${re}, ${a0}, ${node.arguments[1].position}); } catch (e) { throw annotateBuiltin(e, ${pos}, ${tok}); } }`);
      this.emit(`else if (${pv} === ${bc.def} && ${a0} === undefined) ${r} = undefined;`);
      this.emit(`else ${r} = call(${pvCall}, [${a0}, regexMatcher(${re}, ${node.arguments[1].position})], ${c.input}, ${dc}, ${pos}, ${tok});`);
      return r;
    }
    if (applied === undefined && proc.type === 'variable' && proc.value === 'replace' && !('replace' in this.opts.functions)
      && node.arguments.length === 3 && plainRegex(node.arguments[1]) && node.arguments[2].type === 'string' && !node.arguments[2].value.includes('$')
      && !node.arguments[2].predicate && !node.arguments[2].group && this.rootOnly('replace', c.scope)) {
      // $replace(s, /re/, "text"): jsonata's match loop without match objects
      const a0 = this.gen(node.arguments[0], sub);
      this.leaf(sub);
      const re = this.regexConst(node.arguments[1]);
      const text = JSON.stringify(node.arguments[2].value);
      const bc = this.builtin('replace');
      this.emit(`if (${pv} === ${bc.def} && typeof ${a0} === "string") { try { ${r} = replaceLiteral(${re}, ${a0}, ${text}, ${node.arguments[1].position}); } catch (e) { throw annotateBuiltin(e, ${pos}, ${tok}); } }`);
      this.emit(`else if (${pv} === ${bc.def} && ${a0} === undefined) ${r} = undefined;`);
      this.emit(`else ${r} = call(${pvCall}, [${a0}, regexMatcher(${re}, ${node.arguments[1].position}), ${text}], ${c.input}, ${dc}, ${pos}, ${tok});`);
      return r;
    }
    if (applied === undefined && proc.type === 'variable' && proc.value === 'lookup' && !('lookup' in this.opts.functions)
      && node.arguments.length === 2 && constantTable(node.arguments[0]) && this.rootOnly('lookup', c.scope)) {
      // $lookup({ "k": "v", … }, key): a lookup table of literals is read without being built
      const table = constantTable(node.arguments[0]) as Record<string, unknown>;
      this.leaf({ ...c, off: c.off + 2 });
      const k = this.gen(node.arguments[1], sub);
      const bc = this.builtin('lookup');
      const T = this.k(table);
      this.emit(`if (${pv} === ${bc.def} && (typeof ${k} === "string" || ${k} === undefined)) ${r} = hop.call(${T}, ${k}) ? ${T}[${k}] : undefined;`);
      this.emit('else {');
      const obj = this.gen(node.arguments[0], sub);
      this.emit(`${r} = call(${pvCall}, [${obj}, ${k}], ${c.input}, ${dc}, ${pos}, ${tok});`);
      this.emit('}');
      return r;
    }
    if (known) {
      // $f(…) where $f is a lambda bound once in an enclosing block: its body, without the generic apply
      for (const a of node.arguments) args.push(this.gen(a, sub));
      this.emit('tick();');
      if (known.inline && !this.inlining.has(known.inline.node)) {
        // the body in place: its frame binds the parameters; it runs one deeper than this call
        const lam = known.inline.node;
        const params: string[] = lam.arguments.map((a: Node) => a.value);
        const scope = this.newFrame(lam, known.inline.ctx.scope, params);
        this.emit('try {');
        const paramVars = new Set(params.map((p) => scope.vars.get(p)));
        if (paramVars.size) this.emit(`let ${[...paramVars].join(', ')};`);
        params.forEach((p, i) => this.emit(`${scope.vars.get(p)} = ${i < args.length ? args[i] : 'undefined'};`));
        for (const v of scope.vars.values()) if (!paramVars.has(v)) this.emit(`let ${v} = UNBOUND;`);
        this.inlining.add(lam);
        try {
          const v = this.gen(lam.body, { ...known.inline.ctx, off: c.off + 1, scope, lambda: true });
          this.emit(`${r} = ${v};`);
        } finally {
          this.inlining.delete(lam);
        }
        this.emit(`} catch (e) { throw annotate(e, ${known.obj}, ${pos}, ${tok}); }`);
      } else {
        this.emit(`try { ${r} = ${known.body}(${[`${dc} + 1`, ...args.slice(0, known.arity)].join(', ')}); } catch (e) { throw annotate(e, ${known.obj}, ${pos}, ${tok}); }`);
      }
      if (known.tails) this.emit(`if (${r} === TAIL) { try { ${r} = trampoline(${c.input}, ${dc}); } catch (e) { throw annotate(e, undefined, ${pos}, ${tok}); } }`);
      if (final) { this.emit(`${r} = fin(${r});`); this.finalized.add(r); }
      return r;
    }
    for (const a of node.arguments) args.push(this.gen(a, sub));
    const generic = final
      ? `${r} = fin(call(${pvCall}, [${args.join(', ')}], ${c.input}, ${dc}, ${pos}, ${tok}));`
      : `${r} = call(${pvCall}, [${args.join(', ')}], ${c.input}, ${dc}, ${pos}, ${tok});`;
    const bname: string | undefined = proc.type === 'variable' ? proc.value : undefined;
    const b: Builtin | undefined = bname !== undefined ? this.functionDef(bname) : undefined;
    const fast = b && bname !== undefined && this.rootOnly(bname, c.scope) ? this.fastCall(b, bname, args) : undefined;
    if (final) this.finalized.add(r);
    if (!fast) {
      this.emit(generic);
      return r;
    }
    const bc = this.builtin(bname as string);
    // (the function is the second argument node, or the first after `~>`)
    const fnArg = applied === undefined ? node.arguments[1] : node.arguments[0];
    const mapped = bname === 'map' && b === BUILTINS.map && args.length === 2 && fnArg ? this.knownValue(fnArg, c.scope) : undefined;
    if (mapped) {
      // $map(array, $f) with $f a lambda bound once: the loop of fn.map calling the body directly
      const arr = this.tmp();
      const x = this.tmp();
      const i = this.id('i');
      const call = `${mapped.body}(${[`${dc} + 1`, `${arr}[${i}]`, i, arr].slice(0, mapped.arity + 1).join(', ')})`;
      this.emit(`if (${pv} === ${bc.def} && (${arr} = arrayParam(${args[0]}, "")) !== BAD && ${args[1]} === ${mapped.obj}) {`);
      this.emit('try {');
      this.emit(`G.d = ${dc};`);
      this.emit(`if (${arr} === undefined) ${r} = undefined; else {`);
      this.emit(`${r} = seq();`);
      this.emit(`for (let ${i} = 0; ${i} < ${arr}.length; ${i}++) { tick(); ${x} = ${call}; ${mapped.tails ? `if (${x} === TAIL) ${x} = trampoline(null, ${dc}); ` : ''}if (${x} !== undefined) ${r}.push(${x}); }`);
      this.emit('}');
      if (final) this.emit(`${r} = fin(${r});`);
      this.emit(`} catch (e) { throw annotateBuiltin(e, ${pos}, ${tok}); }`);
      this.emit('} else {');
      this.emit(generic);
      this.emit('}');
      return r;
    }
    const direct = inlineBuiltin(bname as string, fast.args, node.arguments, applied !== undefined, bc.impl) ?? `${bc.impl}(${fast.args.join(', ')})`;
    this.emit(`if (${pv} === ${bc.def}${fast.check ? ` && ${fast.check}` : ''}) {`);
    this.emit('try {');
    if (b!.callsBack) this.emit(`G.d = ${dc};`);
    this.emit(`${r} = ${final && !NO_SEQUENCE.has(bname as string) ? `fin(${direct})` : direct};`);
    this.emit(`} catch (e) { throw annotateBuiltin(e, ${pos}, ${tok}); }`);
    this.emit('} else {');
    this.emit(generic);
    this.emit('}');
    return r;
  }

  /** Direct call of a builtin when the arguments already satisfy its signature one to one. */
  private fastCall(b: Builtin, _name: string, args: string[]): { check: string; args: string[] } | undefined {
    if (!b.signature) return undefined;
    const params = parseParams(b.signature.definition);
    if (params.some((p) => p.plus) || args.length > params.length) return undefined;
    for (let i = args.length; i < params.length; i++) if (!params[i].opt || params[i].ctx) return undefined;
    const checks: string[] = [];
    const out: string[] = [];
    args.forEach((a, i) => {
      const p = params[i];
      if (p.type === 'a') {
        const t = this.tmp();
        const sub = p.sub.length === 1 ? p.sub : p.sub === '' ? '' : undefined;
        if (sub === undefined) { checks.push('false'); out.push(a); return; }
        checks.push(`(${t} = arrayParam(${a}, ${JSON.stringify(sub)})) !== BAD`);
        out.push(t);
        return;
      }
      const letters = p.type.startsWith('(') ? p.type.slice(1) : p.type;
      const test = typeTest(a, letters, p.type !== 'f');
      if (test !== 'true') checks.push(`(${test})`);
      out.push(a);
    });
    if (checks.includes('false')) return undefined;
    return { check: checks.join(' && '), args: out };
  }

  private genTailCall(node: Node, c: Ctx): string {
    this.leaf(c);
    const fnode = node.body;
    const base: Ctx = { ...c, off: 0 };
    const pv = this.gen(fnode.procedure, base);
    const args = fnode.arguments.map((a: Node) => this.gen(a, base));
    const tok = fnode.procedure.type === 'variable' ? JSON.stringify(fnode.procedure.value) : 'undefined';
    const thunk = `tailCall(${pv}, [${args.join(', ')}], ${fnode.procedure.position ?? 0}, ${tok})`;
    const proc = fnode.procedure;
    const name: string | undefined = proc.type === 'variable' && !proc.predicate && !proc.group && !proc.keepArray ? proc.value : undefined;
    const b = name !== undefined && this.rootOnly(name, c.scope) ? this.functionDef(name) : undefined;
    const fast = b && !b.callsBack && BUILTINS[name as string] === b ? this.fastCall(b, name as string, args) : undefined;
    if (!fast) return this.val(thunk);
    // a builtin that calls nothing back, in tail position: called here rather than by the trampoline (same
    // value); should it fail, the trampoline runs it again (it is pure) to raise the error as jsonata does
    const bc = this.builtin(name as string);
    const r = this.tmp();
    this.emit(`if (${pv} === ${bc.def}${fast.check ? ` && ${fast.check}` : ''}) {`);
    const direct = inlineBuiltin(name as string, fast.args, fnode.arguments, false, bc.impl) ?? `${bc.impl}(${fast.args.join(', ')})`;
    this.emit(`try { ${r} = ${direct}; } catch (e) { ${r} = ${thunk}; }`);
    this.emit(`} else ${r} = ${thunk};`);
    return r;
  }

  /** A lambda value; with `bodyName`, its body is also a named function taking the arguments one by one
   *  (known calls use it directly), and with `noValue` only that function is made. */
  private genLambda(node: Node, c: Ctx, bodyName?: string, noValue = false): string {
    this.leaf(c);
    const params: string[] = node.arguments.map((a: Node) => a.value);
    const scope = this.newFrame(node, c.scope, params);
    const positional = params.map((_p, i) => `a${i}`);
    const { body, maxLeaf } = this.subFunction(() => {
      const decls: string[] = [];
      node.arguments.forEach((a: Node, i: number) => decls.push(`${scope.vars.get(a.value)} = ${bodyName ? positional[i] : `a[${i}]`};`));
      const paramVars = new Set(params.map((p) => scope.vars.get(p)));
      const lets = [...scope.vars.values()].filter((v) => !paramVars.has(v)).map((v) => `var ${v} = UNBOUND;`);
      const pdecl = paramVars.size ? `var ${[...paramVars].join(', ')};` : '';
      this.emit([pdecl, ...decls, ...lets].join('\n'));
      return this.gen(node.body, { ...c, off: 0, scope, lambda: true });
    }, true);
    const sig = node.signature ? this.k(node.signature) : 'undefined';
    const head = `var lim = G.maxDepth - D, ck = ${maxLeaf} > lim;`;
    if (bodyName) {
      this.emit(`const ${bodyName} = function (${['D', ...positional].join(', ')}) {\n${head}\n${body}\n};`);
      if (noValue) return 'undefined';
      const t = this.tmp();
      this.emit(`${t} = lambda(function (D, a) { return ${bodyName}(${['D', ...positional.map((_p, i) => `a[${i}]`)].join(', ')}); }, ${params.length}, ${sig});`);
      return t;
    }
    const t = this.tmp();
    this.emit(`${t} = lambda(function (D, a) {\n${head}\n${body}\n}, ${params.length}, ${sig});`);
    return t;
  }

  private genPartial(node: Node, c: Ctx): string {
    const sub = { ...c, off: c.off + 1 };
    const args: string[] = [];
    const holes: boolean[] = [];
    for (const a of node.arguments) {
      if (a.type === 'operator' && a.value === '?') { args.push('undefined'); holes.push(true); } else { args.push(this.gen(a, sub)); holes.push(false); }
    }
    const pv = this.gen(node.procedure, sub);
    const name = this.procName(node);
    const t1007 = node.procedure.type === 'path' ? `!!(${this.resolve(node.procedure.steps[0].value, c.scope)})` : 'false';
    return this.val(`partial(${pv}, [${args.join(', ')}], ${this.k(holes)}, ${node.position}, ${name === undefined ? 'undefined' : JSON.stringify(name)}, ${t1007})`);
  }

  private genApply(node: Node, c: Ctx, final: boolean): string {
    const lhs = this.gen(node.lhs, { ...c, off: c.off + 1 });
    if (node.rhs.type === 'function') return this.genCall(node.rhs, c, lhs, final);
    if (plainRegex(node.rhs)) {
      // `value ~> /re/`: the matcher applied at once, without making the matcher function first
      this.leaf({ ...c, off: c.off + 1 });
      const re = this.regexConst(node.rhs);
      return this.val(`isFn(${lhs}) ? chain(${lhs}, regexMatcher(${re}, ${node.rhs.position})) : regexExec(${re}, { lastIndex: 0 }, ${node.rhs.position}, ${lhs}, undefined)`);
    }
    const f = this.gen(node.rhs, { ...c, off: c.off + 1 });
    this.emit(`if (!isFn(${f})) throw { code: "T2006", position: ${node.position}, value: ${f} };`);
    // jsonata names the function in errors after the name it was last called by; for `x ~> $f` that is
    // normally "f"
    const tok = node.rhs.type === 'variable' ? JSON.stringify(node.rhs.value) : 'undefined';
    return this.val(`isFn(${lhs}) ? chain(${lhs}, ${f}) : applyTo(${f}, ${lhs}, D + ${c.off}, ${tok})`);
  }

  private genTransform(node: Node, c: Ctx): string {
    const cloneVar = this.resolve('clone', c.scope);
    const { body, maxLeaf } = this.subFunction(() => {
      this.emit('if (obj === undefined) return undefined;');
      this.emit(`const result = cloneFor(${cloneVar}, obj, ${node.position}, D - 1);`);
      const ctx: Ctx = { ...c, input: 'result', off: 0, wrap: false, lambda: false };
      const m = this.gen(node.pattern, ctx);
      const ms = this.tmp();
      this.emit(`if (${m} !== undefined) {`);
      this.emit(`${ms} = isArray(${m}) ? ${m} : [${m}];`);
      const i = this.id('i');
      this.emit(`for (let ${i} = 0; ${i} < ${ms}.length; ${i}++) {`);
      const match = this.ctxVar(`${ms}[${i}]`);
      const mctx: Ctx = { ...ctx, input: match };
      const u = this.gen(node.update, mctx);
      this.emit(`transformUpdate(${match}, ${u}, ${node.update.position});`);
      if (node.delete !== undefined) {
        const d = this.gen(node.delete, mctx);
        this.emit(`transformDelete(${match}, ${d}, ${node.delete.position});`);
      }
      this.emit('}');
      this.emit('}');
      return 'result';
    }, true);
    return this.val(`transformer(function (obj) {\nconst D = G.d + 1, lim = G.maxDepth - D, ck = ${maxLeaf} > lim;\n${body}\n})`);
  }
}

/** A builtin's common cases as a JS expression at the call site (own inline caches, no call), the
 *  implementation `impl` doing the rest; undefined when the builtin has no such form here. `args` are the
 *  argument values (already checked against the signature), `nodes` the argument nodes. */
function inlineBuiltin(name: string, args: string[], nodes: Node[], applied: boolean, impl: string): string | undefined {
  const notFn = (a: string) => `${a}._jsonata_function !== true && ${a}._jsonata_lambda !== true`;
  if (name === 'exists' && args.length === 1) return `(${args[0]} !== undefined)`;
  if (name === 'not' && args.length === 1) return `(typeof ${args[0]} === "boolean" ? !${args[0]} : ${impl}(${args[0]}))`;
  if (name === 'string' && args.length === 1) return `(typeof ${args[0]} === "string" ? ${args[0]} : ${impl}(${args[0]}))`;
  if (name === 'type' && args.length === 1) {
    // numbers (Infinity raises an error) and functions go to fn.type
    const a = args[0];
    return `(${a} === undefined ? undefined : ${a} === null ? "null" : typeof ${a} === "string" ? "string" : typeof ${a} === "boolean" ? "boolean" : isArray(${a}) ? "array" : typeof ${a} === "object" && ${notFn(a)} ? "object" : ${impl}(${a}))`;
  }
  const keyNode = nodes[applied ? 0 : 1];
  if (name === 'lookup' && args.length === 2 && keyNode && keyNode.type === 'string' && !keyNode.predicate && !keyNode.group && !keyNode.keepArray) {
    // fn.lookup of a literal key: an own property of an object that is no function definition
    const [a, k] = args;
    return `(isArray(${a}) ? ${impl}(${a}, ${k}) : ${a} !== null && typeof ${a} === "object" && hop.call(${a}, ${k}) && ${notFn(a)} ? ${a}[${k}] : undefined)`;
  }
  return undefined;
}

/** A lambda body small enough to generate at each call: few nodes, no functions made inside. */
function inlinable(body: Node): boolean {
  let nodes = 0;
  const walk = (n: Node): boolean => {
    if (!n || typeof n !== 'object' || n instanceof RegExp) return true;
    if (Array.isArray(n)) return n.every(walk);
    if (n.type !== undefined) {
      if (++nodes > INLINE_NODES) return false;
      if ((n.type === 'lambda' && !n.thunk) || n.type === 'transform' || n.type === 'partial') return false;
    }
    for (const [k, v] of Object.entries(n)) {
      if (k === 'signature' || k === 'slot' || k === 'ancestor') continue;
      if (v && typeof v === 'object' && !walk(v)) return false;
    }
    return true;
  };
  return walk(body);
}
const INLINE_NODES = 24;

/** Lines of generated code from which an object constructor's value becomes a function of its own, when
 *  the root function would have more than SPLIT_LINES (about 25 KB of bytecode) in one. */
const HOIST_LINES = 30;
const SPLIT_LINES = 600;

/** Builtins whose result is never a sequence (fin() leaves it as it is). */
const NO_SEQUENCE = new Set(['string', 'substring', 'substringBefore', 'substringAfter', 'lowercase', 'uppercase', 'length', 'trim', 'pad',
  'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number', 'floor', 'ceil',
  'round', 'abs', 'sqrt', 'power', 'random', 'boolean', 'not', 'exists', 'type', 'base64encode', 'base64decode', 'encodeUrlComponent',
  'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'toMillis', 'fromMillis', 'now', 'millis', 'sum', 'count', 'max', 'min', 'average']);

/** JS condition: the value of `v` is a JSON object (plain or null prototype, not a function definition). */
function jsonObject(v: string): string {
  return `${v} !== null && typeof ${v} === "object" && (${v}.constructor === ObjectCtor || nullProto(${v})) && ${v}._jsonata_function !== true && ${v}._jsonata_lambda !== true`;
}

/** Whether the subtree has a path starting `$name.` (a variable then more steps). */
function headsPath(node: Node, name: string): boolean {
  if (!node || typeof node !== 'object' || node instanceof RegExp) return false;
  if (Array.isArray(node)) return node.some((x) => headsPath(x, name));
  if (node.type === 'path' && node.steps.length > 1 && node.steps[0].type === 'variable' && node.steps[0].value === name) return true;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'signature' || k === 'slot' || k === 'ancestor') continue;
    if (v && typeof v === 'object' && headsPath(v, name)) return true;
  }
  return false;
}

/** A string, number, boolean or null literal used as it is. */
function scalarLiteral(n: Node): boolean {
  return (n.type === 'string' || n.type === 'number' || n.type === 'value') && !n.predicate && !n.group && !n.keepArray;
}

/** A path step that is a plain name (or a leading variable before more steps): no predicates, stages,
 *  focus, index, ancestry or join. */
function plainNameStep(s: Node, i: number, n: number): boolean {
  if (s.predicate || s.group || s.stages || s.focus !== undefined || s.index !== undefined || s.ancestor || s.tuple || s.keepArray || s.consarray) return false;
  return s.type === 'name' || (i === 0 && s.type === 'variable' && n > 1);
}

/** An object whose prototype is Object.prototype (JSON data) or null (objects JSONata builds): a property
 *  found on it is its own, for names Object.prototype lacks. */
function plainObject(x: string): string {
  return `${x}.constructor === ObjectCtor || (${x}.constructor === undefined && getProto(${x}) === null)`;
}

/** An object constructor of literal keys and literal scalar values (distinct keys): its entries, frozen. */
function constantTable(node: Node): Readonly<Record<string, unknown>> | undefined {
  if (node.type !== 'unary' || node.value !== '{' || node.predicate || node.group || node.keepArray || node.lhs.length === 0) return undefined;
  const table: Record<string, unknown> = Object.create(null);
  for (const [k, v] of node.lhs) {
    const lit = (n: Node) => (n.type === 'string' || n.type === 'number' || n.type === 'value') && !n.predicate && !n.group && !n.keepArray;
    if (!lit(k) || k.type !== 'string' || !lit(v) || k.value in table) return undefined;
    if (k.value === '_jsonata_function' || k.value === '_jsonata_lambda') return undefined;
    table[k.value] = v.value;
  }
  return Object.freeze(table);
}

/** A filter condition that is true, false or undefined and can neither fail nor have effects:
 *  `$ != ''`, `type = "x"`, `code in $list` over plain operands. */
function safeCondition(node: Node): boolean {
  if (node.predicate || node.group || node.keepArray || node.type !== 'binary') return false;
  if (!['=', '!=', 'in'].includes(node.value)) return false;
  return !mayThrow(node.lhs) && !mayThrow(node.rhs) && !hasCall(node.lhs) && !hasCall(node.rhs);
}
function hasCall(node: Node): boolean {
  if (!node || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some(hasCall);
  if (node.type === 'function' || node.type === 'partial' || node.type === 'apply' || node.type === 'bind' || node.type === 'transform') return true;
  return Object.entries(node).some(([k, v]) => k !== 'signature' && k !== 'slot' && k !== 'ancestor' && !(v instanceof RegExp) && typeof v === 'object' && hasCall(v));
}

/** Whether the subtree refers to the variable `$name` at all. */
function mentions(node: Node, name: string): boolean {
  return !onlyCalled(node, name, true);
}
/** Whether every reference to `$name` in the subtree is the procedure of a plain call `$name(…)` (with
 *  `none`, whether there is no reference at all). Tail calls, `~>` and partial application need the
 *  lambda value, so they count as other references. */
function onlyCalled(node: Node, name: string, none = false): boolean {
  const walk = (n: Node, thunk: boolean): boolean => {
    if (!n || typeof n !== 'object' || n instanceof RegExp) return true;
    if (Array.isArray(n)) return n.every((x) => walk(x, false));
    if (n.type === 'variable' && n.value === name) return false;
    if (n.type === 'function' && !thunk && !none) {
      const p = n.procedure;
      const direct = p && p.type === 'variable' && p.value === name && !p.predicate && !p.group && !p.keepArray;
      if (direct) return walk(n.arguments, false) && walk(n.predicate, false) && walk(n.group, false);
    }
    if (n.type === 'apply' && n.rhs && n.rhs.type === 'function') {
      // `x ~> $f(…)` applies the lambda value
      return walk(n.lhs, false) && walk(n.rhs.procedure, true) && walk(n.rhs.arguments, false) && walk(n.predicate, false) && walk(n.group, false);
    }
    for (const [k, v] of Object.entries(n)) {
      if (k === 'signature' || k === 'slot' || k === 'ancestor') continue;
      if (v && typeof v === 'object' && !walk(v, n.type === 'lambda' && n.thunk === true && k === 'body')) return false;
    }
    return true;
  };
  return walk(node, false);
}

/** Whether a lambda body has tail calls (the body may return the trampoline marker). */
function hasTailCall(node: Node): boolean {
  if (!node || typeof node !== 'object') return false;
  if (node.type === 'lambda') return node.thunk === true;
  if (node.type === 'condition') return hasTailCall(node.then) || hasTailCall(node.else);
  if (node.type === 'block') return node.expressions.length > 0 && hasTailCall(node.expressions[node.expressions.length - 1]);
  return false;
}

/** A regex literal used as is (no predicate, grouping or [] on it). */
function plainRegex(node: Node): boolean {
  return node.type === 'regex' && !node.predicate && !node.group && !node.keepArray;
}

/** Whether evaluating a node can raise a (non-guard) error: literals, variables, name paths cannot. */
function mayThrow(node: Node): boolean {
  if (node.predicate || node.group) return true;
  switch (node.type) {
    case 'string': case 'number': case 'value': case 'variable': case 'regex': case 'parent': case 'wildcard': case 'descendant':
      return false;
    case 'lambda':
      return !!node.thunk;
    case 'path':
      return node.keepSingletonArray || node.steps.some((s: Node, i: number) => !(s.type === 'name' || (i === 0 && s.type === 'variable'))
        || s.stages || s.predicate || s.group || s.tuple || s.focus !== undefined || s.index !== undefined);
    case 'unary':
      if (node.value === '[') return node.expressions.some(mayThrow);
      if (node.value === '{') return node.lhs.some((p: Node[]) => p[0].type !== 'string' || mayThrow(p[1]));
      return true;
    case 'block':
      return node.expressions.some(mayThrow);
    default:
      return true;
  }
}

/** Nodes that always evaluate to a value (never undefined). */
function neverUndefined(node: Node): boolean {
  if (node.predicate || node.group) return false;
  if (node.type === 'string' || node.type === 'number' || node.type === 'value') return true;
  if (node.type === 'unary' && (node.value === '[' || node.value === '{')) return true;
  if (node.type === 'lambda' && !node.thunk) return true;
  return false;
}

/** Nodes whose value is always true, false or undefined. */
function isBooleanNode(node: Node): boolean {
  if (node.predicate || node.group || node.keepArray) return false;
  if (node.type === 'binary') return ['=', '!=', '<', '<=', '>', '>=', 'and', 'or', 'in'].includes(node.value);
  if (node.type === 'value') return typeof node.value === 'boolean';
  return false;
}
