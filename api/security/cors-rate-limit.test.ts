// CORS from an allow-list and per-client rate limits, over real HTTP. Only exactly allow-listed origins get
// Access-Control-Allow-Origin (with credentials); preflights from anyone else are refused. Reads, clicks (/go)
// and postbacks each have their own configurable per-client limit: a client over one limit gets 429 with
// Retry-After there, while its other limits and every other client (another address) are unaffected.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { item, startApiStack, type ApiStack } from '../../test/support/api-stack.ts';
import { clientAt } from './support.ts';

const ALLOWED = ['https://shop.example', 'http://localhost:3000'];
const FOREIGN = [
  'https://evil.example', 'https://shop.example.evil.example', 'https://evilshop.example', 'https://evil.example/https://shop.example',
  'http://shop.example', 'https://shop.example:444', 'https://SHOP.example', 'null', 'https://shop.example.', 'file://',
  'https://shop.example, https://evil.example', 'http://localhost:3001', 'http://127.0.0.1:3000',
];

describe('CORS from an allow-list', () => {
  let s: ApiStack;
  before(async () => {
    s = await startApiStack({ clickhouse: false, config: { corsOrigins: ALLOWED, rateLimit: { max: 100_000, timeWindowMs: 60_000 } } });
    await s.sync('alpha', [item('a1')]);
  });
  after(() => s?.close());

  test('allow-listed origins get their own origin back, with credentials, and Vary: Origin', async () => {
    for (const origin of ALLOWED) {
      const res = await fetch(`${s.url}/api/offers/latest`, { headers: { origin } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), origin);
      assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
      assert.match(res.headers.get('vary') ?? '', /origin/i);
      const pre = await fetch(`${s.url}/api/offers/latest`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-offerfeed-consent' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), origin);
      assert.match(pre.headers.get('access-control-allow-headers') ?? '', /x-offerfeed-consent/i);
    }
  });

  test(`foreign origins (${FOREIGN.length}) get no CORS headers, and their preflights are refused`, async () => {
    for (const origin of FOREIGN) {
      for (const path of ['/api/offers/latest', '/graphql', '/api/privacy/export', '/api/networks']) {
        const res = await fetch(`${s.url}${path}`, { headers: { origin } });
        assert.ok(res.status < 500, `${origin} ${path}: ${res.status}`);
        assert.equal(res.headers.get('access-control-allow-origin'), null, `${origin} ${path}`);
        assert.equal(res.headers.get('access-control-allow-credentials'), null, `${origin} ${path}`);
        for (const method of ['GET', 'POST', 'DELETE', 'PUT']) {
          const pre = await fetch(`${s.url}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'content-type' } });
          assert.equal(pre.status, 403, `preflight ${method} ${path} from ${origin}`);
          assert.equal(pre.headers.get('access-control-allow-origin'), null);
          assert.equal(pre.headers.get('access-control-allow-methods'), null);
        }
      }
    }
  });

  test('without an allow-list nobody gets CORS; a wildcard list allows reads without credentials', async () => {
    const none = await startApiStack({ clickhouse: false });
    const any = await startApiStack({ clickhouse: false, config: { corsOrigins: ['*'] } });
    try {
      const a = await fetch(`${none.url}/api/offers/latest`, { headers: { origin: 'https://shop.example' } });
      assert.equal(a.headers.get('access-control-allow-origin'), null);
      assert.equal((await fetch(`${none.url}/api/offers/latest`, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET' } })).status, 403);
      const b = await fetch(`${any.url}/api/offers/latest`, { headers: { origin: 'https://anyone.example' } });
      assert.equal(b.headers.get('access-control-allow-origin'), '*');
      assert.equal(b.headers.get('access-control-allow-credentials'), null, 'never credentials with a wildcard');
    } finally {
      await Promise.all([none.close(), any.close()]);
    }
  });
});

describe('per-client rate limits: reads, clicks and postbacks apart', () => {
  let s: ApiStack;
  const TOKEN = 'alpha-postback-token-0123456789';
  before(async () => {
    s = await startApiStack({
      clickhouse: false,
      config: {
        rateLimit: { max: 8, timeWindowMs: 60_000, clicks: { max: 3, timeWindowMs: 60_000 }, postbacks: { max: 5, timeWindowMs: 30_000 } },
        postbacks: { alpha: { secret: TOKEN, auth: 'token' } },
      },
    });
    await s.sync('alpha', [item('a1')]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
  });
  after(() => s?.close());

  test('each limit is counted per client and apart; 429 carries Retry-After; others are unaffected', async () => {
    const id = String((await s.store.findOffer('alpha', 'a1'))!.id);
    const a = clientAt('127.0.0.2');
    const b = clientAt('127.0.0.3');
    const c = clientAt('127.0.0.4');
    try {
      const click = (cl: typeof a) => cl.fetch(`${s.url}/go/${id}`, { redirect: 'manual', headers: { 'x-offerfeed-consent': 'affiliate' } });
      const read = (cl: typeof a) => cl.fetch(`${s.url}/api/offers/latest`);
      let n = 0;
      const postback = (cl: typeof a) => cl.fetch(`${s.url}/api/postbacks/alpha?transaction_id=T${n++}&token=${TOKEN}`);

      // Clicks: 3 per minute for A, then 429 with a Retry-After in seconds.
      for (let i = 0; i < 3; i++) assert.equal((await click(a)).status, 302, `click ${i + 1}`);
      const limited = await click(a);
      assert.equal(limited.status, 429);
      const retry = Number(limited.headers.get('retry-after'));
      assert.ok(retry > 0 && retry <= 60, `Retry-After ${limited.headers.get('retry-after')}`);
      assert.equal(((await limited.json()) as { error: string }).error, 'too_many_requests');
      assert.equal(limited.headers.get('location'), null, 'no redirect once limited');
      // A's reads and postbacks are counted apart from its clicks; B's clicks are its own.
      assert.equal((await read(a)).status, 200);
      assert.equal((await postback(a)).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await click(b)).status, 302, `B's click ${i + 1}`);
      assert.equal((await click(b)).status, 429);

      // Postbacks: 5 per 30 s for A (one used above), then 429; C still posts.
      for (let i = 0; i < 4; i++) assert.equal((await postback(a)).status, 200, `postback ${i + 2}`);
      const pb = await postback(a);
      assert.equal(pb.status, 429);
      assert.ok(Number(pb.headers.get('retry-after')) > 0 && Number(pb.headers.get('retry-after')) <= 30);
      assert.equal((await postback(c)).status, 200);

      // Reads: 8 per minute for A (one used above), then 429; C reads and clicks.
      for (let i = 0; i < 7; i++) assert.equal((await read(a)).status, 200, `read ${i + 2}`);
      const r = await read(a);
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      assert.equal((await a.fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status, 429, 'GraphQL shares the read limit');
      assert.equal((await read(c)).status, 200);
      assert.equal((await click(c)).status, 302);
      // Health checks are never limited.
      for (let i = 0; i < 12; i++) assert.equal((await a.fetch(`${s.url}/healthz`)).status, 200);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
