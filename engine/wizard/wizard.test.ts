import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freshStore } from '../../test/support/store.ts';
import { startServer, json, type TestServer } from '../../test/support/http-server.ts';
import { createLogger } from '../log/logger.ts';
import { AdminStore } from '../store/admin-store.ts';
import { SecretStore } from '../store/secrets.ts';
import { all } from '../store/duckdb.ts';
import { projectRoot } from '../spec/registry.ts';
import { Scheduler } from '../scheduler/scheduler.ts';
import { fetchSample, previewMapping, saveConnector, SaveError, type WizardDraft } from './wizard.ts';
import { DraftError } from './draft.ts';
import { SsrfError, type NetworkPolicy } from './ssrf.ts';

const API_KEY = 'live-key-9f8e7d6c5b4a';
const CLIENT_SECRET = 'oauth-secret-0a1b2c3d4e';
let network: TestServer;
let internal: TestServer;
let connectors: string;
const saved = { dir: process.env.OFFERFEED_CONNECTORS_DIR, key: process.env.OFFERFEED_MASTER_KEY };

const items = (key: string) => [
  { offerId: 5001, name: 'Café Crème Deluxe &amp; Co', desc: '<p>Rich <b>roast</b>, 1 kg</p>', link: 'https://roaster.example/p/5001', trackingLink: `https://click.network.example/c/5001?aff_id=77&token=${key}`, image: 'https://cdn.roaster.example/5001.jpg', price: '$1,299.00', currency: 'USD', merchant: { id: 9, name: 'Roaster Ltd' }, category: 'Coffee', validUntil: '2030-01-31' },
  { offerId: 5002, name: '日本茶 Sencha', desc: 'Green tea', link: 'https://roaster.example/p/5002', trackingLink: 'https://click.network.example/c/5002?aff_id=77', image: 'https://cdn.roaster.example/5002.png', price: '12,50 €', currency: 'EUR', merchant: { id: 9, name: 'Roaster Ltd' }, category: 'Tea', validUntil: '2030-06-30' },
  { offerId: 5003, name: 'Grinder', desc: 'Burr grinder', link: 'https://roaster.example/p/5003', trackingLink: 'https://click.network.example/c/5003?aff_id=77', image: 'https://cdn.roaster.example/5003.webp', price: 89, currency: 'USD', merchant: { id: 10, name: 'Mills Inc' }, category: 'Equipment', validUntil: '2030-03-01' },
  { offerId: 5004, name: '', desc: 'A draft without a title', link: 'https://roaster.example/p/5004', trackingLink: 'https://click.network.example/c/5004?aff_id=77', image: 'https://cdn.roaster.example/5004.jpg', price: 3, currency: 'USD', merchant: { id: 9, name: 'Roaster Ltd' }, category: 'Coffee', validUntil: '2030-03-01' },
];
const tokens = new Set<string>();

before(async () => {
  internal = await startServer((_req, res) => json(res, 200, { token: 'internal' }));
  network = await startServer((req, res) => {
    if (req.url.pathname === '/oauth/token') {
      const form = new URLSearchParams(req.body);
      if (form.get('client_id') !== 'wizard-client' || form.get('client_secret') !== CLIENT_SECRET) return json(res, 401, { error: 'invalid_client' });
      const t = `tok-${tokens.size + 1}`;
      tokens.add(t);
      return json(res, 200, { access_token: t, token_type: 'bearer', expires_in: 3600 });
    }
    if (req.url.pathname === '/v2/offers') {
      if (req.headers['x-api-key'] !== API_KEY) return json(res, 401, { error: 'bad key' });
      const page = Number(req.url.searchParams.get('page'));
      return json(res, 200, { meta: { page, total: 4 }, data: { items: page === 1 ? items(API_KEY) : [] } });
    }
    if (req.url.pathname === '/feeds/deals.csv') {
      if (!tokens.has(String(req.headers.authorization).replace('Bearer ', ''))) return json(res, 401, { error: 'no token' });
      res.writeHead(200, { 'content-type': 'text/csv' });
      return res.end('deal_id;title;url;coupon_code;expires\nD1;Ten off;https://shop.example/d1;SAVE10;2030-05-01\nD2;Free shipping;https://shop.example/d2;SHIPFREE;2030-06-01\n');
    }
    json(res, 404, { error: 'no route' });
  });
  connectors = await mkdtemp(join(tmpdir(), 'offerfeed-wizard-connectors-'));
  process.env.OFFERFEED_CONNECTORS_DIR = connectors;
  process.env.OFFERFEED_MASTER_KEY = 'a'.repeat(64);
});

after(async () => {
  await network.close();
  await internal.close();
  await rm(connectors, { recursive: true, force: true });
  for (const [k, v] of [['OFFERFEED_CONNECTORS_DIR', saved.dir], ['OFFERFEED_MASTER_KEY', saved.key]] as const) {
    if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
});

const allowNetwork = (): NetworkPolicy => ({ allowHosts: [`127.0.0.1:${new URL(network.url).port}`] });

const draft = (over: Partial<WizardDraft> = {}): WizardDraft => ({
  id: 'roastnet', name: 'RoastNet', base_url: `${network.url}/v2`,
  auth: { type: 'api_key', in: 'header', name: 'X-Api-Key', value: API_KEY },
  request: { path: '/offers' },
  pagination: { type: 'page_number', page_param: 'page', size_param: 'per_page', page_size: 50 },
  ...over,
});

test('the wizard turns a sample from an allow-listed server into a connector whose contract test and first run pass', async () => {
  // Without the allow-list the loopback server is refused, like any internal address.
  await assert.rejects(fetchSample(draft(), { policy: {} }), SsrfError);

  // The operator's allow-list setting opens the local server (and nothing else).
  process.env.OFFERFEED_WIZARD_ALLOW_HOSTS = `127.0.0.1:${new URL(network.url).port}`;
  const sample = await fetchSample(draft()).finally(() => { delete process.env.OFFERFEED_WIZARD_ALLOW_HOSTS; });
  assert.equal(sample.ok, true);
  assert.equal(sample.status, 200);
  assert.ok(!sample.text.includes(API_KEY), 'the sample text shown to the admin carries the API key');
  const d = sample.detection!;
  assert.equal(d.format, 'json');
  assert.equal(d.records, 'data.items');
  assert.equal(d.count, 4);
  const p = sample.proposal!;
  const target = Object.fromEntries(p.fields.map((f) => [f.target, f.source]));
  assert.deepEqual(target, {
    external_id: 'offerId', title: 'name', description: 'desc', url: 'trackingLink', landing_url: 'link', image_url: 'image',
    merchant_id: 'merchant.id', merchant_name: 'merchant.name', price: 'price', currency: 'currency', categories: 'category', expires_at: 'validUntil',
  });
  assert.equal(p.kind, 'product');
  assert.deepEqual(p.missing, []);

  const withMap = draft({ map: p.map, stream: { kind: p.kind } });
  const preview = await previewMapping(withMap, sample);
  assert.equal(preview.records, 4);
  assert.equal(preview.offers.length, 3);
  assert.equal(preview.errors.length, 1);
  assert.equal(preview.errors[0].external_id, '5004');
  assert.ok(preview.errors[0].reasons.some((r) => r.field === 'title'));
  const cafe = preview.offers.find((o) => o.external_id === '5001')!;
  assert.equal(cafe.title, 'Café Crème Deluxe & Co');
  assert.equal(cafe.description, 'Rich roast, 1 kg');
  assert.equal(cafe.price, 1299);
  assert.equal(cafe.currency, 'USD');
  assert.equal(cafe.landing_url, 'https://roaster.example/p/5001');
  assert.equal(preview.offers.find((o) => o.external_id === '5002')!.price, 12.5);

  const { store, dir, path } = await freshStore();
  const admin = await AdminStore.open(path);
  const secrets = new SecretStore(store);
  try {
    const result = await saveConnector(withMap, sample, { secrets });
    assert.equal(result.contract?.ok, true, JSON.stringify(result.contract));
    assert.equal(result.offers, 3);
    assert.equal(result.quarantined, 1);
    assert.deepEqual(result.secrets, ['api_key']);
    // The key is nowhere in the connector's files; the sandbox has invented credentials.
    const folder = join(connectors, 'roastnet');
    for (const f of await listFiles(folder)) assert.ok(!(await readFile(f, 'utf8')).includes(API_KEY), `${f} contains the API key`);
    const yaml = await readFile(join(folder, 'connector.yaml'), 'utf8');
    assert.match(yaml, /value: "\{\{ \$config\.api_key \}\}"/);
    assert.match(yaml, /x-secret: true/);
    const cfg = JSON.parse(await readFile(join(folder, 'sandbox/config.json'), 'utf8'));
    assert.match(cfg.api_key, /^sbx_[0-9a-f]{32}$/);
    assert.ok((await readFile(join(folder, 'sandbox/sample-page-1.json'), 'utf8')).includes(`token=${cfg.api_key}`), 'the echoed key was not replaced by the sandbox key');
    assert.deepEqual(await secrets.getAll('roastnet'), { api_key: API_KEY });
    // The CLI agrees: `offerfeed connectors test roastnet` passes.
    const cli = await promisify(execFile)(process.execPath, [join(projectRoot, 'bin/offerfeed.js'), 'connectors', 'test', 'roastnet'], { env: { ...process.env }, cwd: projectRoot });
    assert.match(cli.stdout, /^PASS roastnet \(3 expected offers\)/);
    // A second save of the same id is refused.
    await assert.rejects(saveConnector(withMap, sample, { secrets }), (e: Error) => e instanceof SaveError && e.status === 409);
    // Overwriting with a version that fails its contract test keeps the working one.
    await assert.rejects(saveConnector({ ...withMap, map: withMap.map!.replace('"title": name', '"title": $string($random())') }, sample, { secrets, overwrite: true }), /contract test/);
    assert.equal(await readFile(join(folder, 'connector.yaml'), 'utf8'), yaml);
    assert.deepEqual((await readdir(connectors)).filter((f) => f.startsWith('.')), []);

    // First run: the scheduler reads the key from the secret store and imports the offers from the network.
    const scheduler = new Scheduler({ storePath: path, admin, logger: (r) => createLogger({ redactor: r, level: 'silent' }) });
    const run = await (await scheduler.runNow('roastnet', { actor: 'alice' })).done;
    await scheduler.stop();
    assert.equal(run.status, 'succeeded', run.error);
    assert.equal(run.counts?.new, 3);
    assert.equal(run.counts?.quarantined, 1);
    const rows = await all<{ external_id: string }>(store.conn, `SELECT external_id FROM offers WHERE network = 'roastnet' AND status = 'active' ORDER BY 1`);
    assert.deepEqual(rows.map((r) => r.external_id), ['5001', '5002', '5003']);
  } finally {
    admin.close();
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('OAuth2 drafts: the token request is guarded too, and a CSV feed becomes a coupon connector', async () => {
  const oauth = (tokenUrl: string): WizardDraft => ({
    id: 'dealfeed', name: 'Deal Feed', base_url: network.url, kind: 'feed',
    auth: { type: 'oauth2', token_url: tokenUrl, client_id: 'wizard-client', client_secret: CLIENT_SECRET },
    request: { path: '/feeds/deals.csv' },
  });
  // The token endpoint is an admin-supplied URL: pointing it at an internal host is refused before any request.
  await assert.rejects(fetchSample(oauth(`${internal.url}/token`), { policy: allowNetwork() }), SsrfError);
  await assert.rejects(fetchSample(oauth('http://169.254.169.254/latest/api/token'), { policy: allowNetwork() }), /metadata/);
  assert.equal(internal.requests.length, 0);

  const sample = await fetchSample(oauth(`${network.url}/oauth/token`), { policy: allowNetwork() });
  assert.equal(sample.status, 200);
  assert.equal(sample.detection?.format, 'csv');
  assert.deepEqual(sample.detection?.decoder, { format: 'csv', csv: { delimiter: ';' } });
  assert.equal(sample.proposal?.kind, 'coupon');
  const { store, dir } = await freshStore();
  try {
    const result = await saveConnector({ ...oauth(`${network.url}/oauth/token`), map: sample.proposal!.map, stream: { kind: 'coupon' } }, sample, { secrets: new SecretStore(store) });
    assert.equal(result.contract?.ok, true, JSON.stringify(result.contract));
    const yaml = await readFile(join(connectors, 'dealfeed', 'connector.yaml'), 'utf8');
    assert.ok(!yaml.includes(CLIENT_SECRET));
    assert.ok(!yaml.includes('wizard-client'), 'the client id belongs in the settings too');
    assert.deepEqual(await new SecretStore(store).getAll('dealfeed'), { client_id: 'wizard-client', client_secret: CLIENT_SECRET });
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('drafts that would leak a credential into the spec are refused, and a failing save leaves nothing behind', async () => {
  await assert.rejects(fetchSample(draft({ request: { path: '/offers', query: { apikey: API_KEY } } }), { policy: allowNetwork() }), DraftError);
  await assert.rejects(fetchSample(draft({ request: { path: `/offers/${API_KEY}` } }), { policy: allowNetwork() }), /appears elsewhere/);
  await assert.rejects(fetchSample(draft({ base_url: 'file:///etc' }), { policy: allowNetwork() }), /base_url: file: URLs are refused/);
  const sample = await fetchSample(draft(), { policy: allowNetwork() });
  const { store, dir } = await freshStore();
  try {
    // A map that yields no valid offer is not saved.
    await assert.rejects(saveConnector(draft({ id: 'broken', map: '{ "external_id": $string(offerId) }' }), sample, { secrets: new SecretStore(store) }), /no valid offer/);
    assert.equal(existsSync(join(connectors, 'broken')), false);
    // A map that does not match the sandbox's expectations fails the contract test: folder removed, no secret stored.
    await assert.rejects(saveConnector(draft({ id: 'broken', map: '{ "external_id": $string(offerId), "title": name, "url": link, "description": $string($millis()) }' }), sample, { secrets: new SecretStore(store) }),
      (e: Error) => e instanceof SaveError && /contract test/.test(e.message));
    assert.equal(existsSync(join(connectors, 'broken')), false);
    assert.deepEqual((await readdir(connectors)).filter((f) => f.startsWith('.')), []);
    assert.deepEqual(await new SecretStore(store).names('broken'), []);
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...await listFiles(join(dir, e.name)));
    else out.push(join(dir, e.name));
  }
  return out;
}
