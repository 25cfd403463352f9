// OAuth failures against a real token endpoint and API on 127.0.0.1: a token that expires mid-sync is renewed
// exactly once for all concurrent partitions; `invalid_grant` stops the run at once, marks the connector as
// needing re-authentication in the store, keeps the scheduler from running it, and `offerfeed secrets set`
// (the real CLI, another process) or new credentials in the environment lift the mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { startServer, json, type SeenRequest } from '../../test/support/http-server.ts';
import { runYaml, quietLogger } from '../../test/support/run.ts';
import { freshStore } from '../../test/support/store.ts';
import { parseSpec } from '../spec/loader.ts';
import { createLogger } from '../log/logger.ts';
import { Redactor } from '../log/redact.ts';
import { resolveConfig } from '../spec/config.ts';
import { AdminStore } from '../store/admin-store.ts';
import { ServingStore } from '../store/serving-store.ts';
import { SecretStore } from '../store/secrets.ts';
import { all, closeDuckDB } from '../store/duckdb.ts';
import { Scheduler } from '../scheduler/scheduler.ts';
import { syncConnector } from '../sync/sync-connector.ts';
import { credentialFingerprint } from './reauth.ts';

const BIN = new URL('../../bin/offerfeed.js', import.meta.url).pathname;
const CANARY = 'CANARY-refresh-5d2f8a61';
const MASTER_KEY = randomBytes(32).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

const specText = (base: string, extra = '') => `dsl: 1
id: oauthy
name: OAuthy
kind: affiliate-network
base_url: ${base}
schedule: { interval: 200ms }
config:
  type: object
  required: [client_id, refresh_token]
  properties:
    client_id: { type: string }
    refresh_token: { type: string, x-secret: true }
    country: { type: string, default: US }
auth:
  type: oauth2
  token_url: ${base}/oauth/token
  grant_type: refresh_token
  client_id: "{{ $config.client_id }}"
  params: { refresh_token: "{{ $config.refresh_token }}" }
retry: { attempts: 5 }
streams:
  - name: items
    kind: product
    partitions: { name: shop, values: [s1, s2, s3, s4, s5, s6], concurrency: 3 }
    request: { path: /items, query: { shop: "{{ $partition.shop }}" } }
    records: items
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": $partition.shop & "-" & $string(id), "title": "Item " & $string(id), "url": "https://shop.example/" & $partition.shop & "/" & $string(id)}'
${extra}`;

/** A token endpoint (refresh-token grant) and a paged API that accepts only the tokens it issued and did not revoke. */
function oauthUpstream(o: { acceptRefresh: Set<string>; pages?: number; delayMs?: number }) {
  const state = {
    issued: 0, tokenCalls: 0, dataCalls: 0, unauthorized: 0,
    valid: new Set<string>(),
    revokeAfterDataCalls: Infinity,
    /** The refresh token was revoked upstream: every grant from now on is refused. */
    grantRevoked: false,
  };
  const handler = async (req: SeenRequest, res: Parameters<Parameters<typeof startServer>[0]>[1]) => {
    if (req.url.pathname === '/oauth/token') {
      state.tokenCalls++;
      const form = new URLSearchParams(req.body);
      if (state.grantRevoked || !o.acceptRefresh.has(form.get('refresh_token') ?? '')) {
        // RFC 6749 5.2; some servers echo what they were sent, which must never reach a log.
        return json(res, 400, { error: 'invalid_grant', error_description: `refresh token ${form.get('refresh_token')} is expired or revoked` });
      }
      const token = `at-${++state.issued}-${randomBytes(4).toString('hex')}`;
      state.valid.add(token);
      return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
    }
    state.dataCalls++;
    if (state.dataCalls === state.revokeAfterDataCalls) state.valid.clear();
    // The token is checked when the answer is ready: requests in flight when it is revoked are refused too.
    if (o.delayMs) await sleep(o.delayMs);
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!state.valid.has(token)) { state.unauthorized++; return json(res, 401, { error: 'invalid_token' }); }
    const page = Number(req.url.searchParams.get('page'));
    json(res, 200, { items: page <= (o.pages ?? 3) ? [{ id: page }] : [] });
  };
  return { state, handler };
}

test('a token expiring mid-sync is renewed exactly once for all concurrent partitions, and every refused request is retried', async () => {
  const up = oauthUpstream({ acceptRefresh: new Set([CANARY]), delayMs: 40 });
  const srv = await startServer(up.handler);
  // After 7 data requests the upstream forgets the token: partitions have requests in flight at that moment.
  up.state.revokeAfterDataCalls = 7;
  try {
    const r = await runYaml(specText(srv.url), { baseUrl: srv.url, config: { client_id: 'cid', refresh_token: CANARY } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.equal(r.offers.length, 6 * 3, 'every page of every partition');
    assert.equal(new Set(r.offers.map((x) => x.external_id)).size, 18);
    assert.equal(up.state.issued, 2, 'one token, then exactly one shared refresh');
    assert.equal(up.state.tokenCalls, 2);
    assert.ok(up.state.unauthorized >= 2, `several concurrent requests were refused with the expired token (${up.state.unauthorized}), yet one refresh served them all`);
    // Each partition: 3 pages + the empty one ends it; each refused request is sent once more.
    assert.equal(up.state.dataCalls, 6 * 4 + up.state.unauthorized);
    assert.ok(!r.logs.includes(CANARY));
  } finally { await srv.close(); }
});

test('invalid_grant at the first token request: no retry, no data request, a clear error, no secret', async () => {
  const up = oauthUpstream({ acceptRefresh: new Set() });
  const srv = await startServer(up.handler);
  try {
    const started = performance.now();
    const r = await runYaml(specText(srv.url), { baseUrl: srv.url, config: { client_id: 'cid', refresh_token: CANARY }, retryOverride: { backoffMs: 200, maxBackoffMs: 2000 } });
    assert.equal(r.result.status, 'failed');
    assert.equal(up.state.tokenCalls, 1, 'the token endpoint is asked once, by one of three concurrent partitions, never again');
    assert.equal(up.state.dataCalls, 0);
    // Retrying would wait 200 + 400 + 800 + 1600 ms at least.
    assert.ok(performance.now() - started < 2000, 'no backoff was waited for');
    assert.match(r.result.error!, /refused the connector's credentials \(invalid_grant: refresh token \[REDACTED\] is expired or revoked\)/);
    assert.match(r.result.error!, /needs re-authentication: store new credentials with `offerfeed secrets set oauthy <setting>`/);
    assert.ok(r.result.reauth);
    assert.ok(!r.logs.includes(CANARY) && !r.result.error!.includes(CANARY));
  } finally { await srv.close(); }
});

test('invalid_grant when renewing mid-sync: the run stops at once, nothing is committed, the connector is marked', async () => {
  const up = oauthUpstream({ acceptRefresh: new Set([CANARY]), delayMs: 10 });
  const srv = await startServer(up.handler);
  const { store } = await freshStore();
  try {
    const spec = parseSpec(specText(srv.url));
    const redactor = new Redactor();
    const config = await resolveConfig(spec, [{ name: 'test', get: async () => ({ client_id: 'cid', refresh_token: CANARY }) }], redactor);
    const first = await syncConnector({ spec, config, redactor, logger: quietLogger(), store, retryOverride: { backoffMs: 1, maxBackoffMs: 5 } });
    assert.equal(first.result.status, 'succeeded', first.result.error);
    const before = await all(store.conn, 'SELECT external_id, title, version FROM offers ORDER BY 1');

    // The upstream revokes the grant: the access token dies mid-run and the renewal is refused.
    up.state.revokeAfterDataCalls = up.state.dataCalls + 5;
    up.state.grantRevoked = true;
    const calls = { token: up.state.tokenCalls, data: up.state.dataCalls };
    const second = await syncConnector({ spec, config, redactor, logger: quietLogger(), store, retryOverride: { backoffMs: 1, maxBackoffMs: 5 } });
    assert.equal(second.result.status, 'failed');
    assert.equal(up.state.tokenCalls - calls.token, 1, 'one renewal attempt, refused, never repeated');
    // Requests in flight when the token died (at most the 3 concurrent partitions) end; nothing new starts.
    assert.ok(up.state.dataCalls - calls.data <= 5 + 3, `data requests after the refusal: ${up.state.dataCalls - calls.data - 5}`);
    assert.deepEqual(await all(store.conn, 'SELECT external_id, title, version FROM offers ORDER BY 1'), before);
    const mark = await store.needsReauth('oauthy');
    assert.ok(mark);
    assert.equal(mark.run_id, second.runId);
    assert.match(mark.reason, /invalid_grant/);
    assert.ok(!JSON.stringify(mark).includes(CANARY));
  } finally { await srv.close(); store.close(); }
});

function cli(args: string[], env: Record<string, string>, stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function schedulerOn(path: string, spec: string, configSources?: ConstructorParameters<typeof Scheduler>[0]['configSources']) {
  const admin = await AdminStore.open(path);
  const scheduler = new Scheduler({
    storePath: path, admin, logger: (r) => createLogger({ redactor: r, level: 'silent' }),
    connectorIds: () => ['oauthy'], loadSpec: async () => parseSpec(spec),
    minIntervalMs: 50, jitterMs: 0, progressEveryMs: 0, backoff: { baseMs: 50, maxMs: 100 },
    runOptions: () => ({ retryOverride: { backoffMs: 1, maxBackoffMs: 5 } }),
    configSources,
  });
  return { admin, scheduler, async close() { await scheduler.stop({ abortRunning: true }); admin.close(); } };
}

test('needs re-authentication: the scheduler stops running the connector until `offerfeed secrets set` stores new credentials', async () => {
  const previousKey = process.env.OFFERFEED_MASTER_KEY;
  process.env.OFFERFEED_MASTER_KEY = MASTER_KEY;
  const up = oauthUpstream({ acceptRefresh: new Set(['rt-new-7f3a']) });
  const srv = await startServer(up.handler);
  const { store, dir, path } = await freshStore();
  const connectors = await mkdtemp(join(tmpdir(), 'offerfeed-reauth-'));
  const spec = specText(srv.url);
  await mkdir(join(connectors, 'oauthy'));
  await writeFile(join(connectors, 'oauthy', 'connector.yaml'), spec);
  try {
    await new SecretStore(store).set('oauthy', 'refresh_token', CANARY);
    store.close();
    const previousClientId = process.env.OFFERFEED_OAUTHY_CLIENT_ID;
    process.env.OFFERFEED_OAUTHY_CLIENT_ID = 'cid';
    try {
      let s = await schedulerOn(path, spec);
      await s.scheduler.start();
      await waitFor(() => s.scheduler.connectorStatus('oauthy')!.state === 'needs_reauth', 10_000, 'the first run marks the connector');
      // Every 200 ms it would run; with backoff 50 ms a failing connector would be retried several times.
      await sleep(1000);
      let st = s.scheduler.connectorStatus('oauthy')!;
      assert.equal(st.state, 'needs_reauth', JSON.stringify(st));
      assert.equal(st.next_run_at, null, 'no run is planned');
      assert.match(st.problem!, /invalid_grant/);
      assert.equal(up.state.tokenCalls, 1, 'one run, one refused grant, then nothing');
      assert.equal(up.state.dataCalls, 0);
      await assert.rejects(s.scheduler.runNow('oauthy'), /cannot run: .*needs re-authentication/);
      await s.scheduler.refresh();
      assert.equal(s.scheduler.connectorStatus('oauthy')!.state, 'needs_reauth', 'the mark is in the store, not only in memory');
      await s.close();
      await closeDuckDB(path);

      // Another process stores the new refresh token.
      const set = await cli(['secrets', 'set', 'oauthy', 'refresh_token'], { OFFERFEED_DATA_DIR: dirname(path), OFFERFEED_MASTER_KEY: MASTER_KEY, OFFERFEED_CONNECTORS_DIR: connectors }, 'rt-new-7f3a\n');
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /stored oauthy\.refresh_token \(it no longer needs re-authentication/);
      assert.ok(!set.stdout.includes('rt-new-7f3a') && !set.stderr.includes('rt-new-7f3a'));
      const check = await ServingStore.open(path);
      assert.equal(await check.needsReauth('oauthy'), undefined, 'secrets set lifted the mark');
      check.close();

      s = await schedulerOn(path, spec);
      await s.scheduler.start();
      await waitFor(() => s.scheduler.connectorStatus('oauthy')!.last_status === 'succeeded', 10_000, 'a run with the new credentials');
      st = s.scheduler.connectorStatus('oauthy')!;
      assert.ok(['scheduled', 'running', 'queued'].includes(st.state), JSON.stringify(st));
      assert.equal(st.last_status, 'succeeded', st.last_error ?? '');
      await s.close();
      await closeDuckDB(path);
      const after = await ServingStore.open(path);
      const [{ n }] = await all<{ n: number }>(after.conn, `SELECT count(*)::INTEGER AS n FROM offers WHERE network = 'oauthy' AND status = 'active'`);
      assert.equal(n, 18);
      after.close();
    } finally {
      if (previousClientId === undefined) delete process.env.OFFERFEED_OAUTHY_CLIENT_ID; else process.env.OFFERFEED_OAUTHY_CLIENT_ID = previousClientId;
    }
  } finally {
    await srv.close();
    await closeDuckDB(path);
    if (previousKey === undefined) delete process.env.OFFERFEED_MASTER_KEY; else process.env.OFFERFEED_MASTER_KEY = previousKey;
    void dir;
  }
});

test('needs re-authentication is lifted when the credentials change anywhere (the environment), not by unrelated settings', async () => {
  const up = oauthUpstream({ acceptRefresh: new Set(['rt-env-2']) });
  const srv = await startServer(up.handler);
  const { store, path } = await freshStore();
  const spec = specText(srv.url);
  let values: Record<string, unknown> = { client_id: 'cid', refresh_token: 'rt-env-1' };
  try {
    await store.markNeedsReauth('oauthy', { reason: 'invalid_grant', fingerprint: credentialFingerprint(parseSpec(spec), values) });
    const s = await schedulerOn(path, spec, () => [{ name: 'env', get: async () => values }]);
    try {
      await s.scheduler.refresh();
      assert.equal(s.scheduler.connectorStatus('oauthy')!.state, 'needs_reauth');
      values = { ...values, country: 'DE' };
      await s.scheduler.refresh();
      assert.equal(s.scheduler.connectorStatus('oauthy')!.state, 'needs_reauth', 'another setting changed, the credentials did not');
      values = { ...values, refresh_token: 'rt-env-2' };
      await s.scheduler.refresh();
      assert.equal(s.scheduler.connectorStatus('oauthy')!.state, 'scheduled');
      assert.equal(await store.needsReauth('oauthy'), undefined);
      const run = await s.scheduler.runNow('oauthy');
      const summary = await run.done;
      assert.equal(summary.status, 'succeeded', summary.error);
    } finally { await s.close(); }
  } finally { await srv.close(); store.close(); }
});
