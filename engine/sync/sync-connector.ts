// A real sync: run the connector into the serving store's stage, then commit (or abort) the run in one
// transaction, then push the run's history to ClickHouse. ClickHouse being down never fails a sync: the
// events wait in the outbox and are replayed by the next flush.
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConnectorSpec } from '../types/connector.generated.ts';
import type { Offer } from '../types/offer.generated.ts';
import type { Logger } from '../log/logger.ts';
import type { Redactor } from '../log/redact.ts';
import type { ApiCall } from '../http/runtime.ts';
import type { QuarantineItem } from '../map/mapper.ts';
import { runConnector, type OfferSink, type RunOptions, type RunResult } from '../run/runner.ts';
import type { ConfigValues } from '../spec/config.ts';
import type { CommitCounts, ServingStore } from '../store/serving-store.ts';
import { flushOutbox, type FlushResult } from '../history/outbox-flusher.ts';
import { stableStringify } from '../store/offer-identity.ts';

const STAGE_BATCH = 20_000;
const MAX_KEPT_QUARANTINE = 10_000;

export interface SyncOptions extends Pick<RunOptions, 'baseUrlOverride' | 'maxPages' | 'streams' | 'signal' | 'onProgress' | 'pacingOverride' | 'retryOverride'> {
  spec: ConnectorSpec;
  config: ConfigValues;
  redactor: Redactor;
  logger: Logger;
  store: ServingStore;
  clickhouse?: ClickHouseClient;
  full?: boolean;
  missedRunsToDeactivate?: number;
  /** Called after the commit, before history is flushed (change events for subscribers). */
  onCommitted?: (runId: string, counts: CommitCounts) => void | Promise<void>;
}

export interface SyncOutcome { runId: string; result: RunResult; counts: CommitCounts; committed: boolean; history?: FlushResult }

class StageSink implements OfferSink {
  private buffer: Offer[] = [];
  private seq = 0;
  readonly quarantined: QuarantineItem[] = [];

  constructor(private readonly store: ServingStore, private readonly runId: string) {}

  async offers(batch: Offer[]): Promise<void> {
    this.buffer.push(...batch);
    if (this.buffer.length >= STAGE_BATCH) await this.flush();
  }

  async quarantine(items: QuarantineItem[]): Promise<void> {
    for (const q of items) if (this.quarantined.length < MAX_KEPT_QUARANTINE) this.quarantined.push(q);
  }

  async flush(): Promise<void> {
    if (!this.buffer.length) return;
    const batch = this.buffer;
    this.buffer = [];
    await this.store.stageOffers(this.runId, batch, this.seq);
    this.seq += batch.length;
  }
}

export async function syncConnector(o: SyncOptions): Promise<SyncOutcome> {
  await o.store.recordSpec(o.spec, stableStringify(o.spec));
  const incremental = !o.full && o.spec.streams.some((s) => s.incremental);
  const runId = await o.store.beginRun(o.spec.id, incremental ? 'incremental' : 'full');
  const sink = new StageSink(o.store, runId);
  const apiCalls: ApiCall[] = [];
  let result: RunResult;
  try {
    result = await runConnector({
      spec: o.spec, config: o.config, redactor: o.redactor, logger: o.logger.child({ run_id: runId }), sink,
      baseUrlOverride: o.baseUrlOverride, maxPages: o.maxPages, streams: o.streams, signal: o.signal, onProgress: o.onProgress,
      pacingOverride: o.pacingOverride, retryOverride: o.retryOverride, full: o.full,
      state: { get: (connector, stream) => o.store.incrementalCursor(connector, stream) },
      onApiCall: (c) => apiCalls.push(c),
    });
    if (result.status === 'succeeded') await sink.flush();
  } catch (e) {
    const message = o.redactor.redact((e as Error).message);
    result = { status: 'failed', complete: false, streams: {}, counts: { pages: 0, records: 0, offers: 0, quarantined: 0, filtered: 0, api_calls: apiCalls.length }, started_at: new Date().toISOString(), finished_at: new Date().toISOString(), duration_ms: 0, error: message, warnings: [] };
  }
  // A run limited to some streams never saw the others' offers, so it cannot deactivate anything.
  if (o.streams) result.complete = false;
  const extras = { apiCalls, quarantine: sink.quarantined };
  let counts: CommitCounts;
  let committed = false;
  if (result.status === 'succeeded') {
    counts = await o.store.commitRun(runId, o.spec.id, result, extras, { missedRunsToDeactivate: o.missedRunsToDeactivate ?? 1 });
    committed = true;
    await o.onCommitted?.(runId, counts);
  } else {
    await o.store.abortRun(runId, o.spec.id, result, extras);
    counts = { new: 0, updated: 0, unchanged: 0, deactivated: 0, expired: 0, reactivated: 0, quarantined: result.counts.quarantined, api_calls: apiCalls.length, pages: result.counts.pages, records: result.counts.records };
  }
  let history: FlushResult | undefined;
  if (o.clickhouse) {
    history = await flushOutbox(o.store, o.clickhouse);
    if (history.error) o.logger.warn({ run_id: runId, remaining: history.remaining, error: history.error }, 'ClickHouse unavailable: history kept in the outbox for replay');
  }
  return { runId, result, counts, committed, history };
}
