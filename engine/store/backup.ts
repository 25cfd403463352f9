// `offerfeed backup DIR` / `offerfeed restore DIR`: every DuckDB table exported to Parquet from one consistent
// snapshot, with a manifest of row counts, checksums, sequences and the schema version; a restore rebuilds the
// schema by running the migrations up to that version, loads the files and proves counts and checksums equal.
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { all, closeDuckDB, run, transaction } from './duckdb.ts';
import { dataDir as defaultDataDir, duckdbPath as defaultDuckdbPath } from '../util/data-dir.ts';
import {
  applyDuckMigrations, connectDuckDB, defaultMigrationsDir, loadMigrations, MigrationError, readDuckApplied,
  type AppliedMigration,
} from './migrate.ts';
import { duckdbSnapshot, MIGRATIONS_TABLE, type ColumnSnapshot } from './verify.ts';

export const MANIFEST = 'manifest.json';
const FORMAT = 'offerfeed-duckdb-backup';

export interface BackupTable { table: string; file: string; rows: number; checksum: string; columns: ColumnSnapshot[] }
export interface BackupSequence { schema: string; name: string; start_with: string; increment_by: string; min_value: string; max_value: string; cycle: boolean }
export interface BackupManifest {
  format: typeof FORMAT;
  format_version: 1;
  created_at: string;
  duckdb_version: string;
  source: string;
  /** Highest applied DuckDB migration; a restore runs the migrations up to it. */
  schema_version: number;
  migrations: AppliedMigration[];
  tables: BackupTable[];
  sequences: BackupSequence[];
}

export interface BackupReport { dir: string; manifest: BackupManifest; bytes: number; duration_ms: number }

export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;
const ql = (s: string) => `'${s.replace(/'/g, "''")}'`;
const qualified = (table: string) => (table.includes('.') ? table.split('.').map(qi).join('.') : qi(table));

/** Makes the file's content (or a directory's entries) durable before the caller relies on it. */
function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

async function emptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (readdirSync(dir).length) throw new Error(`backup directory ${dir} is not empty: choose a new one (backups are never overwritten)`);
}

/** Backs up the open database into dir; the manifest is written last, so a directory without one is incomplete. */
export async function backupConnection(conn: DuckDBConnection, dir: string, source: string): Promise<BackupReport> {
  const started = performance.now();
  dir = resolve(dir);
  await emptyDir(dir);
  const manifest = await transaction(conn, async (): Promise<BackupManifest> => {
    // One transaction: every table, count and checksum comes from the same snapshot while writers go on.
    const snapshot = await duckdbSnapshot(conn);
    const migrations = await readDuckApplied(conn);
    const [{ v }] = await all<{ v: string }>(conn, 'SELECT version() AS v');
    const sequences = (await all<{ schema_name: string; sequence_name: string; start_value: string; last_value: string | null; increment_by: string; min_value: string; max_value: string; cycle: boolean }>(conn,
      `SELECT schema_name, sequence_name, start_value::VARCHAR AS start_value, last_value::VARCHAR AS last_value, increment_by::VARCHAR AS increment_by,
              min_value::VARCHAR AS min_value, max_value::VARCHAR AS max_value, cycle
       FROM duckdb_sequences() WHERE database_name = current_database() AND NOT temporary ORDER BY schema_name, sequence_name`))
      .map((s) => ({
        schema: s.schema_name, name: s.sequence_name,
        // The value the next nextval() would return, so restored ids continue where they stopped.
        start_with: s.last_value === null ? s.start_value : String(BigInt(s.last_value) + BigInt(s.increment_by)),
        increment_by: s.increment_by, min_value: s.min_value, max_value: s.max_value, cycle: s.cycle,
      }));
    const tables: BackupTable[] = [];
    const used = new Set<string>();
    for (const t of snapshot.tables) {
      let file = `${t.table.replace(/[^\w.-]/g, '_')}.parquet`;
      for (let n = 2; used.has(file.toLowerCase()); n++) file = `${t.table.replace(/[^\w.-]/g, '_')}_${n}.parquet`;
      used.add(file.toLowerCase());
      await run(conn, `COPY (SELECT * FROM ${qualified(t.table)}) TO ${ql(join(dir, file))} (FORMAT parquet, COMPRESSION zstd)`);
      tables.push({ table: t.table, file, rows: t.rows, checksum: t.checksum, columns: t.columns });
    }
    const schema_version = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    return { format: FORMAT, format_version: 1, created_at: new Date().toISOString(), duckdb_version: v, source, schema_version, migrations, tables, sequences };
  });
  let bytes = 0;
  for (const t of manifest.tables) {
    fsyncPath(join(dir, t.file));
    bytes += (await stat(join(dir, t.file))).size;
  }
  const tmp = join(dir, `${MANIFEST}.tmp`);
  await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
  fsyncPath(tmp);
  await rename(tmp, join(dir, MANIFEST));
  fsyncPath(dir);
  return { dir, manifest, bytes, duration_ms: Math.round(performance.now() - started) };
}

export interface BackupOptions { dataDir?: string; duckdbPath?: string }

export async function backup(dir: string, opts: BackupOptions = {}): Promise<BackupReport> {
  const path = opts.duckdbPath ?? defaultDuckdbPath(opts.dataDir ?? defaultDataDir());
  if (!existsSync(path)) throw new Error(`no serving store at ${path}: nothing to back up`);
  const conn = await connectDuckDB(path);
  try {
    return await backupConnection(conn, dir, path);
  } finally {
    conn.closeSync();
  }
}

export async function readManifest(dir: string): Promise<BackupManifest> {
  const file = join(dir, MANIFEST);
  let m: BackupManifest;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as BackupManifest;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${dir} is not a complete backup: it has no ${MANIFEST}` : `${file}: ${(e as Error).message}`);
  }
  if (m.format !== FORMAT || m.format_version !== 1 || !Array.isArray(m.tables)) throw new Error(`${file} is not an offerfeed DuckDB backup manifest (format ${FORMAT} v1)`);
  for (const t of m.tables) if (!existsSync(join(dir, t.file))) throw new Error(`backup ${dir} is incomplete: ${t.file} (table ${t.table}) is missing`);
  return m;
}

export interface RestoreOptions extends BackupOptions {
  /** Restore over a store that has data: the existing files are moved aside, never deleted. */
  force?: boolean;
  migrationsDir?: string;
}
export interface RestoreReport {
  path: string;
  schema_version: number;
  tables: Array<{ table: string; rows: number; checksum: string; ok: boolean }>;
  /** Where the previous DuckDB file went, when there was one to move. */
  moved_aside?: string;
  /** Tables of the backup that the migrations did not create (made outside them), created from the manifest. */
  created_from_manifest: string[];
  duration_ms: number;
}

interface StoreState { rows: Array<{ table: string; rows: number }>; version: number; applied: AppliedMigration[] }

async function inspect(path: string): Promise<StoreState> {
  const conn = await connectDuckDB(path);
  try {
    const snap = await duckdbSnapshot(conn);
    const applied = await readDuckApplied(conn);
    return { rows: snap.tables.filter((t) => t.rows > 0).map((t) => ({ table: t.table, rows: t.rows })), version: applied.reduce((m, a) => Math.max(m, a.version), 0), applied };
  } finally {
    conn.closeSync();
  }
}

/**
 * Brings each sequence to the value it had, so restored ids are not handed out again. DuckDB can neither
 * alter nor replace a sequence that a column default uses, so it is advanced with nextval (about 20 M steps/s).
 */
async function restoreSequences(conn: DuckDBConnection, sequences: BackupSequence[]): Promise<void> {
  const now = await all<{ schema_name: string; sequence_name: string; next: string }>(conn,
    `SELECT schema_name, sequence_name, (CASE WHEN last_value IS NULL THEN start_value ELSE last_value + increment_by END)::VARCHAR AS next
     FROM duckdb_sequences() WHERE database_name = current_database() AND NOT temporary`);
  for (const s of sequences) {
    const have = now.find((x) => x.schema_name === s.schema && x.sequence_name === s.name);
    if (!have) {
      await run(conn, `CREATE SEQUENCE ${qi(s.schema)}.${qi(s.name)} INCREMENT BY ${BigInt(s.increment_by)} MINVALUE ${BigInt(s.min_value)} ` +
        `MAXVALUE ${BigInt(s.max_value)} START WITH ${BigInt(s.start_with)} ${s.cycle ? 'CYCLE' : 'NO CYCLE'}`);
      continue;
    }
    const steps = (BigInt(s.start_with) - BigInt(have.next)) / BigInt(s.increment_by);
    if (steps > 0n) await run(conn, `SELECT max(nextval(${ql(`${s.schema}.${s.name}`)})) FROM range(${steps})`);
  }
}

export async function restore(dir: string, opts: RestoreOptions = {}): Promise<RestoreReport> {
  const started = performance.now();
  dir = resolve(dir);
  const manifest = await readManifest(dir);
  const path = opts.duckdbPath ?? defaultDuckdbPath(opts.dataDir ?? defaultDataDir());
  const migrationsDir = opts.migrationsDir ?? defaultMigrationsDir();
  const files = loadMigrations('duckdb', migrationsDir);

  // The schema is rebuilt from migration files: they must be the very ones the backup's store applied.
  const known = files.reduce((m, f) => Math.max(m, f.version), 0);
  if (manifest.schema_version > known) {
    throw new MigrationError(`the backup is at DuckDB schema version ${manifest.schema_version} but this installation knows migrations up to ${known}: upgrade offerfeed first`);
  }
  for (const a of manifest.migrations) {
    const f = files.find((x) => x.version === a.version);
    if (!f || f.checksum !== a.checksum) {
      throw new MigrationError(`migration ${String(a.version).padStart(3, '0')}_${a.name}.sql ${f ? `differs from the one the backup's store applied (sha256 ${a.checksum}, file ${f.checksum})` : 'is missing'}: cannot rebuild the backup's schema`);
    }
  }

  let movedAside: string | undefined;
  if (existsSync(path)) {
    const state = await inspect(path);
    const compatible = state.version <= manifest.schema_version && state.applied.every((a) => manifest.migrations.some((m) => m.version === a.version && m.checksum === a.checksum));
    if (state.rows.length && !opts.force) {
      throw new RestoreRefusedError(`${path} has data (${state.rows.map((r) => `${r.table}: ${r.rows} rows`).join(', ')}); ` +
        'restore with --force to move it aside (it is kept, not deleted) and restore into a new file');
    }
    if (state.rows.length || !compatible) {
      await closeDuckDB(path);
      movedAside = `${path}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(path, movedAside);
      if (existsSync(`${path}.wal`)) renameSync(`${path}.wal`, `${movedAside}.wal`);
    }
  }

  const conn = await connectDuckDB(path);
  try {
    await applyDuckMigrations(conn, files, migrationsDir, manifest.schema_version);
    const created: string[] = [];
    const tables = await transaction(conn, async () => {
      const existing = new Map((await duckdbSnapshot(conn)).tables.map((t) => [t.table, t]));
      for (const t of manifest.tables) {
        const have = existing.get(t.table);
        if (!have) {
          await run(conn, `CREATE TABLE ${qualified(t.table)} (${t.columns.map((c) => `${qi(c.name)} ${c.type}`).join(', ')})`);
          created.push(t.table);
        } else {
          const missing = t.columns.filter((c) => !have.columns.some((h) => h.name === c.name)).map((c) => c.name);
          if (missing.length) throw new MigrationError(`table ${t.table} has no column ${missing.join(', ')} at schema version ${manifest.schema_version}, but the backup has`);
          if (have.rows > 0) throw new RestoreRefusedError(`table ${t.table} already has ${have.rows} rows after migrating`);
        }
        const cols = t.columns.map((c) => qi(c.name)).join(', ');
        await run(conn, `INSERT INTO ${qualified(t.table)} (${cols}) SELECT ${cols} FROM read_parquet(${ql(join(dir, t.file))})`);
      }
      await restoreSequences(conn, manifest.sequences);
      // The store's own migration history, with the original dates.
      await run(conn, `DELETE FROM ${MIGRATIONS_TABLE}`);
      for (const m of manifest.migrations) {
        await run(conn, `INSERT INTO ${MIGRATIONS_TABLE} VALUES (?, ?, ?, ?::TIMESTAMP, ?)`, [m.version, m.name, m.checksum, m.applied_at.replace('Z', ''), m.duration_ms]);
      }
      const after = new Map((await duckdbSnapshot(conn)).tables.map((t) => [t.table, t]));
      const result = manifest.tables.map((t) => {
        const a = after.get(t.table);
        return { table: t.table, rows: a?.rows ?? 0, checksum: a?.checksum ?? '', ok: !!a && a.rows === t.rows && a.checksum === t.checksum };
      });
      const bad = result.filter((r) => !r.ok);
      if (bad.length) {
        const detail = bad.map((r) => { const m = manifest.tables.find((t) => t.table === r.table)!; return `${r.table}: ${r.rows} rows/${r.checksum}, manifest ${m.rows}/${m.checksum}`; });
        const [{ v }] = await all<{ v: string }>(conn, 'SELECT version() AS v');
        // Checksums use DuckDB's hash(): a different DuckDB version could in principle hash differently.
        const hint = v !== manifest.duckdb_version && bad.every((r) => r.rows === manifest.tables.find((t) => t.table === r.table)!.rows)
          ? `; the backup was made with DuckDB ${manifest.duckdb_version} and this is ${v}: if only checksums differ, restore with that version`
          : '';
        throw new Error(`restore rolled back: loaded data differs from the manifest (${detail.join('; ')})${hint}`);
      }
      return result;
    });
    conn.closeSync();
    return { path, schema_version: manifest.schema_version, tables, moved_aside: movedAside, created_from_manifest: created, duration_ms: Math.round(performance.now() - started) };
  } catch (e) {
    conn.closeSync();
    // A failed restore leaves the store as it found it: the new file goes, the previous one comes back.
    if (movedAside) {
      await closeDuckDB(path);
      await rm(path, { force: true });
      await rm(`${path}.wal`, { force: true });
      renameSync(movedAside, path);
      if (existsSync(`${movedAside}.wal`)) renameSync(`${movedAside}.wal`, `${path}.wal`);
    }
    throw e;
  }
}
