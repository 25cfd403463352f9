// Open redirect and header injection through /go/, over raw HTTP (paths with `..`, encoded slashes, backslashes
// and CR/LF reach the server as written). A redirect only ever goes to a stored offer URL — its tracking URL
// with our click id, or its landing page — whatever the id, query, headers or the stored URL's own content.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { item, startApiStack, type ApiStack } from '../../test/support/api-stack.ts';
import { rawRequest, type RawResponse } from './support.ts';

describe('open redirect through /go/', () => {
  let s: ApiStack;
  let id: string;
  let crlfId: string;
  /** Stored URLs: origin + path + the stored query, as a redirect may carry them (plus a click id). */
  const stored = new Map<string, string[]>();
  let tried = 0;

  before(async () => {
    s = await startApiStack({ clickhouse: false, config: { rateLimit: { max: 100_000, timeWindowMs: 60_000, clicks: { max: 100_000, timeWindowMs: 60_000 } }, clickIdParams: { alpha: 'subid' } } });
    await s.sync('alpha', [
      item('a1'),
      // Stored URLs crafted to break out of the Location header or to smuggle another target.
      item('crlf', { url: 'https://track.example/c?next=%0d%0aSet-Cookie:%20pwned=1%0d%0aLocation:%20https://evil.example', landing_url: 'https://shop.example/p/crlf?x=%0D%0AX-Injected:%201' }),
      item('at', { url: 'https://track.example/c?u=https://evil.example@evil.example/', landing_url: 'https://shop.example/p/at' }),
      // The engine's normalizer drops non-http(s) URLs, makes protocol-relative ones https and strips raw CR/LF:
      // whatever it stores is what /go may send a visitor to, and nothing else.
      item('js', { url: 'javascript:alert(document.cookie)', landing_url: 'javascript:alert(1)' }),
      item('proto-relative', { url: '//evil.example/x', landing_url: '//evil.example/y' }),
      item('data', { url: 'data:text/html,<script>alert(1)</script>' }),
      item('raw-crlf', { url: 'https://track.example/c\r\nSet-Cookie: pwned=1' }),
    ]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
    id = String((await s.store.findOffer('alpha', 'a1'))!.id);
    crlfId = String((await s.store.findOffer('alpha', 'crlf'))!.id);
    for (const ext of ['a1', 'crlf', 'at', 'js', 'proto-relative', 'data', 'raw-crlf']) {
      const o = await s.store.findOffer('alpha', ext);
      if (!o) continue;
      const offer = JSON.parse(String(o.data)) as { url?: string; landing_url?: string };
      const urls = [offer.url, offer.landing_url].filter((u): u is string => typeof u === 'string');
      for (const u of urls) assert.match(u, /^https?:\/\/[^\s]+$/, `${ext}: only absolute http(s) URLs without whitespace are stored`);
      stored.set(String(o.id), urls);
    }
    assert.ok(stored.size >= 3);
  });
  after(() => s?.close());

  /** A response is either a redirect to one of the stored URLs of the offer it names, or a refusal without any target. */
  function check(what: string, r: RawResponse, offer?: string) {
    tried++;
    assert.ok(r.status > 0 && r.status < 500, `${what}: ${r.status}`);
    const location = r.headers.filter(([k]) => k === 'location');
    assert.ok(!r.headers.some(([k]) => k === 'refresh' || k === 'x-injected') && !r.headers.some(([k, v]) => k === 'set-cookie' && /pwned/.test(v)), `${what}: injected header\n${r.head}`);
    assert.ok(!/<meta|<a |window\.location/i.test(r.body), `${what}: a body that redirects`);
    if (r.status < 300 || r.status >= 400) { assert.equal(location.length, 0, `${what}: Location on ${r.status}`); return; }
    assert.equal(r.status, 302, what);
    assert.equal(location.length, 1, `${what}: one Location`);
    assert.ok(offer && stored.has(offer), `${what}: redirected for an id that names no stored offer`);
    const target = new URL(location[0][1]);
    const ok = stored.get(offer!)!.some((u) => {
      const want = new URL(u);
      if (target.origin !== want.origin || target.pathname !== want.pathname) return false;
      const extra = [...target.searchParams.keys()].filter((k) => !want.searchParams.has(k));
      return [...want.searchParams].every(([k, v]) => target.searchParams.get(k) === v) && extra.every((k) => k === 'subid');
    });
    assert.ok(ok, `${what}: redirected to ${location[0][1]}`);
  }

  const go = (path: string, headers = '') => rawRequest(s.url, `GET ${path} HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\n${headers}Connection: close\r\n\r\n`);

  test('crafted ids and paths never redirect anywhere', async () => {
    const paths = [
      '/go/', '/go', '/go//evil.example', '/go///evil.example', '/go/%2F%2Fevil.example', '/go/%2f%2fevil.example%2f', '/go/..%2f', '/go/..%2F..%2Fevil.example',
      '/go/%2e%2e%2f%2e%2e%2fevil.example', '/go/..\\..\\evil.example', '/go/\\\\evil.example', '/go/%5C%5Cevil.example', '/go/https:%2F%2Fevil.example', '/go/https://evil.example',
      '/go/http:evil.example', '/go/@evil.example', `/go/${id}@evil.example`, `/go/${id}%40evil.example`, `/go/${id}/..%2f..%2fevil.example`, `/go/${id}%2f%2fevil.example`,
      `/go/${id}/`, `/go/${id}/x`, `/go/${id}%00`, `/go/${id}%0d%0aLocation:%20https://evil.example`, `/go/${id}%0D%0ASet-Cookie:%20pwned=1`, `/go/${id.toUpperCase()}`,
      `/go/${id}0`, `/go/${id.slice(1)}`, `/go/${id};evil.example`, `/go/${id}%3Bevil.example`, '/go/javascript:alert(1)', '/go/%09/evil.example', '/go/%20//evil.example',
      `/GO/${id}`, `/go/./${id}`, `/go/../go/${id}/../../evil.example`, '/go/0000000000000000', '/go/ffffffffffffffff', `/go/${'a'.repeat(5000)}`, '/go/%ff%fe', '/go/%', '/go/%zz',
      `//evil.example/go/${id}`, `http://evil.example/go/${id}`, `/go/${id}#https://evil.example`, `/go/${id}?url=https://evil.example&redirect=https://evil.example&next=//evil.example&to=%2F%2Fevil.example&return=https:evil.example`,
      `/go/${id}?subid=https://evil.example`, `/go/${id}?%0d%0aLocation:%20https://evil.example=1`, `/go/${id}?__proto__[url]=https://evil.example`,
    ];
    for (const p of paths) {
      for (const consent of ['', 'X-Offerfeed-Consent: affiliate\r\n']) {
        const r = await go(p, consent);
        const named = /\/go\/([0-9a-f]{16})(\?|#|$)/.exec(p)?.[1];
        check(`GET ${p.slice(0, 80)} ${consent ? 'consent' : ''}`, r, named);
      }
    }
  });

  test('headers cannot move the target: Host, X-Forwarded-*, Referer, cookies', async () => {
    const headerSets = [
      'X-Forwarded-Host: evil.example\r\n', 'X-Forwarded-Proto: javascript\r\n', 'X-Forwarded-Prefix: //evil.example\r\n', 'X-Original-URL: //evil.example\r\n',
      'X-Rewrite-URL: //evil.example\r\n', 'Referer: https://evil.example/\r\n', 'Cookie: offerfeed_uid=//evil.example; redirect=https://evil.example\r\n', 'Forwarded: host=evil.example;proto=https\r\n',
    ];
    for (const h of headerSets) {
      for (const consent of ['', 'X-Offerfeed-Consent: affiliate\r\n']) check(`${h.trim()}`, await go(`/go/${id}`, h + consent), id);
    }
    const evilHost = await rawRequest(s.url, `GET /go/${id} HTTP/1.1\r\nHost: evil.example\r\nX-Offerfeed-Consent: affiliate\r\nConnection: close\r\n\r\n`);
    check('Host: evil.example', evilHost, id);
    const absolute = await rawRequest(s.url, `GET http://evil.example/go/${id} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`);
    check('absolute-form request target', absolute, id);
  });

  test('every stored offer redirects only to its own stored URLs', async () => {
    for (const offer of stored.keys()) {
      for (const consent of ['', 'X-Offerfeed-Consent: affiliate\r\n', 'X-Offerfeed-Consent: analytics\r\n']) check(`/go/${offer} ${consent.trim()}`, await go(`/go/${offer}`, consent), offer);
    }
  });

  test('CR/LF in the request line or in a stored URL never splits the response', async () => {
    const smuggled = await rawRequest(s.url, `GET /go/${id}\r\nLocation: https://evil.example HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    // Node reads "GET /go/<id>" as the request and the rest as a header line: still only the stored URL.
    check('CRLF in the request line', smuggled, id);
    for (const consent of ['', 'X-Offerfeed-Consent: affiliate\r\n']) {
      const r = await go(`/go/${crlfId}`, consent);
      check(`stored URL with encoded CRLF ${consent ? 'consent' : ''}`, r, crlfId);
      assert.equal(r.status, 302);
      assert.ok(!/[\r\n]/.test(r.headers.find(([k]) => k === 'location')![1]));
    }
    const at = await go(`/go/${String((await s.store.findOffer('alpha', 'at'))!.id)}`, 'X-Offerfeed-Consent: affiliate\r\n');
    assert.equal(new URL(at.headers.find(([k]) => k === 'location')![1]).host, 'track.example', 'userinfo-looking query stays in the query');
  });

  test('the legitimate click still works, and the count of cases tried', async () => {
    const r = await go(`/go/${id}`, 'X-Offerfeed-Consent: affiliate\r\n');
    check('legitimate click', r, id);
    assert.equal(r.status, 302);
    assert.match(r.headers.find(([k]) => k === 'location')![1], /^https:\/\/track\.example\/c\?id=a1&subid=[0-9a-f-]{36}$/);
    assert.ok(tried > 100, String(tried));
    console.log(`# open-redirect attack cases tried: ${tried}`);
  });
});
