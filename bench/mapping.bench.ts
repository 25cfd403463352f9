// Mapping stage throughput on 100k records with a realistic 16-field mapping: plain `jsonata`, our full
// mapping stage (filter + JSONata map + normalize + validate), and the same mapping written by hand.
import jsonata from 'jsonata';
import { RecordMapper } from '../engine/map/mapper.ts';
import { normalizeOffer } from '../engine/normalize/index.ts';
import { validateOffer } from '../engine/validate/offer-validator.ts';
import { handMapped, MAPPING, rate, rawOffer, report } from './support.ts';

export async function mappingBench(n = 100_000): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => rawOffer(i));
  const expr = jsonata(MAPPING);
  let t = performance.now();
  for (const r of records) await expr.evaluate(r);
  const plainMs = performance.now() - t;

  const mapper = new RecordMapper({ name: 'products', kind: 'product', map: MAPPING }, 'bench', {});
  t = performance.now();
  let ok = 0;
  for (const r of records) if ((await mapper.mapRecord(r, {}, {})).kind === 'offer') ok++;
  const stageMs = performance.now() - t;
  if (ok !== n) throw new Error(`only ${ok} of ${n} records mapped: the bench mapping is broken`);

  t = performance.now();
  for (const r of records) validateOffer(normalizeOffer(handMapped(r), { network: 'bench', defaultKind: 'product' }));
  const handMs = performance.now() - t;

  report(`mapping stage, ${n} records`, [
    { path: 'jsonata evaluate only (baseline)', 'records/s': rate(n, plainMs), 'vs baseline': '1.00x' },
    { path: 'OfferFeed mapping stage (map+normalize+validate)', 'records/s': rate(n, stageMs), 'vs baseline': `${(plainMs / stageMs).toFixed(2)}x` },
    { path: 'hand-written map + normalize + validate', 'records/s': rate(n, handMs), 'vs baseline': `${(plainMs / handMs).toFixed(2)}x` },
  ]);
}
