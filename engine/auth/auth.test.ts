import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { startServer, json } from '../../test/support/http-server.ts';
import { runYaml, specYaml } from '../../test/support/run.ts';
import { signSigV4 } from './sigv4.ts';

const CONFIG = `config:
  type: object
  required: [key]
  properties:
    key: { type: string, x-secret: true }
    user: { type: string }
    secret: { type: string, x-secret: true }`;
const STREAM = `  - name: items
    kind: product
    request: { path: /items, query: { action: list } }
    records: items
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/" & $string(id)}'`;
const OK = { items: [{ id: 1, name: 'A' }] };
const spec = (auth: string) => specYaml({ config: CONFIG, auth, stream: STREAM });

test('api_key in a header', async () => {
  const srv = await startServer((req, res) => (req.headers['x-api-key'] === 'k-123456' ? json(res, 200, OK) : json(res, 401, { message: 'no key' })));
  try {
    const r = await runYaml(spec('auth: { type: api_key, in: header, name: X-Api-Key, value: "{{ $config.key }}" }'), { baseUrl: srv.url, config: { key: 'k-123456' } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
  } finally { await srv.close(); }
});

test('api_key in the query', async () => {
  const srv = await startServer((req, res) => (req.url.searchParams.get('apikey') === 'k-123456' ? json(res, 200, OK) : json(res, 401, {})));
  try {
    const r = await runYaml(spec('auth: { type: api_key, in: query, name: apikey, value: "{{ $config.key }}" }'), { baseUrl: srv.url, config: { key: 'k-123456' } });
    assert.equal(r.result.status, 'succeeded');
    assert.equal(srv.requests[0].url.searchParams.get('action'), 'list');
    assert.ok(!r.logs.includes('k-123456'), 'the key never reaches the logs');
  } finally { await srv.close(); }
});

test('basic auth', async () => {
  const want = `Basic ${Buffer.from('acct:k-123456').toString('base64')}`;
  const srv = await startServer((req, res) => (req.headers.authorization === want ? json(res, 200, OK) : json(res, 401, {})));
  try {
    const r = await runYaml(spec('auth: { type: basic, username: "{{ $config.user }}", password: "{{ $config.key }}" }'), { baseUrl: srv.url, config: { key: 'k-123456', user: 'acct' } });
    assert.equal(r.result.status, 'succeeded');
  } finally { await srv.close(); }
});

test('bearer auth with a custom header and prefix', async () => {
  const srv = await startServer((req, res) => (req.headers['x-auth'] === 'Token k-123456' ? json(res, 200, OK) : json(res, 401, {})));
  try {
    const r = await runYaml(spec('auth: { type: bearer, token: "{{ $config.key }}", header: X-Auth, prefix: "Token " }'), { baseUrl: srv.url, config: { key: 'k-123456' } });
    assert.equal(r.result.status, 'succeeded');
  } finally { await srv.close(); }
});

function oauthServer(opts: { clientAuth: 'body' | 'header'; expiresIn?: number }) {
  let issued = 0;
  const valid = new Set<string>();
  return {
    get issued() { return issued; },
    revokeAll() { valid.clear(); },
    handler: (req: { method: string; url: URL; headers: Record<string, unknown>; body: string }, res: any) => {
      if (req.url.pathname === '/oauth/token') {
        const form = new URLSearchParams(req.body);
        const basic = `Basic ${Buffer.from('cid:k-123456').toString('base64')}`;
        const clientOk = opts.clientAuth === 'header'
          ? req.headers.authorization === basic
          : form.get('client_id') === 'cid' && form.get('client_secret') === 'k-123456';
        if (!clientOk || form.get('grant_type') !== 'client_credentials' || form.get('scope') !== 'offers.read catalog') return json(res, 401, { error: 'invalid_client' });
        const token = `tok-${++issued}-abcdef`;
        valid.add(token);
        return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: opts.expiresIn ?? 3600 });
      }
      const auth = String(req.headers.authorization ?? '');
      if (!valid.has(auth.replace(/^Bearer /, ''))) return json(res, 401, { error: 'invalid_token' });
      const page = Number(req.url.searchParams.get('page') ?? 1);
      return json(res, 200, { items: page <= 4 ? [{ id: page, name: `P${page}` }] : [] });
    },
  };
}

const OAUTH_STREAM = `  - name: items
    kind: product
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/" & $string(id)}'`;

for (const clientAuth of ['body', 'header'] as const) {
  test(`oauth2 client credentials with client auth in the ${clientAuth}: one token, cached across requests`, async () => {
    const o = oauthServer({ clientAuth });
    const srv = await startServer(o.handler);
    try {
      const yaml = specYaml({ config: CONFIG, stream: OAUTH_STREAM, auth: `auth:
  type: oauth2
  token_url: https://auth.testnet.example/oauth/token
  client_id: cid
  client_secret: "{{ $config.key }}"
  scopes: [offers.read, catalog]
  client_auth: ${clientAuth}` });
      const r = await runYaml(yaml, { baseUrl: srv.url, config: { key: 'k-123456' } });
      assert.equal(r.result.status, 'succeeded', r.result.error);
      assert.equal(r.offers.length, 4);
      assert.equal(o.issued, 1);
      assert.equal(r.calls.filter((c) => c.purpose === 'token').length, 1);
      assert.ok(!r.logs.includes('tok-1-abcdef') && !r.logs.includes('k-123456'));
    } finally { await srv.close(); }
  });
}

test('oauth2 refreshes the token once on 401 and retries the request', async () => {
  const o = oauthServer({ clientAuth: 'body' });
  let revoked = false;
  const srv = await startServer((req, res) => {
    if (req.url.searchParams.get('page') === '3' && !revoked) { revoked = true; o.revokeAll(); }
    return o.handler(req, res);
  });
  try {
    const yaml = specYaml({ config: CONFIG, stream: OAUTH_STREAM, auth: `auth: { type: oauth2, token_url: /oauth/token, client_id: cid, client_secret: "{{ $config.key }}", scopes: "offers.read catalog" }`.replace('/oauth/token', 'https://api.testnet.example/oauth/token') });
    const r = await runYaml(yaml, { baseUrl: srv.url, config: { key: 'k-123456' } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.equal(r.offers.length, 4);
    assert.equal(o.issued, 2);
    const statuses = srv.requests.filter((q) => q.url.pathname === '/items').map((q) => q.url.searchParams.get('page'));
    assert.deepEqual(statuses, ['1', '2', '3', '3', '4', '5']);
  } finally { await srv.close(); }
});

test('oauth2 renews a token before it expires', async () => {
  const o = oauthServer({ clientAuth: 'body', expiresIn: 1 });
  const srv = await startServer(o.handler);
  try {
    const yaml = specYaml({ config: CONFIG, stream: OAUTH_STREAM, auth: `auth: { type: oauth2, token_url: "https://api.testnet.example/oauth/token", client_id: cid, client_secret: "{{ $config.key }}", scopes: [offers.read, catalog], refresh_margin: 5s }` });
    const r = await runYaml(yaml, { baseUrl: srv.url, config: { key: 'k-123456' } });
    assert.equal(r.result.status, 'succeeded');
    // A token that expires within the margin is renewed for every page instead of failing with 401.
    assert.equal(o.issued, 5);
    assert.equal(srv.requests.filter((q) => q.url.pathname === '/items').length, 5);
  } finally { await srv.close(); }
});

test('oauth2 with wrong client credentials fails with an authentication error', async () => {
  const o = oauthServer({ clientAuth: 'body' });
  const srv = await startServer(o.handler);
  try {
    const yaml = specYaml({ config: CONFIG, stream: OAUTH_STREAM, auth: `auth: { type: oauth2, token_url: "https://api.testnet.example/oauth/token", client_id: cid, client_secret: "{{ $config.key }}", scopes: [offers.read, catalog] }` });
    const r = await runYaml(yaml, { baseUrl: srv.url, config: { key: 'wrong-secret' } });
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /authentication failed|invalid_client/);
    assert.ok(!r.result.error!.includes('wrong-secret'));
  } finally { await srv.close(); }
});

test('aws_sigv4 signs each request so that the server can verify it', async () => {
  const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', region: 'eu-west-1', service: 'ProductAdvertisingAPI' };
  const srv = await startServer((req, res) => {
    const date = String(req.headers['x-amz-date']);
    const now = new Date(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const expected = signSigV4({ method: req.method, url: `http://${req.headers.host}${req.url.pathname}${req.url.search}`, headers: { 'content-type': String(req.headers['content-type']), 'x-amz-target': String(req.headers['x-amz-target']) }, body: req.body }, creds, now);
    if (expected.Authorization !== req.headers.authorization) return json(res, 403, { message: 'The request signature we calculated does not match' });
    json(res, 200, { SearchResult: { Items: [{ ASIN: 'B000000001', Title: 'Signed' }] } });
  });
  try {
    const yaml = specYaml({
      config: `config:
  type: object
  properties:
    key: { type: string, x-secret: true }
    access_key: { type: string }`,
      auth: 'auth: { type: aws_sigv4, access_key_id: "{{ $config.access_key }}", secret_access_key: "{{ $config.key }}", region: eu-west-1, service: ProductAdvertisingAPI }',
      stream: `  - name: items
    kind: product
    request: { method: POST, path: /paapi5/searchitems, headers: { content-type: application/json; charset=utf-8, x-amz-target: com.amazon.paapi5.v1.ProductAdvertisingAPIv1.SearchItems }, body: { Keywords: shoes } }
    records: SearchResult.Items
    map: '{"external_id": ASIN, "title": Title, "url": "https://www.amazon.de/dp/" & ASIN}'`,
    });
    const r = await runYaml(yaml, { baseUrl: srv.url, config: { key: creds.secretAccessKey, access_key: creds.accessKeyId } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.equal(r.offers[0].external_id, 'B000000001');
    assert.match(String(srv.requests[0].headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ProductAdvertisingAPI\/aws4_request, SignedHeaders=content-type;host;user-agent;x-amz-date;x-amz-target|^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ProductAdvertisingAPI\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target/);
  } finally { await srv.close(); }
});

test('a declarative signature recipe (ShareASale style: SHA-256 of token:date:action:secret)', async () => {
  const srv = await startServer((req, res) => {
    const date = String(req.headers['x-shareasale-date']);
    const want = createHash('sha256').update(`tok-1:${date}:${req.url.searchParams.get('action')}:k-123456`).digest('hex').toUpperCase();
    if (req.headers['x-shareasale-authentication'] !== want || !/GMT$/.test(date)) return json(res, 401, { error: 'bad signature' });
    json(res, 200, OK);
  });
  try {
    const yaml = spec(`auth:
  type: signature
  algorithm: sha256
  encoding: HEX
  date_format: rfc1123
  string_to_sign: "{{ $config.user & ':' & $sign.date & ':' & $request.query.action & ':' & $config.key }}"
  headers:
    x-ShareASale-Date: "{{ $sign.date }}"
    x-ShareASale-Authentication: "{{ $sign.signature }}"`);
    const r = await runYaml(yaml, { baseUrl: srv.url, config: { key: 'k-123456', user: 'tok-1' } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
  } finally { await srv.close(); }
});

test('an HMAC signature recipe placed in the query', async () => {
  const srv = await startServer((req, res) => {
    const ts = req.url.searchParams.get('ts')!;
    const want = createHmac('sha256', 'k-123456').update(`GET\n/items\n${ts}`).digest('base64');
    if (req.url.searchParams.get('sig') !== want) return json(res, 401, { error: 'bad signature' });
    json(res, 200, OK);
  });
  try {
    const yaml = spec(`auth:
  type: signature
  algorithm: hmac-sha256
  key: "{{ $config.key }}"
  encoding: base64
  date_format: unix
  string_to_sign: "{{ $request.method & '\\n' & $request.path & '\\n' & $sign.date }}"
  query: { ts: "{{ $sign.date }}", sig: "{{ $sign.signature }}" }`);
    const r = await runYaml(yaml, { baseUrl: srv.url, config: { key: 'k-123456' } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
  } finally { await srv.close(); }
});
