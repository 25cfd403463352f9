// `offerfeed connectors test <id>`: runs the connector through the engine against its sandbox and compares
// the canonical offers, record by record, with sandbox/expected.ndjson; then runs again while the sandbox
// throttles (429) and fails (503) once per page, and expects exactly the same offers.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Offer } from '../types/offer.generated.ts';
import { Redactor } from '../log/redact.ts';
import { createLogger } from '../log/logger.ts';
import { runConnector, type RunResult } from '../run/runner.ts';
import { MemorySink } from '../run/ndjson-sink.ts';
import { resolveConfig } from '../spec/config.ts';
import { loadSandbox, serveSandbox } from './server.ts';

export interface PassReport { name: string; result: RunResult; offers: Offer[]; quarantined: number; problems: string[] }
export interface ContractReport { id: string; ok: boolean; passes: PassReport[]; expectedCount: number }

const offerKey = (o: Offer) => `${o.kind}:${o.external_id}`;

export async function runContractTest(id: string, opts: { update?: boolean; faults?: boolean } = {}): Promise<ContractReport> {
  const sb = await loadSandbox(id);
  const expectedFile = join(sb.dir, 'expected.ndjson');
  const passes: PassReport[] = [];
  const runPass = async (name: string, faults: boolean): Promise<PassReport> => {
    const server = await serveSandbox(sb.spec, sb.dir, sb.definition, sb.config, sb.configFile, { faults: faults ? 'once-per-page' : undefined });
    try {
      const redactor = new Redactor();
      const config = await resolveConfig(sb.spec, [{ name: 'sandbox', get: async () => sb.config }], redactor);
      const sink = new MemorySink();
      const result = await runConnector({
        spec: sb.spec, config, redactor, sink,
        logger: createLogger({ redactor, level: process.env.OFFERFEED_LOG_LEVEL ?? 'silent' }),
        baseUrlOverride: server.url,
        // The sandbox is local: the spec's pacing would only slow the test, and retries must not wait long.
        pacingOverride: { concurrency: 4 }, retryOverride: { backoffMs: 5, maxBackoffMs: 50 },
      });
      return { name, result, offers: sink.items, quarantined: sink.quarantined.length, problems: [] };
    } finally {
      await server.close();
    }
  };
  const first = await runPass('sandbox', false);
  if (opts.update && first.result.status === 'succeeded') {
    await writeFile(expectedFile, first.offers.map((o) => JSON.stringify(o)).join('\n') + '\n');
  }
  const expected = parseNdjson(await readFile(expectedFile, 'utf8').catch(() => ''), expectedFile);
  passes.push(first);
  if (opts.faults !== false) passes.push(await runPass('sandbox with a 429 and a 503 on every page', true));
  for (const pass of passes) {
    if (pass.result.status !== 'succeeded') pass.problems.push(`run ${pass.result.status}: ${pass.result.error}`);
    pass.problems.push(...compareOffers(expected, pass.offers));
    const wantQ = sb.definition.expect?.quarantined ?? 0;
    if (pass.quarantined !== wantQ) pass.problems.push(`quarantined ${pass.quarantined} records, expected ${wantQ}`);
  }
  if (expected.length === 0) passes[0].problems.push(`${expectedFile} is empty or missing: run with --update to record it, then review it`);
  return { id, ok: passes.every((p) => p.problems.length === 0), passes, expectedCount: expected.length };
}

function parseNdjson(text: string, file: string): Offer[] {
  return text.split('\n').map((l, i) => [l, i] as const).filter(([l]) => l.trim()).map(([l, i]) => {
    try { return JSON.parse(l) as Offer; } catch (e) { throw new Error(`${file}:${i + 1}: ${(e as Error).message}`); }
  });
}

/** Differences as sentences: missing, unexpected, and per-field changes of each offer. */
export function compareOffers(expected: Offer[], actual: Offer[]): string[] {
  const problems: string[] = [];
  const got = new Map(actual.map((o) => [offerKey(o), o]));
  const want = new Map(expected.map((o) => [offerKey(o), o]));
  if (got.size !== actual.length) problems.push(`${actual.length - got.size} offers were emitted more than once`);
  for (const [k, e] of want) {
    const a = got.get(k);
    if (!a) { problems.push(`missing offer ${k} ("${e.title}")`); continue; }
    for (const field of new Set([...Object.keys(e), ...Object.keys(a)])) {
      const ev = (e as unknown as Record<string, unknown>)[field];
      const av = (a as unknown as Record<string, unknown>)[field];
      if (!isDeepStrictEqual(ev, av)) problems.push(`offer ${k}: ${field} is ${JSON.stringify(av)}, expected ${JSON.stringify(ev)}`);
    }
  }
  for (const k of got.keys()) if (!want.has(k)) problems.push(`unexpected offer ${k} ("${got.get(k)!.title}")`);
  return problems;
}

export function formatContractReport(r: ContractReport): string {
  let out = `${r.ok ? 'PASS' : 'FAIL'} ${r.id} (${r.expectedCount} expected offers)\n`;
  for (const p of r.passes) {
    out += `  ${p.problems.length ? 'fail' : 'ok  '} ${p.name}: ${p.offers.length} offers, ${p.quarantined} quarantined, ${p.result.counts.pages} pages, ${p.result.counts.api_calls} API calls, ${p.result.duration_ms} ms\n`;
    for (const prob of p.problems.slice(0, 50)) out += `       - ${prob}\n`;
    if (p.problems.length > 50) out += `       … and ${p.problems.length - 50} more\n`;
  }
  return out;
}
