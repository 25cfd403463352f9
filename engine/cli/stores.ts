// Opens the stores a command needs: the DuckDB serving store of the data directory and, when one is configured
// or running locally, ClickHouse.
import type { ClickHouseClient } from '@clickhouse/client';
import { dataDir, duckdbPath } from '../util/data-dir.ts';
import { ServingStore } from '../store/serving-store.ts';
import { all } from '../store/duckdb.ts';
import { clickhouseClient, clickhouseSettings } from '../history/clickhouse/client.ts';

export interface OpenStores { store: ServingStore; clickhouse?: ClickHouseClient; close(): Promise<void> }

export async function openStores(): Promise<OpenStores> {
  const dir = dataDir();
  const store = await ServingStore.open(duckdbPath(dir));
  const [t] = await all<{ n: number }>(store.conn, `SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_name = 'offers'`);
  if (!t.n) {
    store.close();
    throw new Error(`the serving store ${duckdbPath(dir)} has no schema yet: run \`offerfeed migrate up\` first`);
  }
  const settings = await clickhouseSettings(dir);
  const clickhouse = settings ? clickhouseClient(settings) : undefined;
  return { store, clickhouse, close: async () => { store.close(); await clickhouse?.close(); } };
}
