// A canary secret in every secret setting of every connector: each connector is synced from its sandbox (whose
// sample responses echo the canary wherever they echoed the original credential, as real APIs echo keys in
// next-page links) into a real store, and then everything the public API can say — REST pages, every offer,
// networks, GraphQL queries, subscription events, errors of failing resolvers and routes, privacy exports,
// operations endpoints, the API's logs — is searched for every canary. None may appear.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import WebSocket from 'ws';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildApi, type Api } from '../app.ts';
import { defaultApiConfig } from '../config.ts';
import { announceCommits, LocalEventBus } from '../../engine/events/bus.ts';
import { clickhouseClient } from '../../engine/history/clickhouse/client.ts';
import { createLogger } from '../../engine/log/logger.ts';
import { Redactor } from '../../engine/log/redact.ts';
import { loadSandbox, serveSandbox, type SandboxDefinition } from '../../engine/sandbox/server.ts';
import { resolveConfig, secretKeys } from '../../engine/spec/config.ts';
import { listConnectorIds } from '../../engine/spec/registry.ts';
import { migrateUp } from '../../engine/store/migrate.ts';
import { ServingStore } from '../../engine/store/serving-store.ts';
import { syncConnector } from '../../engine/sync/sync-connector.ts';
import type { ConnectorSpec } from '../../engine/types/connector.generated.ts';
import { clickhouseUrl } from '../../test/support/clickhouse.ts';
import { duckdbMentions } from '../../test/support/privacy-scan.ts';

const POSTBACK_CANARY = `CANARY-postback-${randomBytes(8).toString('hex')}`;

/** A value for a secret setting that its schema accepts and that occurs nowhere else. */
function canaryFor(id: string, prop: string, schema: { pattern?: string; minLength?: number; maxLength?: number }): string {
  const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
  const candidates = [`CANARY-${id}-${prop}-${hex(16)}`, `CANARY${hex(26)}`, hex(40), hex(32), randomUUID()];
  const fits = (v: string) => (!schema.pattern || new RegExp(schema.pattern, 'u').test(v)) && v.length >= (schema.minLength ?? 0) && v.length <= (schema.maxLength ?? Infinity);
  const v = candidates.find(fits);
  if (!v) throw new Error(`${id}.${prop}: no canary fits ${JSON.stringify(schema)}`);
  return v;
}

/** The sandbox folder copied with every original secret replaced by its canary (text files only). */
async function canarySandbox(from: string, to: string, replace: Array<[string, string]>): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const e of await readdir(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) { await canarySandbox(src, dst, replace); continue; }
    const buf = await readFile(src);
    if (buf.includes(0)) { await writeFile(dst, buf); continue; }
    let text = buf.toString('utf8');
    for (const [original, canary] of replace) text = text.split(original).join(canary);
    await writeFile(dst, text);
  }
}

describe('canary secrets never leave through the public API', () => {
  const canaries: string[] = [POSTBACK_CANARY];
  const seen: Array<[string, string]> = [];
  const apiLog: string[] = [];
  const syncLog: string[] = [];
  const events: string[] = [];
  let dir: string;
  let api: Api;
  let url: string;
  let store: ServingStore;
  let ch: { client: ClickHouseClient; database: string } | undefined;
  let ws: WebSocket | undefined;
  const synced: Record<string, string> = {};

  const capture = (into: string[]) => new Writable({ write(c, _e, cb) { into.push(String(c)); cb(); } });
  const record = (what: string, text: string) => { seen.push([what, text]); return text; };
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, { headers, redirect: 'manual' });
    return { status: res.status, text: record(`GET ${path}`, `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${await res.text()}`), res };
  };
  const gql = async (query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = { 'x-offerfeed-consent': 'affiliate' }) => {
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
    const text = record(`GraphQL ${query.slice(0, 60)}`, await res.text());
    return JSON.parse(text) as { data?: any; errors?: Array<{ message: string }> };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'offerfeed-canary-'));
    const path = join(dir, 'offerfeed.duckdb');
    const chUrl = clickhouseUrl();
    const database = `canary_${randomBytes(6).toString('hex')}`;
    await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: chUrl ? { url: chUrl, database } : null, feedTest: false });
    store = await ServingStore.open(path);
    if (chUrl) ch = { client: clickhouseClient({ url: chUrl, database }), database };
    const bus = new LocalEventBus();
    // One redactor for the process, as when `serve` runs the syncs: it learns each connector's secrets as they are resolved.
    const redactor = new Redactor();
    api = await buildApi({
      config: { ...defaultApiConfig(), port: 0, pollMs: 200, exportIntervalMs: 300, logLevel: 'debug', logRequests: true, postbacks: { alpha: { secret: POSTBACK_CANARY, auth: 'token' } }, rateLimit: { max: 100_000, timeWindowMs: 60_000 } },
      storePath: path, bus, redactor, logger: createLogger({ redactor, level: 'debug', destination: capture(apiLog) }),
      clickhouse: ch ? { client: ch.client, target: { database } } : undefined,
    });
    url = await api.app.listen({ host: '127.0.0.1', port: 0 });
    await api.start();

    // Live changes are API responses too: a subscriber with affiliate consent hears every sync below.
    ws = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      ws!.once('error', reject);
      ws!.once('open', () => ws!.send(JSON.stringify({ type: 'connection_init', payload: { consent: 'affiliate' } })));
      ws!.on('message', (raw) => {
        const m = JSON.parse(String(raw));
        if (m.type === 'connection_ack') {
          ws!.send(JSON.stringify({ id: 'c', type: 'subscribe', payload: { query: 'subscription { offerChanged { op run_id offer { id network external_id title url landing_url image_url merchant_id merchant_name coupon_code tags categories attributes } } }' } }));
          ws!.send(JSON.stringify({ id: 'r', type: 'subscribe', payload: { query: 'subscription { syncRunFinished { id connector status counts { new quarantined api_calls } } }' } }));
          setTimeout(resolve, 100);
        } else events.push(String(raw));
      });
    });

    for (const id of listConnectorIds()) {
      const sb = await loadSandbox(id);
      const spec = sb.spec as ConnectorSpec;
      const values: Record<string, unknown> = { ...sb.config };
      const replace: Array<[string, string]> = [];
      for (const key of secretKeys(spec)) {
        const canary = canaryFor(id, key, (spec.config?.properties?.[key] ?? {}) as { pattern?: string });
        if (typeof sb.config[key] === 'string' && sb.config[key]) replace.push([sb.config[key] as string, canary]);
        values[key] = canary;
        canaries.push(canary);
      }
      const sbDir = join(dir, 'sandboxes', id);
      await canarySandbox(sb.dir, sbDir, replace);
      const definition = parseYaml(await readFile(join(sbDir, 'routes.yaml'), 'utf8')) as SandboxDefinition;
      const server = await serveSandbox(spec, sbDir, definition, values, join(sbDir, 'config.json'));
      try {
        const config = await resolveConfig(spec, [{ name: 'canary', get: async () => values }], redactor);
        const outcome = await syncConnector({
          spec, config, redactor, store, logger: createLogger({ redactor, level: 'debug', destination: capture(syncLog) }), baseUrlOverride: server.url,
          pacingOverride: { concurrency: 4 }, retryOverride: { backoffMs: 5, maxBackoffMs: 50 }, onCommitted: announceCommits(bus),
        });
        synced[id] = outcome.result.status;
      } finally {
        await server.close();
      }
    }
    await new Promise((r) => setImmediate(r));
    await api.services.feed.idle();
  });

  after(async () => {
    ws?.close();
    await api?.app.close();
    store?.close();
    if (ch) {
      await ch.client.command({ query: `DROP DATABASE IF EXISTS \`${ch.database}\`` }).catch(() => undefined);
      await ch.client.close();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('every connector synced from its canary sandbox', () => {
    const ids = listConnectorIds();
    assert.equal(Object.keys(synced).length, ids.length);
    assert.deepEqual(Object.entries(synced).filter(([, st]) => st !== 'succeeded'), [], 'every run succeeded with the canary credentials');
    assert.ok(canaries.length > 20, `${canaries.length} canaries`);
    assert.ok(api.services.index.size > 100, `${api.services.index.size} public offers`);
  });

  test('REST: every page, every offer, search, top, networks, operations endpoints', async () => {
    for (const consent of [{ 'x-offerfeed-consent': 'affiliate,analytics' }, {}] as Array<Record<string, string>>) {
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r = await get(`/api/offers/latest?limit=100&group=false${cursor ? `&cursor=${cursor}` : ''}`, consent);
        assert.equal(r.status, 200);
        const body = JSON.parse(r.text.slice(r.text.indexOf('\n\n') + 2)) as { items: Array<{ id: string }>; next_cursor: string | null };
        if (Object.keys(consent).length) for (const o of body.items) await get(`/api/offers/${o.id}`, consent);
        cursor = body.next_cursor;
        pages++;
      } while (cursor && pages < 50);
      for (const q of ['deal', 'software', 'kettle', 'coupon', 'hotel', 'pro', 'the']) await get(`/api/offers/search?q=${q}&limit=100&highlight=true`, consent);
      await get('/api/offers/top?limit=100', consent);
    }
    for (const p of ['/api/networks', '/readyz', '/healthz', '/metrics', '/docs/json', '/api/offers/latest?sort=changed&limit=100']) await get(p);
  });

  test('GraphQL: offers with every field, networks, runs, top offers; subscription events', async () => {
    const all = 'id network external_id kind title description url landing_url image_url merchant_id merchant_name price sale_price currency coupon_code categories countries languages tags payout { type amount currency percent } starts_at expires_at attributes click_url status';
    let after: string | null = null;
    do {
      const r: any = await gql(`query($a: String) { offers(first: 100, after: $a, group: false) { edges { node { ${all} } } pageInfo { hasNextPage endCursor } } }`, { a: after });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      after = r.data.offers.pageInfo.hasNextPage ? r.data.offers.pageInfo.endCursor : null;
    } while (after);
    await gql('{ networks { id name status health paused last_success_at last_run { id connector mode status complete started_at finished_at duration_ms counts { new updated quarantined api_calls pages records } } offers { public active } } }');
    await gql('{ syncRuns(first: 100) { edges { node { id connector mode status complete counts { new quarantined api_calls } } } } }');
    await gql(`{ topOffers(first: 100) { score node { ${all} } } }`);
    assert.ok(events.length > 100, `${events.length} subscription messages`);
    for (const e of events) record('subscription event', e);
  });

  test('errors: a failing resolver, a failing route, client errors', async () => {
    const s = api.services;
    const leaky = canaries.find((c) => c.startsWith('CANARY-awin')) ?? canaries[1];
    const originalRuns = s.queries.syncRuns;
    const originalNetworks = s.networks;
    s.queries.syncRuns = async () => { throw new Error(`upstream rejected token ${leaky} (HTTP 401)`); };
    s.networks = async () => { throw Object.assign(new Error(`connector config ${JSON.stringify({ api_token: leaky })}`), { statusCode: undefined }); };
    try {
      const r = await gql('{ syncRuns { edges { cursor } } }');
      assert.equal(r.errors?.[0].message, 'internal error');
      const n = await gql('{ networks { id } }');
      assert.equal(n.errors?.[0].message, 'internal error');
      const rest = await get('/api/networks');
      assert.equal(rest.status, 500);
    } finally {
      s.queries.syncRuns = originalRuns;
      s.networks = originalNetworks;
    }
    await gql('{ offers(filter: { minPrice: "x" }) { edges { cursor } } }');
    await gql('{ nosuch }');
    await get('/api/offers/latest?limit=1000');
    await get('/api/postbacks/alpha?transaction_id=T&token=wrong');
    await get('/api/offers/0000000000000000');
  });

  test('privacy export of a visitor who clicked and converted', async () => {
    const consent = await fetch(`${url}/api/privacy/consent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ purposes: ['affiliate', 'analytics'] }) });
    const cookie = consent.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const page = JSON.parse((await get('/api/offers/latest?limit=30&group=false', { cookie })).text.split('\n\n').slice(1).join('\n\n')) as { items: Array<{ id: string }> };
    for (const o of page.items.slice(0, 20)) await get(`/go/${o.id}`, { cookie });
    await get(`/api/postbacks/alpha?transaction_id=canary-T1&token=${POSTBACK_CANARY}&commission=1`);
    await api.services.exporter.flush();
    const exp = await get('/api/privacy/export', { cookie });
    assert.equal(exp.status, 200);
    assert.ok(JSON.parse(exp.text.split('\n\n').slice(1).join('\n\n')).clicks.length >= 10);
  });

  test('no canary in any response, event, error or API log line', () => {
    assert.ok(seen.length > 50, `${seen.length} responses`);
    const leaks: string[] = [];
    for (const c of canaries) {
      for (const [what, text] of seen) if (text.includes(c)) leaks.push(`${c} in ${what}`);
      for (const line of [...apiLog, ...syncLog]) if (line.includes(c)) leaks.push(`${c} in log: ${line.slice(0, 200)}`);
    }
    assert.deepEqual(leaks.slice(0, 20), []);
    assert.ok(apiLog.some((l) => /internal|failed/.test(l)), 'the failing resolver and route were logged (redacted)');
    console.log(`# canary secrets: ${canaries.length}; responses searched: ${seen.length}; API log lines: ${apiLog.length}; sync log lines: ${syncLog.length}`);
  });

  test('at rest: no canary in any table of the serving store', async () => {
    const hits = await duckdbMentions(join(dir, 'offerfeed.duckdb'), canaries.filter((c) => c !== POSTBACK_CANARY));
    assert.deepEqual(hits, []);
  });
});
