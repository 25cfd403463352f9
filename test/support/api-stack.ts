// A whole API stack for tests: a fresh migrated DuckDB file, a ClickHouse database of its own on the test run's
// server (CLICKHOUSE_URL; none when unset), the API listening on 127.0.0.1, an event bus shared with the syncs
// the test runs, and helpers to run real syncs (syncConnector against a local HTTP feed) into it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildApi, type Api } from '../../api/app.ts';
import { defaultApiConfig, type ApiConfig } from '../../api/config.ts';
import type { ApiRanker } from '../../api/ranking.ts';
import { announceCommits, LocalEventBus } from '../../engine/events/bus.ts';
import { clickhouseClient } from '../../engine/history/clickhouse/client.ts';
import { createLogger } from '../../engine/log/logger.ts';
import { Redactor } from '../../engine/log/redact.ts';
import { parseSpec } from '../../engine/spec/loader.ts';
import { InteractionHistory } from '../../engine/store/interaction-history.ts';
import { migrateUp } from '../../engine/store/migrate.ts';
import { ServingStore } from '../../engine/store/serving-store.ts';
import { syncConnector, type SyncOutcome } from '../../engine/sync/sync-connector.ts';
import { clickhouseUrl } from './clickhouse.ts';
import { json, startServer, type TestServer } from './http-server.ts';

export interface ApiStack {
  url: string;
  api: Api;
  store: ServingStore;
  bus: LocalEventBus;
  dir: string;
  clickhouse?: { client: ClickHouseClient; database: string; history: InteractionHistory };
  /** Feed servers by network id: set `items` and run `sync(network)`. */
  feeds: Map<string, { server: TestServer; items: Array<Record<string, unknown>> }>;
  sync(network: string, items?: Array<Record<string, unknown>>, opts?: { announce?: boolean }): Promise<SyncOutcome>;
  close(): Promise<void>;
}

export const silentLogger = () => createLogger({ redactor: new Redactor(), level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

const specFor = (network: string) => parseSpec(`dsl: 1
id: ${network}
name: Test ${network}
kind: affiliate-network
base_url: https://api.${network}.example
streams:
  - name: offers
    kind: product
    request: { path: /offers }
    records: items
    pagination: { type: page_number, page_param: page, stop: { has_more: more } }
    map: '$'
`, `${network}.yaml`);

export async function startApiStack(o: { config?: Partial<ApiConfig>; clickhouse?: boolean; start?: boolean; ranker?: (storePath: string) => Promise<ApiRanker> } = {}): Promise<ApiStack> {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-api-'));
  const path = join(dir, 'offerfeed.duckdb');
  const chUrl = o.clickhouse === false ? undefined : clickhouseUrl();
  const database = `apitest_${randomBytes(6).toString('hex')}`;
  await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: chUrl ? { url: chUrl, database } : null, feedTest: false });
  const store = await ServingStore.open(path);
  const client = chUrl ? clickhouseClient({ url: chUrl, database }) : undefined;
  const bus = new LocalEventBus();
  const config: ApiConfig = { ...defaultApiConfig(), port: 0, logLevel: 'silent', pollMs: 200, exportIntervalMs: 300, ...o.config };
  const api = await buildApi({
    config, storePath: path, bus, logger: silentLogger(),
    clickhouse: client ? { client, target: { database } } : undefined,
    ranker: o.ranker ? await o.ranker(path) : undefined,
  });
  const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
  if (o.start !== false) await api.start();
  const feeds: ApiStack['feeds'] = new Map();

  const stack: ApiStack = {
    url, api, store, bus, dir, feeds,
    clickhouse: client ? { client, database, history: new InteractionHistory(client, { database }) } : undefined,
    async sync(network, items, opts = {}) {
      let feed = feeds.get(network);
      if (!feed) {
        const entry = { items: [] as Array<Record<string, unknown>>, server: undefined as unknown as TestServer };
        entry.server = await startServer((req, res) => {
          const page = Number(req.url.searchParams.get('page') ?? 1);
          const size = 50;
          json(res, 200, { items: entry.items.slice((page - 1) * size, page * size), more: page * size < entry.items.length });
        });
        feeds.set(network, entry);
        feed = entry;
      }
      if (items) feed.items = items;
      return syncConnector({
        spec: specFor(network), config: {}, redactor: new Redactor(), logger: silentLogger(), store, baseUrlOverride: feed.server.url,
        clickhouse: client, retryOverride: { backoffMs: 1, maxBackoffMs: 5 },
        onCommitted: opts.announce === false ? undefined : announceCommits(bus),
      });
    },
    async close() {
      await api.app.close();
      for (const f of feeds.values()) await f.server.close();
      store.close();
      if (client) {
        await client.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` }).catch(() => undefined);
        await client.close();
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Polls until fn returns a truthy value (or throws after the timeout). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A canonical offer for a test feed (network added by the engine). */
export function item(id: string | number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    external_id: String(id), kind: 'product', title: `Item ${id}`, url: `https://track.example/c?id=${id}`, landing_url: `https://shop.example/p/${id}`,
    merchant_name: 'Shop', price: 10, currency: 'EUR', countries: ['DE'], languages: ['de'], categories: ['Home > Kitchen'], ...over,
  };
}
