// Reads keep being answered while a big sync commits (issue 10, load): the API and a sync of N_SYNC new offers share
// one process and one DuckDB file, as in `offerfeed serve`; readers hit the REST endpoints without pause before,
// during and after the run's commit. No read may fail or go unanswered, and each is answered within a generous
// bound (the latency figures themselves are `npm run bench -- sync-load`'s business).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { announceCommits } from '../engine/events/bus.ts';
import { Redactor } from '../engine/log/redact.ts';
import { parseSpec } from '../engine/spec/loader.ts';
import type { RunResult } from '../engine/run/runner.ts';
import { syncConnector } from '../engine/sync/sync-connector.ts';
import type { Offer } from '../engine/types/offer.generated.ts';
import { silentLogger, startApiStack } from './support/api-stack.ts';
import { json, startServer } from './support/http-server.ts';

const N_SEED = 5_000;
const N_SYNC = 50_000;
const PAGE = 5_000;
const READERS = 4;

const SPEC = parseSpec(`dsl: 1
id: load
name: Load
kind: retailer
base_url: https://api.load.example
streams:
  - name: items
    kind: product
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page, stop: { has_more: more } }
    map: '{"external_id": $string(id), "title": name, "description": text, "url": "https://load.example/p/" & $string(id), "price": price, "currency": "EUR", "categories": [category], "countries": ["DE", "AT"]}'
`, 'load.yaml');

const seedOffer = (i: number): Offer => ({
  network: 'seed', external_id: `s${i}`, kind: 'product', title: `Seed kettle ${i}`, description: `A stainless kettle, model ${i}.`,
  url: `https://seed.example/p/${i}`, price: 10 + (i % 90), currency: 'EUR', countries: ['DE'], categories: ['Home > Kettles'],
});

interface Read { path: string; start: number; end: number; status?: number; error?: string }

test(`reads never fail while a sync of ${N_SYNC} offers commits into the store the API serves`, { timeout: 300_000 }, async (t) => {
  const stack = await startApiStack({ clickhouse: false, start: false, config: { rateLimit: { max: 1e9, timeWindowMs: 60_000 }, pollMs: 60_000 } });
  const feed = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page') ?? 1);
    const from = (page - 1) * PAGE;
    const items = Array.from({ length: Math.max(0, Math.min(PAGE, N_SYNC - from)) }, (_, k) => {
      const id = from + k;
      return { id, name: `Load offer ${id}`, text: `Description of offer ${id}, long enough to look like a real one.`, price: 5 + (id % 300), category: id % 2 ? 'Kettles' : 'Mugs' };
    });
    json(res, 200, { items, more: from + PAGE < N_SYNC });
  });
  const stop = { now: false };
  try {
    // What the API serves before the sync.
    const seedRun = await stack.store.beginRun('seed', 'full');
    await stack.store.stageOffers(seedRun, Array.from({ length: N_SEED }, (_, i) => seedOffer(i)), 0);
    const seeded: RunResult = { status: 'succeeded', complete: true, streams: {}, counts: { pages: 1, records: N_SEED, offers: N_SEED, quarantined: 0, filtered: 0, api_calls: 0 }, started_at: new Date().toISOString(), finished_at: new Date().toISOString(), duration_ms: 0, warnings: [] };
    await stack.store.commitRun(seedRun, 'seed', seeded, { apiCalls: [], quarantine: [] }, { missedRunsToDeactivate: 1 });
    await stack.api.start();

    // The commit's window, from the store the sync writes through.
    const commit = { start: 0, end: 0 };
    const commitRun = stack.store.commitRun.bind(stack.store);
    stack.store.commitRun = async (...args: Parameters<typeof commitRun>) => {
      commit.start = performance.now();
      try { return await commitRun(...args); } finally { commit.end = performance.now(); }
    };

    const paths = [
      '/api/offers/latest?limit=20', '/api/offers/latest?network=seed&country=DE&limit=20', '/api/offers/search?q=kettle&limit=20',
      '/api/offers/search?q=stainles&limit=10', '/api/offers/latest?min_price=20&max_price=60&limit=20',
    ];
    const reads: Read[] = [];
    const reader = async (k: number) => {
      for (let i = k; !stop.now; i += READERS) {
        const read: Read = { path: paths[i % paths.length], start: performance.now(), end: 0 };
        try {
          const res = await fetch(stack.url + read.path, { headers: { 'x-offerfeed-consent': 'affiliate' }, signal: AbortSignal.timeout(30_000) });
          read.status = res.status;
          const body = await res.json() as { items?: unknown[] };
          if (!Array.isArray(body.items)) read.error = `no items in ${JSON.stringify(body).slice(0, 200)}`;
        } catch (e) {
          read.error = (e as Error).message;
        }
        read.end = performance.now();
        reads.push(read);
      }
    };
    const readers = Array.from({ length: READERS }, (_, k) => reader(k));

    await new Promise((r) => setTimeout(r, 300));
    const out = await syncConnector({
      spec: SPEC, config: {}, redactor: new Redactor(), logger: silentLogger(), store: stack.store, baseUrlOverride: feed.url,
      onCommitted: announceCommits(stack.bus),
    });
    assert.equal(out.result.status, 'succeeded', out.result.error);
    assert.equal(out.counts.new, N_SYNC);
    // The read model applies the run (announced on the bus) while the readers keep reading.
    await stack.api.services.feed.idle();
    await new Promise((r) => setTimeout(r, 300));
    stop.now = true;
    await Promise.all(readers);

    const failed = reads.filter((r) => r.error !== undefined || r.status !== 200);
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${reads.length} reads failed`);
    const duringCommit = reads.filter((r) => r.start < commit.end && r.end > commit.start);
    assert.ok(commit.end > commit.start, 'the sync committed through the store');
    assert.ok(duringCommit.length > 0, 'some reads were in flight while the run committed');
    const latencies = reads.map((r) => r.end - r.start).sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    assert.ok(p(0.99) < 2000, `p99 ${p(0.99).toFixed(0)} ms`);
    t.diagnostic(`${reads.length} reads (${duringCommit.length} during the ${Math.round(commit.end - commit.start)} ms commit), 0 failed; ` +
      `p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(0)} ms`);

    // And the new offers are served.
    const res = await fetch(`${stack.url}/api/offers/latest?network=load&limit=1`, { headers: { 'x-offerfeed-consent': 'affiliate' } });
    const body = await res.json() as { items: Array<{ network: string }> };
    assert.equal(body.items[0]?.network, 'load');
  } finally {
    stop.now = true;
    await feed.close();
    await stack.close();
  }
});
