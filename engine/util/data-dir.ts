// OFFERFEED_DATA_DIR (default ./data) holds the DuckDB file and the local ClickHouse: every command honours it.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function dataDir(): string {
  const dir = resolve(process.env.OFFERFEED_DATA_DIR ?? 'data');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const duckdbPath = (dir = dataDir()): string => process.env.OFFERFEED_DUCKDB_PATH ?? join(dir, 'offerfeed.duckdb');
