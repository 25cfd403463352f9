// A real sync: run the connector into the serving store's stage, then commit (or abort) the run in one
// transaction, then push the run's history to ClickHouse. ClickHouse being down never fails a sync: the
// events wait in the outbox and are replayed by the next flush. A failed run keeps the redacted bodies of the
// pages that broke it; credentials refused for good mark the connector as needing re-authentication.
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
import { credentialFingerprint } from '../auth/reauth.ts';

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

/** The data directory ran out of space (or the process out of its file-size limit) while the store was written. */
export class StoreFullError extends Error {
  constructor(path: string, detail: string) {
    const why = /EFBIG|File too large/i.test(detail)
      ? `its files may not grow any further (${detail}: a file size limit, see ulimit -f)`
      : `the disk of its data directory is full (${detail})`;
    super(`the serving store ${path} could not be written: ${why}. `
      + 'The run was rolled back and the offers being served are unchanged; free space (or point OFFERFEED_DATA_DIR elsewhere) and run the sync again.');
    this.name = 'StoreFullError';
  }
}

const DISK_FULL = /No space left on device|ENOSPC|EFBIG|File too large/i;

/** A clear error for a store write that failed because the disk is full; anything else unchanged. */
export function storeWriteError(e: unknown, path: string): unknown {
  const message = e instanceof Error ? e.message : String(e);
  const m = DISK_FULL.exec(message);
  return m && !(e instanceof StoreFullError) ? new StoreFullError(path, m[0]) : e;
}

class StageSink implements OfferSink {
  private buffer: Offer[] = [];
  private seq = 0;
  // The previous batch's insert: DuckDB runs it on its own threads while the runner fetches and maps the next
  // pages. One at a time, and awaited before anything else uses the store's connection.
  private pending: Promise<void> = Promise.resolve();
  readonly quarantined: QuarantineItem[] = [];

  constructor(private readonly store: ServingStore, private readonly runId: string) {}

  async offers(batch: Offer[]): Promise<void> {
    for (const o of batch) this.buffer.push(o);
    if (this.buffer.length >= STAGE_BATCH) await this.flush(false);
  }

  async quarantine(items: QuarantineItem[]): Promise<void> {
    for (const q of items) if (this.quarantined.length < MAX_KEPT_QUARANTINE) this.quarantined.push(q);
  }

  /** Stages what is buffered; `wait` (the end of the run) also waits until every batch is in the stage. */
  async flush(wait = true): Promise<void> {
    if (this.buffer.length) {
      const batch = this.buffer;
      this.buffer = [];
      const seq = this.seq;
      this.seq += batch.length;
      // A failed insert surfaces here, at the next batch, or at the final flush.
      await this.pending;
      this.pending = this.store.stageOffers(this.runId, batch, seq);
      this.pending.catch(() => undefined);
    }
    if (wait) await this.pending;
  }

  /** Resolves once no insert is running on the store's connection (whether it succeeded or not). */
  idle(): Promise<void> {
    return this.pending.catch(() => undefined);
  }
}

// Runs whose end could not be written (disk full): their lock belongs to this live process, so no other run
// would take it over; the next sync of the connector in this process ends them first.
const unreleased = new Map<string, string>();
const unreleasedKey = (store: ServingStore, connector: string) => `${store.path}\0${connector}`;

async function releaseRun(store: ServingStore, runId: string, connector: string, error: string): Promise<void> {
  try {
    await store.releaseRun(runId, error);
    unreleased.delete(unreleasedKey(store, connector));
  } catch {
    unreleased.set(unreleasedKey(store, connector), runId);
  }
}

/** Failure diagnostics are best effort: they never keep the run from being recorded as failed. */
async function recordDiagnostics(o: SyncOptions, runId: string, result: RunResult): Promise<void> {
  try {
    if (result.error_payloads?.length) await o.store.recordErrorPayloads(runId, o.spec.id, result.error_payloads);
  } catch (e) {
    o.logger.warn({ connector: o.spec.id, run_id: runId, err: (e as Error).message }, 'could not keep the payloads of the broken pages');
  }
  if (!result.reauth) return;
  try {
    await o.store.markNeedsReauth(o.spec.id, { reason: result.reauth.reason, runId, fingerprint: credentialFingerprint(o.spec, o.config) });
    o.logger.error({ connector: o.spec.id, run_id: runId }, 'credentials refused: the connector needs re-authentication and is not scheduled until its credentials change');
  } catch (e) {
    o.logger.error({ connector: o.spec.id, run_id: runId, err: (e as Error).message }, 'credentials refused, and the re-authentication mark could not be stored');
  }
}

export async function syncConnector(o: SyncOptions): Promise<SyncOutcome> {
  const stale = unreleased.get(unreleasedKey(o.store, o.spec.id));
  if (stale) {
    try { await o.store.releaseRun(stale, 'the run could not be recorded when it ended (the store could not be written)'); } catch (e) { throw storeWriteError(e, o.store.path); }
    unreleased.delete(unreleasedKey(o.store, o.spec.id));
  }
  const incremental = !o.full && o.spec.streams.some((s) => s.incremental);
  let runId: string;
  try {
    await o.store.recordSpec(o.spec, stableStringify(o.spec));
    runId = await o.store.beginRun(o.spec.id, incremental ? 'incremental' : 'full');
  } catch (e) { throw storeWriteError(e, o.store.path); }
  const sink = new StageSink(o.store, runId);
  const apiCalls: ApiCall[] = [];
  let result: RunResult;
  try {
    result = await runConnector({
      spec: o.spec, config: o.config, redactor: o.redactor, logger: o.logger.child({ run_id: runId }), sink,
      baseUrlOverride: o.baseUrlOverride, maxPages: o.maxPages, streams: o.streams, signal: o.signal, onProgress: o.onProgress,
      pacingOverride: o.pacingOverride, retryOverride: o.retryOverride, full: o.full,
      state: { get: async (connector, stream) => { await sink.idle(); return o.store.incrementalCursor(connector, stream); } },
      onApiCall: (c) => apiCalls.push(c),
    });
    if (result.status === 'succeeded') await sink.flush();
  } catch (e) {
    const full = storeWriteError(e, o.store.path);
    if (full instanceof StoreFullError) e = full;
    const message = o.redactor.redact((e as Error).message);
    result = { status: 'failed', complete: false, streams: {}, counts: { pages: 0, records: 0, offers: 0, quarantined: 0, filtered: 0, api_calls: apiCalls.length }, started_at: new Date().toISOString(), finished_at: new Date().toISOString(), duration_ms: 0, error: message, warnings: [] };
  }
  await sink.idle();
  // A run limited to some streams never saw the others' offers, so it cannot deactivate anything.
  if (o.streams) result.complete = false;
  const extras = { apiCalls, quarantine: sink.quarantined };
  // A stage write that failed inside the run (its message names the store's file, unlike an upstream's error text).
  const fullDisk = result.status !== 'succeeded' && result.error?.includes(o.store.path) ? DISK_FULL.exec(result.error) : null;
  if (fullDisk) result.error = new StoreFullError(o.store.path, fullDisk[0]).message;
  let counts: CommitCounts;
  let committed = false;
  try {
    if (result.status === 'succeeded') {
      counts = await o.store.commitRun(runId, o.spec.id, result, extras, { missedRunsToDeactivate: o.missedRunsToDeactivate ?? 1 });
      committed = true;
    } else {
      await recordDiagnostics(o, runId, result);
      await o.store.abortRun(runId, o.spec.id, result, extras);
      counts = { new: 0, updated: 0, unchanged: 0, deactivated: 0, expired: 0, reactivated: 0, quarantined: result.counts.quarantined, api_calls: apiCalls.length, pages: result.counts.pages, records: result.counts.records };
    }
  } catch (e) {
    // The store rolled the transaction back: nothing of this run is served. Its lock must not outlive it.
    const err = storeWriteError(e, o.store.path);
    o.logger.error({ connector: o.spec.id, run_id: runId, err: o.redactor.redact((err as Error).message) }, 'the end of the run could not be recorded');
    await releaseRun(o.store, runId, o.spec.id, o.redactor.redact((err as Error).message));
    throw err;
  }
  if (committed) {
    // The run authenticated: whatever re-authentication was pending is done.
    await o.store.clearNeedsReauth(o.spec.id).catch((e: Error) => o.logger.warn({ connector: o.spec.id, err: e.message }, 'could not clear the re-authentication mark'));
    await o.onCommitted?.(runId, counts);
  }
  let history: FlushResult | undefined;
  if (o.clickhouse) {
    history = await flushOutbox(o.store, o.clickhouse);
    if (history.error) o.logger.warn({ run_id: runId, remaining: history.remaining, error: history.error }, 'ClickHouse unavailable: history kept in the outbox for replay');
  }
  return { runId, result, counts, committed, history };
}
