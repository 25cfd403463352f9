// GraphQL over real HTTP and websocket against real stores: queries, connections, limits, and subscriptions
// that receive the changes of real sync runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { item, startApiStack, type ApiStack } from '../test/support/api-stack.ts';

async function gql(s: ApiStack, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = { 'x-offerfeed-consent': 'affiliate' }) {
  const res = await fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: Array<{ message: string; extensions?: any }> } };
}

/** A graphql-transport-ws client: connects, acknowledges, subscribes; collects `next` payloads with arrival times. */
async function subscribe(s: ApiStack, query: string, variables: Record<string, unknown> = {}, init: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { headers });
  const messages: Array<{ at: number; data: any }> = [];
  const errors: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: init })));
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw));
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
        // The server registers the subscription asynchronously; give it a moment before anything is published.
        setTimeout(resolve, 100);
      } else if (m.type === 'next') messages.push({ at: performance.now(), data: m.payload.data });
      else if (m.type === 'error') errors.push(m.payload);
    });
  });
  return { ws, messages, errors, close: () => new Promise<void>((r) => { ws.once('close', () => r()); ws.close(); }) };
}

const waitUntil = async (fn: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!fn()) { if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 10)); }
};

describe('GraphQL queries', () => {
  let s: ApiStack;
  before(async () => {
    s = await startApiStack({ clickhouse: false, config: { rateLimit: { max: 100_000, timeWindowMs: 60_000 } } });
    await s.sync('alpha', Array.from({ length: 12 }, (_, i) => item(`a${i}`, { title: `Kettle ${i}`, price: i, payout: { type: 'cps', percent: 5 }, attributes: { color: 'red', size: i } })));
    await s.sync('beta', [item('b1', { title: 'Teapot', url: 'https://shop.example/p/b1' })]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
  });
  after(() => s.close());

  test('offers: Relay connection with filter and cursors, the same offers as REST', async () => {
    const q = `query($after: String) { offers(filter: { network: ["alpha"], maxPrice: 9 }, first: 4, after: $after) {
      edges { cursor node { id network external_id title price payout { type percent } attributes click_url } } pageInfo { hasNextPage endCursor } } }`;
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r = await gql(s, q, { after });
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      const c = r.body.data.offers;
      ids.push(...c.edges.map((e: any) => e.node.external_id));
      assert.deepEqual(c.edges[0].node.payout, { type: 'cps', percent: 5 });
      assert.equal(c.edges[0].node.attributes.color, 'red');
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    assert.equal(ids.length, 10);
    assert.equal(new Set(ids).size, 10);
    const rest = await (await fetch(`${s.url}/api/offers/latest?network=alpha&max_price=9&limit=100`, { headers: { 'x-offerfeed-consent': 'affiliate' } })).json() as any;
    assert.deepEqual(ids, rest.items.map((o: any) => o.external_id));
  });

  test('search, one offer, top offers, networks and sync runs', async () => {
    const r = await gql(s, `{ offers(search: "kettel 7", first: 3) { edges { score node { external_id } } }
      topOffers(first: 2) { score node { id } } networks { id health offers { public } last_run { status counts { new } } }
      syncRuns(first: 1) { edges { node { connector status counts { new } } } pageInfo { hasNextPage endCursor } } }`);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    assert.equal(r.body.data.offers.edges[0].node.external_id, 'a7');
    assert.equal(r.body.data.topOffers.length, 2);
    const alpha = r.body.data.networks.find((n: any) => n.id === 'alpha');
    assert.deepEqual([alpha.health, alpha.offers.public, alpha.last_run.status, alpha.last_run.counts.new], ['ok', 12, 'succeeded', 12]);
    assert.deepEqual(r.body.data.syncRuns.edges.map((e: any) => e.node.connector), ['beta']);
    const more = await gql(s, `query($a: String) { syncRuns(first: 5, after: $a) { edges { node { connector } } } }`, { a: r.body.data.syncRuns.pageInfo.endCursor });
    assert.deepEqual(more.body.data.syncRuns.edges.map((e: any) => e.node.connector), ['alpha']);
    const id = r.body.data.topOffers[0].node.id;
    const one = await gql(s, `query($id: ID!) { offer(id: $id) { id status } }`, { id });
    assert.deepEqual(one.body.data.offer, { id, status: 'active' });
    assert.equal((await gql(s, `{ offer(id: "0000000000000000") { id } }`)).body.data.offer, null);
  });

  test('consent applies to GraphQL as to REST', async () => {
    const r = await gql(s, `{ offers(first: 50) { edges { node { external_id url } } } }`, {}, {});
    assert.deepEqual(r.body.data.offers.edges.map((e: any) => e.node.external_id), ['b1']);
  });

  test('depth, cost and page-size limits; introspection and GraphiQL off by default; no internals in errors', async () => {
    const fields = 'id title description url landing_url image_url merchant_name price sale_price currency categories countries languages tags payout { type amount percent }';
    const three = (first: string) => ['a', 'b', 'c'].map((k) => `${k}: offers(first: ${first}) { edges { node { ...F } } }`).join(' ');
    const frag = `fragment F on Offer { ${fields} }`;
    const big = await gql(s, `{ ${three('100')} } ${frag}`);
    assert.match(big.body.errors?.[0].message ?? '', /query cost \d+ exceeds the limit of 5000/);
    const viaVar = await gql(s, `query($n: Int) { ${three('$n')} } ${frag}`, { n: 2 });
    assert.match(viaVar.body.errors?.[0].message ?? '', /exceeds the limit/, 'a variable page size counts as the largest allowed');
    const small = await gql(s, `{ offers(first: 10) { edges { node { ${fields} } } } }`);
    assert.equal(small.body.errors, undefined);
    const tooMany = await gql(s, `{ offers(first: 101) { edges { cursor } } }`);
    assert.match(tooMany.body.errors?.[0].message ?? '', /first must be between 1 and 100/);
    const intro = await gql(s, `{ __schema { types { name } } }`);
    assert.match(intro.body.errors?.[0].message ?? '', /introspection/i);
    assert.equal((await fetch(`${s.url}/graphiql`)).status, 404);
    const bad = await gql(s, `{ offers(after: "garbage") { edges { cursor } } }`);
    assert.match(bad.body.errors?.[0].message ?? '', /invalid cursor/);
  });

  test('depth limit and introspection when enabled', async () => {
    const t = await startApiStack({ clickhouse: false, config: { graphql: { graphiql: false, introspection: true, maxDepth: 3, maxCost: 5000 } } });
    try {
      const deep = await gql(t, `{ offers { edges { node { payout { type } } } } }`);
      assert.ok(deep.body.errors?.some((e) => /depth/i.test(e.message)), JSON.stringify(deep.body.errors));
      const intro = await gql(t, `{ __schema { queryType { name } } }`);
      assert.equal(intro.body.data.__schema.queryType.name, 'Query');
    } finally { await t.close(); }
  });
});

describe('GraphQL subscriptions', () => {
  let s: ApiStack;
  before(async () => { s = await startApiStack({ clickhouse: false }); });
  after(() => s.close());

  test('offerChanged delivers a real sync run\'s changes within a second of its commit, filtered; syncRunFinished follows', async () => {
    await s.sync('alpha', [item('x1'), item('x2')]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
    const changes = await subscribe(s, `subscription { offerChanged(filter: { network: ["alpha"] }) { op visible run_id offer { external_id title url status } } }`, {}, { consent: 'affiliate' });
    const runs = await subscribe(s, `subscription { syncRunFinished(connector: "alpha") { id connector status counts { new updated deactivated } } }`);
    const other = await subscribe(s, `subscription { offerChanged(filter: { network: ["beta"] }) { op } }`);
    let committedAt = 0;
    const bus = s.bus;
    const unsub = bus.subscribe('offers.committed', () => { committedAt = performance.now(); });
    await s.sync('alpha', [item('x1', { title: 'Renamed' }), item('x3')]);
    unsub();
    await waitUntil(() => changes.messages.length >= 3 && runs.messages.length >= 1);
    const latency = changes.messages[0].at - committedAt;
    assert.ok(committedAt > 0 && latency < 1000, `first change ${latency.toFixed(0)} ms after commit`);
    const byId = Object.fromEntries(changes.messages.map((m) => [m.data.offerChanged.offer.external_id, m.data.offerChanged]));
    assert.equal(byId.x1.op, 'UPDATE');
    assert.equal(byId.x1.offer.title, 'Renamed');
    assert.equal(byId.x3.op, 'INSERT');
    assert.equal(byId.x2.op, 'DEACTIVATE');
    assert.equal(byId.x2.visible, false);
    assert.equal(byId.x2.offer.status, 'inactive');
    assert.ok(byId.x1.offer.url.startsWith('https://track.example'), 'consent from connection_init: tracking URLs allowed');
    const run = runs.messages[0].data.syncRunFinished;
    assert.deepEqual([run.connector, run.status, run.counts.new, run.counts.updated, run.counts.deactivated], ['alpha', 'succeeded', 1, 1, 1]);
    assert.equal(run.id, byId.x1.run_id);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(other.messages.length, 0, 'a subscriber filtering on another network hears nothing');
    await Promise.all([changes.close(), runs.close(), other.close()]);
  });

  test('a subscriber without affiliate consent never receives a tracking URL', async () => {
    const anon = await subscribe(s, `subscription { offerChanged { op offer { external_id url } } }`);
    const viaCookie = await subscribe(s, `subscription { offerChanged { op offer { external_id url } } }`, {}, {}, { cookie: 'offerfeed_consent=affiliate' });
    await s.sync('alpha', [item('x1', { title: 'Renamed' }), item('x3'), item('y1', { url: 'https://shop.example/p/y1' }), item('y2')]);
    await waitUntil(() => anon.messages.length >= 1 && viaCookie.messages.length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(anon.messages.map((m) => m.data.offerChanged.offer.external_id), ['y1']);
    assert.deepEqual(viaCookie.messages.map((m) => m.data.offerChanged.offer.external_id).sort(), ['y1', 'y2']);
    await Promise.all([anon.close(), viaCookie.close()]);
  });

  test('websocket origins are checked against the configured CORS origins', async () => {
    const t = await startApiStack({ clickhouse: false, config: { corsOrigins: ['https://shop.example'] } });
    try {
      const ok = await subscribe(t, 'subscription { syncRunFinished { id } }', {}, {}, { origin: 'https://shop.example' });
      await ok.close();
      await assert.rejects(subscribe(t, 'subscription { syncRunFinished { id } }', {}, {}, { origin: 'https://evil.example' }));
    } finally { await t.close(); }
  });
});
