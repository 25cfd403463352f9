// One DuckDB instance per file per process, with helpers for parameterized queries and transactions.
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

const instances = new Map<string, Promise<DuckDBInstance>>();

export class StoreLockedError extends Error {
  constructor(path: string, detail: string) {
    super(`the serving store ${path} is in use by another process (${detail}). Stop the other offerfeed process or set OFFERFEED_DATA_DIR to another directory.`);
    this.name = 'StoreLockedError';
  }
}

export async function openDuckDB(path: string): Promise<DuckDBInstance> {
  let p = instances.get(path);
  if (!p) {
    // A bounded buffer pool keeps a large merge from taking the machine's memory; DuckDB spills beyond it.
    p = DuckDBInstance.create(path, { threads: '2', memory_limit: process.env.OFFERFEED_DUCKDB_MEMORY ?? '512MB' }).catch((e: Error) => {
      instances.delete(path);
      if (/lock/i.test(e.message)) throw new StoreLockedError(path, e.message.split('\n')[0]);
      throw e;
    });
    instances.set(path, p);
  }
  return p;
}

export async function closeDuckDB(path: string): Promise<void> {
  const p = instances.get(path);
  instances.delete(path);
  if (p) (await p.catch(() => undefined))?.closeSync();
}

export type Params = Record<string, DuckDBValue> | DuckDBValue[];

export async function all<T = Record<string, unknown>>(conn: DuckDBConnection, sql: string, params?: Params): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql, params as never);
  return reader.getRowObjectsJson() as unknown as T[];
}

export async function run(conn: DuckDBConnection, sql: string, params?: Params): Promise<void> {
  await conn.run(sql, params as never);
}

/** Runs fn inside BEGIN/COMMIT; any error rolls everything back. */
export async function transaction<T>(conn: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await conn.run('BEGIN TRANSACTION');
  try {
    const out = await fn();
    await conn.run('COMMIT');
    return out;
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
