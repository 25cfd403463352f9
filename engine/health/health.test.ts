import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { freshStore } from '../../test/support/store.ts';
import { startServer, json, type TestServer } from '../../test/support/http-server.ts';
import { createLogger } from '../log/logger.ts';
import { Redactor } from '../log/redact.ts';
import { parseSpec } from '../spec/loader.ts';
import { AdminStore } from '../store/admin-store.ts';
import { SecretStore } from '../store/secrets.ts';
import { run } from '../store/duckdb.ts';
import { runContractTest } from '../sandbox/contract.ts';
import { startSandbox } from '../sandbox/server.ts';
import { emitterPublisher } from '../scheduler/events.ts';
import { AlertNotifier, addWebhookChannel, notifierFromSettings, SIGNATURE_HEADER, verifyPayload, type AlertMessage } from './notify.ts';
import { HealthMonitor, type HealthOptions } from './monitor.ts';

interface Mail { from: string; to: string[]; raw: string }
let smtp: SMTPServer;
let smtpPort: number;
const mails: Mail[] = [];
let hooks: TestServer;
const WEBHOOK_SECRET = 'whsec_test_0123456789';
let connectors: string;
const saved = { dir: process.env.OFFERFEED_CONNECTORS_DIR, key: process.env.OFFERFEED_MASTER_KEY };

before(async () => {
  smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: String(session.envelope.mailFrom && session.envelope.mailFrom.address), to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  smtpPort = (smtp.server.address() as { port: number }).port;
  hooks = await startServer((_req, res) => json(res, 200, { ok: true }));
  connectors = await mkdtemp(join(tmpdir(), 'offerfeed-health-connectors-'));
  process.env.OFFERFEED_CONNECTORS_DIR = connectors;
  process.env.OFFERFEED_MASTER_KEY = 'c'.repeat(64);
});

after(async () => {
  await new Promise<void>((r) => smtp.close(() => r()));
  await hooks.close();
  await rm(connectors, { recursive: true, force: true });
  for (const [k, v] of [['OFFERFEED_CONNECTORS_DIR', saved.dir], ['OFFERFEED_MASTER_KEY', saved.key]] as const) {
    if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
});

const notifier = () => new AlertNotifier({
  webhooks: [{ id: 'ops', url: `${hooks.url}/alerts`, secret: WEBHOOK_SECRET }],
  email: { transport: { host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true }, from: 'OfferFeed <alerts@offerfeed.test>', to: ['ops@example.test'] },
  policy: { allowHosts: [`127.0.0.1:${new URL(hooks.url).port}`] },
  dashboardUrl: 'https://feed.example.test/admin/offers-feed',
});

const simpleSpec = (id: string) => parseSpec(`dsl: 1
id: ${id}
name: ${id}
kind: feed
base_url: https://api.${id}.example
streams:
  - name: offers
    kind: product
    request: { path: /offers }
    map: '{ "external_id": id, "title": name, "url": link }'
`);

async function setup(ids: string[], extra: Partial<HealthOptions> = {}) {
  const { store, dir, path } = await freshStore();
  const admin = await AdminStore.open(path);
  const events = emitterPublisher();
  const topics: string[] = [];
  events.emitter.on('*', (e: { topic: string }) => topics.push(e.topic));
  const n = extra.notifier ?? notifier();
  const monitor = new HealthMonitor({
    storePath: path, admin, events, notifier: n, logger: createLogger({ redactor: new Redactor(), level: 'silent' }),
    connectorIds: () => ids, loadSpec: async (id) => simpleSpec(id), ...extra,
  });
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString().replace('T', ' ').replace('Z', '');
  const addRun = async (connector: string, status: string, startedHoursAgo: number, error?: string) => {
    await run(store.conn, `INSERT INTO sync_runs (id, connector, mode, status, started_at, finished_at, error) VALUES ($id, $c, 'full', $s, $t, $t, $e)`,
      { id: `${connector}-${Math.random().toString(36).slice(2)}`, c: connector, s: status, t: hoursAgo(startedHoursAgo), e: error ?? null });
  };
  return {
    store, admin, monitor, topics, addRun,
    async close() { await monitor.stop(); n.close(); admin.close(); store.close(); await rm(dir, { recursive: true, force: true }); },
  };
}

const hookBodies = () => hooks.requests.map((r) => JSON.parse(r.body) as AlertMessage);

test('a stale feed produces exactly one webhook call and one e-mail; recovery resolves it (and says so once)', async () => {
  hooks.requests.length = 0;
  mails.length = 0;
  const t = await setup(['ghostnet', 'livenet', 'newnet']);
  try {
    await t.addRun('ghostnet', 'succeeded', 26);
    await t.addRun('ghostnet', 'failed', 2, 'HTTP 500 from https://api.ghostnet.example/offers');
    await t.addRun('livenet', 'succeeded', 1);
    for (let i = 0; i < 3; i++) await t.monitor.check();
    assert.equal(hooks.requests.length, 1, 'webhook calls');
    assert.equal(mails.length, 1, 'e-mails received by the SMTP server');
    const [hook] = hooks.requests;
    assert.equal(hook.method, 'POST');
    assert.equal(hook.headers['x-offerfeed-event'], 'alert.raised');
    assert.ok(verifyPayload(hook.body, String(hook.headers[SIGNATURE_HEADER]), WEBHOOK_SECRET), 'bad webhook signature');
    assert.equal(verifyPayload(hook.body.replace('ghostnet', 'ghostnex'), String(hook.headers[SIGNATURE_HEADER]), WEBHOOK_SECRET), false);
    const msg = hookBodies()[0];
    assert.equal(msg.alert.key, 'ghostnet:stale');
    assert.equal(msg.alert.severity, 'critical');
    assert.match(msg.alert.message, /no successful run for 26 h/);
    assert.equal(msg.dashboard_url, 'https://feed.example.test/admin/offers-feed');
    assert.deepEqual(mails[0].to, ['ops@example.test']);
    assert.match(mails[0].raw, /Subject: \[OfferFeed\] ALERT ghostnet: stale/);
    assert.match(mails[0].raw, /HTTP 500 from https:\/\/api\.ghostnet\.example\/offers/);

    const open = await t.admin.listAlerts({ open: true });
    assert.deepEqual(open.map((a) => a.key), ['ghostnet:stale']);
    assert.equal((open[0].notify_result as Array<{ ok: boolean }>).every((d) => d.ok), true);
    const health = await t.monitor.health();
    assert.deepEqual(health.map((h) => [h.connector, h.stale]), [['ghostnet', true], ['livenet', false], ['newnet', false]]);

    // The feed recovers: the alert resolves by itself, one "resolved" message each.
    await t.addRun('ghostnet', 'succeeded', 0);
    const r = await t.monitor.check('ghostnet');
    assert.deepEqual(r.resolved.map((a) => a.key), ['ghostnet:stale']);
    assert.equal(r.open, 0);
    assert.equal(hooks.requests.length, 2);
    assert.equal(hookBodies()[1].type, 'alert.resolved');
    assert.equal(hookBodies()[1].alert.resolved_by, 'system: recovered');
    assert.equal(mails.length, 2);
    assert.match(mails[1].raw, /RESOLVED ghostnet/);
    await t.monitor.check();
    assert.equal(hooks.requests.length, 2);
    assert.deepEqual(t.topics, ['health.alert', 'health.resolved']);
    const history = await t.admin.listAlerts({ open: false });
    assert.equal(history.length, 1);
    assert.ok(history[0].resolved_at);
  } finally { await t.close(); }
});

test('repeated failures raise one "failing" alert; paused feeds and manual resolution; webhooks to internal hosts are refused', async () => {
  hooks.requests.length = 0;
  mails.length = 0;
  const t = await setup(['flaky'], { failuresToAlert: 3 });
  try {
    await t.addRun('flaky', 'succeeded', 5);
    await t.addRun('flaky', 'failed', 3, 'timeout');
    await t.addRun('flaky', 'failed', 2, 'timeout');
    assert.equal((await t.monitor.check()).raised.length, 0);
    await t.addRun('flaky', 'failed', 1, 'HTTP 401 from https://api.flaky.example/offers: bad key');
    const r = await t.monitor.check();
    assert.deepEqual(r.raised.map((a) => [a.key, a.severity]), [['flaky:failing', 'warning']]);
    assert.match(r.raised[0].message, /3 failed runs since the last success: HTTP 401/);
    await t.monitor.check();
    assert.equal(hooks.requests.length, 1);
    // An admin closes it; it comes back while the problem lasts (a new occurrence, notified once more).
    const closed = await t.monitor.resolve('flaky:failing', 'alice');
    assert.equal(closed?.resolved_by, 'alice');
    await t.monitor.check();
    assert.equal((await t.admin.listAlerts({ open: true })).length, 1);
    // Pausing a connector ends its run-history alerts.
    await t.admin.upsertConnectorSettings('flaky', { paused: true }, 'alice');
    await t.monitor.check();
    assert.equal((await t.admin.listAlerts({ open: true })).length, 0);
  } finally { await t.close(); }

  // Webhook destinations pass the SSRF guard like any admin-supplied URL.
  const internal = new AlertNotifier({ webhooks: [{ id: 'x', url: 'http://169.254.169.254/latest/meta-data/', secret: 's' }, { id: 'y', url: `${hooks.url}/alerts`, secret: 's' }], policy: {} });
  const deliveries = await internal.notify({ type: 'alert.raised', alert: { id: 1, key: 'k', connector: null, kind: 'stale', severity: 'critical', message: 'm', details: null, first_seen_at: '', last_seen_at: '', resolved_at: null, resolved_by: null }, sent_at: '' });
  assert.deepEqual(deliveries.map((d) => d.ok), [false, false]);
  assert.match(deliveries[0].error!, /metadata/);
  assert.match(deliveries[1].error!, /loopback/);
  assert.equal(deliveries[0].attempts, 1);
});

test('admin-configured channels: a webhook gets its own signing secret; settings come from the environment too', async () => {
  const { store, dir, path } = await freshStore();
  const admin = await AdminStore.open(path);
  const secrets = new SecretStore(store);
  try {
    const { id, secret } = await addWebhookChannel(admin, secrets, `${hooks.url}/team`, 'alice');
    assert.match(secret, /^whsec_/);
    const env = { OFFERFEED_SMTP_URL: `smtp://127.0.0.1:${smtpPort}/?ignoreTLS=true`, OFFERFEED_ALERT_EMAIL_TO: 'a@example.test, b@example.test', OFFERFEED_PUBLIC_URL: 'https://feed.example.test/' };
    const n = await notifierFromSettings(admin, secrets, env);
    assert.deepEqual(n.config.webhooks, [{ id, url: `${hooks.url}/team`, secret }]);
    assert.deepEqual(n.config.email?.to, ['a@example.test', 'b@example.test']);
    assert.equal(n.config.dashboardUrl, 'https://feed.example.test/admin/offers-feed');
    n.close();
    await assert.rejects(notifierFromSettings(admin, secrets, { OFFERFEED_ALERT_WEBHOOKS: 'https://hooks.example.test/x' }), /always signed/);
  } finally { admin.close(); store.close(); await rm(dir, { recursive: true, force: true }); }
});

test('daily self-test: contract test and live probe per connector, alerts raised and resolved from their results', async () => {
  // A small connector with a sandbox, in a temporary connectors folder.
  const folder = join(connectors, 'minifeed');
  await mkdir(join(folder, 'sandbox'), { recursive: true });
  await writeFile(join(folder, 'connector.yaml'), `dsl: 1
id: minifeed
name: Mini Feed
kind: feed
config:
  type: object
  required: [api_key]
  properties:
    api_key: { type: string, x-secret: true }
base_url: https://api.minifeed.example
auth: { type: api_key, in: header, name: X-Key, value: "{{ $config.api_key }}" }
streams:
  - name: offers
    kind: product
    request: { path: /offers }
    records: items
    map: '{ "external_id": $string(id), "title": name, "url": link }'
`);
  await writeFile(join(folder, 'sandbox/routes.yaml'), 'config: config.json\nroutes:\n  - path: /offers\n    body_file: offers.json\n');
  await writeFile(join(folder, 'sandbox/config.json'), '{ "api_key": "sbx_minifeed_key" }\n');
  await writeFile(join(folder, 'sandbox/offers.json'), JSON.stringify({ items: [{ id: 1, name: 'One', link: 'https://shop.example/1' }, { id: 2, name: 'Two', link: 'https://shop.example/2' }] }));
  assert.equal((await runContractTest('minifeed', { update: true })).ok, true);
  const expected = await readFile(join(folder, 'sandbox/expected.ndjson'), 'utf8');

  const sandbox = await startSandbox('minifeed');
  const broken = await startServer((_req, res) => json(res, 500, { error: 'down' }));
  let probeTarget = sandbox.url;
  hooks.requests.length = 0;
  const t = await setup(['minifeed'], {
    loadSpec: undefined, probeRunOptions: () => ({ baseUrlOverride: probeTarget, retryOverride: { backoffMs: 1, maxBackoffMs: 5 } }),
  });
  try {
    // No settings configured: contract test only.
    let [r] = await t.monitor.selfTest();
    assert.equal(r.contract.ok, true, r.contract.problems.join('\n'));
    assert.equal(r.probe.skipped, true);
    // Credentials set (here through the secret store): the probe runs one page against the live API.
    await new SecretStore(t.store).set('minifeed', 'api_key', 'sbx_minifeed_key');
    [r] = await t.monitor.selfTest();
    assert.deepEqual([r.probe.ok, r.probe.skipped, r.probe.offers, r.probe.pages], [true, false, 2, 1]);
    assert.equal(hooks.requests.length, 0);

    // The API breaks and the sandbox drifts: one alert each, notified once.
    probeTarget = broken.url;
    await writeFile(join(folder, 'sandbox/expected.ndjson'), expected.replace('"One"', '"Uno"'));
    [r] = await t.monitor.selfTest();
    assert.equal(r.contract.ok, false);
    assert.equal(r.probe.ok, false);
    await t.monitor.selfTest();
    const open = await t.admin.listAlerts({ open: true });
    assert.deepEqual(open.map((a) => a.key).sort(), ['minifeed:contract', 'minifeed:probe']);
    assert.match(open.find((a) => a.kind === 'probe')!.message, /HTTP 500/);
    assert.equal(hooks.requests.length, 2);
    assert.ok(!JSON.stringify(open).includes('sbx_minifeed_key'), 'the credential leaked into an alert');

    // Both recover at the next self-test.
    probeTarget = sandbox.url;
    await writeFile(join(folder, 'sandbox/expected.ndjson'), expected);
    await t.monitor.selfTest();
    assert.equal((await t.admin.listAlerts({ open: true })).length, 0);
    const checks = await t.admin.latestHealthChecks();
    assert.deepEqual(checks.map((c) => [c.kind, c.ok, c.skipped]), [['contract', true, false], ['probe', true, false]]);
    assert.ok(t.monitor.nextSelfTestAt());
  } finally {
    await t.close();
    await sandbox.close();
    await broken.close();
  }
});
