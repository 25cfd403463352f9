// Hostile specs (issue 10, attacks): a connector spec from the wizard or from a file someone sent may try to
// exhaust the process with its expressions, regexes, size or nesting, or point the engine at XML that expands
// entities or reads local files. Every case is a real spec file loaded by the real loader and, where it loads,
// synced by the real engine from a local HTTP server into a real serving store, while another HTTP server in
// this same process is asked to answer (the API shares its process with the scheduler's runs).
// The bounds on answer times are generous on purpose: this proves correctness, it is not a benchmark.
// engine/expr/guards.test.ts holds the expression guards case by case (every walk over shared parts, every
// budget, the regex analysis); engine/decode/xml.test.ts the XML decoder's refusals; api/admin/admin-hostile.test.ts the
// wizard's preview through the admin API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSpecFile, parseSpec, SpecValidationError, MAX_SPEC_BYTES, MAX_CONFIG_SCHEMA_NODES } from './loader.ts';
import { MAX_SPEC_NESTING } from './yaml-source.ts';
import { compileExpression, ExpressionError, MAX_EXPRESSION_LENGTH, MAX_EXPRESSION_NESTING } from '../expr/jsonata.ts';
import { syncConnector, type SyncOutcome } from '../sync/sync-connector.ts';
import { Redactor } from '../log/redact.ts';
import { all } from '../store/duckdb.ts';
import type { ServingStore } from '../store/serving-store.ts';
import type { ConnectorSpec } from '../types/connector.generated.ts';
import { freshStore } from '../../test/support/store.ts';
import { quietLogger } from '../../test/support/run.ts';
import { startServer, type TestServer } from '../../test/support/http-server.ts';

/** The expression time limit (engine/expr/jsonata.ts): the longest the event loop may be held by one evaluation. */
const TIME_LIMIT_MS = 2_000;
/** What an answer may take while a hostile evaluation runs: the time limit plus generous slack. */
const ANSWER_BOUND_MS = TIME_LIMIT_MS + 3_000;

let dir: string;
let store: ServingStore;
let storeDir: string;
let upstream: TestServer;
let probe: { url: string; server: Server };
/** What the upstream serves per path; every request is recorded by the test server. */
const routes = new Map<string, { type: string; body: string | Buffer }>();
let hostileCases = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'offerfeed-hostile-'));
  ({ store, dir: storeDir } = await freshStore());
  upstream = await startServer((req, res) => {
    const r = routes.get(req.url.pathname);
    if (!r) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'content-type': r.type });
    res.end(r.body);
  });
  const server = createServer((_req, res) => res.end('pong'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  probe = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping` };
});

after(async () => {
  store?.close();
  await upstream?.close();
  await new Promise<void>((r) => { probe.server.closeAllConnections(); probe.server.close(() => r()); });
  await rm(dir, { recursive: true, force: true });
  await rm(storeDir, { recursive: true, force: true });
  process.stderr.write(`hostile spec cases tried: ${hostileCases}\n`);
});

// ---- helpers -----------------------------------------------------------------------------------------------

async function specFile(name: string, text: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, text);
  return file;
}

/** The loader's errors for a spec file that must be refused. */
async function refused(name: string, text: string): Promise<{ file: string; errors: string[]; ms: number }> {
  hostileCases++;
  const file = await specFile(name, text);
  const t = performance.now();
  try {
    await loadSpecFile(file);
  } catch (e) {
    assert.ok(e instanceof SpecValidationError, `${name}: expected a SpecValidationError, got ${(e as Error).stack}`);
    return { file, errors: e.errors.map((x) => x.message), ms: performance.now() - t };
  }
  assert.fail(`${name}: the spec was accepted`);
}

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function lineCol(text: string, needle: string, from = 0): string {
  const i = text.indexOf(needle, from);
  assert.ok(i >= 0, `"${needle}" is in the spec`);
  const before = text.slice(0, i);
  return `${before.split('\n').length}:${i - before.lastIndexOf('\n')}`;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Runs `work` while this process's other HTTP server is asked to answer 25 ms after each answer; reports how
 * many answers came while `work` ran and the slowest one, counted from when it was due (the client shares the
 * event loop, so a held loop delays the question as much as the answer: the gap between answers shows it).
 */
async function whileServing<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; answers: number; slowest: number }> {
  let done = false;
  let answers = 0;
  let slowest = 0;
  const pinger = (async () => {
    let last = performance.now();
    while (!done) {
      await sleep(25);
      const res = await fetch(probe.url);
      assert.equal(await res.text(), 'pong');
      const now = performance.now();
      slowest = Math.max(slowest, now - last - 25);
      last = now;
      if (!done) answers++;
    }
  })();
  await sleep(60); // the first answers come before the work starts: the client is warm
  const t0 = performance.now();
  try {
    const value = await work();
    return { value, ms: performance.now() - t0, answers, slowest };
  } finally {
    done = true;
    await pinger;
  }
}

const ITEMS = [{ id: 1, name: 'Kettle' }, { id: 2, name: 'Teapot' }, { id: 3, name: 'Mug' }, { id: 4, name: 'Cup' }];
const GOOD_MAP = '{"external_id": $string(id), "title": name, "url": "https://shop.example/p/" & $string(id), "price": 10, "currency": "EUR"}';

/** A spec around one stream reading /<id>/items; `parts` replace its pieces (records '' leaves it out). */
function spec(id: string, parts: { map?: string; filter?: string; records?: string; query?: string; decoder?: string; config?: string; path?: string } = {}): string {
  const map = parts.map ?? GOOD_MAP;
  return `dsl: 1
id: ${id}
name: Hostile ${id}
kind: feed
base_url: https://api.${id}.example
${parts.config ?? ''}
streams:
  - name: items
    kind: product
    request:
      path: ${parts.path ?? `/${id}/items`}
${parts.query ? `      query: ${parts.query}\n` : ''}${parts.decoder ? `    decoder: ${parts.decoder}\n` : ''}${parts.records === '' ? '' : `    records: ${parts.records ?? 'items'}\n`}${parts.filter ? `    filter: ${parts.filter}\n` : ''}    map: |
${map.split('\n').map((l) => `      ${l}`).join('\n')}
`;
}

async function sync(s: ConnectorSpec): Promise<SyncOutcome> {
  return syncConnector({ spec: s, config: {}, redactor: new Redactor(), logger: quietLogger(), store, baseUrlOverride: upstream.url, retryOverride: { backoffMs: 1, maxBackoffMs: 5 } });
}

async function offersOf(network: string) {
  return all<{ external_id: string; status: string; version: number }>(store.conn, 'SELECT external_id, status, version FROM offers WHERE network = ? ORDER BY external_id', [network]);
}

/** A failed run committed nothing: no offer, no staged row, no history event, and its record says why. */
async function assertNothingCommitted(out: SyncOutcome, network: string, error: RegExp): Promise<void> {
  assert.equal(out.result.status, 'failed', JSON.stringify(out.result));
  assert.equal(out.committed, false);
  assert.match(out.result.error ?? '', error);
  assert.deepEqual(await offersOf(network), []);
  const staged = await all<{ n: number }>(store.conn, 'SELECT count(*)::INTEGER AS n FROM offer_stage WHERE run_id = ?', [out.runId]);
  assert.equal(staged[0].n, 0, 'the staged offers of the failed run are gone');
  const events = await all<{ n: number }>(store.conn, `SELECT count(*)::INTEGER AS n FROM outbox WHERE kind = 'offer_version' AND json_extract_string(payload, '$.run_id') = ?`, [out.runId]);
  assert.equal(events[0].n, 0, 'no history event for an offer of the failed run');
  const [run] = await all<{ status: string; error: string }>(store.conn, 'SELECT status, error FROM sync_runs WHERE id = ?', [out.runId]);
  assert.equal(run.status, 'failed');
  assert.match(run.error, error);
}

// ---- 1. expensive and recursive JSONata -------------------------------------------------------------------

describe('expensive or recursive JSONata is stopped by the guards, the run fails cleanly, the process keeps answering', () => {
  test('a recursive map that never ends: the time limit stops it, the error names file, line and field, the previous offers stay live', async (t) => {
    const id = 'recursion';
    routes.set(`/${id}/items`, { type: 'application/json', body: JSON.stringify({ items: ITEMS }) });
    const good = await sync((await loadSpecFile(await specFile(id, spec(id)))).spec);
    assert.equal(good.result.status, 'succeeded', good.result.error);
    const before = await offersOf(id);
    assert.equal(before.length, 4);

    // records 1 and 2 map fine (their offers wait for the commit), record 3 recurses forever
    hostileCases++;
    const text = spec(id, { map: `id = 3\n  ? ( $f := function($x){ $f($x) }; $f(1) )\n  : ${GOOD_MAP.replace('"price": 10', '"price": 12')}` });
    const file = await specFile(id, text);
    const hostile = (await loadSpecFile(file)).spec;
    const { value: out, ms, answers, slowest } = await whileServing(() => sync(hostile));
    t.diagnostic(`run failed after ${Math.round(ms)} ms; the other server answered ${answers} times meanwhile, the slowest in ${Math.round(slowest)} ms`);
    const where = `${esc(file)}:${lineCol(text, 'id = 3')}: streams\\[0\\]\\.map: `;
    assert.match(out.result.error ?? '', new RegExp(`^${where}JSONata evaluation failed: expression exceeded the time limit of ${TIME_LIMIT_MS} ms$`));
    assert.equal(out.result.status, 'failed');
    assert.equal(out.committed, false);
    assert.deepEqual(await offersOf(id), before, 'the offers of the last good run are served unchanged (price 10, version 1)');
    assert.ok(ms < TIME_LIMIT_MS + 4_000, `the run stopped at the first record that hit the limit (${Math.round(ms)} ms)`);
    assert.ok(answers >= 1 && slowest < ANSWER_BOUND_MS, `the HTTP server answered ${answers} times meanwhile, the slowest in ${Math.round(slowest)} ms`);
  });

  const cases: Array<{ name: string; parts: (id: string) => Parameters<typeof spec>[1]; field: string; anchor: string; error: RegExp; slow?: boolean }> = [
    {
      name: 'unbounded recursion without a tail call hits the depth limit',
      parts: () => ({ map: `( $f := function($x){ 1 + $f($x) }; {"external_id": $string($f(id))} )` }),
      field: 'streams\\[0\\]\\.map', anchor: '( $f := function($x){ 1 +', error: /maximum evaluation depth of 200/,
    },
    {
      name: 'a huge range in the filter is refused by the range size limit',
      parts: () => ({ filter: "'$count([1..100000000]) > 0'" }),
      field: 'streams\\[0\\]\\.filter', anchor: '$count([1..100000000])', error: /range operator \(\.\.\) must not exceed 1e7/,
    },
    {
      name: 'ranges multiplied by a path in the records expression hit the copied-items budget before the heap fills',
      parts: () => ({ records: '"$count([1..10000000].[1..10000000]) > 0 ? items"' }),
      // the budget stops it at the third 1e7 range unless a loaded machine takes 2 s for the first two
      field: 'streams\\[0\\]\\.records', anchor: '$count([1..10000000].[1..10000000])', error: /copied more than 20000000 items|time limit of 2000 ms/, slow: true,
    },
    {
      name: 'a string doubled forty times hits the string size limit',
      parts: () => ({ map: `( $f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; ${GOOD_MAP.replace('"title": name', '"title": $f(name, 40)')} )` }),
      field: 'streams\\[0\\]\\.map', anchor: '( $f := function($s, $n)', error: /string longer than the limit of 16000000 characters/,
    },
    {
      name: 'a request template that builds a huge string fails the run before any request',
      parts: () => ({ query: `{ q: "{{ ( $f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $f('ab', 40) ) }}" }` }),
      field: 'streams\\[0\\]\\.request\\.query\\.q', anchor: `( $f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $f('ab'`, error: /string longer than the limit/,
    },
    {
      name: 'a catastrophic regex built from a string at run time ($eval) is refused when jsonata builds it',
      parts: () => ({ map: `${GOOD_MAP.replace('"title": name', `"title": $eval("$match(name, /(a+)+$/) ? 'matched' : name")`)}` }),
      field: 'streams\\[0\\]\\.map', anchor: '{"external_id"', error: /unsafe regular expression \/\(a\+\)\+\$\/: the repetition \\?"\(a\+\)\+\\?" contains the repetition/,
    },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      hostileCases++;
      const id = `h${hostileCases}`;
      // a hostile input for the regex case (40 a's and a mismatch: hours for V8 on /(a+)+$/), which the
      // refusal keeps the regex from ever seeing
      routes.set(`/${id}/items`, { type: 'application/json', body: JSON.stringify({ items: [...ITEMS, { id: 5, name: `${'a'.repeat(40)}!` }] }) });
      const text = spec(id, c.parts(id));
      const file = await specFile(id, text);
      const loaded = (await loadSpecFile(file)).spec;
      const { value: out, ms, answers, slowest } = await whileServing(() => sync(loaded));
      t.diagnostic(`run failed after ${Math.round(ms)} ms; the other server answered ${answers} times meanwhile, the slowest in ${Math.round(slowest)} ms`);
      const where = new RegExp(`^${esc(file)}:${lineCol(text, c.anchor)}: ${c.field}: `);
      await assertNothingCommitted(out, id, where);
      assert.match(out.result.error ?? '', c.error);
      assert.ok(ms < (c.slow ? TIME_LIMIT_MS + 4_000 : 2_000), `stopped in ${Math.round(ms)} ms`);
      assert.ok(slowest < (c.slow ? ANSWER_BOUND_MS : 1_500), `the slowest answer meanwhile took ${Math.round(slowest)} ms (${answers} answers)`);
    });
  }

  test('a map that returns shared parts (2^40 values from 40 steps) has its record quarantined, not walked', async () => {
    hostileCases++;
    const id = 'dagout';
    routes.set(`/${id}/items`, { type: 'application/json', body: JSON.stringify({ items: ITEMS }) });
    const loaded = (await loadSpecFile(await specFile(id, spec(id, { map: `( $f := function($a, $n){ $n = 0 ? $a : $f({"l": $a, "r": $a}, $n - 1) }; ${GOOD_MAP.replace('"price": 10', '"attributes": $f(name, 40)')} )` })))).spec;
    const { value: out, slowest } = await whileServing(() => sync(loaded));
    assert.equal(out.counts.quarantined, 4);
    assert.deepEqual(await offersOf(id), []);
    const reasons = await all<{ reasons: string }>(store.conn, 'SELECT reasons::VARCHAR AS reasons FROM quarantine WHERE run_id = ?', [out.runId]);
    assert.equal(reasons.length, 4);
    assert.match(reasons[0].reasons, /the map produced more than 100000 values for one record/);
    assert.ok(slowest < 1_500, `slowest answer ${Math.round(slowest)} ms`);
  });

  test('a map that is merely slow (about 100 ms a record) gives the event loop a turn between records', async (t) => {
    const id = 'slowmap';
    const items = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, name: `Item ${i + 1}` }));
    routes.set(`/${id}/items`, { type: 'application/json', body: JSON.stringify({ items }) });
    const loaded = (await loadSpecFile(await specFile(id, spec(id, { map: GOOD_MAP.replace('"price": 10', '"price": $count([1..1000000][$ % 3 = 0]) / 333333 * 10') })))).spec;
    const { value: out, ms, answers, slowest } = await whileServing(() => sync(loaded));
    t.diagnostic(`run took ${Math.round(ms)} ms; the other server answered ${answers} times meanwhile, the slowest in ${Math.round(slowest)} ms`);
    assert.equal(out.result.status, 'succeeded', out.result.error);
    assert.equal((await offersOf(id)).length, 12);
    // the whole page is mapped in one synchronous stretch unless the mapper yields: one answer at most
    assert.ok(answers >= 4, `${answers} answers during a ${Math.round(ms)} ms run`);
    assert.ok(slowest < 1_000, `slowest answer ${Math.round(slowest)} ms`);
  });

  test('an expression nested deeper than the limit, or too deep to parse at all, is refused at load with its position', async () => {
    const deep = (n: number) => `${'{"a": '.repeat(n)}1${'}'.repeat(n)}`;
    const tooDeep = spec('deepmap', { map: `( $x := ${deep(MAX_EXPRESSION_NESTING + 20)}; ${GOOD_MAP} )` });
    const r1 = await refused('deepmap', tooDeep);
    assert.match(r1.errors[0], new RegExp(`^${esc(r1.file)}:\\d+:\\d+: streams\\[0\\]\\.map: expression nests more than ${MAX_EXPRESSION_NESTING} levels deep$`));
    const unparseable = spec('deepmap2', { map: deep(8_000) });
    const r2 = await refused('deepmap2', unparseable);
    assert.match(r2.errors[0], /streams\[0\]\.map: expression nests too deeply to be parsed/);
    const long = spec('longmap', { map: `${GOOD_MAP.slice(0, -1)}, "x": "${'y'.repeat(MAX_EXPRESSION_LENGTH)}"}` });
    const r3 = await refused('longmap', long);
    assert.match(r3.errors[0], new RegExp(`streams\\[0\\]\\.map: expression is \\d+ characters long \\(limit ${MAX_EXPRESSION_LENGTH}\\)`));
    assert.ok(r1.ms + r2.ms + r3.ms < 3_000);
  });
});

// ---- 2. catastrophic regexes ------------------------------------------------------------------------------

describe('catastrophic regexes are refused when the expression is compiled', () => {
  const unsafe: Array<[string, 'map' | 'filter' | 'records' | 'query', string]> = [
    ['/(a+)+$/', 'map', '$match(name, /(a+)+$/)'],
    ['/(x|x)*y/', 'filter', '$contains(name, /(x|x)*y/)'],
    ['/^(\\w|\\d)+$/', 'map', '$replace(name, /^(\\w|\\d)+$/, "")'],
    ['/(\\w\\d?)+$/', 'records', "'$split(title, /(\\w\\d?)+$/) ? items'"],
    ['/^(a{1,30}){1,30}$/', 'map', '$contains(name, /^(a{1,30}){1,30}$/)'],
    ['/(.*a){12}/', 'query', '{ q: "{{ $replace(\'zz\', /(.*a){12}/, \'\') }}" }'],
    ['/(a|A)+$/i', 'map', 'name ~> /(a|A)+$/i'],
    ['/(?=(a+)+b)/', 'map', '$split(name, /(?=(a+)+b)/)'],
  ];
  for (const [re, field, expr] of unsafe) {
    test(`${re} in ${field}: file:line:col of the regex, the field, and why`, async () => {
      const id = `re${hostileCases}`;
      const parts = field === 'map' ? { map: `( $m := ${expr}; ${GOOD_MAP} )` } : field === 'filter' ? { filter: `'${expr}'` } : field === 'records' ? { records: expr } : { query: expr };
      const text = spec(id, parts);
      const { file, errors, ms } = await refused(id, text);
      const source = re.replace(/^\/(.*)\/[a-z]*$/, '$1');
      const label = field === 'query' ? 'streams\\[0\\]\\.request\\.query\\.q' : `streams\\[0\\]\\.${field}`;
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0], new RegExp(`^${esc(file)}:${lineCol(text, `/${source}/`)}: ${label}: unsafe regular expression /${esc(source)}/: .*(nested quantifiers|can start with the same character).*exponential`));
      assert.ok(ms < 1_000);
    });
  }

  test('the same patterns are refused by the compiler whatever the entry point, and jsonata never runs them', () => {
    for (const [re] of unsafe) {
      assert.throws(() => compileExpression(`$contains(s, ${re})`), (e: ExpressionError) => e.code === 'U1005' && /unsafe regular expression/.test(e.message), re);
    }
  });

  test('safe regexes (those of the shipped connectors) load and run fast on long hostile input', async () => {
    const id = 'saferegex';
    const long = `${'1,'.repeat(50_000)}x`;
    routes.set(`/${id}/items`, { type: 'application/json', body: JSON.stringify({ items: [{ id: 1, name: long }, { id: 2, name: `  ${'9'.repeat(100_000)}.5 ` }, { id: 3, name: 'no code needed' }] }) });
    const map = `{
  "external_id": $string(id),
  "title": "t" & id,
  "url": "https://shop.example/p/" & $string(id),
  "tags": [
    $contains(name, /^[0-9]+(,[0-9]+)*$/) ? "list",
    name ~> /^\\s*[0-9]+(\\.[0-9]+)?\\s*$/ ? "number",
    $contains(name, /^(n\\/?a|none|null|-+|no code( needed| required| necessary)?|not (needed|required))$/i) ? "nocode",
    $count($split(name, /[,;|]/)) > 2 ? "split"
  ]
}`;
    const loaded = (await loadSpecFile(await specFile(id, spec(id, { map })))).spec;
    const { value: out, ms } = await whileServing(() => sync(loaded));
    assert.equal(out.result.status, 'succeeded', out.result.error);
    assert.ok(ms < 5_000, `${Math.round(ms)} ms`);
    const tags = await all<{ external_id: string; tags: string }>(store.conn, `SELECT external_id, data->>'tags' AS tags FROM offers WHERE network = ? ORDER BY external_id`, [id]);
    assert.deepEqual(tags.map((t) => [t.external_id, JSON.parse(t.tags)]), [['1', ['split']], ['2', ['number']], ['3', ['nocode']]]);
  });

  test('a catastrophic pattern in the settings schema (ajv runs it on typed-in values) is refused at its position', async () => {
    const config = `config:
  type: object
  properties:
    sku_filter: { type: string, pattern: "^([a-z]+\\\\s?)*$" }
    ids: { type: array, items: { type: string, pattern: "^[0-9]+(,[0-9]+)*$" } }
    codes: { type: array, items: { type: object, patternProperties: { "(x|x)*y": { type: string } } } }`;
    const text = spec('cfgregex', { config });
    const { file, errors } = await refused('cfgregex', text);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith(`${file}:${lineCol(text, '"^([a-z]')}: config.properties.sku_filter.pattern: unsafe regular expression /^([a-z]+\\s?)*$/:`)), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith(`${file}:${lineCol(text, '"(x|x)*y"')}: config.properties.codes.items.patternProperties: unsafe regular expression /(x|x)*y/:`)), errors.join('\n'));
  });
});

// ---- 3. oversized and deeply nested specs -----------------------------------------------------------------

describe('oversized and deeply nested specs are refused by the loader without a stack overflow', () => {
  test(`a spec file over ${MAX_SPEC_BYTES} bytes is refused from its size, before it is read`, async () => {
    const text = `${spec('big')}# ${'x'.repeat(MAX_SPEC_BYTES)}\n`;
    const r = await refused('big', text);
    assert.match(r.errors[0], new RegExp(`^${esc(r.file)}:1:1: spec is ${Buffer.byteLength(text)} bytes, larger than the limit of ${MAX_SPEC_BYTES} bytes \\(1 MiB\\)$`));

    // 1.5 GiB of nothing (sparse): reading it would take seconds and the memory; the size alone refuses it
    hostileCases++;
    const huge = join(dir, 'huge.yaml');
    const fh = await open(huge, 'w');
    await fh.truncate(1.5 * 1024 ** 3);
    await fh.close();
    const rss = process.memoryUsage().rss;
    const t = performance.now();
    await assert.rejects(loadSpecFile(huge), (e: Error) => e instanceof SpecValidationError && /spec is 1610612736 bytes, larger than the limit/.test(e.message));
    assert.ok(performance.now() - t < 500, 'refused without reading');
    assert.ok(process.memoryUsage().rss - rss < 100 * 1024 * 1024, 'the file was not held in memory');
    await rm(huge);

    // text from the wizard: bytes count, not UTF-16 units (600k "é" are 1.2 MB)
    hostileCases++;
    assert.throws(() => parseSpec(`${spec('wide')}description: "${'é'.repeat(600_000)}"\n`, 'wizard.yaml'), /wizard\.yaml:1:1: spec is 1200\d{3} bytes, larger than the limit/);
  });

  test('a settings schema nested 10,000 levels (JSON in YAML) is refused where it passes the nesting limit', async () => {
    const json = `{"type":"array","items":${'{"type":"array","items":'.repeat(10_000)}{"type":"string"}${'}'.repeat(10_001)}`;
    const text = spec('deepcfg', { config: `config: {"type":"object","properties":{"p":${json}}}` });
    const r = await refused('deepcfg', text);
    assert.equal(r.errors.length, 1);
    // the 65th opening bracket is where the limit is passed
    let at = text.indexOf('config:');
    for (let i = 0; i < MAX_SPEC_NESTING + 1; i++) at = text.indexOf('{', at + 1);
    assert.equal(r.errors[0], `${r.file}:${lineCol(text, text.slice(at, at + 40), at)}: YAML nests deeper than ${MAX_SPEC_NESTING} levels`);
    assert.ok(r.ms < 1_000, `${Math.round(r.ms)} ms`);
  });

  test('block mappings nested by indentation, beyond the limit and beyond what the YAML parser can recurse, are refused', async () => {
    const block = (n: number) => `config:\n${Array.from({ length: n }, (_, i) => `${' '.repeat(i + 1)}a${i}:`).join('\n')} 1\n`;
    const within = await refused('block70', `${spec('block70')}${block(70)}`);
    assert.match(within.errors[0], new RegExp(`^${esc(within.file)}:\\d+:\\d+: YAML nests deeper than ${MAX_SPEC_NESTING} levels$`));
    // 1400 levels of one-space indents: just under the size limit
    const beyond = await refused('block1400', `${spec('block1400')}${block(1400)}`);
    assert.match(beyond.errors[0], /YAML nests (too deeply to be parsed|deeper than 64 levels)/);
    assert.ok(!beyond.errors[0].includes('Maximum call stack'), beyond.errors[0]);
  });

  test('an alias bomb in a file is refused (the text case is in loader.test.ts)', async () => {
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(',')}]`);
    const r = await refused('aliasbomb', `${lines.join('\n')}\n${spec('aliasbomb').replace('dsl: 1\n', 'dsl: 1\nx-bomb: *a8\n')}`);
    assert.match(r.errors[0], /alias/i);
    assert.ok(r.ms < 1_000);
  });

  test(`the settings schema: more than ${MAX_CONFIG_SCHEMA_NODES} objects is refused at once; ajv compiles one at the limit quickly; remote $refs are never fetched`, async () => {
    const nested = (depth: number) => {
      let s = '{"type":"string","pattern":"^[a-z]+$"}';
      for (let i = 0; i < depth; i++) s = `{"type":"array","items":{"anyOf":[{"type":"string","enum":["a","b"]},${s}]}}`;
      return s;
    };
    const props = (n: number, depth: number) => `config:\n  type: object\n  properties:\n${Array.from({ length: n }, (_, i) => `    p${i}: {"type":"array","items":${nested(depth)}}`).join('\n')}\n`;
    // 325 KB of schema would keep ajv busy for about 7 s (650 KB: 15 s)
    const wide = await refused('widecfg', spec('widecfg', { config: props(300, 14) }));
    assert.match(wide.errors[0], new RegExp(`config: the settings schema holds more than ${MAX_CONFIG_SCHEMA_NODES} objects and arrays`));
    assert.ok(wide.ms < 5_000, `${Math.round(wide.ms)} ms`);
    const t = performance.now();
    await loadSpecFile(await specFile('atlimit', spec('atlimit', { config: props(9, 12) })));
    assert.ok(performance.now() - t < 3_000, `a schema at the limit loads in ${Math.round(performance.now() - t)} ms`);

    const before = upstream.requests.length;
    const remote = await refused('remoteref', spec('remoteref', { config: `config:\n  type: object\n  properties:\n    list: { type: array, items: { $ref: "${upstream.url}/schema.json" } }\n` }));
    assert.match(remote.errors[0], /config is not a usable JSON Schema: can't resolve reference/);
    assert.equal(upstream.requests.length, before, 'nothing was fetched');
  });
});

// ---- 4. XML entity expansion and external entities -----------------------------------------------------------

describe('XML entity expansion and external entities in a response are refused by a real run', () => {
  // engine/decode/xml.test.ts proves the decoder refuses these (both modes, any chunking); here whole runs
  // do, through HTTP, compression and encodings, without fetching anything and without committing.
  const lol = ['<!ENTITY lol0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`)].join('\n ');
  const bodies = (secret: string): Array<[string, string | Buffer, string]> => [
    ['billion laughs', `<?xml version="1.0"?>\n<!DOCTYPE feed [\n ${lol}\n]>\n<feed><item><id>1</id><name>&lol9;</name></item></feed>`, 'application/xml'],
    ['external entity reading /etc/passwd', '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><feed><item><id>1</id><name>&xxe;</name></item></feed>', 'application/xml'],
    ['external entity fetched over HTTP', `<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM "${secret}">]><feed><item><id>1</id><name>&xxe;</name></item></feed>`, 'application/xml'],
    ['parameter entity loading a remote DTD', `<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY % ext SYSTEM "${secret}"> %ext;]><feed><item><id>1</id><name>x</name></item></feed>`, 'application/xml'],
    ['billion laughs, gzipped', gzipSync(`<?xml version="1.0"?><!DOCTYPE feed [${lol}]><feed><item><id>1</id><name>&lol9;</name></item></feed>`), 'application/gzip'],
    ['billion laughs in UTF-16', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE feed [${lol}]><feed><item><id>1</id><name>&lol9;</name></item></feed>`, 'utf16le')]), 'application/xml'],
  ];
  for (const mode of ['document', 'record_tag'] as const) {
    test(`${mode} decoding: every entity trick fails the run with nothing committed and nothing fetched`, async () => {
      const secret = `${upstream.url}/secret-${mode}`;
      for (const [name, body, type] of bodies(secret)) {
        hostileCases++;
        const id = `xml-${mode.replace('_', '')}-${hostileCases}`;
        routes.set(`/${id}/feed`, { type, body });
        const decoder = mode === 'document' ? '{ format: xml }' : '{ format: xml, xml: { record_tag: item } }';
        const text = spec(id, { path: `/${id}/feed`, decoder, records: mode === 'document' ? 'feed.item' : '' });
        const loaded = (await loadSpecFile(await specFile(id, text))).spec;
        const { value: out, slowest } = await whileServing(() => sync(loaded));
        await assertNothingCommitted(out, id, /declares entities in its DOCTYPE; refused/);
        assert.ok(!JSON.stringify(out).includes('root:'), `${name}: nothing of /etc/passwd`);
        assert.ok(slowest < 1_500, `${name}: slowest answer ${Math.round(slowest)} ms`);
      }
      assert.ok(!upstream.requests.some((r) => r.url.pathname.startsWith('/secret')), 'no entity or DTD was fetched');
    });
  }

  test('an external DTD without declarations is not fetched, and its entities stay unexpanded', async () => {
    hostileCases++;
    const id = 'xml-dtd';
    routes.set(`/${id}/feed`, { type: 'application/xml', body: `<?xml version="1.0"?><!DOCTYPE feed SYSTEM "${upstream.url}/secret-dtd.dtd"><feed><item><id>1</id><name>Tea &amp; cake</name></item></feed>` });
    const loaded = (await loadSpecFile(await specFile(id, spec(id, { path: `/${id}/feed`, decoder: '{ format: xml }', records: 'feed.item' })))).spec;
    const out = await sync(loaded);
    assert.equal(out.result.status, 'succeeded', out.result.error);
    assert.deepEqual((await offersOf(id)).map((o) => o.external_id), ['1']);
    assert.ok(!upstream.requests.some((r) => r.url.pathname === '/secret-dtd.dtd'), 'the DTD was not fetched');
  });
});
