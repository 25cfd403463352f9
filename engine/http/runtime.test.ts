import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, json } from '../../test/support/http-server.ts';
import { runYaml, specYaml } from '../../test/support/run.ts';
import { backoffDelay, parseRetryAfter } from './retry.ts';
import { linkForRel } from './link-header.ts';
import { stripSecretsFromUrl } from './runtime.ts';

const one = (top = '') => specYaml({ top, stream: `  - name: items
    kind: product
    request: { path: /items }
    records: items
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/" & $string(id)}'` });

test('429 with Retry-After in seconds waits at least that long, then succeeds', async () => {
  let n = 0;
  const srv = await startServer((_req, res) => {
    if (n++ === 0) return json(res, 429, { message: 'slow down' }, { 'retry-after': '1' });
    json(res, 200, { items: [{ id: 1, name: 'A' }] });
  });
  try {
    const r = await runYaml(one(), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded');
    const gap = srv.requests[1].at - srv.requests[0].at;
    assert.ok(gap >= 990, `waited ${gap} ms`);
    assert.equal(r.calls[0].status, 429);
    assert.equal(r.calls[0].outcome, 'rate_limited');
  } finally { await srv.close(); }
});

test('429 with Retry-After as an HTTP date waits until then', async () => {
  let n = 0;
  const srv = await startServer((_req, res) => {
    if (n++ === 0) return json(res, 429, {}, { 'retry-after': new Date(Date.now() + 2000).toUTCString() });
    json(res, 200, { items: [{ id: 1, name: 'A' }] });
  });
  try {
    const r = await runYaml(one(), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded');
    // HTTP dates have one-second resolution: at least one second must pass.
    assert.ok(srv.requests[1].at - srv.requests[0].at >= 990);
  } finally { await srv.close(); }
});

test('the wait for a rate-limited response can come from the body via a response rule', async () => {
  let n = 0;
  const srv = await startServer((_req, res) => {
    if (n++ === 0) return json(res, 200, { error: { code: 'THROTTLED', retry_in_seconds: 1 } });
    json(res, 200, { items: [{ id: 1, name: 'A' }] });
  });
  try {
    const r = await runYaml(one(`response_rules:
  - when: "error.code = 'THROTTLED'"
    action: rate_limited
    wait: "{{ error.retry_in_seconds }}"`), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded');
    assert.ok(srv.requests[1].at - srv.requests[0].at >= 990);
  } finally { await srv.close(); }
});

test('5xx is retried with growing backoff and then succeeds', async () => {
  let n = 0;
  const srv = await startServer((_req, res) => {
    if (n++ < 3) return json(res, 503, { message: 'down' });
    json(res, 200, { items: [{ id: 1, name: 'A' }] });
  });
  try {
    const r = await runYaml(one('retry: { attempts: 5, backoff: 100ms }'), { baseUrl: srv.url, retryOverride: undefined });
    assert.equal(r.result.status, 'succeeded');
    assert.equal(srv.requests.length, 4);
    const gaps = srv.requests.slice(1).map((q, i) => q.at - srv.requests[i].at);
    assert.ok(gaps[0] >= 45 && gaps[1] >= 95 && gaps[2] >= 195, `gaps ${gaps.map(Math.round)}`);
  } finally { await srv.close(); }
});

test('5xx beyond the attempt budget fails the run with the last error', async () => {
  const srv = await startServer((_req, res) => json(res, 502, { message: 'bad gateway upstream' }));
  try {
    const r = await runYaml(one('retry: { attempts: 3 }'), { baseUrl: srv.url });
    assert.equal(r.result.status, 'failed');
    assert.equal(srv.requests.length, 3);
    assert.match(r.result.error!, /giving up after 3 attempts: HTTP 502 .*bad gateway upstream/);
  } finally { await srv.close(); }
});

test('other 4xx fail at once with the API message', async () => {
  const srv = await startServer((_req, res) => json(res, 400, { errors: [{ message: 'Unknown parameter: foo' }] }));
  try {
    const r = await runYaml(one(), { baseUrl: srv.url });
    assert.equal(r.result.status, 'failed');
    assert.equal(srv.requests.length, 1);
    assert.match(r.result.error!, /HTTP 400 from http:\/\/127\.0\.0\.1:\d+\/items: Unknown parameter: foo/);
  } finally { await srv.close(); }
});

test('a 200 with an error body fails through a response rule with the API message', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { status: 'error', message: 'Invalid affiliate id' }));
  try {
    const r = await runYaml(one(`response_rules:
  - when: "status = 'error'"
    action: fail
    message: "{{ message }}"`), { baseUrl: srv.url });
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /Invalid affiliate id/);
  } finally { await srv.close(); }
});

test('a connection reset mid-body refetches the page', async () => {
  let n = 0;
  const srv = await startServer((_req, res) => {
    if (n++ === 0) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"items": [{"id": 1, "na');
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    json(res, 200, { items: [{ id: 1, name: 'A' }] });
  });
  try {
    const r = await runYaml(one(), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.equal(r.offers.length, 1);
    assert.equal(srv.requests.length, 2);
  } finally { await srv.close(); }
});

test('redirects are followed, keeping the --base-url host', async () => {
  const srv = await startServer((req, res) => {
    if (req.url.pathname === '/items') { res.writeHead(302, { location: 'https://cdn.testnet.example/v2/items' }); return res.end(); }
    json(res, 200, { items: [{ id: 7, name: 'Moved' }] });
  });
  try {
    const r = await runYaml(one(), { baseUrl: srv.url });
    assert.equal(r.offers[0].external_id, '7');
    assert.equal(srv.requests[1].url.pathname, '/v2/items');
  } finally { await srv.close(); }
});

test('the rate limit spaces requests: 5 per second', async () => {
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page'));
    json(res, 200, { items: page <= 8 ? [{ id: page, name: `P${page}` }] : [] });
  });
  try {
    const yaml = specYaml({ top: 'rate_limit: { requests: 5, interval: 1s, burst: 1, concurrency: 1 }', stream: `  - name: items
    kind: product
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/" & $string(id)}'` });
    const r = await runYaml(yaml, { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded');
    const gaps = srv.requests.slice(1).map((q, i) => q.at - srv.requests[i].at);
    for (const g of gaps) assert.ok(g >= 180, `gap ${g} ms is shorter than 200 ms`);
    const total = srv.requests[srv.requests.length - 1].at - srv.requests[0].at;
    assert.ok(total >= 8 * 190, `9 requests took ${total} ms`);
  } finally { await srv.close(); }
});

test('every API call is logged with method, redacted URL, status, bytes, duration and attempt', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { items: [{ id: 1, name: 'A' }] }));
  try {
    const r = await runYaml(one(), { baseUrl: srv.url });
    const line = JSON.parse(r.logs.split('\n').find((l) => l.includes('"api call"'))!);
    assert.equal(line.connector, 'testnet');
    assert.equal(line.stream, 'items');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.attempt, 1);
    assert.ok(line.bytes > 10);
    assert.equal(typeof line.duration_ms, 'number');
  } finally { await srv.close(); }
});

test('retry helpers: backoff grows and is capped; Retry-After parses both forms', () => {
  assert.equal(backoffDelay(1, 100, 10_000, () => 1), 100);
  assert.equal(backoffDelay(3, 100, 10_000, () => 1), 400);
  assert.equal(backoffDelay(3, 100, 10_000, () => 0), 200);
  assert.equal(backoffDelay(20, 100, 1000, () => 1), 1000);
  assert.equal(parseRetryAfter('3'), 3000);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('soon'), undefined);
});

test('Link header parsing and URL credential stripping', () => {
  assert.equal(linkForRel('<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"', 'next'), 'https://a/x?page=2');
  assert.equal(linkForRel('<https://a/x?page=9>; rel=last', 'next'), undefined);
  assert.equal(stripSecretsFromUrl('https://api.x/1.0/vouchers.json;token=abc123?apikey=zz&q=shoes'), 'https://api.x/1.0/vouchers.json;token=REDACTED?apikey=REDACTED&q=shoes');
});

test('a 2xx body that cannot be decoded still reaches response rules, which surface the API message', async () => {
  const srv = await startServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('Error: Invalid Account - Error Code 4002 - 10.1.2.3'); });
  try {
    const yaml = specYaml({ top: `response_rules:
  - when: "$type($body) = 'string' and $contains($body, 'Error Code')"
    action: fail
    message: "{{ $body }}"`, stream: `  - name: items
    kind: deal
    request: { path: /items }
    decoder: { format: xml }
    records: items.item
    map: '{"external_id": id, "title": name, "url": "https://x.example/1"}'` });
    const r = await runYaml(yaml, { baseUrl: srv.url });
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /HTTP 200 .*: Error: Invalid Account - Error Code 4002/);
    assert.equal(srv.requests.length, 1, 'a failing rule does not retry');
  } finally { await srv.close(); }
});

test('a burst of 5xx opens the circuit: requests to that host pause for the cool-down, then resume', async () => {
  let n = 0;
  const srv = await startServer((_req, res) => (n++ < 4 ? json(res, 503, { message: 'overloaded' }) : json(res, 200, { items: [{ id: 1, name: 'A' }] })));
  try {
    const r = await runYaml(one('retry: { attempts: 8, backoff: 10ms, breaker: { failures: 3, cooldown: 1s } }'), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    const gaps = srv.requests.slice(1).map((q, i) => q.at - srv.requests[i].at);
    assert.ok(gaps[2] >= 950, `after the third failure the next request waits for the cool-down (gaps ${gaps.map(Math.round)})`);
    assert.ok(gaps[0] < 500 && gaps[1] < 500);
    assert.match(r.logs, /circuit open: pausing requests to this host/);
  } finally { await srv.close(); }
});
