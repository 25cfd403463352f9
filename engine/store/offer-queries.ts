// Reads the serving API needs from the serving store: the public offers (to build its in-memory read model),
// the current state of every offer a run changed (to keep that model and live subscriptions in step), sync runs
// and per-network health. Read-only; its own connections, so a long read never waits on a sync's transaction.
import type { DuckDBConnection } from '@duckdb/node-api';
import { all } from './duckdb.ts';
import { readDuckApplied, type AppliedMigration } from './migrate.ts';
import { SerialConnection } from './serial-connection.ts';
import { isoTs, sqlTs } from './side-connection.ts';

/** An offer's current state as the read model needs it. */
export interface OfferState {
  id: string;
  network: string;
  status: string;
  /** Canonical offer JSON. */
  data: string;
  group_key: string;
  first_seen_ms: number;
  changed_ms: number;
}

/** An offer a run changed, its current state, and what the run did to it (insert, update, expire, …). */
export interface OfferChange extends OfferState { ops: string[] }

export interface SyncRunRow {
  id: string;
  connector: string;
  mode: string;
  status: string;
  complete: boolean;
  started_at: string;
  finished_at?: string;
  duration_ms?: number;
  counts?: Record<string, number>;
}

export interface NetworkRow {
  id: string;
  name?: string;
  status?: string;
  paused: boolean;
  spec_version?: number;
  last_run?: SyncRunRow;
  last_success_at?: string;
  offers: Record<string, number>;
}

const STATE_COLUMNS = `o.id, o.network, o.status, o.data::VARCHAR AS data, o.group_key,
  epoch_ms(o.first_seen_at)::DOUBLE AS first_seen_ms, epoch_ms(o.last_changed_at)::DOUBLE AS changed_ms`;

export const RUN_COLUMNS = `id, connector, mode, status, complete, strftime(started_at, '%Y-%m-%dT%H:%M:%S.%g') AS started_at,
  strftime(finished_at, '%Y-%m-%dT%H:%M:%S.%g') AS finished_at, date_diff('millisecond', started_at, finished_at)::DOUBLE AS duration_ms,
  counts::VARCHAR AS counts`;

export class OfferQueries {
  private constructor(private readonly feed: SerialConnection, private readonly reads: SerialConnection) {}

  static async open(path: string): Promise<OfferQueries> {
    return new OfferQueries(await SerialConnection.open(path), await SerialConnection.open(path));
  }

  async close(): Promise<void> {
    await Promise.all([this.feed.close(), this.reads.close()]);
  }

  /** Every active offer, streamed in batches (one query: a consistent snapshot). */
  async streamPublicOffers(onBatch: (rows: OfferState[]) => void | Promise<void>, batchSize = 20_000): Promise<number> {
    return this.feed.use((c) => stream(c, `SELECT ${STATE_COLUMNS} FROM offers o WHERE o.status = 'active'`, {}, toState, onBatch, batchSize));
  }

  /** The current state of every offer a run (or an admin action, a rollback) changed, streamed in batches. */
  async streamRunChanges(runId: string, onBatch: (rows: OfferChange[]) => void | Promise<void>, batchSize = 20_000): Promise<number> {
    return this.feed.use((c) => stream(c, `SELECT ${STATE_COLUMNS}, c.ops FROM (
        SELECT offer_id, list(op) AS ops FROM offer_changes WHERE run_id = $r GROUP BY offer_id
      ) c JOIN offers o ON o.id = c.offer_id`, { r: runId }, (r) => ({ ...toState(r), ops: (r[7] as string[]) ?? [] }), onBatch, batchSize));
  }

  /** Ids of the runs (sync, admin, rollback) that recorded offer changes at or after `since`. */
  async changeRunsSince(since: Date): Promise<string[]> {
    const rows = await this.reads.use((c) => all<{ run_id: string }>(c, 'SELECT DISTINCT run_id FROM offer_changes WHERE changed_at >= $s::TIMESTAMP', { s: sqlTs(since) }));
    return rows.map((r) => r.run_id);
  }

  async syncRun(id: string): Promise<SyncRunRow | undefined> {
    const [row] = await this.reads.use((c) => all<Record<string, unknown>>(c, `SELECT ${RUN_COLUMNS} FROM sync_runs WHERE id = $id`, { id }));
    return row ? toRun(row) : undefined;
  }

  /** Newest runs first, keyset-paginated on (started_at, id). */
  async syncRuns(o: { connector?: string; limit: number; before?: { started_at: string; id: string } }): Promise<SyncRunRow[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = { n: o.limit };
    if (o.connector) { where.push('connector = $c'); params.c = o.connector; }
    if (o.before) {
      where.push('(started_at < $t::TIMESTAMP OR (started_at = $t::TIMESTAMP AND id < $i))');
      params.t = o.before.started_at.replace('T', ' ').replace('Z', '');
      params.i = o.before.id;
    }
    const rows = await this.reads.use((c) => all<Record<string, unknown>>(c,
      `SELECT ${RUN_COLUMNS} FROM sync_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT $n`, params));
    return rows.map(toRun);
  }

  /** Each connector that has a record or offers: its latest run, last success and offer counts by status. */
  async networks(): Promise<NetworkRow[]> {
    return this.reads.use(async (c) => {
      const connectors = await all<{ id: string; name: string; status: string; paused: boolean; spec_version: number }>(c, 'SELECT id, name, status, paused, spec_version FROM connectors');
      const last = await all<Record<string, unknown>>(c, `SELECT ${RUN_COLUMNS} FROM sync_runs QUALIFY row_number() OVER (PARTITION BY connector ORDER BY started_at DESC, id DESC) = 1`);
      const success = await all<{ connector: string; at: string }>(c, `SELECT connector, strftime(max(finished_at), '%Y-%m-%dT%H:%M:%S.%g') AS at FROM sync_runs WHERE status = 'succeeded' GROUP BY connector`);
      const counts = await all<{ network: string; status: string; n: number }>(c, 'SELECT network, status, count(*)::INTEGER AS n FROM offers GROUP BY network, status');
      const ids = new Set([...connectors.map((x) => x.id), ...last.map((x) => String(x.connector)), ...counts.map((x) => x.network)]);
      return [...ids].sort().map((id): NetworkRow => {
        const k = connectors.find((x) => x.id === id);
        const run = last.find((x) => x.connector === id);
        return {
          id, name: k?.name, status: k?.status, paused: Boolean(k?.paused), spec_version: k?.spec_version === undefined ? undefined : Number(k.spec_version),
          last_run: run ? toRun(run) : undefined,
          last_success_at: isoTs(success.find((x) => x.connector === id)?.at),
          offers: Object.fromEntries(counts.filter((x) => x.network === id).map((x) => [x.status, Number(x.n)])),
        };
      });
    });
  }

  async ping(): Promise<void> {
    await this.reads.use((c) => all(c, 'SELECT 1'));
  }

  async appliedMigrations(): Promise<AppliedMigration[]> {
    return this.reads.use((c) => readDuckApplied(c));
  }
}

function toState(r: unknown[]): OfferState {
  return {
    id: r[0] as string, network: r[1] as string, status: r[2] as string, data: r[3] as string, group_key: r[4] as string,
    first_seen_ms: r[5] as number, changed_ms: r[6] as number,
  };
}

export function toRun(r: Record<string, unknown>): SyncRunRow {
  const counts = typeof r.counts === 'string' ? (JSON.parse(r.counts) as Record<string, number>) : undefined;
  return {
    id: String(r.id), connector: String(r.connector), mode: String(r.mode), status: String(r.status), complete: Boolean(r.complete),
    started_at: isoTs(r.started_at as string)!, finished_at: isoTs(r.finished_at as string | null),
    duration_ms: r.duration_ms === null || r.duration_ms === undefined ? undefined : Number(r.duration_ms), counts,
  };
}

async function stream<T>(c: DuckDBConnection, sql: string, params: Record<string, string>, map: (r: unknown[]) => T, onBatch: (rows: T[]) => void | Promise<void>, batchSize: number): Promise<number> {
  const result = await c.stream(sql, params);
  let batch: T[] = [];
  let n = 0;
  for await (const rows of result.yieldRowsJs()) {
    for (const r of rows) batch.push(map(r as unknown[]));
    if (batch.length >= batchSize) { n += batch.length; await onBatch(batch); batch = []; }
  }
  if (batch.length) { n += batch.length; await onBatch(batch); }
  return n;
}
