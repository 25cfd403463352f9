// Broken pages against a real DuckDB file and a real HTTP server: a truncated or malformed body (JSON, XML,
// CSV, gzip) fails the run after its refetches, nothing half-parsed is committed, the offers being served stay
// exactly as they were, and the start of the raw payload is kept with the error, without the canary secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { startServer, json, type SeenRequest } from '../../test/support/http-server.ts';
import { quietLogger } from '../../test/support/run.ts';
import { freshStore } from '../../test/support/store.ts';
import { parseSpec } from '../spec/loader.ts';
import { resolveConfig } from '../spec/config.ts';
import { Redactor } from '../log/redact.ts';
import { all } from '../store/duckdb.ts';
import type { ServingStore } from '../store/serving-store.ts';
import { MAX_PAYLOAD_BYTES } from '../run/error-payload.ts';
import { syncConnector } from './sync-connector.ts';

const CANARY = 'CANARY-payload-9c41e7b2';

const specFor = (stream: string) => parseSpec(`dsl: 1
id: brittle
name: Brittle
kind: affiliate-network
base_url: https://api.brittle.example
config:
  type: object
  required: [api_key]
  properties:
    api_key: { type: string, x-secret: true }
auth: { type: api_key, in: query, name: key, value: "{{ $config.api_key }}" }
retry: { attempts: 3 }
streams:
${stream}
`, 'brittle.yaml');

const JSON_STREAM = specFor(`  - name: items
    kind: product
    request: { path: /items }
    records: items
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/p/" & $string(id)}'`);
const XML_STREAM = specFor(`  - name: items
    kind: product
    request: { path: /items.xml }
    decoder: { format: xml }
    records: feed.item
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/p/" & $string(id)}'`);
const CSV_STREAM = specFor(`  - name: feed
    kind: product
    file: { url: /feed.csv }
    decoder: { format: csv }
    map: '{"external_id": id, "title": name, "url": "https://shop.example/p/" & id}'`);

type Item = { id: number; name: string };
const items = (version: string): Item[] => [1, 2, 3, 4].map((id) => ({ id, name: `Item ${id} ${version}` }));
const pageOf = (list: Item[], page: number) => list.slice((page - 1) * 2, page * 2);

interface Case {
  name: string;
  spec: ReturnType<typeof specFor>;
  /** Serves the good version, or the broken one (page 2 or the feed breaks). */
  serve(req: SeenRequest, res: ServerResponse, broken: boolean): void;
  /** Times the broken body is fetched before the run gives up. */
  fetches: number;
  error: RegExp;
  decompressed?: boolean;
}

const echo = (req: SeenRequest) => `upstream echoes key=${req.url.searchParams.get('key')}`;

const jsonCase = (name: string, fetches: number, error: RegExp, broken: (req: SeenRequest, res: ServerResponse) => void, decompressed = false): Case => ({
  name, spec: JSON_STREAM, fetches, error, decompressed,
  serve(req, res, isBroken) {
    const page = Number(req.url.searchParams.get('page'));
    if (isBroken && page === 2) return broken(req, res);
    json(res, 200, { items: pageOf(items(isBroken ? 'v2' : 'v1'), page) });
  },
});

const CASES: Case[] = [
  jsonCase('malformed JSON', 1, /json/i, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"items": [{"id": 3, "name": "${echo(req)} MARKER-JSON"}, {"id": 4, "name": oops}]}`);
  }),
  jsonCase('JSON truncated mid-body (connection cut)', 3, /giving up after 3 attempts/, (req, res) => {
    const body = Buffer.from(`{"items": [{"id": 3, "name": "${echo(req)} MARKER-TRUNC"}, {"id": 4, "name": "${'x'.repeat(4000)}"}]}`);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.write(body.subarray(0, 1500));
    setTimeout(() => res.socket?.destroy(), 20);
  }),
  jsonCase('gzip stream corrupted mid-way', 1, /gzip|incorrect|invalid/i, (req, res) => {
    const full = gzipSync(Buffer.from(JSON.stringify({ note: `${echo(req)} MARKER-GZIP`, items: pageOf(items('v2'), 2), pad: randomBytes(10_000).toString('hex') })));
    // Header and the first part of the deflate stream intact, then bytes no deflate block can start with.
    const broken = Buffer.concat([full.subarray(0, Math.floor(full.length / 2)), Buffer.alloc(64, 0xff)]);
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(broken);
  }, true),
  jsonCase('gzip stream ending early', 1, /gzip|end/i, (req, res) => {
    const full = gzipSync(Buffer.from(JSON.stringify({ note: `${echo(req)} MARKER-GZEND`, items: pageOf(items('v2'), 2), pad: randomBytes(10_000).toString('hex') })));
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(full.subarray(0, Math.floor(full.length * 0.6)));
  }, true),
  {
    name: 'malformed XML', spec: XML_STREAM, fetches: 1, error: /xml/i,
    serve(req, res, broken) {
      const page = Number(req.url.searchParams.get('page'));
      res.writeHead(200, { 'content-type': 'application/xml' });
      if (broken && page === 2) return res.end(`<feed><item><id>3</id><name>${echo(req)} MARKER-XML</name></item><item><id>4</id></itm></feed>`);
      res.end(`<feed>${pageOf(items(broken ? 'v2' : 'v1'), page).map((i) => `<item><id>${i.id}</id><name>${i.name}</name></item>`).join('')}</feed>`);
    },
  },
];

async function syncOnce(store: ServingStore, spec: ReturnType<typeof specFor>, url: string) {
  const redactor = new Redactor();
  const config = await resolveConfig(spec, [{ name: 'test', get: async () => ({ api_key: CANARY }) }], redactor);
  return syncConnector({ spec, config, redactor, logger: quietLogger(), store, baseUrlOverride: url, retryOverride: { backoffMs: 1, maxBackoffMs: 5 } });
}

/** Everything a consumer is served, and the history waiting for ClickHouse. */
async function servingState(store: ServingStore) {
  const offers = await all(store.conn, `SELECT * EXCLUDE (last_seen_at, last_verified_at) FROM offers ORDER BY external_id`);
  const versions = await all(store.conn, `SELECT count(*)::INTEGER AS n FROM outbox WHERE kind = 'offer_version'`);
  return JSON.stringify({ offers, versions });
}

async function everythingStored(store: ServingStore): Promise<string> {
  const tables = ['error_payloads', 'sync_runs', 'api_calls', 'offers', 'offer_stage', 'outbox', 'quarantine'];
  const dump: Record<string, unknown> = {};
  for (const t of tables) dump[t] = await all(store.conn, `SELECT * FROM ${t}`);
  return JSON.stringify(dump);
}

for (const c of CASES) {
  test(`broken page (${c.name}): the run fails, serving is unchanged, the redacted payload is kept with the error`, async () => {
    const { store } = await freshStore();
    let broken = false;
    const srv = await startServer((req, res) => c.serve(req, res, broken));
    try {
      const good = await syncOnce(store, c.spec, srv.url);
      assert.equal(good.result.status, 'succeeded', good.result.error);
      assert.equal(good.counts.new, 4);
      const before = await servingState(store);

      broken = true;
      const seenBefore = srv.requests.length;
      const bad = await syncOnce(store, c.spec, srv.url);
      assert.equal(bad.result.status, 'failed');
      assert.equal(bad.committed, false);
      assert.match(bad.result.error!, c.error);
      const brokenFetches = srv.requests.slice(seenBefore).filter((r) => r.url.searchParams.get('page') === '2').length;
      assert.equal(brokenFetches, c.fetches, 'a body cut short is fetched again; a malformed one is not');

      assert.equal(await servingState(store), before, 'page 1 of the failed run (new titles) was decoded, but nothing of it is served');
      const [{ n: staged }] = await all<{ n: number }>(store.conn, 'SELECT count(*)::INTEGER AS n FROM offer_stage');
      assert.equal(staged, 0, 'no staged row of the failed run remains');
      const [run] = await all<{ status: string; error: string }>(store.conn, 'SELECT status, error FROM sync_runs WHERE id = $r', { r: bad.runId });
      assert.equal(run.status, 'failed');

      const payloads = await store.errorPayloads(bad.runId);
      assert.equal(payloads.length, c.fetches, 'one payload per broken fetch');
      const last = payloads[payloads.length - 1];
      assert.equal(last.stream, 'items');
      assert.equal(last.page, 2);
      assert.equal(last.status, 200);
      assert.equal(last.encoding, 'text');
      assert.equal(last.decompressed, c.decompressed ?? false);
      assert.match(last.url, /key=REDACTED/);
      assert.match(last.payload, /MARKER-/, 'the payload is what the network sent');
      assert.match(last.payload, /upstream echoes key=\[REDACTED\]/, 'with the secret removed');
      assert.ok(last.kept_bytes <= MAX_PAYLOAD_BYTES);
      assert.deepEqual(payloads.map((p) => p.attempt), Array.from({ length: c.fetches }, (_, i) => i + 1));
      assert.ok(!(await everythingStored(store)).includes(CANARY), 'the canary secret is nowhere in the store');
    } finally { await srv.close(); store.close(); }
  });
}

test('broken CSV feed after 21,000 good rows: the staged rows are dropped, serving is unchanged, the payload is kept', async () => {
  const { store } = await freshStore();
  let broken = false;
  const srv = await startServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv' });
    if (!broken) return res.end(`id,name\n${items('v1').map((i) => `${i.id},${i.name}`).join('\n')}\n`);
    // The first rows change every served offer and add thousands: a stage flush happens before the break.
    const rows = Array.from({ length: 21_000 }, (_, i) => `${i + 1},Item ${i + 1} v2${i === 0 ? ` ${echo(req)} MARKER-CSV` : ''}`);
    res.end(`id,name\n${rows.join('\n')}\n21001,"never closed\n`);
  });
  try {
    const good = await syncOnce(store, CSV_STREAM, srv.url);
    assert.equal(good.result.status, 'succeeded', good.result.error);
    const before = await servingState(store);
    broken = true;
    const bad = await syncOnce(store, CSV_STREAM, srv.url);
    assert.equal(bad.result.status, 'failed');
    assert.match(bad.result.error!, /quoted field not closed/);
    assert.ok(bad.result.counts.records >= 20_000, `the stream had delivered ${bad.result.counts.records} records before it broke`);
    assert.equal(await servingState(store), before);
    const [{ n: staged }] = await all<{ n: number }>(store.conn, 'SELECT count(*)::INTEGER AS n FROM offer_stage');
    assert.equal(staged, 0);
    const [p] = await store.errorPayloads(bad.runId);
    assert.equal(p.stream, 'feed');
    assert.equal(p.truncated, true, 'a body longer than the cap is kept in part');
    assert.equal(p.kept_bytes, MAX_PAYLOAD_BYTES);
    assert.match(p.payload, /^id,name\n1,Item 1 v2 upstream echoes key=\[REDACTED\] MARKER-CSV\n2,Item 2 v2\n/);
    assert.ok(p.bytes > MAX_PAYLOAD_BYTES);
    assert.ok(!(await everythingStored(store)).includes(CANARY));
  } finally { await srv.close(); store.close(); }
});

test('a secret cut in two by the end of the kept bytes is masked as well', async () => {
  const r = new Redactor();
  r.add(CANARY);
  assert.equal(r.redactCut(`body ends with key=${CANARY.slice(0, 9)}`), 'body ends with key=[REDACTED]');
  assert.equal(r.redactCut(`key=${CANARY} and more`), 'key=[REDACTED] and more');
  assert.equal(r.redactCut('ends with CA'), 'ends with CA', 'two characters say nothing of the secret');
});

test('a run that succeeds after refetching a cut body keeps no payload; payloads of old failed runs are pruned', async () => {
  const { store } = await freshStore();
  let cuts = 1;
  const srv = await startServer((req, res) => {
    const page = Number(req.url.searchParams.get('page'));
    if (page === 2 && cuts-- > 0) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.write('{"items": [');
      return setTimeout(() => res.socket?.destroy(), 20);
    }
    json(res, 200, { items: pageOf(items('v1'), page) });
  });
  try {
    const ok = await syncOnce(store, JSON_STREAM, srv.url);
    assert.equal(ok.result.status, 'succeeded', ok.result.error);
    assert.equal(ok.counts.new, 4);
    assert.equal((await all(store.conn, 'SELECT * FROM error_payloads')).length, 0);
    const payload = { stream: 'items', url: 'http://x/items', attempt: 1, error: 'json: broken', bytes: 10, kept_bytes: 10, truncated: false, encoding: 'text' as const, decompressed: false, payload: 'broken' };
    for (let i = 0; i < 4; i++) await store.recordErrorPayloads(`run-${i}`, 'brittle', [payload], { keepRuns: 2, now: new Date(Date.UTC(2026, 0, 1 + i)) });
    const kept = await all<{ run_id: string }>(store.conn, 'SELECT DISTINCT run_id FROM error_payloads ORDER BY 1');
    assert.deepEqual(kept.map((r) => r.run_id), ['run-2', 'run-3']);
  } finally { await srv.close(); store.close(); }
});
