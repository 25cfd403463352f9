// SQL injection (and its relatives: comment tokens, unicode quotes, DuckDB's file and extension functions, huge and
// malformed values) through every filter, search, sort, cursor and id parameter of REST and GraphQL, every field
// of a postback, and the privacy cookies — against a real DuckDB store. Expected: never a 5xx, never an offer
// that is not in the store, never a value of another table, sort only from its fixed list (400 otherwise), and
// afterwards every table of the store exactly as it was (postbacks store their values literally, as data).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { all, run } from '../../engine/store/duckdb.ts';
import { openSideConnection } from '../../engine/store/side-connection.ts';
import { item, startApiStack, type ApiStack } from '../../test/support/api-stack.ts';
import { storeState } from './support.ts';

const TOKEN = 'alpha-postback-token-0123456789';
const MARK_TABLE = 'CANARY-OTHER-TABLE-7d1e';
const MARK_QUARANTINE = 'CANARY-QUARANTINE-91ac';
const LEAK_FILE = '/tmp/offerfeed-sqli-leak.csv';

const PAYLOADS: string[] = [
  "'", "''", '"', '`', "\\'", '\\', ';', "' OR '1'='1", "' OR 1=1--", '" OR ""="', "1' OR '1'='1' /*", "') OR ('1'='1",
  ';DROP TABLE offers;--', "';DROP TABLE offers;--", '");DROP TABLE offers;--', "1; DELETE FROM offers; --", "'; UPDATE offers SET status='active'; --",
  "' UNION SELECT * FROM attack_canary--", "' UNION ALL SELECT secret, secret, secret FROM attack_canary--", '0 UNION SELECT id, data FROM offers',
  "' || (SELECT secret FROM attack_canary) || '", "'; SELECT * FROM quarantine; --", '/*', '*/', '/* comment */ alpha', '*/ OR 1=1 /*', '--', '-- alpha', '#', '/*!50000 OR*/ 1=1',
  '\u2019 OR \u20181\u2019=\u20181', '\uFF07 OR 1=1--', '\u02BC OR 1=1--', '\u2032; DROP TABLE offers;--', 'alpha\u0000', '\u0000\'; DROP TABLE offers;--',
  "$1", '$$; DROP TABLE offers; $$', '?', ':name', '{{7*7}}', '${7*7}', "read_csv_auto('/etc/passwd')", "' || read_text('/etc/passwd') || '",
  `'; COPY offers TO '${LEAK_FILE}'; --`, "'; ATTACH '/tmp/offerfeed-sqli.db' AS x; --", "'; INSTALL httpfs; LOAD httpfs; --", "'; PRAGMA database_list; --", "'; CALL pragma_table_info('offers'); --",
  "x' AND sleep(5)--", '%', '_', '%%', '.*', '(a+)+$', '[', '\\d+', '*', 'NULL', 'null', 'undefined', 'true', '[]', '{}', '-1', '0', '1e309', '-1e309', 'NaN', 'Infinity',
  '99999999999999999999999', '0x7FFFFFFF', '1 OR 1', 'alpha,beta', ',,,,', ' ', 'é'.repeat(300), '🔥'.repeat(100), '<script>alert(1)</script>', '\r\nX-Injected: 1',
];
/** One of each kind, for parameters whose code path is already covered by the full list on another route. */
const CORE: string[] = [
  "'", "' OR '1'='1", "';DROP TABLE offers;--", "' UNION SELECT * FROM attack_canary--", "' || (SELECT secret FROM attack_canary) || '", '/*', '-- alpha', '#',
  '\u2019 OR \u20181\u2019=\u20181', '\uFF07 OR 1=1--', '\u0000\'; DROP TABLE offers;--', '$$; DROP TABLE offers; $$', `'; COPY offers TO '${LEAK_FILE}'; --`,
  "read_csv_auto('/etc/passwd')", '%', '(a+)+$', '1e309', '-1', 'NaN', '99999999999999999999999', 'é'.repeat(300), '\r\nX-Injected: 1',
];
/** Raw query-string values (not re-encoded): broken percent-encodings and overlong/invalid UTF-8. */
const RAW_VALUES = ['%', '%zz', '%ED%A0%80', '%C0%AF', '%FF%FE', '%00', '%27%20OR%201%3D1--', '%E2%80%99%20OR%201=1', 'a%0d%0aSet-Cookie:%20x=1', 'x'.repeat(20_000)];

/** Runs fn over items, `width` at a time (the suite stays fast; requests from one client still queue fairly). */
async function inParallel<T>(items: readonly T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < items.length) await fn(items[next++]); }));
}

const REST_LIST_FILTERS = ['network', 'kind', 'merchant', 'country', 'lang', 'vertical'];
const REST_OTHER = ['min_price', 'max_price', 'has_coupon', 'group', 'limit', 'cursor'];

describe('injection through every parameter', () => {
  let s: ApiStack;
  let ids: Set<string>;
  let before0: Awaited<ReturnType<typeof storeState>>;
  let tried = 0;
  const path = () => join(s.dir, 'offerfeed.duckdb');

  before(async () => {
    s = await startApiStack({
      clickhouse: false,
      config: { rateLimit: { max: 1_000_000, timeWindowMs: 60_000, clicks: { max: 1_000_000, timeWindowMs: 60_000 }, postbacks: { max: 1_000_000, timeWindowMs: 60_000 } }, postbacks: { alpha: { secret: TOKEN, auth: 'token' } } },
    });
    await s.sync('alpha', [item('a1', { title: 'Kettle', coupon_code: 'SAVE10' }), item('a2', { merchant_name: "O'Brien's Shop", title: "O'Brien kettle" }), item('q1', { kind: 'bogus', title: MARK_QUARANTINE })]);
    await s.sync('beta', [item('b1', { title: 'Teapot', countries: ['FR'], languages: ['fr'] })]);
    // A table the API never reads, holding a value that must never come out of it.
    const conn = await openSideConnection(path());
    try { await run(conn, `CREATE TABLE attack_canary (secret VARCHAR); INSERT INTO attack_canary VALUES ('${MARK_TABLE}')`); } finally { conn.closeSync(); }
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
    ids = new Set();
    for (const [n, e] of [['alpha', 'a1'], ['alpha', 'a2'], ['beta', 'b1']]) ids.add(String((await s.store.findOffer(n, e))!.id));
    before0 = await storeState(path());
    assert.ok(before0.offers.rows >= 3 && before0.quarantine.rows >= 1, JSON.stringify(before0));
  });
  after(() => s?.close());

  /** What every answer must satisfy, whatever the request. */
  function check(what: string, status: number, text: string, opts: { graphqlRuns?: boolean } = {}) {
    tried++;
    assert.ok(status > 0 && status < 500, `${what}: HTTP ${status} ${text.slice(0, 200)}`);
    assert.ok(!text.includes(MARK_TABLE) && !text.includes(MARK_QUARANTINE), `${what}: another table's data in the response`);
    assert.ok(!/internal error|syntax error at|Parser Error|Binder Error|Catalog Error|Conversion Error|Invalid Input Error|RangeError|TypeError/i.test(text), `${what}: ${text.slice(0, 200)}`);
    if (status !== 200 || opts.graphqlRuns) return;
    for (const m of text.matchAll(/"id":"([^"]+)"/g)) assert.ok(ids.has(m[1]), `${what}: returned an id not in the store: ${m[1]}`);
  }

  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.url}${url}`, { headers: { 'x-offerfeed-consent': 'affiliate', ...headers }, redirect: 'manual' });
    return { status: res.status, text: await res.text(), res };
  };

  test('REST: every filter, search, sort, paging and id parameter', async () => {
    // Free-text parameters of /latest and the search text get every payload; typed ones (numbers, booleans, the
    // sort enum: refused by schema validation) and /search's and /top's filters (the same code as /latest's) get
    // one payload of each kind.
    const full = [...PAYLOADS.map(encodeURIComponent), ...RAW_VALUES];
    const core = [...CORE.map(encodeURIComponent), ...RAW_VALUES.slice(0, 4)];
    const cases: Array<readonly [string, string, string]> = [];
    for (const p of [...REST_LIST_FILTERS, 'cursor']) for (const v of full) cases.push(['/api/offers/latest', p, v]);
    for (const p of [...REST_OTHER.filter((x) => x !== 'cursor'), 'sort']) for (const v of core) cases.push(['/api/offers/latest', p, v]);
    for (const v of full) cases.push(['/api/offers/search', 'q', v]);
    for (const p of [...REST_LIST_FILTERS, ...REST_OTHER, 'highlight']) for (const v of core) cases.push(['/api/offers/search', p, v]);
    for (const p of [...REST_LIST_FILTERS, ...REST_OTHER]) for (const v of core) cases.push(['/api/offers/top', p, v]);
    await inParallel(cases, 8, async ([route, p, v]) => {
      const base = route.endsWith('search') && p !== 'q' ? 'q=kettle&' : '';
      const r = await get(`${route}?${base}${p}=${v}`);
      check(`${route} ${p}=${v.slice(0, 40)}`, r.status, r.text);
    });
    for (const v of [...PAYLOADS, "' OR 1=1--", '0000000000000000%27', '..%2F..%2Fnetworks']) {
      const r = await get(`/api/offers/${encodeURIComponent(v)}`);
      check(`/api/offers/${v.slice(0, 40)}`, r.status, r.text);
      assert.ok(r.status === 400 || r.status === 404 || r.status === 414, `${v}: ${r.status}`);
    }
  });

  test('REST: numbers out of range, ±Infinity included, are refused with 400', async () => {
    // Ajv coerces "1e309" to Infinity and then skips minimum/maximum: limit=-1e309 used to crash the search.
    for (const route of ['/api/offers/latest?', '/api/offers/search?q=kettle&', '/api/offers/top?']) {
      for (const p of ['limit', 'min_price', 'max_price']) {
        for (const v of ['1e309', '-1e309', 'Infinity', '-Infinity', '-1', '1e400']) {
          const r = await get(`${route}${p}=${v}`);
          assert.equal(r.status, 400, `${route}${p}=${v}: ${r.text.slice(0, 200)}`);
          tried++;
        }
      }
    }
  });

  test('REST: sort only from its fixed list', async () => {
    for (const sort of ['newest', 'changed']) assert.equal((await get(`/api/offers/latest?sort=${sort}`)).status, 200);
    for (const sort of ['price', 'title', 'id', 'NEWEST', 'newest;DROP TABLE offers', 'newest,changed', 'first_seen_at DESC', '1', 'random()', '(SELECT 1)']) {
      const r = await get(`/api/offers/latest?sort=${encodeURIComponent(sort)}`);
      assert.equal(r.status, 400, `sort=${sort}`);
      tried++;
    }
  });

  test('REST: cursors carrying injections are refused or just position the page', async () => {
    const cursor = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const crafted = [
      ...PAYLOADS.map((i) => cursor({ t: 'newest', k: 1, i: i.slice(0, 64) })),
      cursor({ t: 'newest', k: 1e308, i: 'x' }), cursor({ t: 'newest', k: -1e308, i: '' }), cursor({ t: 'newest', k: 'DROP', i: 'x' }),
      cursor({ t: 'search', k: 1, i: 'x', m: 1e300 }), cursor({ t: "newest' OR 1=1--", k: 1, i: 'x' }), cursor({ t: 'newest', k: 1, i: 'x'.repeat(65) }),
      cursor({ t: 'newest', k: 1, i: { $gt: '' } }), cursor([1, 2, 3]), cursor(null), 'not-base64!!', '%00', 'x'.repeat(600),
    ];
    for (const c of crafted) {
      for (const route of ['/api/offers/latest?cursor=', '/api/offers/search?q=kettle&cursor=', '/api/offers/latest?sort=changed&cursor=']) {
        const r = await get(`${route}${encodeURIComponent(c)}`);
        check(`${route}${c.slice(0, 30)}`, r.status, r.text);
      }
    }
  });

  test('GraphQL: every argument, as variables and as literals', async () => {
    const gql = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-offerfeed-consent': 'affiliate' }, body: JSON.stringify({ query, variables }) });
      return { status: res.status, text: await res.text() };
    };
    const node = 'edges { cursor node { id title merchant_name } } pageInfo { endCursor }';
    const queries: Array<[string, string]> = [
      ...['network', 'merchant', 'country', 'lang', 'vertical'].map((f): [string, string] => [`filter.${f}`, `query($v: String!) { offers(filter: { ${f}: [$v] }) { ${node} } }`]),
      ['filter.kind', 'query($v: OfferKind!) { offers(filter: { kind: [$v] }) { edges { cursor } } }'],
      ['filter.minPrice', 'query($v: Float) { offers(filter: { minPrice: $v }) { edges { cursor } } }'],
      ['filter.hasCoupon', 'query($v: Boolean) { offers(filter: { hasCoupon: $v }) { edges { cursor } } }'],
      ['search', `query($v: String) { offers(search: $v) { ${node} } }`],
      ['sort', 'query($v: OfferSort) { offers(sort: $v) { edges { cursor } } }'],
      ['after', `query($v: String) { offers(after: $v) { ${node} } }`],
      ['first', 'query($v: Int) { offers(first: $v) { edges { cursor } } }'],
      ['offer(id)', 'query($v: ID!) { offer(id: $v) { id title } }'],
      ['topOffers.filter', 'query($v: String!) { topOffers(filter: { network: [$v], merchant: [$v] }) { node { id } } }'],
      ['syncRuns.connector', 'query($v: String) { syncRuns(connector: $v) { edges { node { connector status } } } }'],
      ['syncRuns.after', 'query($v: String) { syncRuns(after: $v) { edges { node { connector } } } }'],
    ];
    // Free-text arguments get every payload; typed ones (enum, number, boolean), refused by GraphQL's coercion, one
    // of each kind.
    // country, lang and vertical run through the same filter code as network and merchant.
    const typed = new Set(['filter.kind', 'filter.minPrice', 'filter.hasCoupon', 'sort', 'first', 'filter.country', 'filter.lang', 'filter.vertical']);
    await inParallel(queries.flatMap(([arg, q]) => (typed.has(arg) ? CORE : PAYLOADS).map((v) => [arg, q, v] as const)), 8, async ([arg, q, v]) => {
      const r = await gql(q, { v });
      check(`GraphQL ${arg}=${v.slice(0, 40)}`, r.status, r.text, { graphqlRuns: arg.startsWith('syncRuns') });
      assert.ok(r.status === 200 || r.status === 400, `${arg}: ${r.status}`);
    });
    // Literals: the payload inside the document itself (escaped as GraphQL strings), and sort outside its enum.
    for (const v of CORE) {
      const lit = JSON.stringify(v);
      for (const q of [`{ offers(search: ${lit}, filter: { network: [${lit}], merchant: [${lit}] }) { ${node} } }`, `{ offer(id: ${lit}) { id } }`, `{ syncRuns(connector: ${lit}) { edges { cursor } } }`]) {
        const r = await gql(q);
        check(`GraphQL literal ${v.slice(0, 40)}`, r.status, r.text, { graphqlRuns: q.includes('syncRuns') });
      }
    }
    for (const sort of ['PRICE', '"NEWEST"', 'NEWEST_DROP_TABLE_offers', 'newest']) {
      const r = await gql(`{ offers(sort: ${sort}) { edges { cursor } } }`);
      assert.equal(r.status, 400, `sort: ${sort}`);
      tried++;
    }
  });

  test('postbacks, click ids and privacy cookies store or ignore hostile values, never run them', async () => {
    const stored: string[] = [];
    assert.ok(CORE.every((c) => PAYLOADS.includes(c)), 'CORE is a subset of PAYLOADS');
    await inParallel([...PAYLOADS.entries()], 6, async ([i, v]) => {
      const tx = `${v.slice(0, 150)}#${i}`;
      const core = CORE.includes(v);
      // Ids are free text and stored: every payload; the parsed fields, the cookies and /go ids: one of each kind.
      for (const field of core ? ['transaction_id', 'click_id', 'status', 'currency', 'amount', 'converted_at'] : ['transaction_id', 'click_id']) {
        const params = new URLSearchParams({ transaction_id: field === 'transaction_id' ? tx : `T-${field}-${i}`, token: TOKEN });
        if (field !== 'transaction_id') params.set(field, v);
        const res = await fetch(`${s.url}/api/postbacks/alpha?${params}`);
        const text = await res.text();
        check(`postback ${field}=${v.slice(0, 40)}`, res.status, text);
        if (field === 'transaction_id' && res.status === 200 && tx.trim() === tx) stored.push(tx);
      }
      for (const network of i ? [v] : [v, `alpha' OR '1'='1`, 'alpha;DROP TABLE conversions']) {
        const r = await fetch(`${s.url}/api/postbacks/${encodeURIComponent(network)}?transaction_id=x&token=${TOKEN}`);
        check(`postback network ${network.slice(0, 40)}`, r.status, await r.text());
        assert.ok(r.status === 400 || r.status === 404 || r.status === 414, `${network}: ${r.status}`);
      }
      const forged = await fetch(`${s.url}/api/postbacks/alpha?transaction_id=forged-${i}&token=${encodeURIComponent(v)}`);
      assert.equal(forged.status, 401);
      if (!core) return;
      for (const cookie of [`offerfeed_uid=${encodeURIComponent(v)}`, `offerfeed_consent=${encodeURIComponent(v)}`, ...(i ? [] : [`offerfeed_uid=00000000-0000-4000-8000-000000000000' OR '1'='1`])]) {
        const exp = await get('/api/privacy/export', { cookie });
        check(`privacy export cookie ${cookie.slice(0, 40)}`, exp.status, exp.text);
        assert.deepEqual(JSON.parse(exp.text).clicks, []);
        const del = await fetch(`${s.url}/api/privacy/data`, { method: 'DELETE', headers: { cookie } });
        check(`privacy erase cookie ${cookie.slice(0, 40)}`, del.status, await del.text());
      }
      const go = await get(`/go/${encodeURIComponent(v)}`);
      check(`/go/${v.slice(0, 40)}`, go.status, go.text);
      assert.ok(go.status === 400 || go.status === 404 || go.status === 414, `/go/${v}: ${go.status}`);
    });
    assert.ok(stored.length > 50, `${stored.length} hostile transaction ids stored`);
    // Bound parameters: each hostile transaction id is in the store as written, once.
    const conn = await openSideConnection(path());
    try {
      for (const tx of stored) {
        const [{ n }] = await all<{ n: number }>(conn, 'SELECT count(*)::INTEGER AS n FROM conversions WHERE network = $n AND transaction_id = $t', { n: 'alpha', t: tx });
        assert.equal(n, 1, JSON.stringify(tx));
      }
    } finally {
      conn.closeSync();
    }
  });

  test('afterwards: every table as it was (but the conversions the postbacks recorded), nothing written elsewhere', async () => {
    const now = await storeState(path());
    assert.deepEqual(Object.keys(now).sort(), Object.keys(before0).sort(), 'no table created or dropped');
    for (const [table, st] of Object.entries(before0)) {
      if (table === 'conversions') continue;
      assert.deepEqual(now[table], st, `table ${table} changed`);
    }
    assert.ok(now.conversions.rows > before0.conversions.rows);
    assert.equal(s.api.services.index.size, 3);
    assert.ok(!existsSync(LEAK_FILE) && !existsSync('/tmp/offerfeed-sqli.db'), 'no file written by a payload');
    const r = await get('/api/offers/latest?limit=100');
    assert.deepEqual(new Set(JSON.parse(r.text).items.map((o: { id: string }) => o.id)), ids);
  });

  test('attack cases tried', () => {
    assert.ok(tried > 1500, String(tried));
    console.log(`# injection attack cases tried: ${tried}`);
  });
});
