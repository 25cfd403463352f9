// Compiled expressions against `jsonata`, value for value, on what every shipped connector really evaluates:
// each connector runs against its sandbox while every expression evaluation (map, filter, records,
// pagination, templates) is recorded; each recorded input is then evaluated both ways, and so are seeded
// random variants of it (fields missing, numbers as strings, singletons as arrays, nulls).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listConnectorIds } from '../spec/registry.ts';
import { runContractTest } from '../sandbox/contract.ts';
import { EXTRA_FUNCTIONS, observeEvaluations, type Bindings } from './jsonata.ts';
import { atFixedTime, compiledOutcome, describe, mutate, pair, referenceOutcome, rng, sameOutcome, type Pair } from './compiled/testing.ts';

const SAMPLES_PER_EXPRESSION = 25;
const VARIANTS_PER_SAMPLE = 12;
const LIMITS = { timeoutMs: 5_000, maxDepth: 200 };
const NONDETERMINISTIC = /\$(random|shuffle)\s*\(/;

interface Sample { input: unknown; bindings: Bindings | undefined }
let deferred = 0;

function copy<T>(v: T): T {
  try { return structuredClone(v); } catch { return v; }
}

async function collect(id: string): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>();
  const stop = observeEvaluations((source, input, bindings) => {
    let list = samples.get(source);
    if (!list) samples.set(source, (list = []));
    if (list.length < SAMPLES_PER_EXPRESSION) list.push({ input: copy(input), bindings: copy(bindings) });
  });
  try {
    const report = await runContractTest(id, { faults: false });
    assert.equal(report.passes[0].result.status, 'succeeded', `${id}: the sandbox run did not succeed`);
  } finally {
    stop();
  }
  return samples;
}

async function compareOne(p: Pair, source: string, input: unknown, bindings: Bindings | undefined): Promise<string | undefined> {
  // each side gets its own copy: jsonata's grouping may push into an empty input array
  const run = async () => [await referenceOutcome(p, copy(input), bindings), compiledOutcome(p, copy(input), bindings, LIMITS)] as const;
  const [ref, comp] = /\$(now|millis)\s*\(/.test(source) ? await atFixedTime(Date.UTC(2026, 10, 5, 12), run) : await run();
  // the engine evaluates with jsonata itself when the compiled run defers (an error whose order jsonata decides)
  if ('deferred' in comp) {
    deferred++;
    return 'code' in ref ? undefined : `${source}\n  deferred although jsonata succeeds: ${describe(ref)}`;
  }
  if (sameOutcome(ref, comp)) return undefined;
  return `${source}\n  input: ${describe({ value: input })}\n  jsonata:  ${describe(ref)}\n  compiled: ${describe(comp)}`;
}

for (const id of listConnectorIds()) {
  test(`connector ${id}: every expression, compiled, equals jsonata on sandbox records and random variants`, async (t) => {
    const samples = await collect(id);
    assert.ok(samples.size > 0, `${id}: no expression was evaluated`);
    const failures: string[] = [];
    let compared = 0;
    let fallbacks = 0;
    deferred = 0;
    const r = rng(id.split('').reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7));
    for (const [source, list] of samples) {
      const p = pair(source, EXTRA_FUNCTIONS);
      if (!p.compiled) { fallbacks++; continue; }
      if (NONDETERMINISTIC.test(source)) continue;
      for (const s of list) {
        const f = await compareOne(p, source, s.input, s.bindings);
        compared++;
        if (f) failures.push(f);
        // large documents (a `records` expression's page) get fewer variants
        const variants = JSON.stringify(s.input ?? null).length > 20_000 ? 2 : VARIANTS_PER_SAMPLE;
        for (let i = 0; i < variants; i++) {
          const v = await compareOne(p, source, mutate(s.input, r), s.bindings);
          compared++;
          if (v) failures.push(v);
        }
        if (failures.length > 5) break;
      }
    }
    t.diagnostic(`${id}: ${samples.size} expressions (${fallbacks} on jsonata), ${compared} evaluations compared, ${deferred} errors left to jsonata to order`);
    assert.equal(fallbacks, 0, `${id}: ${fallbacks} expressions do not compile`);
    assert.deepEqual(failures, [], `compiled and jsonata differ:\n${failures.slice(0, 5).join('\n\n')}`);
  });
}
