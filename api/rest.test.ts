// The REST API over real HTTP against real stores, fed by real syncs (syncConnector against local HTTP feeds).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { item, startApiStack, waitFor, type ApiStack } from '../test/support/api-stack.ts';
import { publicOfferJsonSchema } from './offer-schema.ts';

const AFF = { 'x-offerfeed-consent': 'affiliate' };

async function get(s: ApiStack, path: string, headers: Record<string, string> = AFF) {
  const res = await fetch(`${s.url}${path}`, { headers });
  const text = await res.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, headers: res.headers, text };
}

/** Lets announced runs reach the read model. */
async function settle(s: ApiStack): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await s.api.services.feed.idle();
}

const ext = (items: any[]) => items.map((o) => `${o.network}:${o.external_id}`);

const alphaItems = () => Array.from({ length: 24 }, (_, i) => item(`a${i}`, {
  title: i % 2 ? `Stainless kettle ${i}` : `Coffee mug ${i}`,
  kind: i % 4 === 3 ? 'coupon' : 'product',
  price: 5 + i,
  coupon_code: i % 6 === 0 ? `SAVE${i}` : undefined,
  countries: i % 3 === 0 ? ['US'] : ['DE', 'AT'],
  languages: i % 3 === 0 ? ['en-US'] : ['de'],
  categories: i % 2 ? ['Home > Kitchen'] : ['Gifts'],
  merchant_name: i < 12 ? 'Kitchen World' : 'Mug House',
  // Every third offer links straight to the shop: no tracking URL, visible without consent.
  url: i % 3 === 1 ? `https://shop.example/p/a${i}` : `https://track.example/c?id=a${i}`,
  landing_url: `https://shop.example/p/a${i}`,
}));

describe('REST offers', () => {
  let s: ApiStack;
  before(async () => {
    s = await startApiStack({ clickhouse: false, config: { rateLimit: { max: 100_000, timeWindowMs: 60_000 } } });
    await s.sync('alpha', alphaItems());
    // beta carries the same product as alpha a1 (same landing page): one duplicate group.
    await s.sync('beta', [item('b1', { title: 'Stainless kettle 1 (beta)', landing_url: 'https://shop.example/p/a1', url: 'https://beta.example/t/1', price: 4 }), item('b2', { title: 'Teapot' })]);
    await settle(s);
    assert.equal(s.api.services.index.size, 26, 'both runs in the read model');
  });
  after(() => s.close());

  test('latest: newest first, every filter, one per duplicate group unless group=false', async () => {
    const all = await get(s, '/api/offers/latest?limit=100');
    assert.equal(all.status, 200);
    assert.equal(all.body.items.length, 25, 'b1 and a1 are one group');
    assert.deepEqual(ext(all.body.items).slice(0, 2).sort(), ['beta:b1', 'beta:b2'], 'the later run first (ties by id); b1 represents the group');
    assert.equal(all.body.items.find((o: any) => o.external_id === 'b1').duplicates, 2);
    assert.equal((await get(s, '/api/offers/latest?limit=100&group=false')).body.items.length, 26);
    const q = async (p: string) => ext((await get(s, `/api/offers/latest?limit=100&${p}`)).body.items);
    assert.equal((await q('network=alpha')).length, 24);
    assert.deepEqual((await q('network=alpha&kind=coupon')).sort(), ['a3', 'a7', 'a11', 'a15', 'a19', 'a23'].map((x) => `alpha:${x}`).sort());
    assert.deepEqual((await q('has_coupon=true')).sort(), ['alpha:a0', 'alpha:a12', 'alpha:a18', 'alpha:a6'].sort());
    assert.deepEqual((await q('network=alpha&min_price=10&max_price=12')).sort(), ['alpha:a5', 'alpha:a6', 'alpha:a7'].sort());
    assert.equal((await q('country=us')).length, 8);
    assert.equal((await q('lang=en')).length, 8, 'lang=en matches en-US');
    assert.equal((await q('network=alpha&vertical=home')).length, 12);
    assert.equal((await q('merchant=mug%20house')).length, 12);
    assert.equal((await q('network=alpha,beta&kind=product,deal&country=AT')).length, 12);
    assert.deepEqual(await q('network=nope'), []);
  });

  test('lists written from the stored JSON match the documented Offer schema exactly', async () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile(publicOfferJsonSchema());
    const bodies = [
      (await get(s, '/api/offers/latest?limit=100&group=false')).body.items,
      (await get(s, '/api/offers/search?q=kettle&limit=100&highlight=true')).body.items.map(({ score, matched_words, highlight, ...o }: any) => {
        assert.equal(typeof score, 'number');
        assert.equal(typeof matched_words, 'number');
        assert.equal(typeof highlight.title, 'string');
        return o;
      }),
      (await get(s, '/api/offers/latest?limit=100', {})).body.items,
    ];
    for (const items of bodies) {
      assert.ok(items.length > 0);
      for (const o of items) assert.ok(validate(o), JSON.stringify(validate.errors));
    }
    const one = (await get(s, `/api/offers/${bodies[0][0].id}`)).body;
    assert.deepEqual(one, bodies[0][0], 'a list item is the same object as the single offer');
  });

  test('invalid parameters are 400 with a JSON error, never a stack trace', async () => {
    for (const p of ['limit=1000', 'limit=0', 'min_price=-1', 'cursor=not-a-cursor', 'sort=random', 'has_coupon=maybe']) {
      const r = await get(s, `/api/offers/latest?${p}`);
      assert.equal(r.status, 400, p);
      assert.equal(r.body.error, 'bad_request');
      assert.ok(r.body.request_id);
      assert.ok(!/at .*\.ts|node_modules|\n/.test(r.text), `no internals in ${r.text}`);
    }
    const search = await get(s, '/api/offers/search');
    assert.equal(search.status, 400);
    assert.equal((await get(s, '/api/offers/not-an-id')).status, 400);
    const missing = await get(s, '/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
  });

  test('cursor pagination stays exact while syncs insert, update and deactivate offers', async () => {
    const before = ext((await get(s, '/api/offers/latest?limit=100&network=alpha')).body.items);
    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    let items = alphaItems();
    do {
      const page = await get(s, `/api/offers/latest?network=alpha&limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      seen.push(...ext(page.body.items));
      cursor = page.body.next_cursor;
      // Between pages a sync commits: new offers, a changed title, one offer gone.
      round++;
      items = [...items.filter((x) => x.external_id !== 'a2'), item(`new${round}`, { url: `https://shop.example/new${round}`, landing_url: `https://shop.example/new${round}` })];
      items = items.map((x) => (x.external_id === 'a20' ? { ...x, title: `Renamed ${round}` } : x));
      const out = await s.sync('alpha', items);
      assert.equal(out.result.status, 'succeeded');
      await settle(s);
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length, 'no offer twice');
    const stillThere = before.filter((x) => x !== 'alpha:a2');
    for (const x of stillThere) assert.ok(seen.includes(x), `${x} was not skipped`);
    assert.ok(!seen.some((x) => x.startsWith('alpha:new')), 'offers newer than the first page stay ahead of the cursor');
  });

  test('hidden, expired and inactive offers never appear anywhere public', async () => {
    await s.store.setOfferStatus('beta', 'b2', 'hidden', 'test');
    await s.sync('beta', [item('b1', { title: 'Stainless kettle 1 (beta)', landing_url: 'https://shop.example/p/a1', url: 'https://beta.example/t/1', price: 4 }), item('b3', { title: 'Old kettle deal', expires_at: '2020-01-01T00:00:00Z' })]);
    // The admin hide is no sync run: the change feed's poll of the change log finds it.
    await waitFor(async () => !ext((await get(s, '/api/offers/latest?network=beta&limit=100')).body.items).includes('beta:b2'), 5000, 'hide applied');
    const latest = ext((await get(s, '/api/offers/latest?network=beta&limit=100&group=false')).body.items);
    assert.deepEqual(latest, ['beta:b1']);
    const search = ext((await get(s, '/api/offers/search?q=kettle&network=beta&limit=100')).body.items);
    assert.ok(!search.includes('beta:b3'), 'expired not searchable');
    const top = ext((await get(s, '/api/offers/top?network=beta&limit=100')).body.items);
    assert.deepEqual(top, ['beta:b1']);
    const hiddenId = (await get(s, '/api/offers/latest?network=beta&group=false')).body.items[0].id;
    assert.equal((await get(s, `/api/offers/${hiddenId}`)).status, 200);
    const teapot = await s.store.findOffer('beta', 'b2');
    assert.equal(teapot?.status, 'hidden');
    assert.equal((await get(s, `/api/offers/${String(teapot!.id)}`)).status, 404);
    const gone = await s.store.findOffer('alpha', 'a2');
    assert.equal(gone?.status, 'inactive');
    assert.equal((await get(s, `/api/offers/${String(gone!.id)}`)).status, 404);
  });

  test('without affiliate consent no tracking URL is returned: such offers are omitted', async () => {
    const withConsent = (await get(s, '/api/offers/latest?network=alpha&limit=100')).body.items;
    assert.ok(withConsent.some((o: any) => o.url.startsWith('https://track.example')));
    for (const headers of [{}, { 'x-offerfeed-consent': 'analytics' }, { cookie: 'offerfeed_consent=analytics' }] as Array<Record<string, string>>) {
      const r = await get(s, '/api/offers/latest?network=alpha&limit=100', headers);
      assert.ok(r.body.items.length > 0);
      assert.ok(r.body.items.every((o: any) => o.url === o.landing_url), JSON.stringify(headers));
      assert.ok(!r.text.includes('track.example'));
      const search = await get(s, '/api/offers/search?q=kettle&limit=100', headers);
      assert.ok(!search.text.includes('track.example') && !search.text.includes('beta.example'));
    }
    const cookie = await get(s, '/api/offers/latest?network=alpha&limit=100', { cookie: 'offerfeed_consent=affiliate%2Canalytics' });
    assert.equal(cookie.body.items.length, withConsent.length, 'consent from the cookie');
    const tracked = withConsent.find((o: any) => o.url.startsWith('https://track.example'));
    assert.equal((await get(s, `/api/offers/${tracked.id}`, {})).status, 404);
  });

  test('search: ranked, typo-tolerant, highlighted; top: scored; one offer; networks with health and counts', async () => {
    const r = await get(s, '/api/offers/search?q=stainles%20ketle&highlight=true&network=alpha&limit=3');
    assert.equal(r.status, 200);
    assert.equal(r.body.items.length, 3);
    assert.ok(r.body.items.every((o: any) => /kettle/i.test(o.title) && o.matched_words === 2 && o.score > 0));
    assert.match(r.body.items[0].highlight.title, /<mark>Stainless<\/mark> <mark>kettle<\/mark>/);
    assert.ok(r.body.next_cursor);
    const next = await get(s, `/api/offers/search?q=stainles%20ketle&network=alpha&limit=3&cursor=${r.body.next_cursor}`);
    assert.equal(next.body.items.filter((o: any) => r.body.items.some((p: any) => p.id === o.id)).length, 0);
    const top = await get(s, '/api/offers/top?limit=3');
    assert.equal(top.body.items.length, 3);
    assert.ok(top.body.items[0].score >= top.body.items[2].score);
    const one = await get(s, `/api/offers/${top.body.items[0].id}`);
    assert.equal(one.body.id, top.body.items[0].id);
    assert.equal(one.body.click_url, `/go/${one.body.id}`);
    const nets = await get(s, '/api/networks');
    const alpha = nets.body.items.find((n: any) => n.id === 'alpha');
    assert.equal(alpha.health, 'ok');
    assert.equal(alpha.last_run.status, 'succeeded');
    assert.ok(alpha.offers.public > 0 && alpha.offers.inactive >= 1);
    assert.ok(nets.body.items.some((n: any) => n.id === 'awin' && n.health === 'never_synced'), 'every connector is listed');
    assert.ok(!nets.text.includes('error'), 'no run errors in public health');
  });
});

describe('REST: landing-only consent mode', () => {
  test('offers with tracking URLs come back with their landing URL only; /go sends there', async () => {
    const s = await startApiStack({ clickhouse: false, config: { consentMode: 'landing' } });
    try {
      await s.sync('alpha', [item(1), item(2, { landing_url: undefined })]);
      await settle(s);
      const r = await get(s, '/api/offers/latest', {});
      assert.deepEqual(ext(r.body.items), ['alpha:1'], 'an offer without a landing page cannot be shown without its tracking URL');
      assert.equal(r.body.items[0].url, 'https://shop.example/p/1');
      assert.ok(!r.text.includes('track.example'));
      const withConsent = await get(s, '/api/offers/latest');
      assert.equal(withConsent.body.items.length, 2);
    } finally { await s.close(); }
  });
});

describe('REST: operations and security', () => {
  test('health, readiness with migrations, metrics, OpenAPI with a schema for every route, docs page, security headers', async () => {
    const s = await startApiStack({ clickhouse: false });
    try {
      assert.deepEqual((await get(s, '/healthz')).body, { status: 'ok' });
      const ready = await get(s, '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.checks.duckdb.ok, true);
      assert.match(ready.body.checks.duckdb.detail, /schema version \d+/);
      await get(s, '/api/offers/latest');
      const metrics = await get(s, '/metrics');
      assert.match(metrics.text, /offerfeed_api_request_duration_seconds_bucket\{[^}]*route="\/api\/offers\/latest"/);
      assert.match(metrics.text, /offerfeed_api_public_offers 0/);
      const spec = (await get(s, '/docs/json')).body;
      assert.equal(spec.openapi, '3.0.3');
      for (const [path, ops] of Object.entries<any>(spec.paths)) {
        for (const [method, op] of Object.entries<any>(ops)) {
          const ok = op.responses['200'] ?? op.responses['302'];
          assert.ok(ok, `${method} ${path} documents its success response`);
          if (path.startsWith('/api/offers/') && method === 'get' && !path.includes('{id}')) assert.ok(op.parameters?.some((p: any) => p.in === 'query'), `${path} documents its query`);
        }
      }
      assert.ok(spec.components.schemas.Offer, 'the Offer schema is a component');
      const docs = await fetch(`${s.url}/docs/`);
      assert.equal(docs.status, 200);
      assert.match(await docs.text(), /swagger/i);
      const h = (await get(s, '/api/offers/latest')).headers;
      assert.equal(h.get('x-content-type-options'), 'nosniff');
      assert.ok(h.get('content-security-policy'));
      assert.equal(h.get('access-control-allow-origin'), null, 'no CORS unless configured');
      assert.equal((await get(s, '/graphiql')).status, 404, 'GraphiQL off by default');
    } finally { await s.close(); }
  });

  test('an internal failure is a 500 saying "internal error" and nothing else', async () => {
    const s = await startApiStack({ clickhouse: false });
    try {
      await s.api.services.queries.close();
      const r = await get(s, '/api/networks');
      assert.equal(r.status, 500);
      assert.deepEqual(Object.keys(r.body).sort(), ['error', 'message', 'request_id']);
      assert.equal(r.body.message, 'internal error');
      assert.ok(!/closed|duckdb|\.ts/i.test(r.text));
    } finally { await s.close(); }
  });

  test('CORS from config, rate limit per client, body size limit', async () => {
    const s = await startApiStack({ clickhouse: false, config: { corsOrigins: ['https://shop.example'], rateLimit: { max: 5, timeWindowMs: 60_000 }, bodyLimit: 2048 } });
    try {
      const pre = await fetch(`${s.url}/api/offers/latest`, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-offerfeed-consent' } });
      assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
      assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
      const other = await fetch(`${s.url}/api/offers/latest`, { headers: { origin: 'https://evil.example' } });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const big = await fetch(`${s.url}/api/privacy/consent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ purposes: [], pad: 'x'.repeat(5000) }) });
      assert.equal(big.status, 413);
      assert.equal((await big.json()).error, 'payload_too_large');
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await fetch(`${s.url}/api/offers/latest`)).status);
      assert.ok(statuses.includes(429), `rate limited: ${statuses}`);
      const limited = await get(s, '/api/offers/latest', {});
      assert.equal(limited.body.error, 'too_many_requests');
      assert.equal((await get(s, '/healthz')).status, 200, 'health checks are not rate limited');
    } finally { await s.close(); }
  });
});
