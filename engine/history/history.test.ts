// History end to end against a real ClickHouse server that this test stops and restarts: every change reaches
// offerfeed.offer_versions exactly once, even across an outage and a flush that died after inserting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { startServer, json } from '../../test/support/http-server.ts';
import { quietLogger } from '../../test/support/run.ts';
import { parseSpec } from '../spec/loader.ts';
import { Redactor } from '../log/redact.ts';
import { syncConnector } from '../sync/sync-connector.ts';
import { ServingStore } from '../store/serving-store.ts';
import { migrateUp } from '../store/migrate.ts';
import { clickhouseClient, type ClickHouseSettings } from './clickhouse/client.ts';
import { libchdbPath, startLocalClickHouse, stopLocalClickHouse } from './clickhouse/local-server.ts';
import { flushOutbox } from './outbox-flusher.ts';

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
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/p/" & $string(id), "price": price, "currency": "EUR"}'
`, 'shop.yaml');


async function count(ch: ClickHouseClient, sql: string): Promise<number> {
  const rs = await ch.query({ query: sql, format: 'JSONEachRow' });
  const rows = (await rs.json()) as Array<{ n: string | number }>;
  return Number(rows[0].n);
}

test('ClickHouse down during a sync: the run commits, history waits in the outbox, replay lands it exactly once', async (t) => {
  if (!libchdbPath()) { t.skip('ClickHouse not available: install @chdb/lib-linux-x64-gnu'); return; }
  const chDir = await mkdtemp(join(tmpdir(), 'offerfeed-ch-'));
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-hist-'));
  const path = join(dir, 'offerfeed.duckdb');
  let server = await startLocalClickHouse({ dataDir: chDir });
  const settings = (): ClickHouseSettings => ({ url: server.url, database: 'offerfeed' });
  await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: settings(), feedTest: false });
  const store = await ServingStore.open(path);
  let items = [{ id: 1, name: 'Kettle', price: 20 }, { id: 2, name: 'Mug', price: 5 }];
  const api = await startServer((_req, res) => json(res, 200, { items }));
  let ch = clickhouseClient(settings());
  const sync = (client: ClickHouseClient) => syncConnector({ spec: SPEC, config: {}, redactor: new Redactor(), logger: quietLogger(), store, clickhouse: client, baseUrlOverride: api.url });
  try {
    const first = await sync(ch);
    assert.equal(first.history?.error, undefined);
    assert.equal(await count(ch, 'SELECT count() AS n FROM offerfeed.offer_versions'), 2);

    await stopLocalClickHouse(chDir);
    items = [{ id: 1, name: 'Kettle', price: 18 }, { id: 2, name: 'Mug', price: 5 }, { id: 3, name: 'Teapot', price: 30 }];
    const second = await sync(ch);
    assert.equal(second.result.status, 'succeeded', 'ClickHouse being down never fails a sync');
    assert.equal(second.committed, true);
    assert.ok(second.history?.error, 'the flush reports the outage');
    assert.ok((second.history?.remaining ?? 0) >= 3, 'events wait in the outbox');

    server = await startLocalClickHouse({ dataDir: chDir });
    await ch.close();
    ch = clickhouseClient(settings());
    // A flush that dies after ClickHouse took the rows but before the outbox was trimmed…
    const dying = new Proxy(ch, {
      get(target, prop) {
        if (prop === 'insert') return async (...args: Parameters<ClickHouseClient['insert']>) => { await target.insert(...args); throw new Error('connection lost after insert'); };
        return Reflect.get(target, prop);
      },
    });
    const broken = await flushOutbox(store, dying);
    assert.match(broken.error ?? '', /connection lost/);
    // …is replayed with the same deduplication tokens, even after new events joined the outbox: nothing doubles.
    items = [...items, { id: 4, name: 'Cup', price: 3 }];
    const third = await sync(ch);
    assert.equal(third.history?.error, undefined);
    const replay = await flushOutbox(store, ch);
    assert.equal(replay.error, undefined);
    assert.equal(replay.remaining, 0);

    const versions = await count(ch, 'SELECT count() AS n FROM offerfeed.offer_versions');
    const distinct = await count(ch, 'SELECT uniqExact(event_id) AS n FROM offerfeed.offer_versions');
    assert.equal(versions, 5, 'two inserts, then one update and one insert, then one insert');
    assert.equal(distinct, versions, 'no event twice');
    assert.equal(await count(ch, 'SELECT count() AS n FROM offerfeed.sync_runs'), 3);
    assert.equal(await count(ch, 'SELECT uniqExact(event_id) AS n FROM offerfeed.api_calls'), await count(ch, 'SELECT count() AS n FROM offerfeed.api_calls'));

    // The analyst questions from examples/sql answer with plain SQL.
    const priceSql = await readFile(new URL('../../examples/sql/price-history.sql', import.meta.url), 'utf8');
    const prices = await (await ch.query({ query: priceSql, query_params: { network: 'shop', external_id: '1' }, format: 'JSONEachRow' })).json() as Array<{ price: number; op: string }>;
    assert.deepEqual(prices.map((p) => [p.op, p.price]), [['insert', 20], ['update', 18]]);
    const perDaySql = await readFile(new URL('../../examples/sql/offers-per-network-per-day.sql', import.meta.url), 'utf8');
    const perDay = await (await ch.query({ query: perDaySql, format: 'JSONEachRow' })).json() as Array<{ network: string; live_offers: string | number }>;
    assert.equal(Number(perDay.find((r) => r.network === 'shop')?.live_offers), 4);
    const healthSql = await readFile(new URL('../../examples/sql/sync-health.sql', import.meta.url), 'utf8');
    const health = await (await ch.query({ query: healthSql, format: 'JSONEachRow' })).json() as Array<{ connector: string; runs: string | number }>;
    assert.equal(Number(health[0].runs), 3);
  } finally {
    await api.close();
    store.close();
    await ch.close();
    await stopLocalClickHouse(chDir);
  }
});
