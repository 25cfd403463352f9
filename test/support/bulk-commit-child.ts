// Child process for the crash tests: stages N offers for the "bulk" connector, says MERGING, then commits.
// The parent kills it with SIGKILL at some point of the merge.
import { ServingStore } from '../../engine/store/serving-store.ts';
import type { Offer } from '../../engine/types/offer.generated.ts';
import type { RunResult } from '../../engine/run/runner.ts';

const [path, label, n] = process.argv.slice(2);
const count = Number(n);
const store = await ServingStore.open(path);
const runId = await store.beginRun('bulk', 'full');
const batch: Offer[] = [];
let seq = 0;
for (let i = 0; i < count; i++) {
  batch.push({ network: 'bulk', external_id: String(i), kind: 'product', title: `${label} item ${i}`, url: `https://bulk.example/${i}`, price: i % 100 });
  if (batch.length === 20_000) { await store.stageOffers(runId, batch.splice(0), seq); seq += 20_000; }
}
await store.stageOffers(runId, batch, seq);
const result: RunResult = { status: 'succeeded', complete: true, streams: { items: { pages: 1, records: count, offers: count, quarantined: 0, complete: true } }, counts: { pages: 1, records: count, offers: count, quarantined: 0, filtered: 0, api_calls: 0 }, started_at: new Date().toISOString(), finished_at: new Date().toISOString(), duration_ms: 1, warnings: [] };
process.stdout.write('MERGING\n');
await store.commitRun(runId, 'bulk', result, { apiCalls: [], quarantine: [] }, { missedRunsToDeactivate: 1 });
process.stdout.write('DONE\n');
store.close();
