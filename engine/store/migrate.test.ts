import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import type { DuckDBConnection } from '@duckdb/node-api';
import { all, closeDuckDB, openDuckDB, run } from './duckdb.ts';
import {
  checksumOf, defaultMigrationsDir, loadMigrations, migrateUp, migrationStatus, MigrationError, renderClickHouseSql, verify,
} from './migrate.ts';
import { splitSql } from './migration-lint.ts';
import { compareSnapshots, type StoreSnapshot } from './verify.ts';
import { clickhouseUrl, requireClickHouse, CLICKHOUSE_UNAVAILABLE } from '../../test/support/clickhouse.ts';
import { runContractTest } from '../sandbox/contract.ts';

// ------------------------------------------------------------------------------------------------ helpers

const temps: string[] = [];
after(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });

interface Env { dataDir: string; db: string; migrations: string }

/** A data directory and a private copy of the first migration of each store, which a test may add to or edit
 * (later project migrations would change what these tests count). */
function env(): Env {
  const root = mkdtempSync(join(tmpdir(), 'offerfeed-migrate-'));
  temps.push(root);
  const migrations = join(root, 'migrations');
  for (const store of ['duckdb', 'clickhouse']) {
    mkdirSync(join(migrations, store), { recursive: true });
    cpSync(join(defaultMigrationsDir(), store, '001_init.sql'), join(migrations, store, '001_init.sql'));
  }
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  return { dataDir, db: join(dataDir, 'offerfeed.duckdb'), migrations };
}

const addMigration = (e: Env, store: 'duckdb' | 'clickhouse', file: string, sql: string) => writeFileSync(join(e.migrations, store, file), sql);

async function withDuck<T>(e: Env, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await (await openDuckDB(e.db)).connect();
  try { return await fn(conn); } finally { conn.closeSync(); }
}

const up = (e: Env, extra: Partial<Parameters<typeof migrateUp>[0]> = {}) =>
  migrateUp({ dataDir: e.dataDir, migrationsDir: e.migrations, clickhouse: null, feedTest: false, ...extra });

/** Offers and runs in the shape the serving store writes them. */
export async function seed(conn: DuckDBConnection, offers: number, runs = 3): Promise<void> {
  await run(conn, `INSERT INTO offers BY NAME SELECT
      'net:' || i AS id, CASE WHEN i % 2 = 0 THEN 'awin' ELSE 'cj' END AS network, i::VARCHAR AS external_id, 'product' AS kind,
      'Offer ' || i AS title, CASE WHEN i % 3 = 0 THEN NULL ELSE 'desc ' || i END AS description,
      'https://t.example/' || i AS url, 'https://shop.example/p/' || i AS landing_url, NULL AS image_url,
      'm' || (i % 50) AS merchant_id, 'Merchant ' || (i % 50) AS merchant_name, (i % 1000) + 0.99 AS price, NULL AS sale_price,
      'EUR' AS currency, NULL AS coupon_code, ['cat ' || (i % 7)] AS categories, ['DE', 'AT'] AS countries, ['de'] AS languages,
      [] AS tags, json_object('type', 'cps', 'percent', i % 10) AS payout, TIMESTAMP '2026-01-01' + to_days((i % 30)::INTEGER) AS starts_at,
      NULL AS expires_at, json_object('external_id', i::VARCHAR, 'title', 'Offer ' || i) AS data, 'g' || (i % 900) AS group_key,
      'active' AS status, NULL AS status_reason, TIMESTAMP '2026-02-01 10:00:00.123456' AS first_seen_at,
      TIMESTAMP '2026-03-01' AS last_seen_at, TIMESTAMP '2026-03-01' AS last_verified_at, TIMESTAMP '2026-02-01' AS last_changed_at,
      1 AS version, md5(i::VARCHAR) AS content_hash, 0 AS missed_runs, 'run-1' AS last_run_id
    FROM range(${offers}) t(i)`);
  await run(conn, `INSERT INTO sync_runs BY NAME SELECT 'run-' || i AS id, 'awin' AS connector, 'full' AS mode, 'succeeded' AS status,
      true AS complete, TIMESTAMP '2026-03-01' + to_hours(i::INTEGER) AS started_at, NULL AS finished_at,
      json_object('new', i) AS counts, NULL AS error, NULL AS warnings, 4242 AS pid FROM range(${runs}) t(i)`);
  await run(conn, `INSERT INTO outbox (kind, payload, created_at) SELECT 'offer_version', json_object('i', i), TIMESTAMP '2026-03-01' FROM range(5) t(i)`);
}

const tableNames = (conn: DuckDBConnection) => all<{ t: string }>(conn, `SELECT table_name AS t FROM duckdb_tables() ORDER BY 1`).then((r) => r.map((x) => x.t));
const versions = (conn: DuckDBConnection) => all<{ version: number }>(conn, 'SELECT version FROM schema_migrations ORDER BY 1').then((r) => r.map((x) => Number(x.version)));
const checksum = (conn: DuckDBConnection, table: string) => all<{ n: string; h: string }>(conn, `SELECT count(*)::VARCHAR n, sum(hash(t))::VARCHAR h FROM ${table} t`).then((r) => r[0]);

// ----------------------------------------------------------------------------------------------- DuckDB

describe('DuckDB migrations', () => {
  after(async () => { for (const d of temps) await closeDuckDB(join(d, 'data', 'offerfeed.duckdb')); });

  test('migrate up on an empty store creates every table and records the migration', async () => {
    const e = env();
    const r = await up(e);
    assert.equal(r.ok, true);
    assert.deepEqual(r.applied.map((a) => `${a.store}:${a.version}`), ['duckdb:1']);
    assert.equal(r.backup, undefined, 'an empty store needs no backup');
    assert.deepEqual(r.skipped.map((s) => s.store), ['clickhouse']);
    assert.ok(r.checks.every((c) => c.status === 'new' && c.ok));
    await withDuck(e, async (c) => {
      const names = await tableNames(c);
      for (const t of ['offers', 'sync_runs', 'api_calls', 'quarantine', 'connectors', 'connector_specs', 'secrets', 'outbox', 'schema_migrations']) assert.ok(names.includes(t), t);
      const [row] = await all<{ version: number; name: string; checksum: string; duration_ms: number; applied_at: string }>(c, 'SELECT * FROM schema_migrations');
      assert.equal(row.name, 'init');
      assert.equal(row.checksum, checksumOf(readFileSync(join(e.migrations, 'duckdb', '001_init.sql'), 'utf8')));
      assert.ok(Number(row.duration_ms) >= 0 && row.applied_at);
    });
  });

  test('applied twice: the second run changes nothing and takes no backup', async () => {
    const e = env();
    await up(e);
    await withDuck(e, (c) => seed(c, 50));
    const before = await withDuck(e, (c) => checksum(c, 'offers'));
    const r = await up(e);
    assert.deepEqual(r.applied, []);
    assert.equal(r.backup, undefined);
    assert.ok(r.checks.every((c) => c.status === 'equal' && c.ok), JSON.stringify(r.checks));
    assert.deepEqual(await withDuck(e, (c) => checksum(c, 'offers')), before);
    await withDuck(e, async (c) => assert.deepEqual(await versions(c), [1]));
  });

  test('an edited applied migration is refused, naming the file and both checksums', async () => {
    const e = env();
    await up(e);
    const file = join(e.migrations, 'duckdb', '001_init.sql');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('CREATE TABLE offers (', 'CREATE TABLE offers (\n  rank DOUBLE,'));
    addMigration(e, 'duckdb', '002_more.sql', 'CREATE TABLE more (a INTEGER);');
    await assert.rejects(up(e), (err: Error) => {
      assert.ok(err instanceof MigrationError);
      assert.ok(err.message.includes(file), err.message);
      assert.ok(err.message.includes(checksumOf(original)));
      assert.ok(err.message.includes(checksumOf(readFileSync(file, 'utf8'))));
      return true;
    });
    await withDuck(e, async (c) => assert.ok(!(await tableNames(c)).includes('more'), 'nothing else was applied either'));
    const s = await migrationStatus({ dataDir: e.dataDir, migrationsDir: e.migrations, clickhouse: null });
    assert.equal(s.ok, false);
    assert.equal(s.stores[0].entries[0].state, 'changed');
  });

  test('line endings are not an edit', async () => {
    const e = env();
    await up(e);
    const file = join(e.migrations, 'duckdb', '001_init.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    assert.deepEqual((await up(e)).applied, []);
  });

  test('a missing applied migration and a late-numbered one are refused', async () => {
    const e = env();
    addMigration(e, 'duckdb', '003_c.sql', 'CREATE TABLE c (a INTEGER);');
    await up(e);
    addMigration(e, 'duckdb', '002_b.sql', 'CREATE TABLE b (a INTEGER);');
    await assert.rejects(up(e), /002_b\.sql is not applied but a later duckdb migration \(3\) is/);
    unlinkSync(join(e.migrations, 'duckdb', '002_b.sql'));
    unlinkSync(join(e.migrations, 'duckdb', '003_c.sql'));
    await assert.rejects(up(e), /applied duckdb migration 003_c\.sql \(sha256 [0-9a-f]{64}\) is missing/);
  });

  test('an interrupted migration leaves nothing of itself; fixed, it resumes', async () => {
    const e = env();
    await up(e);
    await withDuck(e, (c) => seed(c, 200));
    const offersBefore = await withDuck(e, (c) => checksum(c, 'offers'));
    const file = '002_rank.sql';
    const good = `ALTER TABLE offers ADD COLUMN rank DOUBLE DEFAULT 0;
CREATE TABLE offer_ranks (offer_id VARCHAR NOT NULL, rank DOUBLE NOT NULL);
INSERT INTO offer_ranks SELECT id, price FROM offers;
`;
    addMigration(e, 'duckdb', file, `${good}INSERT INTO offer_ranks SELECT id, no_such_column FROM offers;\n`);
    await assert.rejects(up(e), (err: Error) => {
      assert.match(err.message, /002_rank\.sql:4: statement 4 of 4 failed/);
      assert.match(err.message, /Nothing of this migration was applied/);
      return true;
    });
    await withDuck(e, async (c) => {
      assert.ok(!(await tableNames(c)).includes('offer_ranks'));
      const cols = await all<{ column_name: string }>(c, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'offers' AND column_name = 'rank'`);
      assert.equal(cols.length, 0);
      assert.deepEqual(await versions(c), [1]);
      assert.deepEqual(await checksum(c, 'offers'), offersBefore);
    });
    const backups = readdirSync(join(e.dataDir, 'backups'));
    assert.equal(backups.length, 1, 'the backup was taken before the failed attempt');

    addMigration(e, 'duckdb', file, good);
    const r = await up(e);
    assert.deepEqual(r.applied.map((a) => a.version), [2]);
    assert.equal(r.ok, true, JSON.stringify(r.checks));
    assert.match(r.checks.find((c) => c.table === 'offers')!.notes.join(), /column rank added/);
    await withDuck(e, async (c) => {
      assert.deepEqual(await versions(c), [1, 2]);
      assert.equal((await checksum(c, 'offer_ranks')).n, '200');
    });
  });

  test('a process killed during a migration leaves nothing of it; the next run applies it', async () => {
    const e = env();
    await up(e);
    await withDuck(e, (c) => seed(c, 100));
    await closeDuckDB(e.db);
    addMigration(e, 'duckdb', '002_slow.sql', 'CREATE TABLE slow AS SELECT i, md5(i::VARCHAR) AS h FROM range(400000000) t(i);\nALTER TABLE offers ADD COLUMN rank DOUBLE;');
    const script = join(e.dataDir, '..', 'migrate-child.mts');
    writeFileSync(script, `import { migrateUp } from ${JSON.stringify(new URL('./migrate.ts', import.meta.url).pathname)};
await migrateUp({ dataDir: ${JSON.stringify(e.dataDir)}, migrationsDir: ${JSON.stringify(e.migrations)}, clickhouse: null, feedTest: false, onProgress: (l) => process.stderr.write(l + '\\n') });\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        if (stderr.includes('applying 002_slow.sql')) setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 700);
      });
      child.on('exit', () => reject(new Error(`child exited before it was killed: ${stderr}`)));
    });
    await new Promise((r) => child.once('exit', r));
    await withDuck(e, async (c) => {
      assert.ok(!(await tableNames(c)).includes('slow'));
      assert.deepEqual(await versions(c), [1]);
      assert.equal((await checksum(c, 'offers')).n, '100');
    });
    addMigration(e, 'duckdb', '002_slow.sql', 'CREATE TABLE slow AS SELECT i FROM range(10) t(i);\nALTER TABLE offers ADD COLUMN rank DOUBLE;');
    assert.deepEqual((await up(e)).applied.map((a) => a.version), [2]);
  });

  test('a migration that would lose or change data is rolled back by the data check', async () => {
    const e = env();
    await up(e);
    await withDuck(e, (c) => seed(c, 30));
    addMigration(e, 'duckdb', '002_titles.sql', "UPDATE offers SET title = upper(title);");
    await assert.rejects(up(e), /002_titles\.sql was rolled back: it would change or lose data \(offers: values changed in title/);
    await withDuck(e, async (c) => assert.equal((await all<{ t: string }>(c, "SELECT title t FROM offers WHERE id = 'net:1'"))[0].t, 'Offer 1'));
    // Declared on purpose, the same change goes through.
    addMigration(e, 'duckdb', '002_titles.sql', "-- verify: rewrites offers\nUPDATE offers SET title = upper(title);");
    const r = await up(e);
    assert.equal(r.ok, true);
    assert.equal(r.checks.find((c) => c.table === 'offers')!.status, 'rewritten');
  });

  test('copy-then-drop passes lint and data check; drop without copy is refused before anything runs', async () => {
    const e = env();
    await up(e);
    await withDuck(e, (c) => seed(c, 40));
    addMigration(e, 'duckdb', '002_drop.sql', 'ALTER TABLE offers DROP COLUMN tags;');
    await assert.rejects(up(e), /fail the migration lint:[\s\S]*002_drop\.sql:1: \[data-loss\] drops column offers\.tags/);
    assert.ok(!existsSync(join(e.dataDir, 'backups')), 'refused before the backup');
    addMigration(e, 'duckdb', '002_drop.sql', 'CREATE TABLE offer_tags AS SELECT id, tags FROM offers;\nALTER TABLE offers DROP COLUMN tags;');
    const r = await up(e);
    assert.equal(r.ok, true, JSON.stringify(r.checks));
    assert.match(r.checks.find((c) => c.table === 'offers')!.notes.join(), /column tags now in offer_tags\.tags/);
  });

  test('the pre-migrate backup holds the data as it was', async () => {
    const e = env();
    await up(e);
    await withDuck(e, (c) => seed(c, 25));
    addMigration(e, 'duckdb', '002_x.sql', 'CREATE TABLE x (a INTEGER);');
    const r = await up(e);
    assert.ok(r.backup?.startsWith(join(e.dataDir, 'backups', 'pre-migrate-')));
    const manifest = JSON.parse(readFileSync(join(r.backup!, 'manifest.json'), 'utf8'));
    assert.equal(manifest.schema_version, 1);
    assert.equal(manifest.tables.find((t: { table: string }) => t.table === 'offers').rows, 25);
  });
});

// ------------------------------------------------------------------------------------------ compare rules

describe('snapshot comparison', () => {
  const snap = (tables: StoreSnapshot['tables']): StoreSnapshot => ({ store: 'duckdb', tables });
  const t = (table: string, rows: number, checksum: string, cols: Array<[string, string]>) =>
    ({ table, rows, checksum, columns: cols.map(([name, c]) => ({ name, type: 'VARCHAR', checksum: c })) });

  test('a renamed table with the same rows is fine; a dropped one with rows is lost', () => {
    const before = snap([t('a', 2, 'h1', [['x', 'c1']]), t('b', 3, 'h2', [['y', 'c2']])]);
    const checks = compareSnapshots(before, snap([t('a2', 2, 'h1', [['x', 'c1']])]));
    assert.deepEqual(checks.map((c) => [c.table, c.status, c.ok]), [['a', 'renamed', true], ['b', 'lost', false]]);
  });

  test('fewer rows fail; more rows are reported', () => {
    const before = snap([t('a', 5, 'h', [['x', 'c']]), t('b', 5, 'h', [['x', 'c']])]);
    const checks = compareSnapshots(before, snap([t('a', 4, 'h', [['x', 'c']]), t('b', 6, 'h9', [['x', 'c9']])]));
    assert.deepEqual(checks.map((c) => [c.status, c.ok]), [['lost', false], ['grew', true]]);
  });

  test('rows swapped between columns are caught by the row checksum', () => {
    const before = snap([t('a', 2, 'h', [['x', 'c1'], ['y', 'c2']])]);
    const [check] = compareSnapshots(before, snap([t('a', 2, 'other', [['x', 'c1'], ['y', 'c2']])]));
    assert.equal(check.ok, false);
    assert.match(check.notes[0], /rows changed/);
  });
});

// ------------------------------------------------------------------------------------------- ClickHouse

describe('ClickHouse DDL rendering', () => {
  const sql = readFileSync(join(defaultMigrationsDir(), 'clickhouse', '001_init.sql'), 'utf8');

  // Statements only: the file's header comment talks about ON CLUSTER and Replicated engines.
  const render = (t: Parameters<typeof renderClickHouseSql>[1]) => splitSql(renderClickHouseSql(sql, t), 'clickhouse').map((s) => s.text.replace(/^--.*\n/gm, '')).join(';\n');

  test('one server: the database, no ON CLUSTER, engines as written', () => {
    const out = render({ database: 'offerfeed' });
    assert.ok(!/\{(db|on_cluster|engine:)/.test(out));
    assert.match(out, /CREATE TABLE IF NOT EXISTS `offerfeed`\.offer_versions\s+\(/);
    assert.match(out, /ENGINE = MergeTree\n/);
    assert.match(out, /ENGINE = ReplacingMergeTree\(received_at\)/);
    assert.ok(!out.includes('ON CLUSTER') && !out.includes('Replicated'));
  });

  test('cluster: ON CLUSTER and Replicated engines with the Keeper path macros', () => {
    const out = render({ database: 'feed', cluster: 'main' });
    assert.match(out, /CREATE TABLE IF NOT EXISTS `feed`\.offer_versions ON CLUSTER `main` \(/);
    assert.match(out, /ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'\)\n/);
    assert.match(out, /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}', received_at\)/);
    assert.equal(out.match(/ON CLUSTER `main`/g)?.length, 5);
    assert.equal(splitSql(out, 'clickhouse').length, 5);
  });

  test('bad names and engines are refused', () => {
    assert.throws(() => renderClickHouseSql('{db}', { database: 'x; DROP' }), /not a plain identifier/);
    assert.throws(() => renderClickHouseSql('{db}', { database: 'x', cluster: 'a b' }), /not a plain identifier/);
    assert.throws(() => renderClickHouseSql('ENGINE = {engine:ReplicatedMergeTree}', { database: 'x' }), /non-replicated MergeTree-family/);
    assert.equal(renderClickHouseSql('{engine:MergeTree()}', { database: 'x', cluster: 'c' }), `ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')`);
  });

  test('every ClickHouse migration, rendered for a cluster, parses on a real server', async (t: TestContext) => {
    const url = requireClickHouse(t);
    if (!url) return;
    const client = createClient({ url });
    try {
      for (const m of loadMigrations('clickhouse')) {
        for (const st of splitSql(renderClickHouseSql(m.sql, { database: 'feed', cluster: 'main' }), 'clickhouse')) {
          const rs = await client.query({ query: 'SELECT formatQuery({q:String}) AS f', query_params: { q: st.text }, format: 'JSONEachRow' });
          const [{ f }] = await rs.json<{ f: string }>();
          assert.match(f, /ON CLUSTER main/, `${m.filename}:${st.line}`);
        }
      }
    } finally {
      await client.close();
    }
  });
});

describe('ClickHouse migrations', { skip: clickhouseUrl() ? false : CLICKHOUSE_UNAVAILABLE }, () => {
  const databases: string[] = [];
  let admin: ReturnType<typeof createClient>;
  before(() => { admin = createClient({ url: clickhouseUrl()! }); });
  after(async () => {
    for (const d of databases) await admin.command({ query: `DROP DATABASE IF EXISTS \`${d}\`` });
    await admin.close();
    for (const d of temps) await closeDuckDB(join(d, 'data', 'offerfeed.duckdb'));
  });
  const settings = () => {
    const database = `offerfeed_test_${randomBytes(4).toString('hex')}`;
    databases.push(database);
    return { url: clickhouseUrl()!, database };
  };
  const chUp = (e: Env, ch: { url: string; database: string }) => migrateUp({ dataDir: e.dataDir, migrationsDir: e.migrations, clickhouse: ch, feedTest: false });
  const count = async (q: string) => Number((await (await admin.query({ query: q, format: 'JSONEachRow' })).json<{ n: string }>())[0].n);

  test('migrate up creates the database, the history tables and the record; twice is a no-op', async () => {
    const e = env();
    const ch = settings();
    const r = await chUp(e, ch);
    assert.deepEqual(r.applied.map((a) => `${a.store}:${a.version}`), ['duckdb:1', 'clickhouse:1']);
    const tables = await (await admin.query({ query: `SELECT name FROM system.tables WHERE database = '${ch.database}' ORDER BY name`, format: 'JSONEachRow' })).json<{ name: string }>();
    assert.deepEqual(tables.map((x) => x.name), ['api_calls', 'clicks', 'conversions', 'offer_versions', 'schema_migrations', 'sync_runs']);
    await admin.insert({
      table: `${ch.database}.sync_runs`, format: 'JSONEachRow',
      values: [{ event_id: 1, run_id: 'r1', connector: 'awin', mode: 'full', status: 'succeeded', complete: true, started_at: '2026-03-01 10:00:00.000', duration_ms: 5, new: 1, updated: 0, unchanged: 0, deactivated: 0, expired: 0, reactivated: 0, quarantined: 0, api_calls: 2, pages: 1, records: 1, error: null }],
    });
    const again = await chUp(e, ch);
    assert.deepEqual(again.applied, []);
    const runs = again.checks.find((c) => c.store === 'clickhouse' && c.table === 'sync_runs')!;
    assert.equal(runs.status, 'equal');
    assert.equal(runs.after?.rows, 1);
    assert.equal(await count(`SELECT count() AS n FROM ${ch.database}.schema_migrations`), 1);
    const status = await migrationStatus({ dataDir: e.dataDir, migrationsDir: e.migrations, clickhouse: ch });
    assert.equal(status.ok, true);
    assert.match(status.stores[1].location, new RegExp(`database ${ch.database}`));
  });

  test('an edited applied ClickHouse migration is refused', async () => {
    const e = env();
    const ch = settings();
    await chUp(e, ch);
    const file = join(e.migrations, 'clickhouse', '001_init.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- edited\n`);
    await assert.rejects(chUp(e, ch), new RegExp(`${file.replace(/[/.]/g, '\\$&')} was changed after it was applied`));
  });

  test('an interrupted ClickHouse migration is not recorded; re-run after the fix, it completes', async () => {
    const e = env();
    const ch = settings();
    await chUp(e, ch);
    await admin.command({ query: `INSERT INTO ${ch.database}.clicks (click_id, offer_id, network, user_id, consent, clicked_at) VALUES ('c1', 'o1', 'awin', 'u1', ['analytics'], now64(3))` });
    const good = `ALTER TABLE {db}.clicks {on_cluster} ADD COLUMN IF NOT EXISTS device LowCardinality(String) DEFAULT '';
CREATE TABLE IF NOT EXISTS {db}.click_devices {on_cluster} (device String, n UInt64) ENGINE = {engine:MergeTree} ORDER BY device;
`;
    addMigration(e, 'clickhouse', '002_device.sql', `${good}ALTER TABLE {db}.no_such_table {on_cluster} ADD COLUMN IF NOT EXISTS x UInt8;\n`);
    await assert.rejects(chUp(e, ch), /002_device\.sql:3: statement 3 of 3 failed on ClickHouse[\s\S]*not recorded as applied/);
    assert.equal(await count(`SELECT count() AS n FROM ${ch.database}.schema_migrations WHERE version = 2`), 0);
    addMigration(e, 'clickhouse', '002_device.sql', good);
    const r = await chUp(e, ch);
    assert.deepEqual(r.applied.map((a) => `${a.store}:${a.version}`), ['clickhouse:2']);
    const clicks = r.checks.find((c) => c.store === 'clickhouse' && c.table === 'clicks')!;
    assert.equal(clicks.ok, true);
    assert.equal(clicks.after?.rows, 1);
    // The failed attempt had already added the column (ClickHouse has no rollback): the re-run's IF NOT EXISTS skips it.
    assert.equal(await count(`SELECT count() AS n FROM system.columns WHERE database = '${ch.database}' AND table = 'clicks' AND name = 'device'`), 1);
    assert.equal(await count(`SELECT count() AS n FROM ${ch.database}.schema_migrations WHERE version = 2`), 1);
  });

  test('cluster mode reaches the server as ON CLUSTER DDL', async () => {
    const e = env();
    const ch = { ...settings(), cluster: 'no_such_cluster' };
    // A single server has no such cluster: the error proves the runner sent ON CLUSTER (and applied nothing).
    await assert.rejects(chUp(e, ch), /no_such_cluster|CLUSTER_DOESNT_EXIST|not found/i);
  });
});

// ------------------------------------------------------------------------------------------- feed test

describe('feed test and verify', () => {
  const root = mkdtempSync(join(tmpdir(), 'offerfeed-connectors-'));
  temps.push(root);
  const saved = process.env.OFFERFEED_CONNECTORS_DIR;
  before(async () => {
    const dir = join(root, 'mini');
    mkdirSync(join(dir, 'sandbox'), { recursive: true });
    writeFileSync(join(dir, 'connector.yaml'), `dsl: 1
id: mini
name: Mini Network
kind: affiliate-network
base_url: https://api.mini.example
auth: { type: none }
streams:
  - name: items
    kind: product
    request: { path: /items }
    records: items
    map: '{"external_id": $string(id), "title": name, "url": "https://shop.example/" & $string(id)}'
`);
    writeFileSync(join(dir, 'sandbox', 'routes.yaml'), 'routes:\n  - { method: GET, path: /items, body: { items: [{ id: 1, name: Alpha }, { id: 2, name: Beta }] } }\n');
    process.env.OFFERFEED_CONNECTORS_DIR = root;
    const recorded = await runContractTest('mini', { update: true, faults: false });
    assert.equal(recorded.expectedCount, 2);
  });
  after(() => {
    if (saved === undefined) delete process.env.OFFERFEED_CONNECTORS_DIR;
    else process.env.OFFERFEED_CONNECTORS_DIR = saved;
  });

  test('migrate up runs a sandbox sync of every connector and reports each', async () => {
    const e = env();
    const r = await up(e, { feedTest: true });
    assert.equal(r.ok, true, JSON.stringify(r.feed));
    assert.deepEqual(r.feed.map((f) => [f.id, f.ok, f.offers, f.expected]), [['mini', true, 2, 2]]);
  });

  test('a connector whose feed no longer maps fails verify, with the reason', async () => {
    const e = env();
    await up(e);
    const expected = join(root, 'mini', 'sandbox', 'expected.ndjson');
    const original = readFileSync(expected, 'utf8');
    writeFileSync(expected, original.replace('"Beta"', '"Gamma"'));
    try {
      const r = await verify({ dataDir: e.dataDir, migrationsDir: e.migrations, clickhouse: null });
      assert.equal(r.ok, false);
      assert.equal(r.status.ok, true);
      assert.match(r.feed[0].problems.join('\n'), /title is "Beta", expected "Gamma"/);
      assert.ok(r.checks.some((c) => c.table === 'offers' && c.after?.rows === 0));
    } finally {
      writeFileSync(expected, original);
    }
  });
});
