// Moves the optimizer's analytics events (impressions, scores, decisions) from the serving store's analytics
// outbox to ClickHouse: batches in id order, an insert deduplication token per batch and kind, events deleted
// only after ClickHouse acknowledged them. A batch is claimed (its id range recorded) before it is sent, so a
// retry after a failure resends exactly the same events under the same token even when new events arrived in
// between. A ClickHouse outage leaves them waiting; nothing is lost or doubled.
import type { ClickHouseClient } from '@clickhouse/client';
import type { OptimizerStore } from '../store/optimizer-store.ts';

const TABLE: Record<string, string> = { impression: 'impressions', offer_score: 'offer_scores', offer_decision: 'offer_decisions' };

export interface AnalyticsFlushResult { flushed: number; remaining: number; error?: string }

export async function flushAnalytics(store: OptimizerStore, ch: ClickHouseClient, opts: { batchSize?: number; maxBatches?: number } = {}): Promise<AnalyticsFlushResult> {
  const batchSize = opts.batchSize ?? 5000;
  let flushed = 0;
  for (let i = 0; i < (opts.maxBatches ?? Infinity); i++) {
    const claimed = await store.claimOutboxBatch(batchSize);
    if (!claimed) break;
    const { first, last, events } = claimed;
    const byKind = new Map<string, Record<string, unknown>[]>();
    for (const e of events) {
      const rows = byKind.get(e.kind) ?? [];
      rows.push({ ...(JSON.parse(e.payload) as Record<string, unknown>), event_id: Number(e.id) });
      byKind.set(e.kind, rows);
    }
    try {
      for (const [kind, values] of byKind) {
        const table = TABLE[kind];
        if (!table) throw new Error(`unknown analytics event kind ${kind}`);
        await ch.insert({
          table, values, format: 'JSONEachRow',
          clickhouse_settings: { insert_deduplication_token: `analytics:${kind}:${first}-${last}`, insert_deduplicate: 1, async_insert: 0 },
        });
      }
    } catch (e) {
      return { flushed, remaining: await store.outboxSize(), error: (e as Error).message };
    }
    await store.completeOutboxBatch(last);
    flushed += events.length;
  }
  return { flushed, remaining: await store.outboxSize() };
}
