// `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the same run.
// `npm run bench -- mapping` runs one: the mapping stage, then every connector's compiled mapping against
// `jsonata` and a hand-written one (`jsonata` runs only that table).
import { mappingBench } from './mapping.bench.ts';
import { syncBench } from './sync.bench.ts';

const only = process.argv.slice(2);
const compiledMappings = async () => (await import('./jsonata.bench.ts')).jsonataBench();
const benches: Record<string, () => Promise<void>> = {
  mapping: async () => { await mappingBench(); await compiledMappings(); },
  jsonata: compiledMappings,
  sync: () => syncBench(),
  api: async () => (await import('./api.bench.ts')).apiBench(),
  'sync-load': async () => (await import('./sync-load.bench.ts')).syncLoadBench(),
};
for (const [name, fn] of Object.entries(benches)) {
  if (only.length ? !only.includes(name) : name === 'jsonata') continue;
  await fn();
}
