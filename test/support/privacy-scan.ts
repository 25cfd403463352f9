// Proof for erasure tests: every row of every table in both stores, searched for a value (a user id, a click
// id) as text. Deliberately ignorant of the schema, so a table added later is covered too.
import type { ClickHouseClient } from '@clickhouse/client';
import { all } from '../../engine/store/duckdb.ts';
import { openSideConnection } from '../../engine/store/side-connection.ts';

export interface Mention { store: 'duckdb' | 'clickhouse'; table: string; rows: number }

export async function duckdbMentions(path: string, values: string[]): Promise<Mention[]> {
  const conn = await openSideConnection(path);
  try {
    const tables = await all<{ name: string }>(conn, `SELECT table_name AS name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'`);
    const out: Mention[] = [];
    for (const { name } of tables) {
      for (const v of values) {
        const [{ n }] = await all<{ n: number }>(conn, `SELECT count(*)::INTEGER AS n FROM "${name}" t WHERE contains(to_json(t)::VARCHAR, $v)`, { v });
        if (n) out.push({ store: 'duckdb', table: name, rows: n });
      }
    }
    return out;
  } finally {
    conn.closeSync();
  }
}

export async function clickhouseMentions(client: ClickHouseClient, database: string, values: string[]): Promise<Mention[]> {
  const tables = await (await client.query({ query: 'SELECT name FROM system.tables WHERE database = {db:String}', query_params: { db: database }, format: 'JSONEachRow' })).json<{ name: string }>();
  const out: Mention[] = [];
  for (const { name } of tables) {
    for (const v of values) {
      const rs = await client.query({ query: `SELECT count() AS n FROM \`${database}\`.\`${name}\` WHERE position(formatRow('TSV', *), {v:String}) > 0`, query_params: { v }, format: 'JSONEachRow' });
      const n = Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
      if (n) out.push({ store: 'clickhouse', table: name, rows: n });
    }
  }
  return out;
}
