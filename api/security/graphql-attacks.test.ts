// Hostile GraphQL over real HTTP and websocket against a real store: every document built to exhaust the server
// (depth, aliases, batches, size, token floods, fragment bombs, field-merging floods) and every introspection
// attempt with introspection off is answered 400 (413 for a body over the limit) before anything executes —
// proven by a spy on every read path of the resolvers, which records nothing. Subscriptions get the same checks
// (Mercurius would execute them unvalidated) and only browser pages of allowed origins may open one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { item, startApiStack, type ApiStack } from '../../test/support/api-stack.ts';
import { spyOnReads, type ReadSpy } from './support.ts';

type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

async function post(s: ApiStack, body: unknown, raw = false): Promise<{ status: number; body: Body; ms: number }> {
  const t = performance.now();
  const res = await fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-offerfeed-consent': 'affiliate' }, body: raw ? String(body) : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Body, ms: performance.now() - t };
}

const many = (n: number, f: (i: number) => string, sep = ' ') => Array.from({ length: n }, (_, i) => f(i)).join(sep);

/** Fragments F1…Fn, each spreading the one before twice: 2^n fields from a document of a few hundred bytes. */
function fragmentBomb(n: number, leaf = 'id'): string {
  let frags = `fragment F0 on Network { ${leaf} }`;
  for (let i = 1; i <= n; i++) frags += ` fragment F${i} on Network { ...F${i - 1} ...F${i - 1} }`;
  return `{ networks { ...F${n} } } ${frags}`;
}

// Each: a name, the request body (an object is sent as JSON, a string as is), the status expected.
const ATTACKS: Array<[string, unknown, number]> = [
  ['5,000 nested selections', { query: `{ ${'a { '.repeat(5000)}b${' }'.repeat(5000)} }` }, 400],
  ['100 nested inline fragments around a real field', { query: `{ ${'... on Query { '.repeat(100)}networks { id }${' }'.repeat(100)} }` }, 400],
  ['a filter argument nested 200 lists deep', { query: `{ offers(filter: { network: ${'['.repeat(200)}"x"${']'.repeat(200)} }) { edges { cursor } } }` }, 400],
  ['nesting below the last real field', { query: '{ offers { edges { node { payout { type { a { b { c { d { e } } } } } } } } } }' }, 400],
  ['300 aliases of one cheap field', { query: `{ ${many(300, (i) => `a${i}: offer(id: "0000000000000000") { id }`)} }` }, 400],
  ['31 aliases (one over the limit)', { query: `{ ${many(31, (i) => `a${i}: __typename`)} }` }, 400],
  ['aliases hidden in a fragment spread four times', { query: `{ ...A ...A ...A ...A } fragment A on Query { ${many(10, (i) => `n${i}: networks { id }`)} }` }, 400],
  ['400 aliases in a subscription-shaped query', { query: `{ offers(first: 1) { edges { node { ${many(400, (i) => `t${i}: title`)} } } } }` }, 400],
  ['a fragment bomb of 40 doublings (2^40 fields)', { query: fragmentBomb(40) }, 400],
  ['a fragment bomb of 18 doublings within the definition limit', { query: fragmentBomb(18) }, 400],
  ['1,200 same-named fields (quadratic field merging)', { query: `{ ${many(1200, () => 'networks { id }')} }` }, 400],
  ['4,000 __typename selections', { query: `{ ${many(4000, () => '__typename')} }` }, 400],
  ['more than 5,000 tokens', { query: `{ offers(filter: { network: [${many(5200, () => '"x"', ',')}] }) { edges { cursor } } }` }, 400],
  ['a 5,000-character string literal', { query: `{ offers(search: "${'kettle '.repeat(715)}") { edges { cursor } } }` }, 400],
  ['500 repeated directives', { query: `{ networks ${many(500, () => '@include(if: true)')} { id } }` }, 400],
  ['30 operations in one document', { query: many(30, (i) => `query Q${i} { networks { id } }`), operationName: 'Q0' }, 400],
  ['a batch of 2 queries', [{ query: '{ networks { id } }' }, { query: '{ offers { edges { cursor } } }' }], 400],
  ['a batch of 200 queries', Array.from({ length: 200 }, () => ({ query: '{ networks { id } }' })), 400],
  ['a document of 70 kB (over the body limit)', { query: `{ networks { id } } # ${'x'.repeat(70_000)}` }, 413],
  ['a JSON-encoded AST instead of a document', { query: JSON.stringify({ kind: 'Document', definitions: [{ kind: 'OperationDefinition', operation: 'query', selectionSet: { kind: 'SelectionSet', selections: [{ kind: 'Field', name: { kind: 'Name', value: '__schema' } }] } }] }) }, 400],
  ['a JSON-encoded AST that would crash validation', { query: JSON.stringify({ kind: 'Document', definitions: [{ kind: 'OperationDefinition', operation: 'query' }] }) }, 400],
  ['introspection: __schema', { query: '{ __schema { types { name fields { name } } } }' }, 400],
  ['introspection: __type', { query: '{ __type(name: "Offer") { fields { name } } }' }, 400],
  ['introspection under an alias', { query: '{ innocent: __schema { queryType { name } } }' }, 400],
  ['introspection in a fragment', { query: '{ ...I } fragment I on Query { __schema { types { name } } }' }, 400],
  ['introspection next to a real query', { query: '{ networks { id } __type(name: "Query") { name } }' }, 400],
  ['a syntax error', { query: '{ networks { id }' }, 400],
  ['a NUL byte in the document', { query: '{ networks\u0000 { id } }' }, 400],
  ['an unknown field', { query: '{ secrets { value } }' }, 400],
  ['a variable of the wrong type', { query: 'query($f: Int) { offers(first: $f) { edges { cursor } } }', variables: { f: 'DROP TABLE offers' } }, 400],
  ['no query at all', { variables: {} }, 400],
  ['a query that is not a string', { query: { kind: 'Document' } }, 400],
];

describe('GraphQL attacks over HTTP: 400 before execution', () => {
  let s: ApiStack;
  let spy: ReadSpy;
  before(async () => {
    // The defaults are production's: introspection and GraphiQL off.
    s = await startApiStack({ clickhouse: false, config: { rateLimit: { max: 100_000, timeWindowMs: 60_000 } } });
    await s.sync('alpha', [item('a1'), item('a2', { title: 'Kettle' })]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
    spy = spyOnReads(s.api.services);
  });
  after(async () => { spy?.restore(); await s?.close(); });

  test('the spy sees what a legitimate query reads', async () => {
    spy.reset();
    const r = await post(s, { query: '{ offers(first: 2) { edges { node { id } } } networks { id } }' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(spy.calls.includes('index.latest') && spy.calls.includes('services.networks'), spy.calls.join());
  });

  for (const [name, body, status] of ATTACKS) {
    test(`refused before execution: ${name}`, async () => {
      spy.reset();
      const r = await post(s, typeof body === 'string' ? body : JSON.stringify(body), true);
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body).slice(0, 300)}`);
      assert.ok(r.body.errors?.length, 'an error says why');
      assert.ok(!r.body.errors!.some((e) => /internal error|stack|at .*\.js/i.test(e.message)), JSON.stringify(r.body.errors).slice(0, 300));
      assert.equal(r.body.data ?? null, null);
      assert.deepEqual(spy.calls, [], 'no resolver read anything');
      assert.ok(r.ms < 2000, `answered in ${r.ms.toFixed(0)} ms`);
    });
  }

  test('introspection over GET and GraphiQL are refused too', async () => {
    spy.reset();
    const get = await fetch(`${s.url}/graphql?query=${encodeURIComponent('{ __schema { types { name } } }')}`);
    assert.equal(get.status, 400);
    assert.equal((await fetch(`${s.url}/graphiql`)).status, 404);
    assert.deepEqual(spy.calls, []);
  });

  test('limits are not stricter than legitimate use: 30 aliases, a fragment used twice, __typename', async () => {
    const r = await post(s, { query: `{ ${many(30, (i) => `a${i}: offer(id: "0000000000000000") { id }`)} __typename ...N ...N } fragment N on Query { networks { id } }` });
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    assert.equal((r.body.data as Record<string, unknown>).__typename, 'Query');
  });

  test('oversized values through variables are refused before the index is queried', async () => {
    spy.reset();
    const q = 'query($s: String, $f: OfferFilter) { offers(search: $s, filter: $f) { edges { cursor } } }';
    for (const variables of [{ s: 'kettle '.repeat(10_000).slice(0, 60_000) }, { f: { network: Array.from({ length: 5000 }, (_, i) => `n${i}`) } }, { f: { merchant: ['m'.repeat(5000)] } }]) {
      const r = await post(s, { query: q, variables });
      assert.ok(r.status === 200 || r.status === 400 || r.status === 413, String(r.status));
      assert.match(r.body.errors?.[0]?.message ?? '', /at most|too large/);
    }
    assert.deepEqual(spy.calls, []);
    const runs = await post(s, { query: 'query($c: String) { syncRuns(connector: $c) { edges { cursor } } }', variables: { c: 'x'.repeat(5000) } });
    assert.match(runs.body.errors?.[0]?.message ?? '', /at most/);
  });

  test('the server still answers normally after the attacks', async () => {
    const r = await post(s, { query: '{ offers(search: "kettle") { edges { node { external_id } } } }' });
    assert.deepEqual((r.body.data as any).offers.edges.map((e: any) => e.node.external_id), ['a2']);
  });
});

/** A graphql-transport-ws client; resolves once acknowledged, or rejects when the handshake is refused. */
function connectWs(s: ApiStack, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; messages: any[]; send: (m: object) => void; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers });
    const messages: any[] = [];
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { consent: 'affiliate' } })));
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw));
      messages.push(m);
      if (m.type === 'connection_ack') {
        resolve({
          ws, messages, send: (x) => ws.send(JSON.stringify(x)),
          close: () => new Promise<void>((r) => { if (ws.readyState === WebSocket.CLOSED) return r(); ws.once('close', () => r()); ws.close(); }),
        });
      }
    });
  });
}

const waitUntil = async (fn: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!fn()) { if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 10)); }
};

describe('GraphQL subscriptions: origins and hostile documents over websocket', () => {
  let s: ApiStack;
  before(async () => {
    s = await startApiStack({ clickhouse: false, config: { corsOrigins: ['https://shop.example'], rateLimit: { max: 100_000, timeWindowMs: 60_000 } } });
  });
  after(() => s?.close());

  const FOREIGN: Array<[string, Record<string, string>]> = [
    ['another site', { origin: 'https://evil.example' }],
    ['an allowed name as a subdomain of another site', { origin: 'https://shop.example.evil.example' }],
    ['a look-alike name', { origin: 'https://evil-shop.example' }],
    ['the allowed host over plain HTTP', { origin: 'http://shop.example' }],
    ['the allowed host on another port', { origin: 'https://shop.example:8443' }],
    ['the allowed origin in upper case', { origin: 'https://SHOP.EXAMPLE' }],
    ['an opaque origin (sandboxed iframe, file:)', { origin: 'null' }],
    ['DNS rebinding (Host and Origin both the attacker\'s)', { origin: 'http://rebind.evil.example', host: 'rebind.evil.example' }],
    ['a page on the API\'s address claiming to be same-origin under another name', { origin: 'http://evil.example', host: 'evil.example' }],
  ];

  for (const [name, headers] of FOREIGN) {
    test(`refused: a websocket from ${name}`, async () => {
      await assert.rejects(connectWs(s, headers), (e: Error & { status?: number }) => e.status === 403);
    });
  }

  test('allowed: the allow-listed origin, and clients without Origin; they receive real changes', async () => {
    const browser = await connectWs(s, { origin: 'https://shop.example' });
    const server = await connectWs(s);
    for (const c of [browser, server]) c.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { offerChanged { op offer { external_id } } }' } });
    await new Promise((r) => setTimeout(r, 150));
    await s.sync('alpha', [item('w1')]);
    await waitUntil(() => [browser, server].every((c) => c.messages.some((m) => m.type === 'next')));
    assert.equal(browser.messages.find((m) => m.type === 'next').payload.data.offerChanged.offer.external_id, 'w1');
    await Promise.all([browser.close(), server.close()]);
  });

  test('hostile subscriptions are refused with an error and never deliver anything', async () => {
    const c = await connectWs(s, { origin: 'https://shop.example' });
    const docs = [
      `subscription { offerChanged { offer { ${many(500, (i) => `t${i}: title`)} } } }`,
      `subscription { offerChanged { offer { ...F18 } } } fragment F0 on Offer { id } ${many(18, (i) => `fragment F${i + 1} on Offer { ...F${i} ...F${i} }`)}`,
      'subscription { offerChanged { nosuch } }',
      'subscription { offerChanged(filter: { minPrice: "DROP TABLE offers" }) { op } }',
      `subscription { offerChanged { ${'op '.repeat(3)} offer { ${'... on Offer { '.repeat(80)}id${' }'.repeat(80)} } } }`,
      '{ __schema { types { name } } }',
      'subscription { offerChanged { op } syncRunFinished { id } }',
      `subscription { offerChanged { offer { ${many(1500, () => 'id')} } } }`,
      `subscription { offerChanged(filter: { network: ["${'x'.repeat(2000)}"] }) { op } }`,
      `subscription { offerChanged { op } } # ${'x'.repeat(70_000)}`,
    ];
    docs.forEach((query, i) => c.send({ id: `bad${i}`, type: 'subscribe', payload: { query } }));
    await waitUntil(() => docs.every((_, i) => c.messages.some((m) => m.id === `bad${i}` && m.type === 'error')) || c.ws.readyState !== WebSocket.OPEN, 5000)
      .catch(() => undefined);
    const refused = docs.map((_, i) => c.messages.find((m) => m.id === `bad${i}`));
    const closed = c.ws.readyState !== WebSocket.OPEN;
    refused.forEach((m, i) => assert.ok(closed || m?.type === 'error', `document ${i}: ${JSON.stringify(m)}`));
    for (const m of refused) if (m) assert.ok(!/internal|at .*\.(js|ts)/.test(JSON.stringify(m.payload)), JSON.stringify(m.payload));
    await s.sync('alpha', [item('w1', { title: 'Changed' }), item('w2')]);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(c.messages.filter((m) => m.type === 'next'), [], 'no refused subscription delivered anything');
    await c.close();
  });

  test('a message over the body limit cannot open a subscription', async () => {
    const c = await connectWs(s);
    c.send({ id: 'big', type: 'subscribe', payload: { query: `subscription { offerChanged { op } } # ${'x'.repeat(200_000)}` } });
    await waitUntil(() => c.messages.some((m) => m.id === 'big') || c.ws.readyState !== WebSocket.OPEN);
    const m = c.messages.find((x) => x.id === 'big');
    assert.ok(!m || m.type === 'error', JSON.stringify(m));
    await c.close();
  });
});
