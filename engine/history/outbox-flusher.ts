// Moves history events from the DuckDB outbox to ClickHouse. A batch (the first N events in id order) is recorded
// as in flight before it is sent and carries an insert deduplication token derived from its id range; a flush
// retried after a crash or an outage resends exactly that batch, so nothing is inserted twice, and events leave
// the outbox only after ClickHouse acknowledged them.
import type { ClickHouseClient } from '@clickhouse/client';
import type { ServingStore } from '../store/serving-store.ts';

const TABLE: Record<string, string> = { offer_version: 'offer_versions', sync_run: 'sync_runs', api_call: 'api_calls' };

export interface FlushResult { flushed: number; remaining: number; error?: string }

// One flush at a time per serving store in this process: concurrent runs each flush after their commit, and two
// flushers claiming the same batch would conflict in DuckDB (both write its in-flight record).
const flushing = new Map<string, Promise<unknown>>();

/**
 * Sends the outbox to ClickHouse. Never throws: a failure (ClickHouse down, the store busy) is returned, and the
 * events stay in the outbox for the next flush.
 */
export function flushOutbox(store: ServingStore, ch: ClickHouseClient, opts: { batchSize?: number; maxBatches?: number } = {}): Promise<FlushResult> {
  const previous = flushing.get(store.path) ?? Promise.resolve();
  const next = previous.then(() => flushSerially(store, ch, opts)).catch(async (e: Error) => ({ flushed: 0, remaining: await store.outboxSize().catch(() => -1), error: e.message }));
  flushing.set(store.path, next);
  void next.finally(() => { if (flushing.get(store.path) === next) flushing.delete(store.path); });
  return next;
}

async function flushSerially(store: ServingStore, ch: ClickHouseClient, opts: { batchSize?: number; maxBatches?: number }): Promise<FlushResult> {
  const batchSize = opts.batchSize ?? 5000;
  let flushed = 0;
  for (let i = 0; i < (opts.maxBatches ?? Infinity); i++) {
    const { first, last, events: batch } = await store.outboxBatch(batchSize);
    if (batch.length === 0) break;
    const byKind = new Map<string, Record<string, unknown>[]>();
    for (const e of batch) {
      const row = toRow(e.kind, Number(e.id), JSON.parse(e.payload));
      // Appended in place: copying the list for every event made a batch cost quadratic in its size.
      const rows = byKind.get(e.kind);
      if (rows) rows.push(row); else byKind.set(e.kind, [row]);
    }
    try {
      for (const [kind, rows] of byKind) {
        const table = TABLE[kind];
        if (!table) throw new Error(`unknown outbox event kind ${kind}`);
        await ch.insert({
          table, values: rows, format: 'JSONEachRow',
          clickhouse_settings: { insert_deduplication_token: `outbox:${kind}:${first}-${last}`, insert_deduplicate: 1, async_insert: 0 },
        });
      }
    } catch (e) {
      return { flushed, remaining: await store.outboxSize(), error: (e as Error).message };
    }
    await store.outboxDone(last);
    flushed += batch.length;
  }
  return { flushed, remaining: await store.outboxSize() };
}

function toRow(kind: string, eventId: number, p: Record<string, any>): Record<string, unknown> {
  if (kind === 'offer_version') {
    return { ...p, event_id: eventId, offer: typeof p.offer === 'string' ? p.offer : JSON.stringify(p.offer) };
  }
  if (kind === 'sync_run') {
    const counts = typeof p.counts === 'string' ? JSON.parse(p.counts) : (p.counts ?? {});
    return {
      event_id: eventId, run_id: p.run_id, connector: p.connector, mode: p.mode, status: p.status, complete: Boolean(p.complete),
      started_at: p.started_at, finished_at: p.finished_at, duration_ms: Math.max(0, Number(p.duration_ms ?? 0)), error: p.error ?? null,
      new: counts.new ?? 0, updated: counts.updated ?? 0, unchanged: counts.unchanged ?? 0, deactivated: counts.deactivated ?? 0,
      expired: counts.expired ?? 0, reactivated: counts.reactivated ?? 0, quarantined: counts.quarantined ?? 0,
      api_calls: counts.api_calls ?? 0, pages: counts.pages ?? 0, records: counts.records ?? 0,
    };
  }
  return { ...p, event_id: eventId };
}
