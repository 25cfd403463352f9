// A DuckDB connection used by one query (or one transaction) at a time. A connection is one client context:
// the API's concurrent requests must not interleave statements on it (a BEGIN from one would swallow another's
// writes), so work is queued on a promise chain. Separate connections still run in parallel.
import type { DuckDBConnection } from '@duckdb/node-api';
import { openSideConnection } from './side-connection.ts';

export class SerialConnection {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly conn: DuckDBConnection) {}

  static async open(path: string): Promise<SerialConnection> {
    return new SerialConnection(await openSideConnection(path));
  }

  use<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const next = this.tail.then(() => {
      if (this.closed) throw new Error('the store connection is closed');
      return fn(this.conn);
    });
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Closes once the queued work is done. */
  async close(): Promise<void> {
    await this.tail;
    if (this.closed) return;
    this.closed = true;
    this.conn.closeSync();
  }
}
