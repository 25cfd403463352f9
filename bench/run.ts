// `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the same run.
// `npm run bench -- mapping` runs one.
import { mappingBench } from './mapping.bench.ts';
import { syncBench } from './sync.bench.ts';

const only = process.argv.slice(2);
const benches: Record<string, () => Promise<void>> = { mapping: () => mappingBench(), jsonata: async () => (await import('./jsonata.bench.ts')).jsonataBench(), sync: () => syncBench(), api: async () => (await import('./api.bench.ts')).apiBench() };
for (const [name, fn] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  await fn();
}
