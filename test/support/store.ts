// A fresh, migrated serving store in a temp directory, for tests against a real DuckDB file.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateUp } from '../../engine/store/migrate.ts';
import { ServingStore } from '../../engine/store/serving-store.ts';

export async function freshStore(): Promise<{ store: ServingStore; dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-store-'));
  const path = join(dir, 'offerfeed.duckdb');
  await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: null, feedTest: false });
  return { store: await ServingStore.open(path), dir, path };
}
