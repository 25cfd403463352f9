// Signed requests when this machine's clock and the network's disagree by 10 minutes. The sandbox checks a
// signature's date against its own clock as real networks do (5 minutes at most, as AWS) and shows its clock in
// Date headers; the engine learns the server's time from them and signs again, once, with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { Redactor } from '../log/redact.ts';
import { createLogger } from '../log/logger.ts';
import { runConnector } from '../run/runner.ts';
import { MemorySink } from '../run/ndjson-sink.ts';
import { resolveConfig } from '../spec/config.ts';
import { parseSpec } from '../spec/loader.ts';
import { loadSandbox, serveSandbox, type SandboxDefinition } from '../sandbox/server.ts';
import type { ConnectorSpec } from '../types/connector.generated.ts';
import { SignatureApplier } from './signature.ts';

const MIN = 60_000;

async function runAgainst(spec: ConnectorSpec, config: Record<string, unknown>, url: string) {
  const redactor = new Redactor();
  const resolved = await resolveConfig(spec, [{ name: 'sandbox', get: async () => config }], redactor);
  const sink = new MemorySink();
  const logs: string[] = [];
  const logger = createLogger({ redactor, level: 'warn', destination: new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } }) });
  const result = await runConnector({ spec, config: resolved, redactor, sink, logger, baseUrlOverride: url, pacingOverride: { concurrency: 2 }, retryOverride: { backoffMs: 5, maxBackoffMs: 50 } });
  return { result, offers: sink.items, logs: logs.join('') };
}

test('the sandbox refuses a signature dated 10 minutes off its clock and accepts a fresh one', async () => {
  const sb = await loadSandbox('shareasale');
  const server = await serveSandbox(sb.spec, sb.dir, sb.definition, sb.config, sb.configFile);
  try {
    const send = async (offsetMs: number) => {
      const signer = new SignatureApplier(sb.spec.auth as never, { config: sb.config }, () => new Date(Date.now() + offsetMs));
      const req = await signer.apply({ method: 'GET', url: `${server.url}/x.cfm?affiliateId=1234567&version=2.9&action=couponDeals&XMLFormat=1&current=1&merchantId=`, headers: {} });
      const res = await request(req.url, { headers: req.headers });
      return (await res.body.text()).slice(0, 60);
    };
    assert.match(await send(0), /^<\?xml|^</);
    assert.match(await send(-10 * MIN), /Error Code/, 'a date 10 minutes behind the server is refused');
    assert.match(await send(+10 * MIN), /Error Code/, 'and 10 minutes ahead');
    assert.match(await send(-4 * MIN), /^</, 'within 5 minutes it passes');
  } finally { await server.close(); }
});

for (const skew of [+10 * MIN, -10 * MIN]) {
  test(`signature recipe (ShareASale sandbox) with the network's clock ${skew > 0 ? 'ahead' : 'behind'} by 10 minutes: one refusal, then every request is signed with its time`, async () => {
    const sb = await loadSandbox('shareasale');
    const server = await serveSandbox(sb.spec, sb.dir, sb.definition, sb.config, sb.configFile, { clockOffsetMs: skew });
    try {
      const r = await runAgainst(sb.spec, sb.config, server.url);
      assert.equal(r.result.status, 'succeeded', r.result.error);
      assert.equal(r.offers.length, 7, 'the same offers as the contract test');
      const calls = server.requests.filter((q) => q.path === '/x.cfm');
      assert.equal(calls.length, 3, 'two API calls, the first sent twice');
      assert.match(r.logs, /signing again with the server time/);
      assert.match(r.logs, new RegExp(`"clock_offset_s":${skew > 0 ? '' : '-'}(599|600|601)`));
    } finally { await server.close(); }
  });
}

test('HMAC recipe with a unix timestamp in the query, network clock 10 minutes behind: accepted after one re-sign', async () => {
  const spec = parseSpec(`dsl: 1
id: hmacq
name: HMAC in query
kind: affiliate-network
base_url: https://api.hmacq.example
config:
  type: object
  properties:
    key: { type: string, x-secret: true }
auth:
  type: signature
  algorithm: hmac-sha256
  key: "{{ $config.key }}"
  encoding: base64
  date_format: unix
  string_to_sign: "{{ $request.method & '\\\\n' & $request.path & '\\\\n' & $sign.date }}"
  query: { ts: "{{ $sign.date }}", sig: "{{ $sign.signature }}" }
streams:
  - name: items
    kind: product
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/" & $string(id)}'
`, 'hmacq.yaml');
  const definition: SandboxDefinition = {
    unauthorized: { status: 401, body: { error: 'signature expired or invalid' } },
    routes: [
      { path: '/items', match: { query: { page: '1' } }, body: { items: [{ id: 1, name: 'One' }, { id: 2, name: 'Two' }] } },
      { path: '/items', match: { query: { page: '2' } }, body: { items: [{ id: 3, name: 'Three' }] } },
      { path: '/items', match: { query: { page: '3' } }, body: { items: [] } },
    ],
  };
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-skew-'));
  const config = { key: 'k-hmac-secret-123' };
  const server = await serveSandbox(spec, dir, definition, config, join(dir, 'config.json'), { clockOffsetMs: -10 * MIN });
  try {
    const r = await runAgainst(spec, config, server.url);
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers.map((o) => o.external_id), ['1', '2', '3']);
    assert.deepEqual(server.requests.map((q) => q.status), [401, 200, 200, 200]);
  } finally { await server.close(); }
});

test('AWS SigV4 with the network clock 10 minutes ahead: accepted after one re-sign', async () => {
  const spec = parseSpec(`dsl: 1
id: sigv4skew
name: SigV4 skew
kind: affiliate-network
base_url: https://webservices.example.com
config:
  type: object
  properties:
    access_key: { type: string }
    secret_key: { type: string, x-secret: true }
auth: { type: aws_sigv4, access_key_id: "{{ $config.access_key }}", secret_access_key: "{{ $config.secret_key }}", region: eu-west-1, service: ProductAdvertisingAPI }
streams:
  - name: items
    kind: product
    request: { method: POST, path: /paapi5/searchitems, headers: { content-type: application/json; charset=utf-8 }, body: { Keywords: shoes } }
    records: SearchResult.Items
    map: '{"external_id": ASIN, "title": Title, "url": "https://www.amazon.de/dp/" & ASIN}'
`, 'sigv4skew.yaml');
  const definition: SandboxDefinition = {
    unauthorized: { status: 401, body: { __type: 'com.amazon.paapi5#InvalidSignatureException', message: 'Signature expired' } },
    routes: [{ method: 'POST', path: '/paapi5/searchitems', body: { SearchResult: { Items: [{ ASIN: 'B000000001', Title: 'Signed' }] } } }],
  };
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-skew-'));
  const config = { access_key: 'AKIDEXAMPLE', secret_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const server = await serveSandbox(spec, dir, definition, config, join(dir, 'config.json'), { clockOffsetMs: +10 * MIN });
  try {
    const r = await runAgainst(spec, config, server.url);
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers.map((o) => o.external_id), ['B000000001']);
    assert.deepEqual(server.requests.map((q) => q.status), [401, 200]);
  } finally { await server.close(); }
});

test('a refusal while the clocks agree is not retried: re-signing is for skew only', async () => {
  const sb = await loadSandbox('shareasale');
  const server = await serveSandbox(sb.spec, sb.dir, sb.definition, sb.config, sb.configFile);
  try {
    const r = await runAgainst(sb.spec, { ...sb.config, api_secret: 'wrong-secret-value-000' }, server.url);
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /ShareASale API error/);
    assert.equal(server.requests.length, 1);
  } finally { await server.close(); }
});
