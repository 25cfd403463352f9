import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, json } from '../../test/support/http-server.ts';
import { quietLogger } from '../../test/support/run.ts';
import { freshStore } from '../../test/support/store.ts';
import { parseSpec } from '../spec/loader.ts';
import { Redactor } from '../log/redact.ts';
import { syncConnector } from './sync-connector.ts';
import { all } from '../store/duckdb.ts';
import { RunInProgressError, type ServingStore } from '../store/serving-store.ts';

const SPEC = parseSpec(`dsl: 1
id: shop
name: Shop
kind: retailer
base_url: https://api.shop.example
streams:
  - name: items
    kind: product
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page, stop: { has_more: more } }
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/p/" & $string(id), "price": price, "currency": "EUR", "expires_at": ends}'
`, 'shop.yaml');

type Item = { id: number; name: string; price: number; ends?: string };

async function feed(items: () => Item[], opts: { failOnPage?: number } = {}) {
  return startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page'));
    if (opts.failOnPage === page) return json(res, 400, { message: 'broken page' });
    const list = items();
    json(res, 200, { items: list.slice((page - 1) * 2, page * 2), more: page * 2 < list.length });
  });
}


async function sync(store: ServingStore, url: string, extra: Partial<Parameters<typeof syncConnector>[0]> = {}) {
  return syncConnector({ spec: SPEC, config: {}, redactor: new Redactor(), logger: quietLogger(), store, baseUrlOverride: url, retryOverride: { backoffMs: 1, maxBackoffMs: 5 }, ...extra });
}

async function offers(store: ServingStore) {
  return all<{ external_id: string; status: string; version: number; price: number; title: string; last_seen_at: string; last_changed_at: string }>(
    store.conn, 'SELECT external_id, status, version, price, title, last_seen_at::VARCHAR AS last_seen_at, last_changed_at::VARCHAR AS last_changed_at FROM offers ORDER BY external_id');
}

test('sync rules: insert, touch, update with version bump, deactivate, expire, reactivate, hidden stays hidden', async () => {
  const { store } = await freshStore();
  let items: Item[] = [{ id: 1, name: 'Kettle', price: 20 }, { id: 2, name: 'Mug', price: 5 }, { id: 3, name: 'Teapot', price: 30 }];
  const srv = await feed(() => items);
  try {
    const first = await sync(store, srv.url);
    assert.deepEqual([first.counts.new, first.counts.updated, first.counts.unchanged], [3, 0, 0]);
    const before = await offers(store);
    assert.deepEqual(before.map((o) => [o.external_id, o.status, o.version]), [['1', 'active', 1], ['2', 'active', 1], ['3', 'active', 1]]);

    const second = await sync(store, srv.url);
    assert.deepEqual([second.counts.new, second.counts.updated, second.counts.unchanged], [0, 0, 3]);
    const touched = await offers(store);
    assert.ok(touched[0].last_seen_at > before[0].last_seen_at, 'unchanged offers are touched');
    assert.equal(touched[0].last_changed_at, before[0].last_changed_at, 'but not changed');

    items = [{ id: 1, name: 'Kettle', price: 18 }, { id: 2, name: 'Mug', price: 5 }, { id: 4, name: 'Cup', price: 3, ends: '2020-01-01T00:00:00Z' }];
    await store.setOfferStatus('shop', '2', 'hidden', 'admin decision');
    const third = await sync(store, srv.url);
    assert.deepEqual([third.counts.new, third.counts.updated, third.counts.unchanged, third.counts.deactivated], [1, 1, 1, 1]);
    const after = Object.fromEntries((await offers(store)).map((o) => [o.external_id, o]));
    assert.equal(after['1'].version, 2);
    assert.equal(after['1'].price, 18);
    assert.equal(after['2'].status, 'hidden', 'hidden stays hidden');
    assert.equal(after['3'].status, 'inactive', 'absent from a complete run: inactive, not deleted');
    assert.equal(after['4'].status, 'expired', 'past expires_at: expired');

    items = [...items, { id: 3, name: 'Teapot', price: 30 }];
    const fourth = await sync(store, srv.url);
    assert.equal(fourth.counts.reactivated, 1);
    assert.equal(Object.fromEntries((await offers(store)).map((o) => [o.external_id, o.status]))['3'], 'active');
  } finally { await srv.close(); store.close(); }
});

test('deactivation waits for the configured number of missed complete runs; partial and failed runs deactivate nothing', async () => {
  const { store } = await freshStore();
  let items: Item[] = [{ id: 1, name: 'A', price: 1 }, { id: 2, name: 'B', price: 2 }, { id: 3, name: 'C', price: 3 }];
  const srv = await feed(() => items);
  try {
    await sync(store, srv.url);
    const partial = await sync(store, srv.url, { maxPages: 1, missedRunsToDeactivate: 1 });
    assert.equal(partial.result.complete, false, 'a page cap makes the run partial');
    assert.equal(partial.counts.deactivated, 0, 'offer 3, on the page not fetched, stays active');
    items = [{ id: 1, name: 'A', price: 1 }];
    const once = await sync(store, srv.url, { missedRunsToDeactivate: 2 });
    assert.equal(once.counts.deactivated, 0);
    const twice = await sync(store, srv.url, { missedRunsToDeactivate: 2 });
    assert.equal(twice.counts.deactivated, 2);
  } finally { await srv.close(); store.close(); }
  const { store: s2 } = await freshStore();
  let broken = false;
  const srv2 = await feed(() => [{ id: 1, name: 'A', price: 1 }, { id: 2, name: 'B', price: 2 }, { id: 3, name: 'C', price: 3 }], {});
  const srv3 = await feed(() => [{ id: 1, name: 'A2', price: 9 }, { id: 2, name: 'B', price: 2 }, { id: 3, name: 'C', price: 3 }], { failOnPage: 2 });
  try {
    await sync(s2, srv2.url);
    const failed = await sync(s2, srv3.url);
    broken = failed.result.status === 'failed';
    assert.ok(broken);
    assert.equal(failed.committed, false);
    const rows = await offers(s2);
    assert.deepEqual(rows.map((o) => [o.title, o.status]), [['A', 'active'], ['B', 'active'], ['C', 'active']], 'a failed run changes nothing');
    const [run] = await all<{ status: string; error: string }>(s2.conn, `SELECT status, error FROM sync_runs WHERE id = '${failed.runId}'`);
    assert.equal(run.status, 'failed');
    assert.match(run.error, /broken page/);
  } finally { await srv2.close(); await srv3.close(); s2.close(); }
});

test('two runs of one connector never overlap; a crashed holder is taken over', async () => {
  const { store } = await freshStore();
  try {
    const runId = await store.beginRun('shop', 'full');
    await assert.rejects(store.beginRun('shop', 'full'), RunInProgressError);
    // Simulate a holder that died: its pid no longer exists.
    await store.conn.run(`UPDATE run_locks SET pid = 999999 WHERE run_id = '${runId}'`);
    const next = await store.beginRun('shop', 'full');
    assert.notEqual(next, runId);
    const [old] = await all<{ status: string }>(store.conn, `SELECT status FROM sync_runs WHERE id = '${runId}'`);
    assert.equal(old.status, 'failed');
  } finally { store.close(); }
});

test('rollback restores the offers of the latest run to their state before it, as new history', async () => {
  const { store } = await freshStore();
  let items: Item[] = [{ id: 1, name: 'A', price: 10 }, { id: 2, name: 'B', price: 20 }];
  const srv = await feed(() => items);
  try {
    await sync(store, srv.url);
    items = [{ id: 1, name: 'A', price: 12 }, { id: 3, name: 'C', price: 30 }];
    const bad = await sync(store, srv.url);
    const { restored } = await store.rollbackRun(bad.runId);
    assert.equal(restored, 3);
    const rows = Object.fromEntries((await offers(store)).map((o) => [o.external_id, o]));
    assert.equal(rows['1'].price, 10);
    assert.equal(rows['2'].status, 'active');
    assert.equal(rows['3'].status, 'inactive');
    const events = await all<{ n: number }>(store.conn, `SELECT count(*)::INTEGER AS n FROM outbox WHERE kind = 'offer_version' AND (payload->>'$.op') = 'rollback'`);
    assert.equal(events[0].n, 3);
  } finally { await srv.close(); store.close(); }
});
