// Disk full on the data directory, for real: the data directory is a small tmpfs that a filler file fills up
// (ENOSPC), or, where mounting is not allowed, the sync process runs under a file-size limit (EFBIG, SIGXFSZ
// ignored). A real `offerfeed sync` process fails with a clear message, the serving store keeps exactly the
// offers it served before, and once there is room again the next sync commits normally.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, json, type TestServer } from '../../test/support/http-server.ts';
import { quietLogger } from '../../test/support/run.ts';
import { migrateUp } from '../store/migrate.ts';
import { ServingStore } from '../store/serving-store.ts';
import { all, closeDuckDB } from '../store/duckdb.ts';
import { parseSpec } from '../spec/loader.ts';
import { Redactor } from '../log/redact.ts';
import { syncConnector } from './sync-connector.ts';

const BIN = new URL('../../bin/offerfeed.js', import.meta.url).pathname;
const BIG = 4_000;
const SEED = 50;

const SPEC = (base: string) => `dsl: 1
id: bulk
name: Bulk
kind: affiliate-network
base_url: ${base}
streams:
  - name: items
    kind: product
    request: { path: /items, query: { size: "{{ $config.size }}" } }
    records: items
    pagination: { type: page_number, page_param: page }
    map: '{"external_id": $string(id), "title": name, "description": text, "url": "https://shop.example/p/" & $string(id), "price": price, "currency": "EUR"}'
config:
  type: object
  properties:
    size: { type: integer, default: ${SEED} }
`;

const PAGE = 2_000;
async function feed(): Promise<TestServer> {
  const pages = new Map<string, string>();
  return startServer((req, res) => {
    const size = Number(req.url.searchParams.get('size'));
    const page = Number(req.url.searchParams.get('page'));
    const key = `${size}:${page}`;
    if (!pages.has(key)) {
      const from = (page - 1) * PAGE;
      const items = Array.from({ length: Math.max(0, Math.min(PAGE, size - from)) }, (_, i) => {
        const id = from + i + 1;
        return { id, name: `Offer ${id} ${size === SEED ? 'v1' : 'v2'}`, text: `A long description of offer ${id}. `.repeat(8), price: 10 + (id % 90) };
      });
      pages.set(key, JSON.stringify({ items }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(pages.get(key));
  });
}

function cli(args: string[], env: Record<string, string>, wrap: string[] = []): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = { ...process.env };
    delete base.CLICKHOUSE_URL; // history is not the subject: events stay in the outbox
    const [cmd, ...rest] = wrap.length ? [...wrap, process.execPath, BIN, ...args] : [process.execPath, BIN, ...args];
    const child = spawn(cmd, rest, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** What consumers are served. */
async function served(path: string) {
  const store = await ServingStore.open(path);
  try {
    const offers = await all<{ external_id: string; title: string; version: number; status: string; content_hash: string }>(store.conn,
      'SELECT external_id, title, version, status, content_hash FROM offers ORDER BY external_id');
    const [{ n: staged }] = await all<{ n: number }>(store.conn, 'SELECT count(*)::INTEGER AS n FROM offer_stage');
    const runs = await all<{ id: string; status: string; error: string | null }>(store.conn, 'SELECT id, status, error FROM sync_runs ORDER BY started_at');
    return { offers, staged, runs };
  } finally {
    store.close();
    await closeDuckDB(path);
  }
}

/** Fills the file system of `dir` until ENOSPC, then gives back `leave` bytes. */
function fill(dir: string, leave: number, name = 'filler'): string {
  const filler = join(dir, name);
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  let size = 0;
  try {
    for (;;) size += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    // Fill the last partial megabyte as well.
    for (let small = Buffer.alloc(4096); ;) { try { size += writeSync(fd, small); } catch { break; } }
  }
  ftruncateSync(fd, Math.max(0, size - leave));
  closeSync(fd);
  return filler;
}

function tryMountTmpfs(dir: string, size: string): boolean {
  if (process.platform !== 'linux') return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

async function seed(dataDir: string, srvUrl: string): Promise<string> {
  const path = join(dataDir, 'offerfeed.duckdb');
  await migrateUp({ dataDir, duckdbPath: path, clickhouse: null, feedTest: false });
  const store = await ServingStore.open(path);
  try {
    const out = await syncConnector({ spec: parseSpec(SPEC('https://api.bulk.example')), config: { size: SEED }, redactor: new Redactor(), logger: quietLogger(), store, baseUrlOverride: srvUrl });
    assert.equal(out.result.status, 'succeeded', out.result.error);
    assert.equal(out.counts.new, SEED);
  } finally {
    store.close();
    await closeDuckDB(path);
  }
  return path;
}

async function connectorsDir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'offerfeed-diskfull-specs-'));
  await mkdir(join(root, 'bulk'));
  await writeFile(join(root, 'bulk', 'connector.yaml'), SPEC('https://api.bulk.example'));
  return root;
}

/** The failing sync and what every variant checks of it; the variant then makes room again. */
async function failingSync(o: { dataDir: string; srv: TestServer; connectors: string; wrap?: string[]; expect: RegExp }) {
  const env = { OFFERFEED_DATA_DIR: o.dataDir, OFFERFEED_CONNECTORS_DIR: o.connectors, OFFERFEED_BULK_SIZE: String(BIG) };
  const r = await cli(['sync', 'bulk', '--base-url', o.srv.url, '--quiet'], env, o.wrap);
  assert.notEqual(r.code, 0, `the sync must fail: ${r.stdout}${r.stderr}`);
  assert.equal(r.signal, null, 'the process ends by itself, not killed by a signal');
  const output = r.stdout + r.stderr;
  assert.match(output, o.expect);
  assert.match(output, /The run was rolled back and the offers being served are unchanged; free space/);
  assert.doesNotMatch(output, /FATAL|Segmentation|invalidated/i);
}

/** With room again: serving as before, then the next sync (the dead run's lock taken over) commits everything. */
async function recover(o: { path: string; srv: TestServer; before: Awaited<ReturnType<typeof served>> }) {
  const after = await served(o.path);
  assert.deepEqual(after.offers, o.before.offers, 'serving holds exactly what it held before the failed sync');
  assert.equal(after.staged, 0, 'no staged row of the failed run is left');
  const store = await ServingStore.open(o.path);
  try {
    const ok = await syncConnector({ spec: parseSpec(SPEC('https://api.bulk.example')), config: { size: BIG }, redactor: new Redactor(), logger: quietLogger(), store, baseUrlOverride: o.srv.url });
    assert.equal(ok.result.status, 'succeeded', ok.result.error);
  } finally {
    store.close();
    await closeDuckDB(o.path);
  }
  const done = await served(o.path);
  assert.equal(done.offers.length, BIG);
  assert.equal(done.offers.filter((x) => x.status === 'active').length, BIG);
  assert.equal(done.offers.find((x) => x.external_id === '1')!.title, 'Offer 1 v2');
  assert.ok(!done.runs.some((r) => r.status === 'running'), JSON.stringify(done.runs));
  assert.deepEqual(done.runs.map((r) => r.status), ['succeeded', 'failed', 'succeeded'], 'the failed run is recorded as failed');
}

// The two ways to run out of room are independent (own directory, server and process): they run side by side.
describe('disk full on the data directory', { concurrency: 2 }, () => {
  test('disk full (a real ENOSPC on a 64 MiB tmpfs data directory): the sync fails clearly, serving is unchanged, the next sync commits', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'offerfeed-diskfull-'));
    if (!tryMountTmpfs(dataDir, '64m')) {
      await rm(dataDir, { recursive: true, force: true });
      t.skip('mounting a tmpfs is not permitted here (needs root / CAP_SYS_ADMIN): the file-size-limit test covers disk full');
      return;
    }
    const srv = await feed();
    const connectors = await connectorsDir();
    try {
      const path = await seed(dataDir, srv.url);
      const before = await served(path);
      assert.equal(before.offers.length, SEED);
      const filler = fill(dataDir, 256 << 10);
      await failingSync({ dataDir, srv, connectors, expect: /the disk of its data directory is full \(No space left on device\)/ });
      await rm(filler);
      await recover({ path, srv, before });
    } finally {
      await srv.close();
      await closeDuckDB(join(dataDir, 'offerfeed.duckdb'));
      try { execFileSync('umount', [dataDir], { stdio: 'pipe' }); } catch { /* already gone */ }
      await rm(dataDir, { recursive: true, force: true });
      await rm(connectors, { recursive: true, force: true });
    }
  });

  test('file size limit reached (RLIMIT_FSIZE, SIGXFSZ ignored): the sync fails clearly, serving is unchanged, the next sync commits', async (t) => {
    const prlimit = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));
    if (process.platform !== 'linux' || !existsSync('/bin/sh')) {
      t.skip('needs a POSIX shell to start the sync under a file-size limit; the tmpfs test covers disk full');
      return;
    }
    const dataDir = await mkdtemp(join(tmpdir(), 'offerfeed-fsize-'));
    const srv = await feed();
    const connectors = await connectorsDir();
    try {
      const path = await seed(dataDir, srv.url);
      const before = await served(path);
      // Room for the store to grow a little, not for 4,000 more offers.
      const limit = statSync(path).size + (256 << 10);
      // SIGXFSZ would kill the process; ignored (inherited through exec), writes fail with EFBIG instead.
      const wrap = prlimit
        ? ['/bin/sh', '-c', `trap '' XFSZ; exec ${prlimit} --fsize=${limit} "$@"`, 'sh']
        : ['/bin/sh', '-c', `trap '' XFSZ; ulimit -f ${Math.ceil(limit / 512)}; exec "$@"`, 'sh'];
      await failingSync({ dataDir, srv, connectors, wrap, expect: /its files may not grow any further \(File too large: a file size limit/ });
      await recover({ path, srv, before });
    } finally {
      await srv.close();
      await closeDuckDB(join(dataDir, 'offerfeed.duckdb'));
      await rm(dataDir, { recursive: true, force: true });
      await rm(connectors, { recursive: true, force: true });
    }
  });

  test('disk full in a long-running process (the scheduler\'s): its store connection stays usable and the next run commits', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'offerfeed-diskfull-inproc-'));
    if (!tryMountTmpfs(dataDir, '64m')) {
      await rm(dataDir, { recursive: true, force: true });
      t.skip('mounting a tmpfs is not permitted here (needs root / CAP_SYS_ADMIN)');
      return;
    }
    let filler: string | undefined;
    // The disk fills up while the run is under way: after its start was recorded, before its offers are.
    const srv = await startServer((req, res) => {
      if (Number(req.url.searchParams.get('size')) === BIG && !filler) filler = fill(dataDir, 0);
      const page = Number(req.url.searchParams.get('page'));
      const n = Number(req.url.searchParams.get('size'));
      const from = (page - 1) * PAGE;
      json(res, 200, { items: Array.from({ length: Math.max(0, Math.min(PAGE, n - from)) }, (_, i) => ({ id: from + i + 1, name: `Offer ${from + i + 1}`, text: 'x'.repeat(300), price: 5 })) });
    });
    const path = join(dataDir, 'offerfeed.duckdb');
    try {
      await seed(dataDir, srv.url);
      const spec = parseSpec(SPEC('https://api.bulk.example'));
      const store = await ServingStore.open(path);
      try {
        const sync = () => syncConnector({ spec, config: { size: BIG }, redactor: new Redactor(), logger: quietLogger(), store, baseUrlOverride: srv.url });
        // Whether the short record of its end still fits (DuckDB rolled the failed write back) or not, the
        // message is the same and nothing of the run is served.
        const failed = await sync().then((o) => o.result.error ?? 'it succeeded', (e: Error) => e.message);
        assert.match(failed, /the disk of its data directory is full \(No space left on device\)\. The run was rolled back/);
        const [{ n: active }] = await all<{ n: number }>(store.conn, `SELECT count(*)::INTEGER AS n FROM offers`);
        assert.equal(active, SEED);
        await rm(filler!);
        const next = await sync();
        assert.equal(next.result.status, 'succeeded', next.result.error);
        assert.equal(next.counts.new, BIG - SEED);
        const runs = await all<{ status: string }>(store.conn, 'SELECT status FROM sync_runs ORDER BY started_at');
        assert.deepEqual(runs.map((r) => r.status), ['succeeded', 'failed', 'succeeded'], 'the run that hit the full disk is recorded as failed');
        const [{ n }] = await all<{ n: number }>(store.conn, 'SELECT count(*)::INTEGER AS n FROM run_locks');
        assert.equal(n, 0);
      } finally { store.close(); }
    } finally {
      await srv.close();
      await closeDuckDB(path);
      try { execFileSync('umount', [dataDir], { stdio: 'pipe' }); } catch { /* already gone */ }
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
