// Incremental sync against an upstream whose clock is 10 minutes off ours, or gets set back by that much:
// consecutive windows overlap (default lookback), so a record updated near the window boundary is never
// missed. A real HTTP server stamps records with its own clock; cursors live in a real DuckDB file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, json } from '../../test/support/http-server.ts';
import { quietLogger } from '../../test/support/run.ts';
import { freshStore } from '../../test/support/store.ts';
import { parseSpec } from '../spec/loader.ts';
import { Redactor } from '../log/redact.ts';
import { all } from '../store/duckdb.ts';
import type { ServingStore } from '../store/serving-store.ts';
import { syncConnector } from '../sync/sync-connector.ts';
import { DEFAULT_LOOKBACK_MS } from './runner.ts';

const MIN = 60_000;

const specWith = (incremental: string) => parseSpec(`dsl: 1
id: skewed
name: Skewed
kind: affiliate-network
base_url: https://api.skewed.example
streams:
  - name: items
    kind: product
    request: { path: /items, query: { updated_since: "{{ $incremental.start }}" } }
    records: items
    incremental: ${incremental}
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/" & $string(id)}'
`, 'skewed.yaml');

/** An API that stamps each change with its own clock (whole seconds, as most do) and returns changes strictly after updated_since. */
async function upstream() {
  const records = new Map<number, { id: number; name: string; updated: string }>();
  const u = {
    offsetMs: 0,
    stamp: () => new Date(Math.floor((Date.now() + u.offsetMs) / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    put(id: number, name: string) { records.set(id, { id, name, updated: u.stamp() }); },
    server: await startServer((req, res) => {
      const since = req.url.searchParams.get('updated_since');
      const t = since ? Date.parse(since) : -Infinity;
      json(res, 200, { items: [...records.values()].filter((r) => Date.parse(r.updated) > t).sort((a, b) => a.updated.localeCompare(b.updated)) });
    }),
  };
  return u;
}

const sync = (store: ServingStore, spec: ReturnType<typeof specWith>, url: string) =>
  syncConnector({ spec, config: {}, redactor: new Redactor(), logger: quietLogger(), store, baseUrlOverride: url, retryOverride: { backoffMs: 1, maxBackoffMs: 5 } });

const titles = async (store: ServingStore) =>
  Object.fromEntries((await all<{ external_id: string; title: string }>(store.conn, 'SELECT external_id, title FROM offers')).map((r) => [r.external_id, r.title]));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run 1 while the upstream clock reads `first`, then the clock reads `second` and records change (one of them
 * in the very second the clock changed), then run 2. Returns what serving holds after run 2.
 */
async function scenario(incremental: string, first: number, second: number) {
  const u = await upstream();
  const { store } = await freshStore();
  const spec = specWith(incremental);
  try {
    u.offsetMs = first;
    u.put(1, 'One v1');
    u.put(2, 'Two v1');
    const r1 = await sync(store, spec, u.server.url);
    assert.equal(r1.result.status, 'succeeded', r1.result.error);
    assert.equal(r1.counts.new, 2);
    const cursor = await store.incrementalCursor('skewed', 'items');
    assert.ok(cursor, 'run 1 saved a cursor');
    // The changes come a moment later, stamped by the upstream clock as it now reads.
    await sleep(5);
    u.offsetMs = second;
    u.put(2, 'Two v2');
    u.put(3, 'Three v1');
    const r2 = await sync(store, spec, u.server.url);
    assert.equal(r2.result.status, 'succeeded', r2.result.error);
    const since = u.server.requests.at(-1)!.url.searchParams.get('updated_since')!;
    return { titles: await titles(store), cursor: cursor!, since, counts: r2.counts };
  } finally { await u.server.close(); store.close(); }
}

test('default lookback: 15 minutes of overlap between consecutive windows', () => {
  assert.equal(DEFAULT_LOOKBACK_MS, 15 * MIN);
});

test('upstream clock 10 minutes ahead, then corrected: the change stamped before the cursor is read', async () => {
  const r = await scenario('{ cursor_field: updated }', +10 * MIN, 0);
  assert.equal(Date.parse(r.cursor) - Date.parse(r.since), DEFAULT_LOOKBACK_MS, 'run 2 starts one lookback before the saved cursor');
  assert.deepEqual(r.titles, { 1: 'One v1', 2: 'Two v2', 3: 'Three v1' });
  assert.equal(r.counts.updated, 1);
  assert.equal(r.counts.new, 1);
  assert.equal(r.counts.unchanged, 1, 'the overlap re-reads record 1: it is only touched');
});

test('upstream clock set back 10 minutes (it is now 10 minutes behind the one that stamped the cursor): nothing is missed', async () => {
  const r = await scenario('{ cursor_field: updated }', 0, -10 * MIN);
  assert.deepEqual(r.titles, { 1: 'One v1', 2: 'Two v2', 3: 'Three v1' });
});

test('upstream clock steadily 10 minutes ahead or behind ours: windows follow its clock, nothing is missed', async () => {
  for (const skew of [+10 * MIN, -10 * MIN]) {
    const r = await scenario('{ cursor_field: updated }', skew, skew);
    assert.deepEqual(r.titles, { 1: 'One v1', 2: 'Two v2', 3: 'Three v1' }, `skew ${skew / MIN} min`);
    // The cursor is the upstream's own time, not ours: it is off by the skew.
    assert.ok(Math.abs(Date.parse(r.cursor) - (Date.now() + skew)) < 2 * MIN, `cursor ${r.cursor} follows the upstream clock`);
  }
});

test('without overlap (lookback: 0) the same clock correction loses the change: what the default prevents', async () => {
  const r = await scenario('{ cursor_field: updated, lookback: 0 }', +10 * MIN, 0);
  assert.equal(r.since, r.cursor);
  assert.equal(r.titles['2'], 'Two v1', 'record 2 changed, but its new stamp is before the cursor');
  assert.equal(r.titles['3'], undefined);
});
