// Proof that a migration (or a restore) kept every row: row counts and order-independent checksums of every
// data table, per row and per column, compared before and after; plus the post-migration feed test, a
// sandbox sync of every connector.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ClickHouseClient } from '@clickhouse/client';
import { all } from './duckdb.ts';
import type { StoreName } from './migration-lint.ts';
import { listConnectorIds } from '../spec/registry.ts';
import { runContractTest } from '../sandbox/contract.ts';

export interface ColumnSnapshot { name: string; type: string; checksum: string }
export interface TableSnapshot {
  table: string;
  rows: number;
  /** Sum of a hash of each whole row (wrapping at 2^64 in ClickHouse): independent of row order. */
  checksum: string;
  columns: ColumnSnapshot[];
}
export interface StoreSnapshot { store: StoreName; tables: TableSnapshot[] }

/** Tables the runner keeps for itself: not data. */
export const MIGRATIONS_TABLE = 'schema_migrations';

const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;
const qb = (name: string) => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/** Name as reported: bare for the main schema, schema.table otherwise. */
const duckName = (schema: string, table: string) => (schema === 'main' ? table : `${schema}.${table}`);

/** Every user table of the open DuckDB database, one scan each. */
export async function duckdbSnapshot(conn: DuckDBConnection): Promise<StoreSnapshot> {
  const cols = await all<{ schema_name: string; table_name: string; column_name: string; data_type: string }>(conn, `
    SELECT c.schema_name, c.table_name, c.column_name, c.data_type
    FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_oid, schema_oid, table_oid)
    WHERE c.database_name = current_database() AND NOT t.internal AND NOT t.temporary
    ORDER BY c.schema_name, c.table_name, c.column_index`);
  const byTable = new Map<string, { schema: string; table: string; columns: { name: string; type: string }[] }>();
  for (const c of cols) {
    const key = duckName(c.schema_name, c.table_name);
    if (key === MIGRATIONS_TABLE) continue;
    if (!byTable.has(key)) byTable.set(key, { schema: c.schema_name, table: c.table_name, columns: [] });
    byTable.get(key)!.columns.push({ name: c.column_name, type: c.data_type });
  }
  const tables: TableSnapshot[] = [];
  for (const [name, t] of byTable) {
    // Read by position: aliases could collide with column names.
    const exprs = [
      'count(*)::VARCHAR',
      `coalesce(sum(hash(${t.columns.map((c) => qi(c.name)).join(', ')})), 0)::VARCHAR`,
      ...t.columns.map((c) => `coalesce(sum(hash(${qi(c.name)})), 0)::VARCHAR`),
    ];
    const reader = await conn.runAndReadAll(`SELECT ${exprs.join(', ')} FROM ${qi(t.schema)}.${qi(t.table)}`);
    const [n, r, ...cs] = reader.getRowsJson()[0] as string[];
    tables.push({
      table: name, rows: Number(n), checksum: r,
      columns: t.columns.map((c, i) => ({ name: c.name, type: c.type, checksum: cs[i] })),
    });
  }
  return { store: 'duckdb', tables };
}

/**
 * Every MergeTree-family table of the database. Tables that collapse rows in background merges
 * (Replacing/Collapsing/…) are read with FINAL, so a merge between two snapshots changes nothing.
 * Against a sharded cluster this sees the shard of the server it talks to.
 */
export async function clickhouseSnapshot(client: ClickHouseClient, database: string): Promise<StoreSnapshot> {
  const tablesRes = await client.query({
    query: `SELECT name, engine FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree' AND name != {mt:String} AND NOT startsWith(name, '.inner') ORDER BY name`,
    query_params: { db: database, mt: MIGRATIONS_TABLE }, format: 'JSONEachRow',
  });
  const list = await tablesRes.json<{ name: string; engine: string }>();
  const tables: TableSnapshot[] = [];
  for (const t of list) {
    const colsRes = await client.query({
      query: 'SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} AND default_kind NOT IN (\'ALIAS\', \'EPHEMERAL\') ORDER BY position',
      query_params: { db: database, t: t.name }, format: 'JSONEachRow',
    });
    const columns = await colsRes.json<{ name: string; type: string }>();
    const final = /^(Replicated)?(Replacing|Collapsing|VersionedCollapsing|Summing|Aggregating|Coalescing)MergeTree$/.test(t.engine) ? ' FINAL' : '';
    // No aliases: in ClickHouse an alias shadows a column of the same name inside the other expressions.
    const exprs = [
      'toString(count())',
      // cityHash64 of a NULL argument is NULL (the row would count for nothing): hash a tuple instead.
      `toString(sum(cityHash64(tuple(${columns.map((c) => qb(c.name)).join(', ')}))))`,
      ...columns.map((c) => `toString(sum(cityHash64(tuple(${qb(c.name)}))))`),
    ];
    const res = await client.query({ query: `SELECT ${exprs.join(', ')} FROM ${qb(database)}.${qb(t.name)}${final}`, format: 'JSONCompactEachRow' });
    const [[n, r, ...cs]] = await res.json<string[]>();
    tables.push({
      table: t.name, rows: Number(n), checksum: r,
      columns: columns.map((c, i) => ({ name: c.name, type: c.type, checksum: cs[i] })),
    });
  }
  return { store: 'clickhouse', tables };
}

export type TableStatus = 'equal' | 'grew' | 'new' | 'renamed' | 'dropped' | 'rewritten' | 'changed' | 'lost';
export interface TableCheck {
  store: StoreName;
  table: string;
  before?: { rows: number; checksum: string };
  after?: { rows: number; checksum: string };
  status: TableStatus;
  ok: boolean;
  notes: string[];
}

/**
 * Before/after of one store. Nothing may disappear: a table may only vanish under a new name with the same
 * rows, a column only when its values live on in another column (renamed or copied), and the values of every
 * column that stayed must be unchanged unless the migration declares `-- verify: rewrites <table>`.
 * Rows added meanwhile (a writer that kept running) are reported, not failed.
 */
export function compareSnapshots(before: StoreSnapshot, after: StoreSnapshot, opts: { rewrites?: Iterable<string> } = {}): TableCheck[] {
  const rewrites = new Set([...(opts.rewrites ?? [])].map((t) => t.toLowerCase()));
  const afterByName = new Map(after.tables.map((t) => [t.table, t]));
  const beforeNames = new Set(before.tables.map((t) => t.table));
  const allAfterColumns = after.tables.flatMap((t) => t.columns.map((c) => ({ table: t.table, ...c })));
  const checks: TableCheck[] = [];
  const renamedTo = new Set<string>();
  const pick = (t: TableSnapshot) => ({ rows: t.rows, checksum: t.checksum });

  for (const b of before.tables) {
    const a = afterByName.get(b.table);
    const check: TableCheck = { store: before.store, table: b.table, before: pick(b), status: 'equal', ok: true, notes: [] };
    checks.push(check);
    const fail = (note: string, status: TableStatus = 'changed') => { check.ok = false; check.status = status; check.notes.push(note); };
    if (!a) {
      const renamed = after.tables.find((t) => !beforeNames.has(t.table) && !renamedTo.has(t.table) && t.rows === b.rows && t.checksum === b.checksum);
      if (renamed) {
        renamedTo.add(renamed.table);
        check.status = 'renamed';
        check.after = pick(renamed);
        check.notes.push(`renamed to ${renamed.table} with identical rows`);
      } else if (b.rows === 0) {
        check.status = 'dropped';
        check.notes.push('empty table dropped');
      } else {
        fail(`table dropped: its ${b.rows} rows are not in any new table`, 'lost');
      }
      continue;
    }
    check.after = pick(a);
    const declared = rewrites.has(b.table.toLowerCase());
    if (a.rows < b.rows) {
      if (declared) { check.status = 'rewritten'; check.notes.push(`${b.rows - a.rows} fewer rows (declared rewrite)`); }
      else fail(`${b.rows - a.rows} rows lost`, 'lost');
      continue;
    }
    const aCols = new Map(a.columns.map((c) => [c.name, c]));
    const bCols = new Set(b.columns.map((c) => c.name));
    for (const c of b.columns) {
      const ac = aCols.get(c.name);
      if (ac && ac.type === c.type) continue;
      if (ac) {
        if (declared) check.notes.push(`column ${c.name} changed type ${c.type} → ${ac.type}`);
        else if (b.rows > 0) fail(`column ${c.name} changed type ${c.type} → ${ac.type}; declare "-- verify: rewrites ${b.table}" if that is intended`);
        continue;
      }
      const home = allAfterColumns.find((x) => x.checksum === c.checksum && x.type === c.type && !(x.table === b.table && bCols.has(x.name)));
      if (home) check.notes.push(`column ${c.name} now in ${home.table === b.table ? '' : `${home.table}.`}${home.name}`);
      else if (b.rows === 0 || declared) check.notes.push(`column ${c.name} dropped`);
      else fail(`column ${c.name} dropped and its values are in no other column`, 'lost');
    }
    for (const c of a.columns) if (!bCols.has(c.name)) check.notes.push(`column ${c.name} added`);
    if (!check.ok) continue;
    if (a.rows > b.rows) {
      check.status = 'grew';
      check.notes.push(`${a.rows - b.rows} rows added`);
      continue;
    }
    const sameShape = a.columns.length === b.columns.length && a.columns.every((c, i) => c.name === b.columns[i].name && c.type === b.columns[i].type);
    const changedCols = b.columns.filter((c) => aCols.get(c.name)?.type === c.type && aCols.get(c.name)!.checksum !== c.checksum).map((c) => c.name);
    const rowsDiffer = sameShape && a.checksum !== b.checksum;
    if (changedCols.length || rowsDiffer) {
      const what = changedCols.length ? `values changed in ${changedCols.join(', ')}` : 'rows changed (same column totals)';
      if (declared) { check.status = 'rewritten'; check.notes.push(`${what} (declared rewrite)`); }
      else fail(what);
    }
  }
  for (const a of after.tables) {
    if (beforeNames.has(a.table) || renamedTo.has(a.table)) continue;
    checks.push({ store: after.store, table: a.table, after: pick(a), status: 'new', ok: true, notes: [] });
  }
  return checks;
}

/** A snapshot as a table check of its own (no comparison): what `migrate verify` shows between migrations. */
export function currentChecks(s: StoreSnapshot): TableCheck[] {
  return s.tables.map((t) => ({ store: s.store, table: t.table, after: { rows: t.rows, checksum: t.checksum }, status: 'equal' as const, ok: true, notes: [] }));
}

export interface FeedResult { id: string; ok: boolean; offers: number; expected: number; quarantined: number; duration_ms: number; problems: string[] }

/**
 * The post-migration feed test: every connector's sandbox sync, mapped offers compared with its expected
 * output. It touches no store; it proves the feed still maps with the code and schema now deployed.
 */
export async function runFeedTest(ids: string[] = listConnectorIds()): Promise<FeedResult[]> {
  const out: FeedResult[] = [];
  for (const id of ids) {
    const started = Date.now();
    try {
      const report = await runContractTest(id, { faults: false });
      const pass = report.passes[0];
      out.push({
        id, ok: report.ok, offers: pass?.offers.length ?? 0, expected: report.expectedCount, quarantined: pass?.quarantined ?? 0,
        duration_ms: Date.now() - started, problems: report.passes.flatMap((p) => p.problems),
      });
    } catch (e) {
      out.push({ id, ok: false, offers: 0, expected: 0, quarantined: 0, duration_ms: Date.now() - started, problems: [(e as Error).message.split('\n')[0]] });
    }
  }
  return out;
}

/** Plain-text tables for the CLI. */
export function formatChecks(checks: TableCheck[]): string {
  if (!checks.length) return '  (no data tables)\n';
  if (checks.every((c) => !c.before)) {
    return formatTable(['store', 'table', 'rows', 'checksum'], checks.map((c) => [c.store, c.table, String(c.after?.rows ?? '-'), c.after?.checksum ?? '-']));
  }
  const rows = checks.map((c) => [
    c.ok ? 'ok' : 'FAIL', c.store, c.table,
    c.before ? String(c.before.rows) : '-', c.after ? String(c.after.rows) : '-',
    c.before?.checksum ?? '-', c.after?.checksum ?? '-', c.status + (c.notes.length ? `: ${c.notes.join('; ')}` : ''),
  ]);
  return formatTable(['', 'store', 'table', 'rows before', 'rows after', 'checksum before', 'checksum after', 'result'], rows);
}

export function formatFeed(results: FeedResult[]): string {
  if (!results.length) return '  (no connectors)\n';
  let out = formatTable(['', 'connector', 'offers', 'expected', 'quarantined', 'ms'], results.map((r) => [
    r.ok ? 'ok' : 'FAIL', r.id, String(r.offers), String(r.expected), String(r.quarantined), String(r.duration_ms),
  ]));
  for (const r of results.filter((x) => !x.ok)) {
    out += `  ${r.id}:\n`;
    for (const p of r.problems.slice(0, 10)) out += `    - ${p}\n`;
    if (r.problems.length > 10) out += `    … and ${r.problems.length - 10} more\n`;
  }
  return out;
}

export function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `  ${r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]))).join('  ')}`.trimEnd() + '\n';
  return line(head) + rows.map(line).join('');
}
