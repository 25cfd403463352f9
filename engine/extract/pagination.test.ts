import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, json } from '../../test/support/http-server.ts';
import { runYaml, specYaml } from '../../test/support/run.ts';

const ITEMS = Array.from({ length: 23 }, (_, i) => ({ id: i + 1, name: `Item ${i + 1}`, link: `https://shop.example/p/${i + 1}` }));
const MAP = `    map: '{"external_id": $string(id), "title": name, "url": link}'`;

function stream(pagination: string, extra = ''): string {
  return specYaml({ stream: `  - name: items
    kind: product
    request: { path: /items }
    records: items
${extra}
    pagination: ${pagination}
${MAP}` });
}

test('page_number pagination stops on a short page and sends page and size parameters', async () => {
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page'));
    const size = Number(req.url.searchParams.get('per_page'));
    json(res, 200, { items: ITEMS.slice((page - 1) * size, page * size) });
  });
  try {
    const r = await runYaml(stream('{ type: page_number, page_param: page, size_param: per_page, page_size: 10, stop: { short_page: true } }'), { baseUrl: srv.url });
    assert.equal(r.result.status, 'succeeded', r.result.error);
    assert.deepEqual(r.offers.map((o) => o.external_id), ITEMS.map((i) => String(i.id)));
    assert.deepEqual(srv.requests.map((q) => q.url.searchParams.get('page')), ['1', '2', '3']);
    assert.equal(r.result.complete, true);
  } finally { await srv.close(); }
});

test('page_number pagination stops at total_pages from the body, starting at page 0', async () => {
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('p'));
    json(res, 200, { items: ITEMS.slice(page * 10, page * 10 + 10), meta: { pages: 3 } });
  });
  try {
    const r = await runYaml(stream('{ type: page_number, page_param: p, start: 0, page_size: 10, stop: { total_pages: "meta.pages" } }'), { baseUrl: srv.url });
    assert.equal(r.offers.length, 23);
    assert.equal(srv.requests.length, 3);
  } finally { await srv.close(); }
});

test('offset pagination stops at total_count', async () => {
  const srv = await startServer((req, res) => {
    const offset = Number(req.url.searchParams.get('offset'));
    const limit = Number(req.url.searchParams.get('limit'));
    json(res, 200, { items: ITEMS.slice(offset, offset + limit), total: ITEMS.length });
  });
  try {
    const r = await runYaml(stream('{ type: offset, offset_param: offset, size_param: limit, page_size: 10, stop: { total_count: total } }'), { baseUrl: srv.url });
    assert.equal(r.offers.length, 23);
    assert.deepEqual(srv.requests.map((q) => q.url.searchParams.get('offset')), ['0', '10', '20']);
  } finally { await srv.close(); }
});

test('cursor pagination follows the cursor from the body and stops on has_more false', async () => {
  const srv = await startServer((req, res) => {
    const after = Number(req.url.searchParams.get('starting_after') ?? 0);
    const slice = ITEMS.filter((i) => i.id > after).slice(0, 10);
    json(res, 200, { items: slice, has_more: slice[slice.length - 1].id < 23, last: slice[slice.length - 1].id });
  });
  try {
    const r = await runYaml(stream('{ type: cursor, cursor_param: starting_after, cursor: last, stop: { has_more: has_more } }'), { baseUrl: srv.url });
    assert.equal(r.offers.length, 23);
    assert.deepEqual(srv.requests.map((q) => q.url.searchParams.get('starting_after')), [null, '10', '20']);
  } finally { await srv.close(); }
});

test('next_url pagination follows relative and absolute next links', async () => {
  let base = '';
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page') ?? 1);
    const next = page === 1 ? '/items?page=2' : page === 2 ? `${base}/items?page=3` : null;
    json(res, 200, { items: ITEMS.slice((page - 1) * 10, page * 10), links: { next } });
  });
  base = 'https://api.testnet.example';
  try {
    const r = await runYaml(stream('{ type: next_url, next_url: links.next }'), { baseUrl: srv.url });
    assert.equal(r.offers.length, 23);
    assert.equal(srv.requests.length, 3);
  } finally { await srv.close(); }
});

test('link_header pagination follows RFC 8288 rel="next"', async () => {
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page') ?? 1);
    const headers: Record<string, string> = page < 3 ? { link: `<https://api.testnet.example/items?page=${page + 1}>; rel="next", <https://api.testnet.example/items?page=3>; rel="last"` } : {};
    json(res, 200, { items: ITEMS.slice((page - 1) * 10, page * 10) }, headers);
  });
  try {
    const r = await runYaml(stream('{ type: link_header }'), { baseUrl: srv.url });
    assert.equal(r.offers.length, 23);
    assert.deepEqual(srv.requests.map((q) => q.url.searchParams.get('page')), [null, '2', '3']);
  } finally { await srv.close(); }
});

test('an empty page always stops, and a stop.when predicate stops', async () => {
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page'));
    json(res, 200, { items: page <= 2 ? ITEMS.slice((page - 1) * 10, page * 10) : [], done: page >= 5 });
  });
  try {
    const r = await runYaml(stream('{ type: page_number, page_param: page }'), { baseUrl: srv.url });
    assert.equal(r.offers.length, 20);
    assert.equal(srv.requests.length, 3);
  } finally { await srv.close(); }
  const srv2 = await startServer((req, res) => json(res, 200, { items: [ITEMS[Number(req.url.searchParams.get('page'))]], last: req.url.searchParams.get('page') === '2' }));
  try {
    const r = await runYaml(stream('{ type: page_number, page_param: page, stop: { when: last } }'), { baseUrl: srv2.url });
    assert.equal(srv2.requests.length, 2);
    assert.equal(r.offers.length, 2);
  } finally { await srv2.close(); }
});

test('the loop guard stops a cursor that repeats, with a clear error', async () => {
  const srv = await startServer((req, res) => {
    const c = req.url.searchParams.get('cursor');
    json(res, 200, { items: [ITEMS[c === null ? 0 : c === 'a' ? 1 : 2]], next: c === null ? 'a' : c === 'a' ? 'b' : 'a' });
  });
  try {
    const r = await runYaml(stream('{ type: cursor, cursor_param: cursor, cursor: next }'), { baseUrl: srv.url });
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /pagination loop: cursor a was already fetched/);
  } finally { await srv.close(); }
});

test('the loop guard stops a server that ignores the page parameter', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { items: ITEMS.slice(0, 5) }));
  try {
    const r = await runYaml(stream('{ type: page_number, page_param: page }'), { baseUrl: srv.url });
    assert.equal(r.result.status, 'failed');
    assert.match(r.result.error!, /same records as the page before/);
    assert.equal(srv.requests.length, 2);
  } finally { await srv.close(); }
});

test('--max-pages caps pages per partition and marks the run partial', async () => {
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page'));
    json(res, 200, { items: ITEMS.slice((page - 1) * 5, page * 5) });
  });
  try {
    const r = await runYaml(stream('{ type: page_number, page_param: page }'), { baseUrl: srv.url, maxPages: 2 });
    assert.equal(r.result.status, 'succeeded');
    assert.equal(srv.requests.length, 2);
    assert.equal(r.offers.length, 10);
    assert.equal(r.result.complete, false);
  } finally { await srv.close(); }
});

test('pagination parameters can go into a JSON body with dotted names', async () => {
  const srv = await startServer((req, res) => {
    const body = JSON.parse(req.body);
    const page = body.pagination.page;
    json(res, 200, { items: ITEMS.slice((page - 1) * 10, page * 10), total: 23 });
  });
  try {
    const yaml = specYaml({ stream: `  - name: items
    kind: deal
    request: { method: POST, path: /items, body: { filters: { status: active } } }
    records: items
    pagination: { type: page_number, page_param: pagination.page, size_param: pagination.pageSize, page_size: 10, inject: body, stop: { total_count: total } }
${MAP}` });
    const r = await runYaml(yaml, { baseUrl: srv.url });
    assert.equal(r.offers.length, 23);
    assert.deepEqual(JSON.parse(srv.requests[1].body), { filters: { status: 'active' }, pagination: { page: 2, pageSize: 10 } });
  } finally { await srv.close(); }
});
