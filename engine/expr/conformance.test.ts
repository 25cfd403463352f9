// The JSONata reference implementation's own test cases, run through the compiler and through `jsonata`:
// wherever an expression compiles, the compiled result must equal jsonata's value for value (prototypes
// and sequence flags included) or raise the same error code; both must also give the case's expected
// outcome. The suite lives outside the project (../shared/jsonata-test-suite, or OFFERFEED_JSONATA_SUITE);
// without it this test skips and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import jsonata from 'jsonata';
import { compiledOutcome, describe, functionsAsMarkers, mutate, pair, referenceOutcome, rng, sameOutcome, type Outcome } from './compiled/testing.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const suiteDir = resolve(process.env.OFFERFEED_JSONATA_SUITE ?? join(repoRoot, '..', 'shared', 'jsonata-test-suite'));

interface Case {
  name: string;
  expr: string;
  data?: unknown;
  dataset?: string | null;
  bindings?: Record<string, unknown>;
  timelimit?: number;
  depth?: number;
  result?: unknown;
  undefinedResult?: boolean;
  code?: string;
  error?: { code?: string };
  unordered?: boolean;
}

function loadSuite(dir: string): { cases: Case[]; datasets: Record<string, unknown> } {
  const datasets: Record<string, unknown> = {};
  for (const f of readdirSync(join(dir, 'datasets'))) {
    if (f.endsWith('.json')) datasets[f.slice(0, -5)] = JSON.parse(readFileSync(join(dir, 'datasets', f), 'utf8'));
  }
  const cases: Case[] = [];
  for (const group of readdirSync(join(dir, 'groups')).sort()) {
    const gdir = join(dir, 'groups', group);
    for (const f of readdirSync(gdir).sort()) {
      if (!f.endsWith('.json')) continue;
      const parsed = JSON.parse(readFileSync(join(gdir, f), 'utf8'));
      const list: Array<Case & { 'expr-file'?: string }> = Array.isArray(parsed) ? parsed : [parsed];
      list.forEach((c, i) => {
        const expr = c['expr-file'] ? readFileSync(join(gdir, c['expr-file']), 'utf8') : c.expr;
        cases.push({ ...c, expr, name: `${group}/${f}${Array.isArray(parsed) ? `#${i}` : ''}` });
      });
    }
  }
  return { cases, datasets };
}

// The reference test runner's guard: evaluate-entry/exit hooks counting depth and time, both as U1001.
function guarded(expr: jsonata.Expression, c: Case): void {
  if (c.timelimit === undefined && c.depth === undefined) return;
  let depth = 0;
  const started = Date.now();
  const check = () => {
    if (c.depth !== undefined && depth > c.depth) throw { code: 'U1001', message: 'stack overflow' };
    if (c.timelimit !== undefined && Date.now() - started > c.timelimit) throw { code: 'U1001', message: 'timeout' };
  };
  const hook = (name: string, delta: number) => expr.assign(Symbol.for(name) as unknown as string, (_e: unknown, _i: unknown, env: { isParallelCall?: boolean }) => {
    if (env.isParallelCall) return;
    depth += delta;
    check();
  });
  hook('jsonata.__evaluate_entry', 1);
  hook('jsonata.__evaluate_exit', -1);
}

function expectedMatches(c: Case, o: Outcome): boolean {
  const code = c.code ?? c.error?.code;
  if (code !== undefined) return 'code' in o && (o.code === code || (code === 'U1001' && o.code === 'U1002'));
  if ('code' in o || 'deferred' in o) return false;
  if (c.undefinedResult) return o.value === undefined;
  if (!('result' in c)) return true;
  const got = JSON.parse(JSON.stringify(functionsAsMarkers(o.value) ?? null));
  if (c.unordered && Array.isArray(c.result) && Array.isArray(got)) {
    const key = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
    return isDeepStrictEqual(key(got), key(c.result));
  }
  return isDeepStrictEqual(got, c.result);
}

const NONDETERMINISTIC = /\$(random|shuffle|now|millis)\s*\(/;

test('JSONata conformance suite: compiled expressions behave exactly like jsonata', { skip: existsSync(join(suiteDir, 'groups')) ? false : `the JSONata test suite is absent (looked in ${suiteDir}; set OFFERFEED_JSONATA_SUITE to its folder)` }, async (t) => {
  const { cases, datasets } = loadSuite(suiteDir);
  const input = (c: Case) => structuredClone(c.data !== undefined ? c.data : c.dataset ? datasets[c.dataset] : undefined);
  let syntaxErrors = 0;
  let compiled = 0;
  let deferred = 0;
  let referenceTimeouts = 0;
  const fallbacks = new Map<string, string[]>();
  const mismatches: string[] = [];
  const unexpected: string[] = [];
  for (const c of cases) {
    let p: ReturnType<typeof pair>;
    try {
      p = pair(c.expr);
    } catch (e) {
      // the compiler starts from jsonata's parse tree: a syntax error is the same error on both paths
      syntaxErrors++;
      const code = (e as { code?: string }).code;
      if (!expectedMatches(c, { code: code ?? 'none' })) unexpected.push(`${c.name}: ${c.expr}\n  expected ${c.code ?? c.error?.code}, parser raised ${code}`);
      continue;
    }
    if (!p.compiled) {
      const list = fallbacks.get(p.reason ?? '?') ?? [];
      list.push(c.name);
      fallbacks.set(p.reason ?? '?', list);
      continue;
    }
    compiled++;
    guarded(p.reference, c);
    let ref: Outcome;
    try {
      ref = { value: await p.reference.evaluate(input(c), c.bindings) };
    } catch (e) {
      ref = { code: (e as { code?: string }).code ?? `JS:${(e as Error).name}`, message: (e as Error).message };
    }
    const comp = compiledOutcome(p, input(c), c.bindings, { timeoutMs: c.timelimit ?? 10_000, maxDepth: c.depth ?? Infinity });
    if ('deferred' in comp) {
      // the engine hands these to jsonata (an error whose order jsonata's concurrency decides)
      deferred++;
      if (!('code' in ref)) mismatches.push(`${c.name}: ${c.expr}\n  deferred, but jsonata succeeds with ${describe(ref)}`);
      continue;
    }
    // the reference runner's time limit can expire on a busy machine: then the case's expected outcome decides
    const refTimedOut = 'code' in ref && ref.code === 'U1001' && ref.message === 'timeout' && !('code' in comp) && expectedMatches(c, comp);
    if (refTimedOut) referenceTimeouts++;
    const same = refTimedOut || (NONDETERMINISTIC.test(c.expr) ? ('code' in ref) === ('code' in comp) : sameOutcome(ref, comp, [['U1001', 'U1002']]));
    if (!same) mismatches.push(`${c.name}: ${c.expr}\n  jsonata:  ${describe(ref)}\n  compiled: ${describe(comp)}`);
    if (!expectedMatches(c, comp)) unexpected.push(`${c.name}: ${c.expr}\n  expected ${c.code ?? c.error?.code ?? JSON.stringify(c.result)}, compiled ${describe(comp)}`);
  }
  const total = cases.length;
  const pct = (n: number) => `${((100 * n) / total).toFixed(1)}%`;
  t.diagnostic(`${total} cases: ${compiled} compiled (${pct(compiled)}), ${syntaxErrors} syntax errors from jsonata's parser (shared by both paths), ${total - compiled - syntaxErrors} fall back to jsonata`);
  for (const [reason, names] of fallbacks) t.diagnostic(`falls back (${names.length}): ${reason} — ${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''}`);
  t.diagnostic(`${mismatches.length} mismatches between compiled and jsonata; ${deferred} errors left to jsonata to order${referenceTimeouts ? `; ${referenceTimeouts} cases where jsonata ran out of the case's time and the compiled result is the expected one` : ''}`);
  assert.deepEqual(mismatches, [], mismatches.slice(0, 10).join('\n'));
  assert.deepEqual(unexpected, [], unexpected.slice(0, 10).join('\n'));
  assert.ok(compiled / total >= 0.95, `only ${pct(compiled)} of the suite compiles`);
});

test('JSONata conformance suite expressions over random variants of their inputs: compiled equals jsonata', { skip: existsSync(join(suiteDir, 'groups')) ? false : `the JSONata test suite is absent (looked in ${suiteDir}; set OFFERFEED_JSONATA_SUITE to its folder)` }, async (t) => {
  const { cases, datasets } = loadSuite(suiteDir);
  const r = rng(1105);
  const mismatches: string[] = [];
  let compared = 0;
  let deferred = 0;
  for (const c of cases) {
    if (c.timelimit !== undefined || NONDETERMINISTIC.test(c.expr)) continue;
    let p: ReturnType<typeof pair>;
    try { p = pair(c.expr); } catch { continue; }
    if (!p.compiled) continue;
    const base = c.data !== undefined ? c.data : c.dataset ? datasets[c.dataset] : undefined;
    if (JSON.stringify(base ?? null).length > 50_000) continue;
    for (let k = 0; k < 6; k++) {
      const input = mutate(structuredClone(base), r);
      const ref = await referenceOutcome(p, structuredClone(input), c.bindings);
      const comp = compiledOutcome(p, structuredClone(input), c.bindings, { timeoutMs: 2_000, maxDepth: Infinity });
      compared++;
      if ('deferred' in comp) {
        deferred++;
        if (!('code' in ref)) mismatches.push(`${c.name}: ${c.expr}\n  input ${JSON.stringify(input)}\n  deferred, but jsonata succeeds with ${describe(ref)}`);
      } else if (!sameOutcome(ref, comp)) {
        mismatches.push(`${c.name}: ${c.expr}\n  input ${JSON.stringify(input)}\n  jsonata:  ${describe(ref)}\n  compiled: ${describe(comp)}`);
      }
    }
  }
  t.diagnostic(`${compared} evaluations over mutated inputs, ${mismatches.length} mismatches, ${deferred} errors left to jsonata to order`);
  assert.deepEqual(mismatches, [], mismatches.slice(0, 10).join('\n'));
});
