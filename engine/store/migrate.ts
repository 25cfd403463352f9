// Forward-only migrations for both stores: migrations/<store>/NNN_name.sql applied in order, each recorded in
// the store's schema_migrations (version, name, sha256, applied_at, duration) and never edited afterwards.
// DuckDB applies a migration and its record in one transaction, after checking inside that transaction that
// no row or column was lost; ClickHouse has no transactions, so its statements are idempotent and the record
// is written last: an interrupted migration is simply re-run.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ClickHouseClient } from '@clickhouse/client';
import { all, openDuckDB, run, transaction } from './duckdb.ts';
import { duckdbPath as defaultDuckdbPath } from '../util/data-dir.ts';
import { clickhouseClient, clickhouseSettings, type ClickHouseSettings } from '../history/clickhouse/client.ts';
import { projectRoot } from '../spec/registry.ts';
import { formatFindings, lintMigration, splitSql, type StoreName } from './migration-lint.ts';
import {
  clickhouseSnapshot, compareSnapshots, currentChecks, duckdbSnapshot, runFeedTest, MIGRATIONS_TABLE,
  type FeedResult, type StoreSnapshot, type TableCheck,
} from './verify.ts';

export type { StoreName } from './migration-lint.ts';
export const STORES: readonly StoreName[] = ['duckdb', 'clickhouse'];

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface Migration {
  store: StoreName;
  version: number;
  name: string;
  /** NNN_name.sql */
  filename: string;
  path: string;
  sql: string;
  /** sha256 of the file with line endings normalized, so a CRLF checkout is not an edit. */
  checksum: string;
  /** Tables whose content the migration changes on purpose (`-- verify: rewrites a, b`). */
  rewrites: string[];
}

export interface AppliedMigration { version: number; name: string; checksum: string; applied_at: string; duration_ms: number }

export const defaultMigrationsDir = (): string => join(projectRoot, 'migrations');

const FILE_RE = /^(\d+)_([A-Za-z0-9][\w-]*)\.sql$/;

export const checksumOf = (sql: string): string => createHash('sha256').update(sql.replace(/\r\n?/g, '\n')).digest('hex');

/** The store's migration files, ordered by version; a stray or duplicate file is an error, not ignored. */
export function loadMigrations(store: StoreName, dir = defaultMigrationsDir()): Migration[] {
  const sub = join(dir, store);
  if (!existsSync(sub)) return [];
  const out: Migration[] = [];
  for (const filename of readdirSync(sub).sort()) {
    if (!filename.endsWith('.sql')) continue;
    const m = FILE_RE.exec(filename);
    if (!m) throw new MigrationError(`${join(sub, filename)}: migration files are named NNN_name.sql (e.g. 002_add_offer_rank.sql)`);
    const version = Number(m[1]);
    const dup = out.find((x) => x.version === version);
    if (dup) throw new MigrationError(`${store} migrations ${dup.filename} and ${filename} have the same version ${version}`);
    const path = join(sub, filename);
    const sql = readFileSync(path, 'utf8');
    const rewrites = [...sql.matchAll(/^\s*--\s*verify:\s*rewrites\s+(.+)$/gim)].flatMap((r) => r[1].split(',').map((t) => t.trim()).filter(Boolean));
    out.push({ store, version, name: m[2], filename, path, sql, checksum: checksumOf(sql), rewrites });
  }
  return out.sort((a, b) => a.version - b.version);
}

export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing' | 'renamed' | 'out-of-order';
export interface MigrationEntry {
  version: number;
  name: string;
  state: MigrationState;
  checksum?: string;
  applied_checksum?: string;
  applied_at?: string;
  duration_ms?: number;
}
export interface Reconciled { entries: MigrationEntry[]; pending: Migration[]; problems: string[]; version: number }

/** Files against the store's record: what is applied, what is pending, and what forbids going on. */
export function reconcile(store: StoreName, files: Migration[], applied: AppliedMigration[], dir: string, target?: number): Reconciled {
  const entries: MigrationEntry[] = [];
  const problems: string[] = [];
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const appliedVersions = new Set(applied.map((a) => a.version));
  const maxApplied = applied.reduce((m, a) => Math.max(m, a.version), 0);
  const where = join(dir, store);
  for (const a of applied) {
    const f = byVersion.get(a.version);
    const recorded = `${String(a.version).padStart(3, '0')}_${a.name}.sql`;
    const base = { version: a.version, name: a.name, applied_checksum: a.checksum, applied_at: a.applied_at, duration_ms: a.duration_ms };
    if (!f) {
      entries.push({ ...base, state: 'missing' });
      problems.push(`applied ${store} migration ${recorded} (sha256 ${a.checksum}) is missing from ${where}; restore the file, migrations are never removed`);
    } else if (f.checksum !== a.checksum) {
      entries.push({ ...base, checksum: f.checksum, state: 'changed' });
      problems.push(`${f.path} was changed after it was applied: applied with sha256 ${a.checksum}, the file now has sha256 ${f.checksum}. ` +
        'Applied migrations never change: restore the file and put the change in a new migration');
    } else if (f.name !== a.name) {
      entries.push({ ...base, checksum: f.checksum, state: 'renamed' });
      problems.push(`${store} migration ${a.version} was applied as ${recorded} but the file is now ${f.filename}; rename it back`);
    } else {
      entries.push({ ...base, checksum: f.checksum, state: 'applied' });
    }
  }
  const pending: Migration[] = [];
  for (const f of files) {
    if (appliedVersions.has(f.version)) continue;
    if (f.version < maxApplied) {
      entries.push({ version: f.version, name: f.name, checksum: f.checksum, state: 'out-of-order' });
      problems.push(`${f.path} is not applied but a later ${store} migration (${maxApplied}) is: migrations are forward-only, renumber it after ${maxApplied}`);
      continue;
    }
    entries.push({ version: f.version, name: f.name, checksum: f.checksum, state: 'pending' });
    if (target === undefined || f.version <= target) pending.push(f);
  }
  entries.sort((a, b) => a.version - b.version);
  return { entries, pending, problems, version: maxApplied };
}

// ---------------------------------------------------------------------------------------------------- DuckDB

const DUCK_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  version     INTEGER PRIMARY KEY,
  name        VARCHAR NOT NULL,
  checksum    VARCHAR NOT NULL,
  applied_at  TIMESTAMP NOT NULL,
  duration_ms INTEGER NOT NULL
)`;

export async function hasDuckMigrationsTable(conn: DuckDBConnection): Promise<boolean> {
  const rows = await all(conn, `SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?`, [MIGRATIONS_TABLE]);
  return rows.length > 0;
}

export async function readDuckApplied(conn: DuckDBConnection): Promise<AppliedMigration[]> {
  if (!(await hasDuckMigrationsTable(conn))) return [];
  const rows = await all<{ version: number; name: string; checksum: string; applied_at: string; duration_ms: number }>(conn,
    `SELECT version, name, checksum, strftime(applied_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS applied_at, duration_ms FROM ${MIGRATIONS_TABLE} ORDER BY version`);
  return rows.map((r) => ({ ...r, version: Number(r.version), duration_ms: Number(r.duration_ms) }));
}

export async function connectDuckDB(path: string): Promise<DuckDBConnection> {
  mkdirSync(dirname(path), { recursive: true });
  return (await openDuckDB(path)).connect();
}

export interface AppliedStep { store: StoreName; version: number; name: string; statements: number; duration_ms: number }

/**
 * One DuckDB migration: its statements, the data check against `before` and its schema_migrations row in a
 * single transaction. Any failure rolls all of it back, so a re-run starts from a clean slate.
 */
export async function applyDuckMigration(conn: DuckDBConnection, m: Migration, before: StoreSnapshot): Promise<{ step: AppliedStep; after: StoreSnapshot }> {
  const statements = splitSql(m.sql, 'duckdb');
  const started = performance.now();
  let after = before;
  await transaction(conn, async () => {
    for (const [i, st] of statements.entries()) {
      try {
        await conn.run(st.text);
      } catch (e) {
        throw new MigrationError(`${m.path}:${st.line}: statement ${i + 1} of ${statements.length} failed: ${(e as Error).message.split('\n')[0]}. ` +
          'Nothing of this migration was applied; fix the file and run migrate up again');
      }
    }
    after = await duckdbSnapshot(conn);
    const lost = compareSnapshots(before, after, { rewrites: m.rewrites }).filter((c) => !c.ok);
    if (lost.length) {
      throw new MigrationError(`${m.path} was rolled back: it would change or lose data (${lost.map((c) => `${c.table}: ${c.notes.join('; ')}`).join(' | ')})`);
    }
    const duration = Math.round(performance.now() - started);
    await run(conn, `INSERT INTO ${MIGRATIONS_TABLE} VALUES (?, ?, ?, ?::TIMESTAMP, ?)`,
      [m.version, m.name, m.checksum, new Date().toISOString().replace('Z', ''), duration]);
  });
  return { step: { store: 'duckdb', version: m.version, name: m.name, statements: statements.length, duration_ms: Math.round(performance.now() - started) }, after };
}

/** Applies pending DuckDB migrations (up to target) without lint, backup or feed test: restore's schema rebuild. */
export async function applyDuckMigrations(conn: DuckDBConnection, files: Migration[], dir: string, target?: number): Promise<AppliedStep[]> {
  await run(conn, DUCK_MIGRATIONS_DDL);
  const plan = reconcile('duckdb', files, await readDuckApplied(conn), dir, target);
  if (plan.problems.length) throw new MigrationError(plan.problems.join('\n'));
  let snapshot = await duckdbSnapshot(conn);
  const steps: AppliedStep[] = [];
  for (const m of plan.pending) {
    const r = await applyDuckMigration(conn, m, snapshot);
    steps.push(r.step);
    snapshot = r.after;
  }
  return steps;
}

// ------------------------------------------------------------------------------------------------ ClickHouse

export interface ClickHouseTarget { database: string; cluster?: string }

const NAME_RE = /^[A-Za-z_][\w-]*$/;
const qb = (name: string) => `\`${name}\``;

function checkTarget(t: ClickHouseTarget): void {
  if (!NAME_RE.test(t.database)) throw new MigrationError(`ClickHouse database name "${t.database}" is not a plain identifier`);
  if (t.cluster !== undefined && !NAME_RE.test(t.cluster)) throw new MigrationError(`ClickHouse cluster name "${t.cluster}" is not a plain identifier`);
}

/** The Replicated engine's Keeper path and replica name; ClickHouse expands the macros per server. */
export const REPLICA_PATH = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'";

/**
 * Fills the placeholders of a ClickHouse migration: {db} → the database, {on_cluster} → ON CLUSTER name or
 * nothing, {engine:XMergeTree(args)} → XMergeTree(args) on one server or ReplicatedXMergeTree(path, replica,
 * args) on a cluster. One pass, so braces inside the inserted text ({shard}, {replica}) stay as written.
 */
export function renderClickHouseSql(sql: string, target: ClickHouseTarget): string {
  checkTarget(target);
  return sql.replace(/\{(db|on_cluster)\}|\{engine:([A-Za-z]+)(?:\(([^{}]*)\))?\}/g, (whole, key: string | undefined, engine: string | undefined, args: string | undefined) => {
    if (key === 'db') return qb(target.database);
    if (key === 'on_cluster') return target.cluster ? `ON CLUSTER ${qb(target.cluster)}` : '';
    if (!engine || !/^\w*MergeTree$/.test(engine) || engine.startsWith('Replicated')) {
      throw new MigrationError(`${whole}: {engine:...} takes a non-replicated MergeTree-family engine, e.g. {engine:MergeTree} or {engine:ReplacingMergeTree(ver)}`);
    }
    const a = args?.trim();
    if (!target.cluster) return args === undefined ? engine : `${engine}(${a})`;
    return `Replicated${engine}(${REPLICA_PATH}${a ? `, ${a}` : ''})`;
  });
}

// One replication group for the whole cluster (not per shard), and a replica name unique across shards:
// every server sees every migration record, whichever server wrote it.
const chMigrationsDdl = (t: ClickHouseTarget) => `CREATE TABLE IF NOT EXISTS ${qb(t.database)}.${MIGRATIONS_TABLE} ${t.cluster ? `ON CLUSTER ${qb(t.cluster)}` : ''} (
  version     UInt32,
  name        String,
  checksum    String,
  applied_at  DateTime64(3, 'UTC'),
  duration_ms UInt64
) ENGINE = ${t.cluster ? "ReplicatedReplacingMergeTree('/clickhouse/tables/global/{database}/{table}', '{shard}_{replica}', applied_at)" : 'ReplacingMergeTree(applied_at)'}
ORDER BY version`;

// DDL waits for replicas and mutations, so the data check and the record follow a finished change.
const CH_DDL_SETTINGS = { mutations_sync: '2', alter_sync: '2' } as const;

async function ensureClickHouseMigrationsTable(client: ClickHouseClient, t: ClickHouseTarget): Promise<void> {
  checkTarget(t);
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${qb(t.database)} ${t.cluster ? `ON CLUSTER ${qb(t.cluster)}` : ''}`, clickhouse_settings: CH_DDL_SETTINGS });
  await client.command({ query: chMigrationsDdl(t), clickhouse_settings: CH_DDL_SETTINGS });
}

export async function readClickHouseApplied(client: ClickHouseClient, t: ClickHouseTarget): Promise<AppliedMigration[]> {
  checkTarget(t);
  const exists = await (await client.query({
    query: 'SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}',
    query_params: { db: t.database, t: MIGRATIONS_TABLE }, format: 'JSONEachRow',
  })).json<{ n: string }>();
  if (Number(exists[0]?.n ?? 0) === 0) return [];
  // FINAL: a record written twice (a retried insert) counts once.
  const rows = await (await client.query({
    query: `SELECT version, name, checksum, formatDateTime(applied_at, '%Y-%m-%dT%H:%i:%S.%fZ') AS applied_at, duration_ms
            FROM ${qb(t.database)}.${MIGRATIONS_TABLE} FINAL ORDER BY version`,
    format: 'JSONEachRow',
  })).json<{ version: number; name: string; checksum: string; applied_at: string; duration_ms: string }>();
  return rows.map((r) => ({ version: Number(r.version), name: r.name, checksum: r.checksum, applied_at: r.applied_at.replace(/(\.\d{3})\d*Z$/, '$1Z'), duration_ms: Number(r.duration_ms) }));
}

async function applyClickHouseMigration(client: ClickHouseClient, t: ClickHouseTarget, m: Migration, before: StoreSnapshot): Promise<{ step: AppliedStep; after: StoreSnapshot }> {
  const statements = splitSql(renderClickHouseSql(m.sql, t), 'clickhouse');
  const started = performance.now();
  for (const [i, st] of statements.entries()) {
    try {
      await client.command({ query: st.text, clickhouse_settings: CH_DDL_SETTINGS });
    } catch (e) {
      throw new MigrationError(`${m.path}:${st.line}: statement ${i + 1} of ${statements.length} failed on ClickHouse: ${(e as Error).message.split('\n')[0]}. ` +
        'The migration is not recorded as applied; its statements are idempotent, so fix the cause and run migrate up again');
    }
  }
  const after = await clickhouseSnapshot(client, t.database);
  const lost = compareSnapshots(before, after, { rewrites: m.rewrites }).filter((c) => !c.ok);
  if (lost.length) {
    throw new MigrationError(`${m.path} changed or lost ClickHouse data (${lost.map((c) => `${c.table}: ${c.notes.join('; ')}`).join(' | ')}); ` +
      'it is not recorded as applied');
  }
  const duration = Math.round(performance.now() - started);
  await client.insert({
    table: `${qb(t.database)}.${MIGRATIONS_TABLE}`, format: 'JSONEachRow',
    values: [{ version: m.version, name: m.name, checksum: m.checksum, applied_at: new Date().toISOString(), duration_ms: duration }],
  });
  return { step: { store: 'clickhouse', version: m.version, name: m.name, statements: statements.length, duration_ms: duration }, after };
}

// ------------------------------------------------------------------------------------------------ commands

export interface StoreOptions {
  dataDir: string;
  /** Default: OFFERFEED_DUCKDB_PATH, else <dataDir>/offerfeed.duckdb. */
  duckdbPath?: string;
  /** undefined: CLICKHOUSE_URL or the local server of dataDir, skipped when neither is there; null: DuckDB only. */
  clickhouse?: ClickHouseSettings | null;
  /** Default: the project's migrations/ folder. */
  migrationsDir?: string;
}

export interface MigrateOptions extends StoreOptions {
  /** Apply up to this version per store. */
  target?: Partial<Record<StoreName, number>>;
  /** Run the sandbox sync of every connector after applying something (default true). */
  feedTest?: boolean;
  /** Connectors for the feed test (default: all). */
  connectors?: string[];
  /** Progress lines for a terminal. */
  onProgress?: (line: string) => void;
}

export interface SkippedStore { store: StoreName; reason: string }

export interface MigrateReport {
  applied: AppliedStep[];
  /** Where the pre-migrate backup of the DuckDB file went, when one was needed. */
  backup?: string;
  skipped: SkippedStore[];
  /** Every data table, before the first migration against after the last. */
  checks: TableCheck[];
  feed: FeedResult[];
  feedTest: boolean;
  ok: boolean;
  duration_ms: number;
}

interface ResolvedClickHouse { settings?: ClickHouseSettings; skipped?: SkippedStore }

async function resolveClickHouse(opts: StoreOptions): Promise<ResolvedClickHouse> {
  if (opts.clickhouse === null) return { skipped: { store: 'clickhouse', reason: 'not requested' } };
  const settings = opts.clickhouse ?? (await clickhouseSettings(opts.dataDir));
  if (!settings) {
    return { skipped: { store: 'clickhouse', reason: 'no ClickHouse configured: set CLICKHOUSE_URL or run `offerfeed clickhouse start`' } };
  }
  return { settings };
}

const targetOf = (s: ClickHouseSettings): ClickHouseTarget => ({ database: s.database, cluster: s.cluster || undefined });

const timestamp = () => new Date().toISOString().replace(/[:.]/g, '-');

export async function migrateUp(opts: MigrateOptions): Promise<MigrateReport> {
  const started = performance.now();
  const say = opts.onProgress ?? (() => undefined);
  const dir = opts.migrationsDir ?? defaultMigrationsDir();
  const files = { duckdb: loadMigrations('duckdb', dir), clickhouse: loadMigrations('clickhouse', dir) };
  const ch = await resolveClickHouse(opts);
  const path = opts.duckdbPath ?? defaultDuckdbPath(opts.dataDir);
  const conn = await connectDuckDB(path);
  const client = ch.settings ? clickhouseClient(ch.settings, { database: false }) : undefined;
  const report: MigrateReport = {
    applied: [], skipped: ch.skipped ? [ch.skipped] : [], checks: [], feed: [], feedTest: opts.feedTest !== false, ok: false, duration_ms: 0,
  };
  try {
    // Everything is checked for both stores before anything is applied to either.
    await run(conn, DUCK_MIGRATIONS_DDL);
    const duckPlan = reconcile('duckdb', files.duckdb, await readDuckApplied(conn), dir, opts.target?.duckdb);
    let chPlan: Reconciled | undefined;
    if (client && ch.settings) {
      await ensureClickHouseMigrationsTable(client, targetOf(ch.settings));
      chPlan = reconcile('clickhouse', files.clickhouse, await readClickHouseApplied(client, targetOf(ch.settings)), dir, opts.target?.clickhouse);
    }
    const problems = [...duckPlan.problems, ...(chPlan?.problems ?? [])];
    if (problems.length) throw new MigrationError(`refusing to migrate:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    const findings = [...duckPlan.pending, ...(chPlan?.pending ?? [])].flatMap((m) => lintMigration(m.sql, m.path, m.store));
    if (findings.length) throw new MigrationError(`refusing to migrate: pending migrations fail the migration lint:\n${formatFindings(findings)}`);

    const duckBefore = await duckdbSnapshot(conn);
    const chBefore = client && ch.settings ? await clickhouseSnapshot(client, ch.settings.database) : undefined;

    if (duckPlan.pending.length && duckBefore.tables.some((t) => t.rows > 0)) {
      const target = join(opts.dataDir, 'backups', `pre-migrate-${timestamp()}`);
      say(`backing up ${path} to ${target}`);
      const { backupConnection } = await import('./backup.ts'); // backup.ts imports this module: loaded on demand
      await backupConnection(conn, target, path);
      report.backup = target;
    }

    let duckNow = duckBefore;
    for (const m of duckPlan.pending) {
      say(`duckdb: applying ${m.filename}`);
      const r = await applyDuckMigration(conn, m, duckNow);
      report.applied.push(r.step);
      duckNow = r.after;
    }
    let chNow = chBefore;
    if (client && ch.settings && chPlan && chNow) {
      const t = targetOf(ch.settings);
      for (const m of chPlan.pending) {
        say(`clickhouse: applying ${m.filename}${t.cluster ? ` on cluster ${t.cluster}` : ''}`);
        const r = await applyClickHouseMigration(client, t, m, chNow);
        report.applied.push(r.step);
        chNow = r.after;
      }
    }

    // The whole run, first snapshot against a fresh one: what `migrate up` prints.
    const rewrites = (store: StoreName) => report.applied.filter((a) => a.store === store)
      .flatMap((a) => files[store].find((f) => f.version === a.version)?.rewrites ?? []);
    report.checks.push(...compareSnapshots(duckBefore, await duckdbSnapshot(conn), { rewrites: rewrites('duckdb') }));
    if (client && ch.settings && chBefore) {
      report.checks.push(...compareSnapshots(chBefore, await clickhouseSnapshot(client, ch.settings.database), { rewrites: rewrites('clickhouse') }));
    }
    // Nothing applied, nothing to prove: repeated `migrate up` calls (every start, every test) stay cheap.
    report.feedTest = report.feedTest && report.applied.length > 0;
    if (report.feedTest) {
      say('feed test: sandbox sync of every connector');
      report.feed = await runFeedTest(opts.connectors);
    }
    report.ok = report.checks.every((c) => c.ok) && report.feed.every((f) => f.ok);
    report.duration_ms = Math.round(performance.now() - started);
    return report;
  } finally {
    conn.closeSync();
    await client?.close();
  }
}

export interface StoreStatus {
  store: StoreName;
  /** File path or URL/database (credentials never included). */
  location: string;
  available: boolean;
  reason?: string;
  /** Highest applied version (0: none). */
  version: number;
  entries: MigrationEntry[];
  pending: number;
  problems: string[];
}
export interface StatusReport { stores: StoreStatus[]; ok: boolean }

/** A URL as printed: never with its credentials. */
export const safeUrl = (url: string): string => {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid CLICKHOUSE_URL)';
  }
};

/** Applied, pending and problem migrations of both stores; creates nothing. */
export async function migrationStatus(opts: StoreOptions): Promise<StatusReport> {
  const dir = opts.migrationsDir ?? defaultMigrationsDir();
  const stores: StoreStatus[] = [];
  const path = opts.duckdbPath ?? defaultDuckdbPath(opts.dataDir);
  const duckFiles = loadMigrations('duckdb', dir);
  let duckApplied: AppliedMigration[] = [];
  if (existsSync(path)) {
    const conn = await connectDuckDB(path);
    try { duckApplied = await readDuckApplied(conn); } finally { conn.closeSync(); }
  }
  const d = reconcile('duckdb', duckFiles, duckApplied, dir);
  stores.push({ store: 'duckdb', location: existsSync(path) ? path : `${path} (not created yet)`, available: true, version: d.version, entries: d.entries, pending: d.pending.length, problems: d.problems });

  const ch = await resolveClickHouse(opts);
  const chFiles = loadMigrations('clickhouse', dir);
  if (ch.settings) {
    const t = targetOf(ch.settings);
    const client = clickhouseClient(ch.settings, { database: false });
    const location = `${safeUrl(ch.settings.url)} database ${t.database}${t.cluster ? ` on cluster ${t.cluster}` : ''}`;
    try {
      const r = reconcile('clickhouse', chFiles, await readClickHouseApplied(client, t), dir);
      stores.push({ store: 'clickhouse', location, available: true, version: r.version, entries: r.entries, pending: r.pending.length, problems: r.problems });
    } catch (e) {
      stores.push({ store: 'clickhouse', location, available: false, reason: (e as Error).message.split('\n')[0], version: 0, entries: [], pending: chFiles.length, problems: [] });
    } finally {
      await client.close();
    }
  } else {
    const r = reconcile('clickhouse', chFiles, [], dir);
    stores.push({ store: 'clickhouse', location: '(not configured)', available: false, reason: ch.skipped?.reason, version: 0, entries: r.entries, pending: r.pending.length, problems: [] });
  }
  return { stores, ok: stores.every((s) => s.problems.length === 0 && (!s.available || s.pending === 0)) };
}

export interface VerifyOptions extends StoreOptions { feedTest?: boolean; connectors?: string[] }
export interface VerifyReport { status: StatusReport; checks: TableCheck[]; feed: FeedResult[]; feedTest: boolean; ok: boolean }

/**
 * Between migrations: the schema is current and untouched, every data table's count and checksum (to compare
 * with a backup manifest or a later run), and the feed test.
 */
export async function verify(opts: VerifyOptions): Promise<VerifyReport> {
  const status = await migrationStatus(opts);
  const checks: TableCheck[] = [];
  const path = opts.duckdbPath ?? defaultDuckdbPath(opts.dataDir);
  if (existsSync(path)) {
    const conn = await connectDuckDB(path);
    try { checks.push(...currentChecks(await duckdbSnapshot(conn))); } finally { conn.closeSync(); }
  }
  const ch = await resolveClickHouse(opts);
  if (ch.settings && status.stores.find((s) => s.store === 'clickhouse')?.available) {
    const client = clickhouseClient(ch.settings, { database: false });
    try { checks.push(...currentChecks(await clickhouseSnapshot(client, ch.settings.database))); } finally { await client.close(); }
  }
  const feedTest = opts.feedTest !== false;
  const feed = feedTest ? await runFeedTest(opts.connectors) : [];
  return { status, checks, feed, feedTest, ok: status.ok && feed.every((f) => f.ok) };
}
