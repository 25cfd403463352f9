import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { all, closeDuckDB, openDuckDB, run } from './duckdb.ts';
import { defaultMigrationsDir, migrateUp } from './migrate.ts';
import { backup, readManifest, restore, RestoreRefusedError } from './backup.ts';
import { compareSnapshots, duckdbSnapshot, type StoreSnapshot } from './verify.ts';

const temps: string[] = [];
const dbs: string[] = [];
after(async () => {
  for (const d of dbs) await closeDuckDB(d);
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

interface Env { root: string; dataDir: string; db: string; migrations: string }

function env(migrations?: string): Env {
  const root = mkdtempSync(join(tmpdir(), 'offerfeed-backup-'));
  temps.push(root);
  const m = migrations ?? join(root, 'migrations');
  // The first migration of each store only: the tests count schema versions.
  if (!migrations) for (const store of ['duckdb', 'clickhouse']) {
    mkdirSync(join(m, store), { recursive: true });
    cpSync(join(defaultMigrationsDir(), store, '001_init.sql'), join(m, store, '001_init.sql'));
  }
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  const db = join(dataDir, 'offerfeed.duckdb');
  dbs.push(db);
  return { root, dataDir, db, migrations: m };
}

async function withDuck<T>(e: Env, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await (await openDuckDB(e.db)).connect();
  try { return await fn(conn); } finally { conn.closeSync(); }
}

const up = (e: Env) => migrateUp({ dataDir: e.dataDir, migrationsDir: e.migrations, clickhouse: null, feedTest: false });
const snapshot = (e: Env): Promise<StoreSnapshot> => withDuck(e, duckdbSnapshot);
const opts = (e: Env) => ({ dataDir: e.dataDir, migrationsDir: e.migrations });

/** Rows with every kind of value the store holds: NULLs, lists, JSON, quotes, unicode, microsecond times. */
async function seed(conn: DuckDBConnection, offers: number): Promise<void> {
  await run(conn, `INSERT INTO offers BY NAME SELECT
      'net:' || i AS id, CASE WHEN i % 2 = 0 THEN 'awin' ELSE 'cj' END AS network, i::VARCHAR AS external_id, 'product' AS kind,
      CASE WHEN i = 0 THEN 'Crème brûlée "deluxe" ''20%'' off — 🍮' ELSE 'Offer ' || i END AS title,
      CASE WHEN i % 3 = 0 THEN NULL ELSE 'desc ' || i END AS description, 'https://t.example/' || i AS url,
      'https://shop.example/p/' || i AS landing_url, NULL AS image_url, 'm' || (i % 50) AS merchant_id, 'Merchant ' || (i % 50) AS merchant_name,
      (i % 1000) + 0.99 AS price, CASE WHEN i % 4 = 0 THEN (i % 1000) * 0.5 END AS sale_price, 'EUR' AS currency, NULL AS coupon_code,
      ['cat ' || (i % 7), 'x'] AS categories, ['DE', 'AT'] AS countries, ['de'] AS languages, [] AS tags,
      json_object('type', 'cps', 'percent', i % 10) AS payout, TIMESTAMP '2026-01-01 00:00:00.000001' + to_days((i % 30)::INTEGER) AS starts_at,
      NULL AS expires_at, json_object('external_id', i::VARCHAR, 'nested', json_object('a', [1, 2, i])) AS data, 'g' || (i % 900) AS group_key,
      'active' AS status, NULL AS status_reason, TIMESTAMP '2026-02-01 10:00:00.123456' AS first_seen_at,
      TIMESTAMP '2026-03-01' AS last_seen_at, TIMESTAMP '2026-03-01' AS last_verified_at, TIMESTAMP '2026-02-01' AS last_changed_at,
      1 + i % 3 AS version, md5(i::VARCHAR) AS content_hash, 0 AS missed_runs, 'run-1' AS last_run_id
    FROM range(${offers}) t(i)`);
  await run(conn, `INSERT INTO sync_runs BY NAME SELECT 'run-' || i AS id, 'awin' AS connector, 'full' AS mode, 'succeeded' AS status,
      i % 2 = 0 AS complete, TIMESTAMP '2026-03-01' + to_hours(i::INTEGER) AS started_at, NULL AS finished_at,
      json_object('new', i) AS counts, CASE WHEN i = 1 THEN 'boom' END AS error, NULL AS warnings, 4242 AS pid FROM range(7) t(i)`);
  await run(conn, `INSERT INTO outbox (kind, payload, created_at) SELECT 'offer_version', json_object('i', i), TIMESTAMP '2026-03-01' FROM range(5) t(i)`);
}

const allEqual = (a: StoreSnapshot, b: StoreSnapshot) => compareSnapshots(a, b).every((c) => c.status === 'equal' && c.ok);

describe('backup and restore', () => {
  test('backup → restore → verify: every table, count and checksum equal', async () => {
    const src = env();
    await up(src);
    await withDuck(src, (c) => seed(c, 300));
    const before = await snapshot(src);
    const dir = join(src.root, 'bk');
    const b = await backup(dir, { duckdbPath: src.db });
    assert.equal(b.manifest.schema_version, 1);
    assert.equal(b.manifest.tables.find((t) => t.table === 'offers')?.rows, 300);
    assert.equal(b.manifest.tables.find((t) => t.table === 'sync_runs')?.rows, 7);
    assert.ok(existsSync(join(dir, 'offers.parquet')) && existsSync(join(dir, 'manifest.json')));
    assert.ok(b.manifest.migrations[0].checksum.match(/^[0-9a-f]{64}$/));

    const dst = env(src.migrations);
    const r = await restore(dir, opts(dst));
    assert.equal(r.schema_version, 1);
    assert.ok(r.tables.every((t) => t.ok));
    assert.equal(r.moved_aside, undefined);
    const restored = await snapshot(dst);
    assert.ok(allEqual(before, restored), JSON.stringify(compareSnapshots(before, restored).filter((c) => c.status !== 'equal')));
    await withDuck(dst, async (c) => {
      const [m] = await all<{ applied_at: string }>(c, "SELECT strftime(applied_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS applied_at FROM schema_migrations");
      assert.equal(m.applied_at, b.manifest.migrations[0].applied_at, 'the migration history keeps its dates');
      const [t] = await all<{ title: string }>(c, "SELECT title FROM offers WHERE id = 'net:0'");
      assert.equal(t.title, 'Crème brûlée "deluxe" \'20%\' off — 🍮');
      // The outbox sequence continues after the restored ids instead of reusing them.
      await run(c, `INSERT INTO outbox (kind, payload, created_at) VALUES ('sync_run', '{}', TIMESTAMP '2026-03-02')`);
      const ids = await all<{ id: string }>(c, 'SELECT id::VARCHAR AS id FROM outbox ORDER BY id');
      assert.deepEqual(ids.map((x) => x.id), ['1', '2', '3', '4', '5', '6']);
    });
    // And migrate agrees that nothing is pending.
    assert.deepEqual((await up(dst)).applied, []);
  });

  test('restore refuses a store with data; --force moves it aside and restores', async () => {
    const src = env();
    await up(src);
    await withDuck(src, (c) => seed(c, 20));
    const dir = join(src.root, 'bk');
    await backup(dir, { duckdbPath: src.db });
    const dst = env(src.migrations);
    await up(dst);
    await withDuck(dst, (c) => seed(c, 3));
    await assert.rejects(restore(dir, opts(dst)), (err: Error) => {
      assert.ok(err instanceof RestoreRefusedError);
      assert.match(err.message, /has data \(.*offers: 3 rows/);
      assert.match(err.message, /--force/);
      return true;
    });
    const r = await restore(dir, { ...opts(dst), force: true });
    assert.ok(r.moved_aside && existsSync(r.moved_aside), 'the previous store is kept');
    assert.equal(r.tables.find((t) => t.table === 'offers')?.rows, 20);
  });

  test('a backup that does not match its manifest is refused and the previous store comes back', async () => {
    const src = env();
    await up(src);
    await withDuck(src, (c) => seed(c, 10));
    const good = join(src.root, 'good');
    await backup(good, { duckdbPath: src.db });
    await withDuck(src, (c) => run(c, "UPDATE offers SET title = 'tampered' WHERE id = 'net:3'"));
    const other = join(src.root, 'other');
    await backup(other, { duckdbPath: src.db });
    copyFileSync(join(other, 'offers.parquet'), join(good, 'offers.parquet'));

    const dst = env(src.migrations);
    await up(dst);
    await withDuck(dst, (c) => seed(c, 2));
    const mine = await snapshot(dst);
    await assert.rejects(restore(good, { ...opts(dst), force: true }), /restore rolled back: loaded data differs from the manifest \(offers: 10 rows\/\d+, manifest 10\/\d+\)/);
    assert.ok(allEqual(mine, await snapshot(dst)), 'the store that was there before is back, unchanged');
  });

  test('restore rebuilds the schema of the backup, not a newer one; migrate up then moves it on', async () => {
    const src = env();
    await up(src);
    await withDuck(src, async (c) => {
      await seed(c, 12);
      // A table made outside the migrations is kept too.
      await run(c, 'CREATE TABLE adhoc (k VARCHAR, v DOUBLE[])');
      await run(c, "INSERT INTO adhoc VALUES ('a', [1.5, 2]), ('b', NULL)");
    });
    const dir = join(src.root, 'bk');
    await backup(dir, { duckdbPath: src.db });
    writeFileSync(join(src.migrations, 'duckdb', '002_rank.sql'), 'ALTER TABLE offers ADD COLUMN rank DOUBLE;');
    const dst = env(src.migrations);
    const r = await restore(dir, opts(dst));
    assert.deepEqual(r.created_from_manifest, ['adhoc']);
    await withDuck(dst, async (c) => {
      const cols = await all(c, "SELECT 1 FROM duckdb_columns() WHERE table_name = 'offers' AND column_name = 'rank'");
      assert.equal(cols.length, 0, 'restored at version 1');
      assert.equal((await all<{ n: string }>(c, 'SELECT count(*)::VARCHAR n FROM adhoc'))[0].n, '2');
    });
    const m = await up(dst);
    assert.deepEqual(m.applied.map((a) => a.version), [2]);
    assert.ok(m.backup, 'the restored store has data, so migrate backs it up first');
  });

  test('a backup directory must be new or empty, and a backup without manifest is incomplete', async () => {
    const src = env();
    await up(src);
    const dir = join(src.root, 'bk');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'x');
    await assert.rejects(backup(dir, { duckdbPath: src.db }), /is not empty/);
    unlinkSync(join(dir, 'keep.txt'));
    await backup(dir, { duckdbPath: src.db });
    const manifest = readFileSync(join(dir, 'manifest.json'), 'utf8');
    unlinkSync(join(dir, 'manifest.json'));
    await assert.rejects(readManifest(dir), /not a complete backup: it has no manifest\.json/);
    writeFileSync(join(dir, 'manifest.json'), manifest);
    unlinkSync(join(dir, 'offers.parquet'));
    await assert.rejects(restore(dir, opts(env(src.migrations))), /incomplete: offers\.parquet \(table offers\) is missing/);
  });

  test('restore refuses a backup made with a different version of an applied migration', async () => {
    const src = env();
    await up(src);
    const dir = join(src.root, 'bk');
    await backup(dir, { duckdbPath: src.db });
    const dst = env();
    writeFileSync(join(dst.migrations, 'duckdb', '001_init.sql'), `${readFileSync(join(dst.migrations, 'duckdb', '001_init.sql'), 'utf8')}\nCREATE TABLE extra (a INTEGER);\n`);
    await assert.rejects(restore(dir, opts(dst)), /001_init\.sql differs from the one the backup's store applied/);
  });
});
