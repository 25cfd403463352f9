// The admin web app in headless Chromium against the real feed: sandbox connectors (awin, cj) synced by the
// scheduler, the admin API, the event stream. Logs in, checks the overview's counts against the store, starts
// "sync now" and watches its progress and result arrive without a reload, rolls the run back, browses offers,
// creates a connector with the wizard from a local "network" and follows its first run, and checks that a viewer
// cannot act. Screenshots of every page go to test-artifacts/admin/ (not committed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { publicAlert } from '../../engine/health/notify.ts';
import { all } from '../../engine/store/duckdb.ts';
import { ADMIN, VIEWER, startAdminStack, type AdminStack } from '../../test/support/admin-stack.ts';
import { json, startServer, type TestServer } from '../../test/support/http-server.ts';

const CHROMIUM = process.env.OFFERFEED_CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (Debian: apt-get install -y chromium; or set OFFERFEED_CHROMIUM)`;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = join(ROOT, 'test-artifacts', 'admin');
const CONNECTORS = ['awin', 'cj'];

const API_KEY = 'ui-live-key-7c4e1a9b2d';
const DEALS = [
  { id: 'D-1', headline: 'Ten percent off espresso machines', link: 'https://beans.example/d/1', code: 'BEAN10', ends: '2031-01-31', store: 'Beans & Co' },
  { id: 'D-2', headline: 'Free grinder with any subscription', link: 'https://beans.example/d/2', code: 'GRIND', ends: '2031-02-28', store: 'Beans & Co' },
  { id: 'D-3', headline: '', link: 'https://beans.example/d/3', code: 'EMPTY', ends: '2031-03-31', store: 'Beans & Co' },
];

describe('admin web app in Chromium', { skip, timeout: 300_000 }, () => {
  const env = { dir: process.env.OFFERFEED_CONNECTORS_DIR, key: process.env.OFFERFEED_MASTER_KEY };
  let network: TestServer;
  let connectorsDir: string;
  let s: AdminStack;
  let browser: Browser;
  let page: Page;
  let base: string;
  let ids = [...CONNECTORS];
  /** The wizard's "network" answers HTTP 500 while this is set (a failing feed to drill into). */
  let networkDown = false;
  /** Connectors whose runs are paced slowly, so a test can watch a run in progress. */
  const slow = new Set<string>();
  const pageErrors: string[] = [];

  const shot = (p: Page, name: string, fullPage = true) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
  const byId = (p: Page, id: string) => p.getByTestId(id);
  const statusCounts = async () => {
    const rows = await all<{ status: string; n: number }>(s.host.store.conn, 'SELECT status, count(*)::INTEGER AS n FROM offers GROUP BY status');
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) as Record<string, number>;
  };

  async function newPage(): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => pageErrors.push(e.message));
    return p;
  }

  async function login(p: Page, user: { name: string; password: string }) {
    await p.goto(`${base}/admin/offers-feed`);
    await byId(p, 'login-name').fill(user.name);
    await byId(p, 'login-password').fill(user.password);
    await byId(p, 'login-submit').click();
    await byId(p, 'nav-user').waitFor();
  }

  /** Navigates inside the app (no page load), as a user clicking the top navigation. */
  async function nav(p: Page, id: string, pageId = id) {
    await byId(p, `nav-${id}`).click();
    await byId(p, `page-${pageId}`).waitFor();
  }

  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    network = await startServer((req, res) => {
      if (networkDown) return json(res, 500, { error: 'maintenance' });
      if (req.headers['x-api-key'] !== API_KEY) return json(res, 401, { error: 'bad key' });
      const n = Number(req.url.searchParams.get('page') ?? 1);
      return json(res, 200, { result: { deals: n === 1 ? DEALS : [] }, page: n });
    });
    // The wizard writes connectors/<id>/: a scratch copy of the connectors this test uses keeps the tree clean.
    connectorsDir = await mkdtemp(join(tmpdir(), 'offerfeed-admin-ui-'));
    for (const id of CONNECTORS) await cp(join(ROOT, 'connectors', id), join(connectorsDir, id), { recursive: true });
    process.env.OFFERFEED_CONNECTORS_DIR = connectorsDir;
    process.env.OFFERFEED_MASTER_KEY = 'c'.repeat(64);
    s = await startAdminStack({
      connectors: CONNECTORS,
      connectorIds: () => ids,
      wizardPolicy: { allowHosts: [`127.0.0.1:${new URL(network.url).port}`] },
      feed: {
        scheduler: {
          runOptions: (id: string) => ({
            ...(s?.host.sandboxes?.url(id) ? { baseUrlOverride: s.host.sandboxes.url(id) } : {}),
            retryOverride: { backoffMs: 1, maxBackoffMs: 5 },
            ...(slow.has(id) ? { pacingOverride: { requests: 3, concurrency: 1 } } : {}),
          }),
        } as never,
      },
    });
    base = s.url;
    for (const id of CONNECTORS) await (await s.host.scheduler.runNow(id, { actor: 'test' })).done;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    page = await newPage();
  });

  after(async () => {
    await browser?.close();
    await s?.close();
    await network?.close();
    if (connectorsDir) await rm(connectorsDir, { recursive: true, force: true });
    for (const [k, v] of [['OFFERFEED_CONNECTORS_DIR', env.dir], ['OFFERFEED_MASTER_KEY', env.key]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  test('logs in (a wrong password is refused) and the overview shows the store\'s counts', async () => {
    await page.goto(`${base}/admin/offers-feed`);
    await byId(page, 'login-form').waitFor();
    assert.match(page.url(), /\/admin\/offers-feed\/login$/);
    await byId(page, 'login-name').fill(ADMIN.name);
    await byId(page, 'login-password').fill('not-the-password');
    await byId(page, 'login-submit').click();
    await byId(page, 'error-banner').waitFor();
    assert.match(await byId(page, 'error-banner').innerText(), /wrong name or password/i);
    await shot(page, 'login');

    await byId(page, 'login-password').fill(ADMIN.password);
    await byId(page, 'login-submit').click();
    await byId(page, 'page-overview').waitFor();
    assert.equal(await byId(page, 'nav-user').innerText(), ADMIN.name);
    assert.equal(await byId(page, 'nav-role').textContent(), 'admin');
    await page.waitForSelector('[data-testid=live-status][data-state=open]');

    const counts = await statusCounts();
    assert.ok((counts.active ?? 0) > 0, 'the sandbox sync imported offers');
    for (const [tile, status] of [['live', 'active'], ['expired', 'expired'], ['inactive', 'inactive'], ['hidden', 'hidden']]) {
      assert.equal(await byId(page, `tile-${tile}-value`).getAttribute('data-value'), String(counts[status] ?? 0), tile);
    }
    for (const id of CONNECTORS) {
      const [row] = await all<{ n: number }>(s.host.store.conn, `SELECT count(*)::INTEGER AS n FROM offers WHERE network = '${id}' AND status = 'active'`);
      assert.equal(await byId(page, `overview-live-${id}`).innerText(), String(row.n), id);
      assert.equal(await byId(page, `overview-run-status-${id}`).innerText(), 'succeeded');
    }
    await byId(page, 'chart-offers').locator('canvas').waitFor();
    await byId(page, 'chart-runs').locator('canvas').waitFor();
    await shot(page, 'overview');
  });

  test('"sync now" shows the run\'s progress and result live, without a reload; rollback asks first', async () => {
    await nav(page, 'networks');
    await page.evaluate(() => { (window as unknown as { marker: string }).marker = 'same page'; });
    const runsBefore = (await all<{ n: number }>(s.host.store.conn, `SELECT count(*)::INTEGER AS n FROM sync_runs WHERE connector = 'awin'`))[0].n;
    slow.add('awin');
    await byId(page, 'btn-sync-awin').click();
    await byId(page, 'info-banner').waitFor();
    await page.waitForSelector('[data-testid=job-progress-awin][data-state=running]', { timeout: 15_000 });
    await page.waitForFunction(() => /^[1-9]/.test(document.querySelector('[data-testid=job-pages-awin]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    assert.ok(await byId(page, 'btn-sync-awin').isDisabled(), 'no second run while one is going');
    await shot(page, 'networks-sync-running');
    await page.waitForSelector('[data-testid=job-progress-awin][data-state=idle]', { timeout: 60_000 });
    slow.delete('awin');
    await page.waitForFunction(() => document.querySelector('[data-testid=network-last-status-awin]')?.textContent === 'succeeded');
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: string }).marker), 'same page', 'the page was not reloaded');
    const runs = await all<{ id: string; status: string }>(s.host.store.conn, `SELECT id, status FROM sync_runs WHERE connector = 'awin' ORDER BY started_at DESC`);
    assert.equal(runs.length, runsBefore + 1);
    await shot(page, 'networks');

    await byId(page, 'network-link-awin').click();
    await byId(page, 'page-network').waitFor();
    const latest = runs[0].id;
    assert.equal(await byId(page, `run-status-${latest}`).innerText(), 'succeeded');
    await shot(page, 'network-awin');

    await page.locator(`[data-testid=run-row-${latest}] a`).first().click();
    await byId(page, 'page-run').waitFor();
    await byId(page, 'call-row-0').waitFor();
    await byId(page, 'quarantine-item-0').waitFor();
    assert.match(await byId(page, 'run-quarantine').innerText(), /title/);
    await shot(page, 'run');

    await byId(page, `btn-rollback-${latest}`).click();
    await byId(page, 'confirm-dialog').waitFor();
    await shot(page, 'run-rollback-confirm', false);
    await byId(page, 'confirm-ok').click();
    await page.waitForFunction(() => /rolled back/.test(document.querySelector('[data-testid=info-banner]')?.textContent ?? ''));
    await page.waitForFunction((id) => document.querySelector(`[data-testid=run-status-${id}]`)?.textContent === 'rolled back', latest);
    const [after] = await all<{ status: string }>(s.host.store.conn, `SELECT status FROM sync_runs WHERE id = '${latest}'`);
    assert.equal(after.status, 'rolled_back');
  });

  test('pause/resume and a schedule override, with the server\'s refusal of a bad value shown', async () => {
    await nav(page, 'networks');
    await byId(page, 'network-link-cj').click();
    await byId(page, 'page-network').waitFor();
    await byId(page, 'btn-pause-cj').click();
    await byId(page, 'pause-reason').fill('maintenance window');
    await byId(page, 'confirm-ok').click();
    await byId(page, 'btn-resume-cj').waitFor();
    assert.equal(await byId(page, 'network-state-cj').textContent(), 'paused');
    assert.equal(s.host.scheduler.connectorStatus('cj')?.paused_reason, 'maintenance window');
    await byId(page, 'btn-resume-cj').click();
    await byId(page, 'btn-pause-cj').waitFor();
    assert.equal(s.host.scheduler.connectorStatus('cj')?.paused, false);

    await byId(page, 'schedule-value-cj').fill('2h');
    await byId(page, 'btn-schedule-save-cj').click();
    await page.waitForFunction(() => /every 2h \(admin override\)/.test(document.querySelector('[data-testid=schedule-cj]')?.textContent ?? ''));
    await byId(page, 'schedule-value-cj').fill('banana');
    await byId(page, 'btn-schedule-save-cj').click();
    await byId(page, 'error-banner').waitFor();
    assert.match(await byId(page, 'error-banner').innerText(), /banana/);
    await byId(page, 'banner-dismiss').click();
    await byId(page, 'btn-schedule-reset-cj').click();
    await page.waitForFunction(() => !/override/.test(document.querySelector('[data-testid=schedule-cj]')?.textContent ?? ''));
    assert.equal(s.host.scheduler.connectorStatus('cj')?.schedule?.source !== 'override', true);
  });

  test('offers are searchable and an offer shows its source and history', async () => {
    await nav(page, 'offers');
    const total = Number(await byId(page, 'offers-total').getAttribute('data-value'));
    const [all_] = await all<{ n: number }>(s.host.store.conn, 'SELECT count(*)::INTEGER AS n FROM offers');
    assert.equal(total, all_.n);
    await byId(page, 'offers-network').selectOption('cj');
    await page.waitForFunction((t) => Number(document.querySelector('[data-testid=offers-total]')?.getAttribute('data-value')) < t, total);
    assert.match(page.url(), /network=cj/);
    await byId(page, 'offers-q').fill('Tent');
    await page.waitForFunction(() => /q=Tent/.test(location.search));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=offer-row-]').length > 0 && [...document.querySelectorAll('[data-testid^=offer-row-]')].every((r) => /tent/i.test(r.textContent ?? '')));
    await shot(page, 'offers');
    await page.locator('[data-testid^=offer-row-] a').first().click();
    await byId(page, 'page-offer').waitFor();
    assert.equal(await byId(page, 'offer-network').innerText(), 'cj');
    await byId(page, 'offer-history').locator('tbody tr').first().waitFor();
    await shot(page, 'offer');
  });

  test('an alert shows up live on the overview and an admin resolves it', async () => {
    await nav(page, 'overview');
    const { alert } = await s.host.admin.raiseAlert({ key: 'stale:cj', connector: 'cj', kind: 'stale', severity: 'warning', message: 'cj has not synced successfully for 26 h' });
    s.host.bus.publish('health.alert', publicAlert(alert));
    await byId(page, 'alert-stale:cj').waitFor({ timeout: 10_000 });
    assert.match(await byId(page, 'overview-alerts').innerText(), /not synced successfully/);
    await shot(page, 'overview-alert');
    await nav(page, 'alerts');
    await byId(page, 'btn-resolve-stale:cj').click();
    await byId(page, 'alert-stale:cj').waitFor({ state: 'detached' });
    assert.equal((await s.host.admin.listAlerts({ open: true })).length, 0);
    await byId(page, 'alerts-show-resolved').check();
    await byId(page, 'alert-stale:cj').waitFor();
    assert.match(await byId(page, 'alert-stale:cj').innerText(), /resolved .* by alice/);
    await shot(page, 'alerts');
  });

  test('the audit log lists the actions taken', async () => {
    await nav(page, 'audit');
    await page.waitForFunction(() => /rollback/.test(document.querySelector('[data-testid=page-audit]')?.textContent ?? ''));
    assert.match(await byId(page, 'page-audit').innerText(), /sync/);
    await shot(page, 'audit');
  });

  test('review queue: approve, edit inline, reject; another admin\'s decision shows up live', async () => {
    const services = s.host.services;
    assert.ok(services, 'the feed host runs enrichment');
    const [offer] = await all<{ id: string; content_hash: string }>(s.host.store.conn, `SELECT id, content_hash FROM offers WHERE network = 'cj' AND status = 'active' ORDER BY id LIMIT 1`);
    const [job] = await services.runner.enrichmentStore.listJobs({ limit: 1 });
    const copy = { summary: 'A tent for two that weighs little.', urgency_line: 'Only this week', cta: 'See the tent', language: 'en', source: 'ai', machine_generated: true };
    await services.runner.enrichmentStore.saveResults(job.id, [], [
      { offer_id: offer.id, content_hash: offer.content_hash, kind: 'copy', lang: 'en', proposed: copy, confidence: 0.42, reason: 'low confidence', model: 'test-model' },
      { offer_id: offer.id, content_hash: offer.content_hash, kind: 'translation', lang: 'de', proposed: { title: 'Zelt fuer zwei', summary: 'Leicht.' }, confidence: 0.8, reason: 'machine translation', model: 'test-model' },
      { offer_id: offer.id, content_hash: offer.content_hash, kind: 'translation', lang: 'fr', proposed: { title: 'Tente pour deux', summary: null }, confidence: 0.8, reason: 'machine translation', model: 'test-model' },
      { offer_id: offer.id, content_hash: offer.content_hash, kind: 'translation', lang: 'es', proposed: { title: 'Tienda para dos', summary: null }, confidence: 0.8, reason: 'machine translation', model: 'test-model' },
    ]);
    const pending = await services.reviews.list({ status: 'pending' });
    const id = (lang: string) => pending.find((r) => r.lang === lang)!.id;
    await nav(page, 'review');
    for (const lang of ['en', 'de', 'fr', 'es']) await byId(page, `review-item-${id(lang)}`).waitFor();
    await byId(page, 'enrichment-status').waitFor();
    await shot(page, 'review');

    await byId(page, `btn-approve-${id('en')}`).click();
    await byId(page, `review-item-${id('en')}`).waitFor({ state: 'detached' });

    await byId(page, `btn-edit-${id('de')}`).click();
    await byId(page, `review-edit-${id('de')}-title`).fill('Zelt für zwei Personen');
    await shot(page, 'review-edit');
    await byId(page, `btn-save-${id('de')}`).click();
    await byId(page, `review-item-${id('de')}`).waitFor({ state: 'detached' });

    await byId(page, `btn-reject-${id('fr')}`).click();
    await byId(page, `review-item-${id('fr')}`).waitFor({ state: 'detached' });

    // Decided elsewhere (another admin, a script): the open page follows over the event stream.
    const other = await s.login(ADMIN);
    assert.equal((await other.request('POST', `/admin/api/review/${id('es')}/approve`, {})).status, 200);
    await byId(page, `review-item-${id('es')}`).waitFor({ state: 'detached', timeout: 10_000 });

    const decided = Object.fromEntries((await Promise.all((['approved', 'edited', 'rejected'] as const).map((st) => services.reviews.list({ status: st }))))
      .flat().map((r) => [r.lang, { status: r.status, final: r.final }]));
    assert.equal(decided.en.status, 'approved');
    assert.equal(decided.de.status, 'edited');
    assert.equal((decided.de.final as { title: string }).title, 'Zelt für zwei Personen');
    assert.equal(decided.fr.status, 'rejected');
    assert.equal(decided.es.status, 'approved');

    await byId(page, 'review-state-edited').click();
    await page.waitForFunction((rid) => document.querySelector(`[data-testid=review-content-${rid}-title]`)?.textContent === 'Zelt für zwei Personen', id('de'));
  });

  test('the wizard builds a connector from a live sample and its first run imports the offers', async () => {
    await nav(page, 'wizard');
    await byId(page, 'wizard-id').fill('beansnet');
    await byId(page, 'wizard-name').fill('BeansNet');
    await byId(page, 'wizard-base-url').fill(`${network.url}/api`);
    await byId(page, 'wizard-kind').selectOption('coupon');
    await shot(page, 'wizard-1-basics');
    await byId(page, 'wizard-next').click();

    await byId(page, 'wizard-auth-type').selectOption('api_key');
    await byId(page, 'wizard-auth-in').selectOption('header');
    await byId(page, 'wizard-auth-name').fill('X-Api-Key');
    await byId(page, 'wizard-auth-value').fill(API_KEY);
    await byId(page, 'wizard-next').click();

    await byId(page, 'wizard-path').fill('/deals');
    await byId(page, 'wizard-pagination-type').selectOption('page_number');
    await byId(page, 'wizard-pagination-page_param').fill('page');
    assert.match(await byId(page, 'wizard-request-url').innerText(), /\/api\/deals/);
    await shot(page, 'wizard-3-request');
    await byId(page, 'wizard-next').click();

    await byId(page, 'wizard-fetch-sample').click();
    await byId(page, 'wizard-sample').waitFor();
    assert.equal(await byId(page, 'wizard-sample-status').innerText(), '200');
    assert.match(await byId(page, 'wizard-sample-text').innerText(), /espresso/);
    assert.ok(!(await page.content()).includes(API_KEY), 'the API key is not shown anywhere on the page');
    await shot(page, 'wizard-4-sample');
    await byId(page, 'wizard-next').click();

    assert.equal(await byId(page, 'wizard-records').inputValue(), 'result.deals');
    assert.equal(await byId(page, 'wizard-records-count').getAttribute('data-value'), '3');
    await shot(page, 'wizard-5-records');
    await byId(page, 'wizard-next').click();

    const proposed = await byId(page, 'wizard-map').inputValue();
    assert.match(proposed, /external_id/);
    await byId(page, 'wizard-proposal-coupon_code').waitFor();
    await shot(page, 'wizard-6-mapping');
    await byId(page, 'wizard-next').click();

    await page.waitForSelector('[data-testid=wizard-preview-offers-total][data-value="2"]');
    assert.equal(await byId(page, 'wizard-preview-errors-total').getAttribute('data-value'), '1');
    // Editing the mapping re-runs the preview; a syntax error is reported with its place.
    await byId(page, 'wizard-map').fill('{ "title": headline, ');
    await byId(page, 'wizard-map-error').waitFor();
    assert.match(await byId(page, 'wizard-map-error').innerText(), /line 1, column/);
    await byId(page, 'wizard-map').fill(proposed);
    await byId(page, 'wizard-map-error').waitFor({ state: 'detached' });
    await page.waitForSelector('[data-testid=wizard-preview-offers-total][data-value="2"]');
    await byId(page, 'wizard-preview-errors').waitFor();
    await shot(page, 'wizard-7-preview');
    await byId(page, 'wizard-next').click();

    ids = [...ids, 'beansnet'];
    await byId(page, 'wizard-save').click();
    await byId(page, 'wizard-saved').waitFor({ timeout: 30_000 });
    assert.match(await byId(page, 'wizard-saved-files').innerText(), /connector\.yaml/);
    const yaml = await byId(page, 'wizard-saved-yaml').innerText();
    assert.match(yaml, /id: beansnet/);
    assert.ok(!yaml.includes(API_KEY));
    await shot(page, 'wizard-8-saved');
    await byId(page, 'wizard-next').click();

    await page.waitForSelector('[data-testid=wizard-run-progress][data-state=finished]', { timeout: 30_000 });
    assert.equal(await byId(page, 'wizard-run-status').innerText(), 'succeeded');
    const rows = await all<{ external_id: string }>(s.host.store.conn, `SELECT external_id FROM offers WHERE network = 'beansnet' AND status = 'active' ORDER BY 1`);
    assert.deepEqual(rows.map((r) => r.external_id), ['D-1', 'D-2']);
    await shot(page, 'wizard-9-first-run');
    await byId(page, 'wizard-network-link').click();
    await byId(page, 'page-network').waitFor();
    await byId(page, 'network-state-beansnet').waitFor();
  });

  test('a failed run appears live and its drill-down shows the failing API calls', async () => {
    networkDown = true;
    try {
      await byId(page, 'btn-sync-beansnet').click();
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid^=run-status-]')].some((b) => b.textContent === 'failed'), undefined, { timeout: 30_000 });
    } finally {
      networkDown = false;
    }
    const [failed] = await all<{ id: string; error: string }>(s.host.store.conn, `SELECT id, error FROM sync_runs WHERE connector = 'beansnet' AND status = 'failed'`);
    assert.ok(failed, 'the failed run is recorded');
    await shot(page, 'network-failed-run');
    await page.locator(`[data-testid=run-row-${failed.id}] a`).first().click();
    await byId(page, 'page-run').waitFor();
    await byId(page, 'run-error').waitFor();
    await byId(page, 'call-row-0').waitFor();
    assert.match(await byId(page, 'call-row-0').innerText(), /500/);
    await shot(page, 'run-failed');
  });

  test('a viewer sees everything but cannot act; a 403 is shown as a message', async () => {
    const viewer = await newPage();
    await login(viewer, VIEWER);
    assert.equal(await byId(viewer, 'nav-role').textContent(), 'viewer');
    await byId(viewer, 'readonly-note').waitFor();
    await nav(viewer, 'networks');
    for (const b of ['btn-sync-awin', 'btn-resync-awin', 'btn-pause-awin']) assert.ok(await byId(viewer, b).isDisabled(), b);
    await shot(viewer, 'viewer-networks');
    // Even a button forced on gets the server's refusal, shown as a message.
    const runs = async () => (await all<{ n: number }>(s.host.store.conn, `SELECT count(*)::INTEGER AS n FROM sync_runs WHERE connector = 'awin'`))[0].n;
    const before = await runs();
    await viewer.$eval('[data-testid=btn-sync-awin]', (b) => { (b as HTMLButtonElement).disabled = false; });
    await byId(viewer, 'btn-sync-awin').click();
    await byId(viewer, 'error-banner').waitFor();
    assert.match(await byId(viewer, 'error-banner').innerText(), /not allowed/i);
    assert.equal(s.host.scheduler.connectorStatus('awin')?.job, undefined, 'no run queued');
    assert.equal(await runs(), before, 'no run started');
    await nav(viewer, 'wizard');
    await byId(viewer, 'wizard-forbidden').waitFor();
    await viewer.context().close();
  });

  test('logging out returns to the login page', async () => {
    await byId(page, 'btn-logout').click();
    await byId(page, 'login-form').waitFor();
    const me = await page.evaluate(async () => (await fetch('/admin/api/me')).status);
    assert.equal(me, 401);
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  });
});
