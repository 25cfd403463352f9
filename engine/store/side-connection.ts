// A connection of its own on the serving store's DuckDB instance, for work that runs beside syncs in the same
// process (enrichment, the optimizer). ServingStore's connection carries the sync's BEGIN…COMMIT: a statement
// sent on it mid-merge would join that transaction. A second connection has its own transactions; DuckDB's
// optimistic concurrency then reports a write-write clash as a conflict error, retried here.
import type { DuckDBConnection } from '@duckdb/node-api';
import { openDuckDB, transaction } from './duckdb.ts';

export async function openSideConnection(path: string): Promise<DuckDBConnection> {
  return (await openDuckDB(path)).connect();
}

const CONFLICT = /conflict/i;

// One transaction at a time per connection: concurrent async callers would otherwise nest BEGINs on it.
const tails = new WeakMap<DuckDBConnection, Promise<unknown>>();

async function serialized<T>(conn: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  const before = tails.get(conn) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(fn);
  tails.set(conn, mine.catch(() => undefined));
  return mine;
}

/**
 * Runs fn in a transaction on the connection (after any other transaction of this process on it), again with
 * a short growing pause when another connection's commit conflicted.
 */
export async function retryingTransaction<T>(conn: DuckDBConnection, fn: () => Promise<T>, attempts = 6): Promise<T> {
  return serialized(conn, async () => {
    for (let i = 1; ; i++) {
      try {
        return await transaction(conn, fn);
      } catch (e) {
        if (i >= attempts || !CONFLICT.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 20 * i * i + Math.random() * 20));
      }
    }
  });
}

/** SQL timestamp text (UTC, no zone) as DuckDB stores TIMESTAMP. */
export const sqlTs = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');

/** A TIMESTAMP read back from DuckDB ('YYYY-MM-DD HH:MM:SS[.fff]', UTC) as ISO 8601. */
export const isoTs = (s: string | null | undefined): string | undefined => (s ? `${s.replace(' ', 'T')}${/[zZ]$/.test(s) ? '' : 'Z'}` : undefined);
