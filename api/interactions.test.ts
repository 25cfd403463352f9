// Clicks, conversion postbacks and privacy requests over real HTTP, recorded in the real DuckDB file and a real
// ClickHouse server (the test run's, CLICKHOUSE_URL), database of its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { clickhouseClient } from '../engine/history/clickhouse/client.ts';
import { InteractionExporter } from '../engine/store/interaction-exporter.ts';
import { InteractionHistory } from '../engine/store/interaction-history.ts';
import { erasureKey, InteractionStore } from '../engine/store/interaction-store.ts';
import { CLICKHOUSE_UNAVAILABLE, clickhouseUrl } from '../test/support/clickhouse.ts';
import { item, startApiStack, waitFor, type ApiStack } from '../test/support/api-stack.ts';
import { clickhouseMentions, duckdbMentions } from '../test/support/privacy-scan.ts';

const ALPHA_SECRET = 'alpha-shared-secret-0123456789';
const BETA_SECRET = 'beta-hmac-key-0123456789abcdef';

async function go(s: ApiStack, id: string, headers: Record<string, string> = {}, query = '') {
  const res = await fetch(`${s.url}/go/${id}${query}`, { redirect: 'manual', headers });
  return { status: res.status, location: res.headers.get('location'), cookies: res.headers.getSetCookie(), body: res.status === 302 ? undefined : await res.json() as any };
}

const cookieHeader = (setCookies: string[]) => setCookies.map((c) => c.split(';')[0]).filter((c) => !c.endsWith('=')).join('; ');

async function offerId(s: ApiStack, network: string, externalId: string): Promise<string> {
  return String((await s.store.findOffer(network, externalId))!.id);
}

describe('clicks, postbacks and privacy', { skip: clickhouseUrl() ? false : CLICKHOUSE_UNAVAILABLE }, () => {
  let s: ApiStack;
  let history: InteractionHistory;
  const postback = (network: string, query: string, init: RequestInit = {}) => fetch(`${s.url}/api/postbacks/${network}?${query}`, init);

  before(async () => {
    s = await startApiStack({
      config: {
        clickIdParams: { alpha: 'subid' },
        countryHeader: 'cf-ipcountry',
        postbacks: { alpha: { secret: ALPHA_SECRET, auth: 'token' }, beta: { secret: BETA_SECRET, auth: 'hmac' } },
        rateLimit: { max: 100_000, timeWindowMs: 60_000 },
      },
    });
    history = s.clickhouse!.history;
    await s.sync('alpha', [item('a1'), item('a2', { landing_url: undefined }), item('a3', { url: 'https://shop.example/p/a3' }), item('a4')]);
    await s.sync('beta', [item('b1')]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
  });
  after(() => s?.close());

  test('click with consent: recorded in ClickHouse, redirected to the stored tracking URL carrying the click id', async () => {
    const id = await offerId(s, 'alpha', 'a1');
    const r = await go(s, id, { 'x-offerfeed-consent': 'affiliate,analytics', referer: 'https://blog.example/post?email=someone@example.com', 'cf-ipcountry': 'de' }, '?url=https://evil.example/');
    assert.equal(r.status, 302);
    const target = new URL(r.location!);
    assert.equal(`${target.origin}${target.pathname}`, 'https://track.example/c');
    assert.equal(target.searchParams.get('id'), 'a1', 'the stored URL, untouched but for the click id');
    const clickId = target.searchParams.get('subid')!;
    assert.match(clickId, /^[0-9a-f-]{36}$/);
    const uid = r.cookies.find((c) => c.startsWith('offerfeed_uid='));
    assert.match(uid ?? '', /HttpOnly/i);
    await waitFor(async () => (await history.clickCount(clickId)) === 1, 5000, 'the click row in ClickHouse');
    const rs = await s.clickhouse!.client.query({ query: 'SELECT offer_id, network, user_id, consent, referrer, country FROM clicks WHERE click_id = {c:String}', query_params: { c: clickId }, format: 'JSONEachRow' });
    const [row] = await rs.json<Record<string, unknown>>();
    assert.deepEqual(row, { offer_id: id, network: 'alpha', user_id: uid!.split(';')[0].split('=')[1], consent: ['affiliate', 'analytics'], referrer: 'https://blog.example/post', country: 'DE' });
  });

  test('click without consent: landing page, no user id; no landing page: 403; unknown, inactive or malformed: 404/400', async () => {
    const plain = await go(s, await offerId(s, 'alpha', 'a1'));
    assert.equal(plain.status, 302);
    assert.equal(plain.location, 'https://shop.example/p/a1');
    assert.deepEqual(plain.cookies, []);
    const direct = await go(s, await offerId(s, 'alpha', 'a3'));
    assert.equal(direct.location, 'https://shop.example/p/a3');
    const onlyTracking = await go(s, await offerId(s, 'alpha', 'a2'));
    assert.equal(onlyTracking.status, 403);
    assert.equal(onlyTracking.body.error, 'forbidden');
    assert.equal((await go(s, '0123456789abcdef', { 'x-offerfeed-consent': 'affiliate' })).status, 404);
    assert.equal((await go(s, '..%2F..%2Fevil', { 'x-offerfeed-consent': 'affiliate' })).status, 400);
    await s.sync('alpha', [item('a1'), item('a2', { landing_url: undefined }), item('a3', { url: 'https://shop.example/p/a3' })]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
    assert.equal((await go(s, await offerId(s, 'alpha', 'a4'), { 'x-offerfeed-consent': 'affiliate' })).status, 404, 'inactive offer');
  });

  test('postbacks: forged ones rejected, a replay counted once, linked to the click, updates kept as one conversion', async () => {
    const click = await go(s, await offerId(s, 'alpha', 'a1'), { 'x-offerfeed-consent': 'affiliate' });
    const clickId = new URL(click.location!).searchParams.get('subid')!;
    const q = `transaction_id=T1&click_id=${clickId}&amount=100&commission=7.5&currency=eur&status=pending`;
    for (const [query, headers] of [[q, {}], [`${q}&token=wrong`, {}], [q, { 'x-offerfeed-token': BETA_SECRET }], [`${q}&token=${ALPHA_SECRET.slice(0, -1)}`, {}]] as const) {
      const r = await postback('alpha', query, { headers });
      assert.equal(r.status, 401, query);
      assert.equal((await r.json() as any).error, 'unauthorized');
    }
    assert.equal((await postback('gamma', `${q}&token=${ALPHA_SECRET}`)).status, 404);
    const first = await postback('alpha', `${q}&token=${ALPHA_SECRET}`);
    assert.deepEqual(await first.json(), { status: 'recorded', transaction_id: 'T1', click_linked: true });
    for (let i = 0; i < 3; i++) {
      const again = await postback('alpha', q, { headers: { 'x-offerfeed-token': ALPHA_SECRET } });
      assert.equal((await again.json() as any).status, 'duplicate');
    }
    await s.api.services.exporter.flush();
    assert.equal(await history.conversionCount('alpha', 'T1'), 1);
    const raw = async () => Number((await (await s.clickhouse!.client.query({ query: `SELECT count() AS n FROM conversions WHERE transaction_id = 'T1'`, format: 'JSONEachRow' })).json<{ n: string }>())[0].n);
    assert.equal(await raw(), 1, 'no duplicate row, not even before merges');
    const approved = await postback('alpha', `${q.replace('pending', 'approved')}&token=${ALPHA_SECRET}`);
    assert.equal((await approved.json() as any).status, 'updated');
    await s.api.services.exporter.flush();
    assert.equal(await history.conversionCount('alpha', 'T1'), 1, 'still one conversion');
    const [conv] = await (await s.clickhouse!.client.query({ query: `SELECT status, offer_id, click_id, amount, currency FROM conversions FINAL WHERE transaction_id = 'T1'`, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    assert.deepEqual(conv, { status: 'approved', offer_id: await offerId(s, 'alpha', 'a1'), click_id: clickId, amount: 100, currency: 'EUR' });
    const bad = await postback('alpha', `token=${ALPHA_SECRET}&amount=1`);
    assert.equal(bad.status, 400, 'no transaction id');
  });

  test('HMAC postbacks: signed body or signed query accepted, tampered rejected', async () => {
    const body = JSON.stringify({ transaction_id: 'B-1', amount: 20, commission: 2, currency: 'USD' });
    const sig = createHmac('sha256', BETA_SECRET).update(body).digest('hex');
    const post = (b: string, signature: string) => fetch(`${s.url}/api/postbacks/beta`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-offerfeed-signature': `sha256=${signature}` }, body: b });
    assert.equal((await post(body.replace('20', '2000'), sig)).status, 401);
    assert.equal((await post(body, sig.replace(/^./, (c) => (c === '0' ? '1' : '0')))).status, 401);
    assert.equal((await post(body, 'zz')).status, 401);
    const ok = await post(body, sig);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'recorded', transaction_id: 'B-1', click_linked: false });
    const params = { transaction_id: 'B-2', commission: '1.5' };
    const canonical = Object.keys(params).sort().map((k) => `${k}=${encodeURIComponent((params as Record<string, string>)[k])}`).join('&');
    const qsig = createHmac('sha256', BETA_SECRET).update(canonical).digest('base64');
    const get = await fetch(`${s.url}/api/postbacks/beta?commission=1.5&transaction_id=B-2&signature=${encodeURIComponent(qsig)}`);
    assert.equal(get.status, 200);
    const tampered = await fetch(`${s.url}/api/postbacks/beta?commission=15&transaction_id=B-2&signature=${encodeURIComponent(qsig)}`);
    assert.equal(tampered.status, 401);
  });

  test('privacy: consent recorded, export returns everything about the caller, erase leaves nothing of them in either store', async () => {
    const consent = await fetch(`${s.url}/api/privacy/consent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ purposes: ['affiliate', 'analytics'] }) });
    assert.equal(consent.status, 200);
    const cookies = cookieHeader(consent.headers.getSetCookie());
    assert.match(cookies, /offerfeed_uid=[0-9a-f-]{36}/);
    assert.match(cookies, /offerfeed_consent=affiliate(,|%2C)analytics/);
    const uid = /offerfeed_uid=([0-9a-f-]{36})/.exec(cookies)![1];
    const clicks: string[] = [];
    for (const ext of ['a1', 'a3']) {
      const r = await go(s, await offerId(s, 'alpha', ext), { cookie: cookies });
      assert.equal(r.status, 302);
      assert.deepEqual(r.cookies, [], 'the existing id is reused');
      const sub = new URL(r.location!).searchParams.get('subid');
      if (sub) clicks.push(sub);
    }
    // The direct link (a3) carries no click id in its URL; the click is recorded all the same.
    const pb = await postback('alpha', `transaction_id=T9&click_id=${clicks[0]}&commission=3&token=${ALPHA_SECRET}`);
    assert.equal((await pb.json() as any).click_linked, true);
    await s.api.services.exporter.flush();
    const exp = await (await fetch(`${s.url}/api/privacy/export`, { headers: { cookie: cookies } })).json() as any;
    assert.equal(exp.user_id, uid);
    assert.equal(exp.clicks.length, 2);
    assert.ok(exp.clicks.every((c: any) => c.user_id === uid));
    assert.deepEqual(exp.conversions.map((c: any) => [c.transaction_id, c.user_id]), [['T9', uid]]);
    assert.deepEqual(exp.consents.map((c: any) => c.purposes), [['affiliate', 'analytics']]);
    const allClickIds = exp.clicks.map((c: any) => c.click_id);

    // A click after the flush exists only in DuckDB until the next one: erasure must catch it as well.
    await go(s, await offerId(s, 'alpha', 'a1'), { cookie: cookies });
    const before = await clickhouseMentions(s.clickhouse!.client, s.clickhouse!.database, [uid]);
    assert.ok(before.length > 0);
    const del = await fetch(`${s.url}/api/privacy/data`, { method: 'DELETE', headers: { cookie: cookies } });
    assert.equal(del.status, 200);
    const res = await del.json() as any;
    assert.equal(res.erased, true);
    assert.equal(res.clickhouse, 'erased');
    assert.equal(res.duckdb.clicks, 3);
    assert.match(del.headers.getSetCookie().join(';'), /offerfeed_uid=;/);
    await s.api.services.exporter.flush();

    assert.deepEqual(await duckdbMentions(join(s.dir, 'offerfeed.duckdb'), [uid, ...allClickIds]), [], 'nothing of the user in DuckDB');
    assert.deepEqual(await clickhouseMentions(s.clickhouse!.client, s.clickhouse!.database, [uid, ...allClickIds]), [], 'nothing of the user in ClickHouse');
    assert.equal(await history.conversionCount('alpha', 'T9'), 1, 'the conversion remains as an anonymous record');
    const again = await (await fetch(`${s.url}/api/privacy/export`, { headers: { cookie: cookies } })).json() as any;
    assert.deepEqual([again.clicks, again.conversions, again.consents], [[], [], []]);
    const anon = await (await fetch(`${s.url}/api/privacy/export`)).json() as any;
    assert.equal(anon.user_id, null);
  });

  test('an erasure while ClickHouse is unreachable completes when it is back', async () => {
    const path = join(s.dir, 'offerfeed.duckdb');
    const store = await InteractionStore.open(path);
    const dead = clickhouseClient({ url: 'http://127.0.0.1:9', database: s.clickhouse!.database });
    try {
      const uid = '0b8f7e4c-3c1a-4d5e-9f00-123456789abc';
      await store.recordClick({ click_id: '11111111-2222-4333-8444-555555555555', offer_id: await offerId(s, 'alpha', 'a1'), network: 'alpha', user_id: uid, consent: ['analytics'], referrer: null, country: null, clicked_at: new Date().toISOString() });
      await new InteractionExporter(store, history).flush();
      assert.equal((await clickhouseMentions(s.clickhouse!.client, s.clickhouse!.database, [uid])).length, 1);
      const down = await new InteractionExporter(store, new InteractionHistory(dead, { database: s.clickhouse!.database })).erase(uid);
      assert.equal(down.clickhouse, 'pending');
      assert.deepEqual(await store.pendingErasures(), [erasureKey(uid)], 'queued by key: the id itself is gone from DuckDB');
      const up = new InteractionExporter(store, history, { intervalMs: 50 });
      up.start();
      await waitFor(async () => (await store.pendingErasures()).length === 0, 5000, 'the pending erasure');
      await up.stop();
      assert.deepEqual(await clickhouseMentions(s.clickhouse!.client, s.clickhouse!.database, [uid]), []);
      assert.deepEqual(await duckdbMentions(path, [uid]), []);
    } finally {
      await dead.close();
      await store.close();
    }
  });
});
