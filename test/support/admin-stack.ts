// The whole feed for admin tests: a fresh migrated DuckDB file (+ a ClickHouse database of its own when the test
// run has a server), the feed host (scheduler, health monitor, enrichment, optimizer) with chosen connectors
// pointed at their sandboxes, the API with the admin API and web app on 127.0.0.1, an admin and a viewer user,
// and a small client that logs in like the browser does (cookie + CSRF header).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildApi, type Api } from '../../api/app.ts';
import { defaultApiConfig, type ApiConfig } from '../../api/config.ts';
import { optimizerRanker } from '../../api/ranking.ts';
import { LocalEventBus } from '../../engine/events/bus.ts';
import { clickhouseClient } from '../../engine/history/clickhouse/client.ts';
import { startFeedHost, type FeedHost, type FeedHostOptions } from '../../engine/host/feed-host.ts';
import { SandboxFleet } from '../../engine/host/sandbox-fleet.ts';
import { Redactor } from '../../engine/log/redact.ts';
import { migrateUp } from '../../engine/store/migrate.ts';
import { closeDuckDB } from '../../engine/store/duckdb.ts';
import type { NetworkPolicy } from '../../engine/wizard/ssrf.ts';
import { clickhouseUrl } from './clickhouse.ts';
import { silentLogger } from './api-stack.ts';

export const ADMIN = { name: 'alice', password: 'alice-password-1' };
export const VIEWER = { name: 'victor', password: 'victor-password-1' };

export interface AdminClient {
  /** A request as the browser makes it: the session cookie, and the CSRF header on writes. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  cookie: string;
}

export interface AdminStack {
  url: string;
  api: Api;
  host: FeedHost;
  dir: string;
  path: string;
  clickhouse?: { client: ClickHouseClient; database: string };
  adminToken: string;
  viewerToken: string;
  login(user: { name: string; password: string }): Promise<AdminClient>;
  close(): Promise<void>;
}

export interface AdminStackOptions {
  /** Connectors (folders under connectors/) to run against their sandboxes; only these are scheduled. */
  connectors?: string[];
  /** Connector ids the scheduler knows (default: `connectors`); a wizard test adds the id it will create. */
  connectorIds?: () => string[];
  config?: Partial<ApiConfig>;
  feed?: Partial<Omit<FeedHostOptions, 'storePath' | 'bus' | 'logger' | 'redactor'>>;
  wizardPolicy?: NetworkPolicy;
  clickhouse?: boolean;
  /** Arm the scheduler's timers (default false: runs start only when a test asks). */
  schedule?: boolean;
}

export async function startAdminStack(o: AdminStackOptions = {}): Promise<AdminStack> {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-admin-'));
  const path = join(dir, 'offerfeed.duckdb');
  const chUrl = o.clickhouse === false ? undefined : clickhouseUrl();
  const database = `admintest_${randomBytes(6).toString('hex')}`;
  await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: chUrl ? { url: chUrl, database } : null, feedTest: false });
  const client = chUrl ? clickhouseClient({ url: chUrl, database }) : undefined;
  const bus = new LocalEventBus();
  const logger = silentLogger();
  const redactor = new Redactor();
  const ids = o.connectors ?? [];
  const sandboxes = await SandboxFleet.start(ids);
  const host = await startFeedHost({
    storePath: path, clickhouse: client, bus, logger, redactor, sandboxes, health: false, services: { timers: false }, schedule: o.schedule ?? false,
    ...o.feed,
    scheduler: {
      connectorIds: o.connectorIds ?? (() => ids), jitterMs: 0, progressEveryMs: 50,
      runOptions: (id) => ({ ...(sandboxes.url(id) ? { baseUrlOverride: sandboxes.url(id) } : {}), retryOverride: { backoffMs: 1, maxBackoffMs: 5 } }),
      ...o.feed?.scheduler,
    } as FeedHostOptions['scheduler'],
  });
  const config: ApiConfig = { ...defaultApiConfig(), port: 0, logLevel: 'silent', pollMs: 200, exportIntervalMs: 300, ...o.config };
  const api = await buildApi({
    config, storePath: path, bus, logger, redactor,
    clickhouse: client ? { client, target: { database } } : undefined,
    ranker: host.services ? optimizerRanker(host.services.optimizer) : undefined,
    admin: { host, wizardPolicy: o.wizardPolicy },
  });
  const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
  await api.start();
  await host.auth.createUser(ADMIN.name, ADMIN.password, 'admin');
  await host.auth.createUser(VIEWER.name, VIEWER.password, 'viewer');
  const adminToken = (await host.auth.createToken('ci-admin', 'admin')).token;
  const viewerToken = (await host.auth.createToken('ci-viewer', 'viewer')).token;

  const login = async (user: { name: string; password: string }): Promise<AdminClient> => {
    const res = await fetch(`${url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) });
    if (res.status !== 200) throw new Error(`login as ${user.name}: HTTP ${res.status} ${await res.text()}`);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
    return {
      cookie,
      async request(method, p, body, headers = {}) {
        const write = !['GET', 'HEAD'].includes(method);
        const r = await fetch(`${url}${p}`, {
          method, body: body === undefined ? undefined : JSON.stringify(body),
          headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(write ? { 'x-offerfeed-admin': '1' } : {}), ...headers },
        });
        const text = await r.text();
        let parsed: unknown = text;
        try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON (CSV, HTML) */ }
        return { status: r.status, body: parsed, headers: r.headers };
      },
    };
  };

  return {
    url, api, host, dir, path, adminToken, viewerToken, login,
    clickhouse: client ? { client, database } : undefined,
    async close() {
      await api.app.close();
      await host.close();
      await bus.close();
      if (client) {
        await client.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` }).catch(() => undefined);
        await client.close();
      }
      await closeDuckDB(path).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
