// The expression guards, case by case, against hostile expressions (issue 10): time, depth, string size, the
// copied-items budget, walks over values whose parts are shared (a few steps build them, walking them is
// exponential), the compile-time structure limits, and the regex analysis that keeps catastrophic regexes
// from ever running. engine/spec/hostile-specs.test.ts runs the same attacks through specs and whole runs.
// Evaluations here get a short time limit (compileExpression's `limits`, which apply to a source compiled for
// the first time), so each time-limited case costs a few hundred milliseconds; the copied-items cases get a
// small budget and a long time limit instead, so that the budget, not the clock, is what stops them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import jsonata from 'jsonata';
import { parse } from 'yaml';
import { compileExpression, ExpressionError, ExpressionGuardError, type ExpressionLimits } from './jsonata.ts';
import { GuardedRegExp, regexProblem } from './regex-guard.ts';

const LIMITS: ExpressionLimits = { timeoutMs: 300, maxDepth: 200, maxStringLength: 16_000_000, maxItems: 20_000_000 };
/** For the copied-items budget: a smaller budget and a long time limit, so the budget is what stops them. */
const BUDGET: ExpressionLimits = { ...LIMITS, timeoutMs: 20_000, maxItems: 2_000_000 };

/** Evaluates a hostile expression and returns the guard that stopped it, with the time it took. */
async function stopped(source: string, limits = LIMITS): Promise<{ code: string; ms: number; message: string }> {
  const t = performance.now();
  try {
    await compileExpression(source, limits).evaluate({});
  } catch (e) {
    assert.ok(e instanceof ExpressionGuardError, `${source}: ${(e as Error).stack}`);
    return { code: String(e.code), ms: performance.now() - t, message: e.message };
  }
  assert.fail(`${source}: evaluated to the end`);
}

const doubling = (step: string, start: string, then: string) => `( $f := function($a, $n){ $n = 0 ? $a : $f(${step}, $n - 1) }; ${then.replace('$F', `$f(${start}, 40)`)} )`;

const evaluationCases: Array<[string, string, string, ExpressionLimits?]> = [
  ['infinite tail recursion', '( $f := function($x){ $f($x) }; $f(1) )', 'U1002'],
  ['recursion without a tail call', '( $f := function($x){ 1 + $f($x) }; $f(1) )', 'U1001'],
  ['a range over 1e7 items', '$count([1..100000000])', 'D2014'],
  ['a string doubled forty times', doubling('$a & $a', '"ab"', '$length($F)'), 'U1003'],
  ['$pad to 100 million characters', '$length($pad("", 100000000))', 'U1003'],
  ['a 1e6 range for every item of a 1e6 range', '$count([1..1000000].[1..1000000])', 'U1004', BUDGET],
  ['an array doubled by its constructor', doubling('[$a, $a]', '[1]', '$count($F)'), 'U1004', BUDGET],
  ['an array doubled by $append', doubling('$append($a, $a)', '[1]', '$count($F)'), 'U1004', BUDGET],
  ['$zip of two 1e6 ranges', '$count($zip([1..1000000], [1..1000000]))', 'U1004', BUDGET],
  ['$string of an object with shared parts', doubling('{"l": $a, "r": $a}', '1', '$length($string($F))'), 'U1002'],
  ['a path over nested arrays with shared parts', doubling('[[$a], [$a]]', '[{"x": 1}]', '$count($F.x)'), 'U1002'],
  ['the descendants of an object with shared parts', doubling('{"l": $a, "r": $a}', '1', '$count($F.**)'), 'U1002'],
  ['deep equality of two objects with shared parts', doubling('{"l": $a, "r": $a}', '1', '$F = $f(1, 40)'), 'U1002'],
  ['a wildcard over nested arrays with shared parts', doubling('[[$a], [$a]]', '[1]', '$count({"k": $F}.*)'), 'U1002'],
  ['$map over a 1e7 range', '$sum($map([1..10000000], function($v){ $v * 2 }))', 'U1002'],
  ['infinite recursion given to $eval (evaluated by jsonata)', '$eval("( $f := function($x){ $f($x) }; $f(1) )")', 'U1002'],
];

for (const [name, source, code, limits] of evaluationCases) {
  test(`guard: ${name} → ${code}`, async () => {
    const heap = process.memoryUsage().heapUsed;
    const r = await stopped(source, limits);
    assert.equal(r.code, code, r.message);
    // generous: an allocation already under way finishes before the guard sees the clock
    assert.ok(r.ms < 3_000, `${name}: stopped after ${Math.round(r.ms)} ms`);
    assert.ok(process.memoryUsage().heapUsed - heap < 1.5 * 1024 ** 3, `${name}: the heap stayed bounded`);
  });
}

test('guard errors are ExpressionGuardErrors; a record-level error is a plain ExpressionError', async () => {
  await assert.rejects(compileExpression('$number("x")', LIMITS).evaluate({}), (e: Error) => e instanceof ExpressionError && !(e instanceof ExpressionGuardError));
});

test('structure limits at compile time: nesting, unparseable depth, length', () => {
  const nested = `${'{"a": '.repeat(120)}1${'}'.repeat(120)}`;
  assert.throws(() => compileExpression(nested), (e: ExpressionError) => e.code === 'U1006' && /nests more than 100 levels deep/.test(e.message) && typeof e.position === 'number');
  assert.throws(() => compileExpression(`${'['.repeat(8000)}1${']'.repeat(8000)}`), (e: ExpressionError) => e.code === 'U1006' && /nests too deeply to be parsed/.test(e.message));
  assert.throws(() => compileExpression(`"${'x'.repeat(70_000)}"`), (e: ExpressionError) => e.code === 'U1006' && /characters long \(limit 65536\)/.test(e.message));
});

// ---- regexes ------------------------------------------------------------------------------------------------

/** Exponential on V8: each takes about a second on 24 characters that almost match, and doubles with every
 *  few more (measured while writing this: /(x|x)*y/ takes 80 s on 28 x's, /^(a{1,30}){1,30}$/ 270 s on 41). */
const UNSAFE = [
  '/(a+)+$/', '/(x|x)*y/', '/^(\\w|\\d)+$/', '/^(a|a?)+$/', '/(.*a){12}/', '/^(a{1,30}){1,30}$/', '/^(\\w\\d?)+$/',
  '/(?=(a+)+b)/', '/(a|A)+$/i', '/^([a-z]+\\s?)*$/', '/(x[ab]*[bc]*)*y/', '/^(\\d+)*$/', '/^(a+){2,}$/',
  '/(?:(?:a)+)+b/', '/([^,]*,?)*z/', '/(\\p{L}|[a-z])+1/u', '/(é|É)+x/i', '/(\\w|[a-z])*!/',
];
/** Linear or harmless on V8, including patterns that plain star-height checks (safe-regex2) refuse. */
const SAFE = [
  '/^[0-9]+(,[0-9]+)*$/', '/(\\s*,\\s*\\w+)*/', '/^\\s*[0-9]+(\\.[0-9]+)?\\s*$/', '/((a+)b)*/', '/(\\d{1,3},)*/', '/(?:x|y)*z/',
  '/(a|b)+$/i', '/\\p{L}+/u', '/(?<y>\\d{4})-\\k<y>/', '/(?<=a)b/', '/[\\]-a]+x/', '/(a|)*$/', '/^https?:\\/\\//i', '/[^0-9,.]/',
  '/url\\((.+?)\\)/', '/(?:[$€£]\\s?|[A-Z]{3}\\s?)[0-9][0-9,]*(?:\\.[0-9]+)?/',
];
const parts = (literal: string) => /^\/(.*)\/([a-z]*)$/s.exec(literal)!.slice(1) as [string, string];

test(`regex analysis: ${UNSAFE.length} catastrophic patterns refused with the reason`, () => {
  for (const literal of UNSAFE) {
    const [source, flags] = parts(literal);
    assert.match(regexProblem(source, flags) ?? 'accepted', /(nested quantifiers|can start with the same character).*exponential/, literal);
    assert.throws(() => new GuardedRegExp(source, flags), literal);
    if (flags.includes('u')) continue; // JSONata's regex literals take the i and m flags only (ajv uses u)
    const expr = `$contains(name, ${literal})`;
    assert.throws(() => compileExpression(expr), (e: ExpressionError) => e.code === 'U1005' && e.position === expr.indexOf(literal) && e.message.startsWith(`unsafe regular expression /${source}/: `), literal);
  }
  assert.match(regexProblem('a'.repeat(1001)) ?? '', /1001 characters long \(limit 1000\)/);
});

test('regex analysis: safe patterns and every regex of the shipped connectors are accepted', () => {
  const shipped: string[] = [];
  const root = new URL('../../connectors/', import.meta.url).pathname;
  for (const id of readdirSync(root)) {
    const file = join(root, id, 'connector.yaml');
    if (!existsSync(file)) continue;
    const strings: string[] = [];
    const walk = (v: unknown): void => { if (typeof v === 'string') strings.push(v); else if (v && typeof v === 'object') Object.values(v).forEach(walk); };
    walk(parse(readFileSync(file, 'utf8')));
    for (const s of strings) {
      for (const body of [s, ...[...s.matchAll(/\{\{([\s\S]*?)\}\}/g)].map((m) => m[1])]) {
        let ast: unknown;
        try { ast = jsonata(body).ast(); } catch { continue; }
        const find = (n: unknown): void => {
          if (!n || typeof n !== 'object' || n instanceof RegExp) return;
          const node = n as { type?: string; value?: unknown };
          if (node.type === 'regex' && node.value instanceof RegExp) shipped.push(`/${node.value.source}/${node.value.flags.replace('g', '')}`);
          Object.values(n).forEach(find);
        };
        find(ast);
      }
    }
  }
  assert.ok(shipped.length >= 20, `found ${shipped.length} regexes in the shipped connectors`);
  for (const literal of [...SAFE, ...new Set(shipped)]) {
    const [source, flags] = parts(literal);
    assert.equal(regexProblem(source, flags), undefined, literal);
    assert.ok(new GuardedRegExp(source, flags).test('probe') !== undefined);
  }
});

test('a safe regex keeps its meaning and runs in linear time on long hostile input', async () => {
  const e = compileExpression('[$contains(s, /^[0-9]+(,[0-9]+)*$/), $contains(t, /^[0-9]+(,[0-9]+)*$/)]', LIMITS);
  const t = performance.now();
  assert.deepEqual(await e.evaluate({ s: `${'1,'.repeat(100_000)}1`, t: `${'1,'.repeat(100_000)}x` }), [true, false]);
  assert.ok(performance.now() - t < 1_000);
});

test('a regex that only exists at run time ($eval of a string) is checked when jsonata builds it', async () => {
  const t = performance.now();
  await assert.rejects(compileExpression('$eval(code, $)', LIMITS).evaluate({ code: '$match(s, /(x|x)*y/)', s: 'x'.repeat(40) }),
    (e: Error) => e instanceof ExpressionGuardError && /unsafe regular expression \/\(x\|x\)\*y\//.test(e.message));
  assert.ok(performance.now() - t < 1_000);
  assert.deepEqual(await compileExpression('$eval(code, $)', LIMITS).evaluate({ code: '$match(s, /x+y/).match', s: 'xxy' }), 'xxy');
});
