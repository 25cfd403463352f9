// The "Import New Network" wizard through the admin API: a sample fetched server-side from an allow-listed local
// network (internal addresses refused otherwise), records detected and a mapping proposed, a preview with the
// validation errors, an inline JSONata error reported with its position, save (spec + sandbox on disk, the
// credential only in the encrypted secret store) and the first run importing the offers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { all } from '../../engine/store/duckdb.ts';
import { startAdminStack, ADMIN, type AdminClient, type AdminStack } from '../../test/support/admin-stack.ts';
import { json, startServer, type TestServer } from '../../test/support/http-server.ts';
import { waitFor } from '../../test/support/api-stack.ts';

const API_KEY = 'wz-live-key-5b1e7c2d9a';
const saved = { dir: process.env.OFFERFEED_CONNECTORS_DIR, key: process.env.OFFERFEED_MASTER_KEY };

const deals = [
  { id: 'D-1', headline: 'Ten percent off espresso machines', link: 'https://beans.example/d/1', code: 'BEAN10', ends: '2031-01-31', store: 'Beans & Co' },
  { id: 'D-2', headline: 'Free grinder with any subscription', link: 'https://beans.example/d/2', code: 'GRIND', ends: '2031-02-28', store: 'Beans & Co' },
  { id: 'D-3', headline: '', link: 'https://beans.example/d/3', code: 'EMPTY', ends: '2031-03-31', store: 'Beans & Co' },
];

describe('admin wizard', () => {
  let network: TestServer;
  let connectors: string;
  let s: AdminStack;
  let admin: AdminClient;
  let ids: string[] = [];

  before(async () => {
    network = await startServer((req, res) => {
      if (req.headers['x-api-key'] !== API_KEY) return json(res, 401, { error: 'bad key' });
      const page = Number(req.url.searchParams.get('page') ?? 1);
      return json(res, 200, { result: { deals: page === 1 ? deals : [] }, page });
    });
    connectors = await mkdtemp(join(tmpdir(), 'offerfeed-admin-wizard-'));
    process.env.OFFERFEED_CONNECTORS_DIR = connectors;
    process.env.OFFERFEED_MASTER_KEY = 'b'.repeat(64);
    ids = [];
    s = await startAdminStack({
      connectorIds: () => ids,
      wizardPolicy: { allowHosts: [`127.0.0.1:${new URL(network.url).port}`] },
    });
    admin = await s.login(ADMIN);
  });

  after(async () => {
    await s?.close();
    await network?.close();
    await rm(connectors, { recursive: true, force: true });
    for (const [k, v] of [['OFFERFEED_CONNECTORS_DIR', saved.dir], ['OFFERFEED_MASTER_KEY', saved.key]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  const draft = (over: Record<string, unknown> = {}) => ({
    id: 'beansnet', name: 'BeansNet', base_url: `${network.url}/api`,
    auth: { type: 'api_key', in: 'header', name: 'X-Api-Key', value: API_KEY },
    request: { path: '/deals' }, pagination: { type: 'page_number', page_param: 'page' }, stream: { kind: 'coupon' },
    ...over,
  });

  test('refuses internal addresses that the allow-list does not open', async () => {
    for (const base of ['http://127.0.0.1:9/api', 'http://169.254.169.254/latest', 'http://[::1]:8080/', 'http://10.0.0.8/', 'http://2130706433/', 'file:///etc/passwd']) {
      const r = await admin.request('POST', '/admin/api/wizard/sample', { draft: draft({ base_url: base }) });
      assert.equal(r.status, 422, `${base}: ${JSON.stringify(r.body)}`);
      assert.ok(['ssrf', 'unprocessable'].includes(r.body.error), base);
    }
  });

  test('sample → detection and proposal → preview with errors → save → first run imports the offers', async () => {
    const sample = await admin.request('POST', '/admin/api/wizard/sample', { draft: draft() });
    assert.equal(sample.status, 200, JSON.stringify(sample.body));
    assert.equal(sample.body.status, 200);
    assert.ok(!JSON.stringify(sample.body).includes(API_KEY), 'the API key is shown back');
    assert.equal(sample.body.detection.records, 'result.deals');
    assert.equal(sample.body.detection.count, 3);
    const proposal = sample.body.proposal;
    const targets = Object.fromEntries(proposal.fields.map((f: { target: string; source: string }) => [f.target, f.source]));
    assert.equal(targets.external_id, 'id');
    assert.equal(targets.coupon_code, 'code');

    const broken = await admin.request('POST', '/admin/api/wizard/preview', { draft: draft({ map: '{ "title": headline, ', records: 'result.deals' }), sample_id: sample.body.sample_id });
    assert.equal(broken.status, 422);
    assert.equal(broken.body.error, 'map');
    assert.equal(typeof broken.body.position, 'number');

    const preview = await admin.request('POST', '/admin/api/wizard/preview', { draft: draft({ map: proposal.map }), sample_id: sample.body.sample_id });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.records, 3);
    assert.equal(preview.body.offers_total, 2);
    assert.equal(preview.body.errors_total, 1);
    assert.ok(preview.body.errors[0].reasons.some((r: { field: string }) => r.field === 'title'));

    const other = await s.login({ name: 'victor', password: 'victor-password-1' });
    assert.equal((await other.request('POST', '/admin/api/wizard/preview', { draft: draft({ map: proposal.map }), sample_id: sample.body.sample_id })).status, 403);

    const events: string[] = [];
    const off = s.host.bus.subscribe<{ connector: string; status?: string }>('sync.finished', (p) => { if (p.connector === 'beansnet') events.push(p.status ?? ''); });
    ids = ['beansnet'];
    const saveRes = await admin.request('POST', '/admin/api/wizard/save', { draft: draft({ map: proposal.map }), sample_id: sample.body.sample_id });
    assert.equal(saveRes.status, 201, JSON.stringify(saveRes.body));
    assert.deepEqual(saveRes.body.secrets, ['api_key']);
    assert.ok(saveRes.body.job?.jobId);
    for (const f of await readdir(join(connectors, 'beansnet'), { recursive: true })) {
      const p = join(connectors, 'beansnet', String(f));
      if (!p.endsWith('.yaml') && !p.endsWith('.json') && !p.endsWith('.md') && !p.endsWith('.ndjson')) continue;
      assert.ok(!(await readFile(p, 'utf8')).includes(API_KEY), `${f} carries the API key`);
    }
    await waitFor(() => events.length > 0, 20_000, 'the first run');
    off();
    assert.deepEqual(events, ['succeeded']);
    const rows = await all<{ external_id: string }>(s.host.store.conn, `SELECT external_id FROM offers WHERE network = 'beansnet' AND status = 'active' ORDER BY 1`);
    assert.deepEqual(rows.map((r) => r.external_id), ['D-1', 'D-2']);
    const audit = (await admin.request('GET', '/admin/api/audit?target=beansnet')).body as Array<{ action: string; details: unknown }>;
    assert.ok(audit.some((e) => e.action === 'wizard.save'));
    assert.ok(!JSON.stringify(audit).includes(API_KEY));
    const again = await admin.request('POST', '/admin/api/wizard/save', { draft: draft({ map: proposal.map }), sample_id: sample.body.sample_id });
    assert.equal(again.status, 409, 'an existing connector is not overwritten without asking');
  });

  test('a pasted sample works without any fetch', async () => {
    const pasted = JSON.stringify({ items: [{ sku: 'A1', name: 'Kettle', url: 'https://k.example/a1', price: '19.99', currency: 'EUR' }] });
    const r = await admin.request('POST', '/admin/api/wizard/sample', { draft: draft({ id: 'pastenet', base_url: 'https://api.pastenet.example', auth: { type: 'none' } }), pasted, content_type: 'application/json' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.detection.records, 'items');
    assert.equal(r.body.detection.count, 1);
  });
});
