import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startServer, json } from '../../test/support/http-server.ts';
import { runYaml, specYaml } from '../../test/support/run.ts';

test('partitions: one run of the stream per static value, bound as $partition', async () => {
  const srv = await startServer((req, res) => {
    const c = req.url.searchParams.get('country')!;
    json(res, 200, { items: [{ id: `${c}-1`, name: `Deal ${c}` }] });
  });
  try {
    const r = await runYaml(specYaml({ stream: `  - name: deals
    kind: deal
    partitions: { name: country, values: [US, DE, FR] }
    request: { path: /deals, query: { country: "{{ $partition.country }}" } }
    records: items
    map: '{"external_id": id, "title": name, "url": "https://x.example/" & id, "countries": [$partition.country]}'` }), { baseUrl: srv.url });
    assert.deepEqual(r.offers.map((o) => [o.external_id, o.countries]), [['US-1', ['US']], ['DE-1', ['DE']], ['FR-1', ['FR']]]);
  } finally { await srv.close(); }
});

test('partitions: values from a config list', async () => {
  const srv = await startServer((req, res) => json(res, 200, { items: [{ id: req.url.searchParams.get('cat'), name: 'x' }] }));
  try {
    const r = await runYaml(specYaml({
      config: `config:
  type: object
  properties:
    categories: { type: array, items: { type: string }, default: [a] }`,
      stream: `  - name: deals
    kind: deal
    partitions: { values: "{{ $config.categories }}" }
    request: { path: /deals, query: { cat: "{{ $partition.value }}" } }
    records: items
    map: '{"external_id": id, "title": name, "url": "https://x.example/" & id}'` }), { baseUrl: srv.url, config: { categories: ['shoes', 'bags'] } });
    assert.deepEqual(r.offers.map((o) => o.external_id), ['shoes', 'bags']);
  } finally { await srv.close(); }
});

test('partitions: one run per record of another stream (per advertiser)', async () => {
  const srv = await startServer((req, res) => {
    if (req.url.pathname === '/advertisers') return json(res, 200, { advertisers: [{ id: 11, name: 'Shop A', status: 'joined' }, { id: 12, name: 'Shop B', status: 'declined' }, { id: 13, name: 'Shop C', status: 'joined' }] });
    const adv = req.url.searchParams.get('advertiser');
    json(res, 200, { coupons: [{ code: `SAVE${adv}`, id: `c${adv}` }] });
  });
  try {
    const r = await runYaml(specYaml({ stream: `  - name: advertisers
    emit: false
    request: { path: /advertisers }
    records: advertisers
    filter: status = 'joined'
  - name: coupons
    kind: coupon
    partitions: { from_stream: advertisers, value: '{"id": id, "name": name}' }
    request: { path: /coupons, query: { advertiser: "{{ $partition.id }}" } }
    records: coupons
    map: '{"external_id": id, "title": "Coupon " & code, "coupon_code": code, "url": "https://x.example/" & id, "merchant_id": $string($partition.id), "merchant_name": $partition.name}'` }), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers.map((o) => [o.external_id, o.merchant_name, o.coupon_code]), [['c11', 'Shop A', 'SAVE11'], ['c13', 'Shop C', 'SAVE13']]);
  } finally { await srv.close(); }
});

test('invalid records are quarantined with field, value and rule, and the run goes on', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { items: [
    { id: 1, name: 'Good', link: 'https://x.example/1', price: '$19.99' },
    { id: 2, name: '', link: 'https://x.example/2' },
    { id: 3, name: 'Bad price', link: 'https://x.example/3', price: 'call us' },
    { id: 4, name: 'Bad url', link: 'javascript:alert(1)' },
  ] }));
  try {
    const r = await runYaml(specYaml({ stream: `  - name: items
    kind: product
    request: { path: /items }
    records: items
    map: '{"external_id": $string(id), "title": name, "url": link, "price": price}'` }), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded');
    assert.deepEqual(r.offers.map((o) => [o.external_id, o.price, o.currency]), [['1', 19.99, 'USD']]);
    assert.equal(r.quarantined.length, 3);
    const byId = Object.fromEntries(r.quarantined.map((q) => [(q.record as { id: number }).id, q.reasons]));
    assert.ok(byId[2].some((x) => x.field === 'title' && x.rule === 'required'));
    assert.ok(byId[3].some((x) => x.field === 'price' && x.rule === 'type' && x.value === 'call us'));
    assert.ok(byId[4].some((x) => x.field === 'url'));
    assert.equal(r.result.counts.quarantined, 3);
  } finally { await srv.close(); }
});

test('XML responses with arrays forced and attributes, and CSV files gzip-compressed', async () => {
  const xml = `<?xml version="1.0"?><couponfeed><TotalMatches>1</TotalMatches><link type="TEXT"><offerdescription>10% off &amp; free shipping</offerdescription><clickurl>https://click.example/1</clickurl><advertiserid>99</advertiserid><couponcode>TEN</couponcode><categories><category id="1">Shoes</category></categories></link></couponfeed>`;
  const csv = 'id,title,link,price\n1,"Blue, shirt",https://x.example/1,9.50\n2,Red shirt,https://x.example/2,"1,299.00"\n';
  const srv = await startServer((req, res) => {
    if (req.url.pathname === '/coupons') { res.writeHead(200, { 'content-type': 'application/xml' }); return res.end(xml); }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(gzipSync(csv));
  });
  try {
    const r = await runYaml(specYaml({ stream: `  - name: coupons
    kind: coupon
    request: { path: /coupons }
    decoder: { format: xml, xml: { arrays: [link, category] } }
    records: couponfeed.link
    map: '{"external_id": couponcode, "title": offerdescription, "url": clickurl, "coupon_code": couponcode, "merchant_id": advertiserid, "categories": categories.category."#text"}'
  - name: feed
    kind: product
    file: { url: /feed.csv.gz }
    decoder: { format: csv }
    map: '{"external_id": id, "title": title, "url": link, "price": price, "currency": "USD"}'` }), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers[0], { network: 'testnet', external_id: 'TEN', kind: 'coupon', title: '10% off & free shipping', url: 'https://click.example/1', coupon_code: 'TEN', merchant_id: '99', categories: ['Shoes'] });
    assert.deepEqual(r.offers.slice(1).map((o) => [o.title, o.price]), [['Blue, shirt', 9.5], ['Red shirt', 1299]]);
  } finally { await srv.close(); }
});

test('NDJSON bodies stream record by record', async () => {
  const srv = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (let i = 1; i <= 2500; i++) res.write(`${JSON.stringify({ id: i, t: `Item ${i}` })}\n`);
    res.end();
  });
  try {
    const r = await runYaml(specYaml({ stream: `  - name: feed
    kind: product
    file: { url: /feed.ndjson }
    decoder: { format: ndjson }
    map: '{"external_id": $string(id), "title": t, "url": "https://x.example/" & $string(id)}'` }), { baseUrl: srv.url });
    assert.equal(r.offers.length, 2500);
  } finally { await srv.close(); }
});

test('report jobs: create, poll until done, download the result', async () => {
  let polls = 0;
  const srv = await startServer((req, res) => {
    if (req.method === 'POST' && req.url.pathname === '/reports') return json(res, 202, { job: { id: 'J1' } });
    if (req.url.pathname === '/reports/J1') return json(res, 200, polls++ < 2 ? { status: 'RUNNING' } : { status: 'DONE', result_url: '/files/J1.csv' });
    res.writeHead(200, { 'content-type': 'text/csv' });
    res.end('sku,name\nA1,Alpha\nB2,Beta\n');
  });
  try {
    const r = await runYaml(specYaml({ stream: `  - name: report
    kind: product
    job:
      create: { method: POST, path: /reports, body: { type: catalog } }
      job_id: job.id
      poll: { path: "/reports/{{ $job.id }}" }
      done: status = 'DONE'
      failed: status = 'FAILED'
      download_url: result_url
      interval: 20ms
    decoder: { format: csv }
    map: '{"external_id": sku, "title": name, "url": "https://x.example/" & sku}'` }), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers.map((o) => o.external_id), ['A1', 'B2']);
    assert.equal(polls, 3);
  } finally { await srv.close(); }
});

test('incremental: $incremental.start comes from saved state minus lookback, and the run reports the new cursor', async () => {
  const srv = await startServer((req, res) => json(res, 200, { items: [
    { id: 1, name: 'A', updated: '2026-11-01T10:00:00Z' },
    { id: 2, name: 'B', updated: '2026-11-03T08:00:00Z' },
  ], since: req.url.searchParams.get('since') }));
  try {
    const r = await runYaml(specYaml({ stream: `  - name: items
    kind: product
    request: { path: /items, query: { since: "{{ $incremental.start }}" } }
    records: items
    incremental: { cursor_field: updated, lookback: 1h }
    map: '{"external_id": $string(id), "title": name, "url": "https://x.example/" & $string(id)}'` }), {
      baseUrl: srv.url,
      state: { get: async () => '2026-11-02T00:00:00.000Z' },
    });
    assert.equal(srv.requests[0].url.searchParams.get('since'), '2026-11-01T23:00:00.000Z');
    assert.equal(r.result.streams.items.cursor, '2026-11-03T08:00:00.000Z');
    assert.equal(r.result.complete, false, 'an incremental run never counts as complete');
  } finally { await srv.close(); }
});

test('a retired connector still runs and warns with its notice and successor', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { items: [{ id: 1, name: 'A' }] }));
  try {
    const r = await runYaml(specYaml({ top: 'status: retired\nsuccessor: awin\nnotice: The platform closed in 2025.', stream: `  - name: items
    kind: deal
    request: { path: /items }
    records: items
    map: '{"external_id": $string(id), "title": name, "url": "https://x.example/1"}'` }), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded');
    assert.match(r.result.warnings[0], /retired; use the "awin" connector instead\. The platform closed in 2025\./);
    assert.match(r.logs, /"successor":"awin"/);
  } finally { await srv.close(); }
});

test('stream options: zone-less dates in the stream timezone, a stream without auth, a stream with its own rate limit', async () => {
  const srv = await startServer((req, res) => {
    if (req.url.pathname === '/feed.csv') {
      res.writeHead(200, { 'content-type': 'text/csv' });
      return res.end(`id,name,ends\n1,Feed item,2025-07-01 10:00:00\n${req.headers.authorization ? 'leak,Auth sent,2025-01-01\n' : ''}`);
    }
    const page = Number(req.url.searchParams.get('page'));
    json(res, 200, { items: page <= 3 ? [{ id: `a${page}`, name: 'Api item', ends: '2025-01-15 10:00:00' }] : [] });
  });
  try {
    const r = await runYaml(specYaml({
      auth: 'auth: { type: bearer, token: "{{ $config.token }}" }',
      config: 'config: { type: object, properties: { token: { type: string, x-secret: true } } }',
      top: 'timezone: America/Chicago',
      stream: `  - name: api
    kind: deal
    rate_limit: { requests: 2, interval: 1s, burst: 1, concurrency: 1 }
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": id, "title": name, "url": "https://x.example/" & id, "expires_at": ends}'
  - name: feed
    kind: product
    authenticate: false
    timezone: Europe/Berlin
    file: { url: /feed.csv }
    decoder: { format: csv }
    map: '{"external_id": id, "title": name, "url": "https://x.example/" & id, "expires_at": ends}'` }), { baseUrl: srv.url, config: { token: 'tok-secret-1' } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    const byId = Object.fromEntries(r.offers.map((o) => [o.external_id, o.expires_at]));
    assert.equal(byId.a1, '2025-01-15T16:00:00.000Z', 'America/Chicago in January is UTC-6');
    assert.equal(byId['1'], '2025-07-01T08:00:00.000Z', 'Europe/Berlin in July is UTC+2');
    assert.equal(byId.leak, undefined, 'the feed stream is fetched without the connector auth');
    const api = srv.requests.filter((q) => q.url.pathname === '/items');
    assert.ok(api.every((q) => q.headers.authorization === 'Bearer tok-secret-1'));
    for (let i = 1; i < api.length; i++) assert.ok(api[i].at - api[i - 1].at >= 450, 'the api stream is paced at 2 per second');
  } finally { await srv.close(); }
});

test('an empty 2xx body (204) is a page without records and ends pagination', async () => {
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page'));
    if (page === 3) { res.writeHead(204); return res.end(); }
    json(res, 200, [{ id: `p${page}`, name: 'x' }]);
  });
  try {
    const r = await runYaml(specYaml({ config: 'config: { type: object, properties: { size: { type: integer, default: 1 } } }', stream: `  - name: items
    kind: product
    request: { path: /items }
    pagination: { type: page_number, page_param: page, size_param: pageSize, page_size: "{{ $config.size }}" }
    map: '{"external_id": id, "title": name, "url": "https://x.example/" & id}'` }), { baseUrl: srv.url, config: { size: 1 } });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers.map((o) => o.external_id), ['p1', 'p2']);
    assert.equal(srv.requests[0].url.searchParams.get('pageSize'), '1', 'page_size rendered from config');
  } finally { await srv.close(); }
});

test('a failing partition stops the others at once; a stream can carry its own auth', async () => {
  const srv = await startServer((req, res) => {
    if (req.url.pathname === '/vouchers') return req.url.searchParams.get('token') === 'v-tok-1' ? json(res, 200, [{ id: 'v1', name: 'Voucher' }]) : json(res, 403, { message: 'bad voucher token' });
    const p = req.url.searchParams.get('p');
    if (p === 'b') return json(res, 400, { message: 'partition b is broken' });
    setTimeout(() => json(res, 200, [{ id: p, name: 'x' }]), 50);
  });
  try {
    const started = performance.now();
    const r = await runYaml(specYaml({
      config: 'config: { type: object, properties: { key: { type: string, x-secret: true }, voucher_token: { type: string, x-secret: true } } }',
      auth: 'auth: { type: api_key, in: header, name: X-Key, value: "{{ $config.key }}" }',
      stream: `  - name: vouchers
    kind: coupon
    auth: { type: api_key, in: query, name: token, value: "{{ $config.voucher_token }}" }
    request: { path: /vouchers }
    map: '{"external_id": id, "title": name, "url": "https://x.example/" & id}'
  - name: items
    kind: product
    partitions: { values: [a, b, c, d, e, f, g, h] }
    request: { path: /items, query: { p: "{{ $partition.value }}" } }
    map: '{"external_id": id, "title": name, "url": "https://x.example/" & id}'` }), { baseUrl: srv.url, config: { key: 'k-123456', voucher_token: 'v-tok-1' } });
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /partition b is broken/);
    const voucherCall = srv.requests.find((q) => q.url.pathname === '/vouchers')!;
    assert.equal(voucherCall.headers['x-key'], undefined, 'the stream auth replaces the connector auth');
    const itemCalls = srv.requests.filter((q) => q.url.pathname === '/items');
    assert.ok(itemCalls.length <= 3, `partitions after the failure were still requested: ${itemCalls.map((q) => q.url.searchParams.get('p'))}`);
    assert.ok(performance.now() - started < 3000);
  } finally { await srv.close(); }
});

test('a run whose quarantine rate passes the limit fails, so its offers are never committed', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: i % 2 ? '' : `Item ${i}` })) }));
  try {
    const r = await runYaml(specYaml({ top: 'quality: { max_quarantine_rate: 0.3, min_records: 20 }', stream: `  - name: items
    kind: product
    request: { path: /items }
    records: items
    map: '{"external_id": $string(id), "title": name, "url": "https://x.example/" & $string(id)}'` }), { baseUrl: srv.url });
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /20 of 40 records were quarantined \(50%, limit 30%\)/);
  } finally { await srv.close(); }
});

test('a run reports its expressions: how many run compiled, and where in the spec those on jsonata are, in its result and its one summary log line', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { items: [{ id: 1, name: 'A' }, { id: 2, name: 'B' }] }));
  try {
    const r = await runYaml(specYaml({ stream: `  - name: items
    kind: deal
    request: { path: /items, query: { n: "{{ 1 + 1 }}" } }
    records: items
    filter: id > 0
    map: '{"external_id": $string(id), "title": $eval("name"), "url": "https://x.example/" & id}'` }), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers.map((o) => o.title), ['A', 'B']);
    const ex = r.result.expressions!;
    // records, filter and the query template compile; $eval needs jsonata's evaluator
    assert.equal(ex.compiled, 3);
    assert.equal(ex.fallback, 1);
    assert.match(ex.fallbacks[0].where, /^test\.yaml:\d+:\d+: streams\[0\]\.map$/);
    assert.match(ex.fallbacks[0].reason, /\$eval/);
    const summary = r.logs.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.msg === 'run finished');
    assert.equal(summary.length, 1);
    assert.equal(summary[0].status, 'succeeded');
    assert.deepEqual(summary[0].expressions, ex);
    assert.equal(summary[0].counts.offers, 2);
  } finally { await srv.close(); }
});
