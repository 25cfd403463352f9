// End-to-end sync of N synthetic offers (default 1M, BENCH_SYNC_N) from a local HTTP server into both stores,
// then an unchanged re-sync; beside the floor measured in the same run: fetch + JSON parse + bulk insert of the
// same records into DuckDB with nothing else. Targets: full ≥ 100k offers/s, unchanged ≥ 300k offers/s,
// peak RSS ≤ 1 GiB.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { parseSpec } from '../engine/spec/loader.ts';
import { Redactor } from '../engine/log/redact.ts';
import { createLogger } from '../engine/log/logger.ts';
import { syncConnector } from '../engine/sync/sync-connector.ts';
import { ServingStore } from '../engine/store/serving-store.ts';
import { migrateUp } from '../engine/store/migrate.ts';
import { clickhouseClient } from '../engine/history/clickhouse/client.ts';
import { startLocalClickHouse, stopLocalClickHouse, libchdbPath } from '../engine/history/clickhouse/local-server.ts';
import { handMapped, MAPPING, mib, PeakRss, rate, report } from './support.ts';
import type { Offer } from '../engine/types/offer.generated.ts';

/** The synthetic network of bench/feed-server.ts as a connector spec (also used by the sync-load bench). */
export const SPEC = (mapping: string) => parseSpec(`dsl: 1
id: bench
name: Bench
kind: retailer
base_url: https://api.bench.example
rate_limit: { concurrency: 1 }
streams:
  - name: items
    kind: product
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page, stop: { has_more: more } }
    map: |
${mapping.split('\n').map((l) => `      ${l}`).join('\n')}
`, 'bench.yaml');

export async function syncBench(n = Number(process.env.BENCH_SYNC_N ?? 1_000_000)): Promise<void> {
  const feed = spawn(process.execPath, ['--import', 'tsx', new URL('./feed-server.ts', import.meta.url).pathname], { env: { ...process.env, FEED_SIZE: String(n) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const [port] = (await once(feed.stdout!, 'data')).map((b: Buffer) => b.toString().trim());
  const base = `http://127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-bench-'));
  const rows: Array<Record<string, string | number>> = [];
  let chDir: string | undefined;
  try {
    // Floor: the same pages fetched, parsed and bulk-inserted, nothing else.
    const floorStore = await openMigrated(join(dir, 'floor.duckdb'), dir);
    let rss = new PeakRss();
    let t = performance.now();
    let count = 0;
    const runId = await floorStore.beginRun('bench', 'full');
    for (let page = 1; ; page++) {
      const res = await request(`${base}/items?page=${page}`);
      const body = (await res.body.json()) as { items: any[]; more: boolean };
      const offers = body.items.map((r) => ({ network: 'bench', kind: 'product', ...handMapped(r) }) as unknown as Offer);
      await floorStore.stageOffers(runId, offers, count);
      count += offers.length;
      if (!body.more) break;
    }
    const floorMs = performance.now() - t;
    rows.push({ path: 'floor: fetch + parse + bulk insert', offers: count, 'offers/s': rate(count, floorMs), 'peak RSS': mib(rss.stop()) });
    floorStore.close();

    const chSettings = libchdbPath() ? await (async () => {
      chDir = join(dir, 'ch');
      const s = await startLocalClickHouse({ dataDir: chDir });
      return { url: s.url, database: 'offerfeed' };
    })() : undefined;
    const path = join(dir, 'offerfeed.duckdb');
    await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: chSettings ?? null, feedTest: false });
    const store = await ServingStore.open(path);
    const ch = chSettings ? clickhouseClient(chSettings) : undefined;
    const logger = createLogger({ redactor: new Redactor(), level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
    const spec = SPEC(MAPPING);
    for (const label of ['full sync (new offers)', 'unchanged re-sync']) {
      rss = new PeakRss();
      t = performance.now();
      const out = await syncConnector({ spec, config: {}, redactor: new Redactor(), logger, store, clickhouse: ch, baseUrlOverride: base });
      const ms = performance.now() - t;
      if (out.result.status !== 'succeeded') throw new Error(`bench sync failed: ${out.result.error}`);
      rows.push({ path: `OfferFeed ${label}`, offers: out.result.counts.offers, 'offers/s': rate(out.result.counts.offers, ms), 'peak RSS': mib(rss.stop()), 'vs floor': `${(floorMs / ms).toFixed(2)}x`, new: out.counts.new, unchanged: out.counts.unchanged, history: out.history ? `${out.history.flushed} events` : 'no ClickHouse' });
    }
    store.close();
    await ch?.close();
    report(`sync of ${n} offers into DuckDB${chSettings ? ' + ClickHouse' : ''} (targets: full ≥ 100k/s, unchanged ≥ 300k/s, peak RSS ≤ 1 GiB)`, rows);
  } finally {
    feed.kill();
    if (chDir) await stopLocalClickHouse(chDir);
    await rm(dir, { recursive: true, force: true });
  }
}

async function openMigrated(path: string, dir: string): Promise<ServingStore> {
  await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: null, feedTest: false });
  return ServingStore.open(path);
}
