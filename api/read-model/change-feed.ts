// Keeps the read model in step with the serving store and turns each committed run into offer change events.
// Sources of "a run committed": the event bus (the sync engine's onCommitted hook, milliseconds after commit),
// and a poll of the store's change log for runs the bus did not announce (syncs in another process, admin hide,
// rollbacks; every `pollMs`). Either way the run's changed offers are read back in their current state and
// applied; runs already applied are skipped, and applying one twice would be harmless anyway.
import type { Logger } from 'pino';
import type { EventBus, RunCommitted } from '../../engine/events/bus.ts';
import { TOPICS } from '../../engine/events/bus.ts';
import type { OfferChange, OfferQueries, SyncRunRow } from '../../engine/store/offer-queries.ts';
import type { Offer } from '../../engine/types/offer.generated.ts';
import type { OfferIndex } from './offer-index.ts';

export type ChangeOp = 'insert' | 'update' | 'reactivate' | 'deactivate' | 'expire' | 'hide';

export interface OfferChangeEvent {
  op: ChangeOp;
  id: string;
  run_id: string;
  /** Public after the change (insert, update, reactivate) or gone from the public feed. */
  visible: boolean;
  offer: Offer;
  status: string;
  first_seen_ms: number;
  changed_ms: number;
  group_key: string;
}

export type ChangeListener = (events: OfferChangeEvent[], runId: string) => void;
export type RunListener = (run: SyncRunRow) => void;

export interface ChangeFeedOptions {
  pollMs?: number;
  /** How far back the poll looks for unannounced runs (longer than the slowest commit). */
  windowMs?: number;
  logger?: Logger;
}

export class ChangeFeed {
  private readonly applied = new Map<string, number>();
  private readonly changeListeners = new Set<ChangeListener>();
  private readonly runListeners = new Set<RunListener>();
  private queue: Promise<void> = Promise.resolve();
  private pollTimer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private stopped = false;
  ready = false;
  loadedAt?: Date;
  lastError?: string;

  constructor(private readonly queries: OfferQueries, readonly index: OfferIndex, private readonly bus: EventBus, private readonly o: ChangeFeedOptions = {}) {}

  onChanges(l: ChangeListener): () => void { this.changeListeners.add(l); return () => this.changeListeners.delete(l); }
  onRunFinished(l: RunListener): () => void { this.runListeners.add(l); return () => this.runListeners.delete(l); }

  /** Subscribes, loads every public offer, then applies what was announced meanwhile. */
  async start(): Promise<void> {
    const windowMs = this.o.windowMs ?? 15 * 60_000;
    this.unsubscribe = this.bus.subscribe<RunCommitted>(TOPICS.runCommitted, (p) => { void this.enqueue(p.runId, true); });
    // Runs already in the change log are part of the snapshot loaded next.
    for (const id of await this.queries.changeRunsSince(new Date(Date.now() - windowMs))) this.applied.set(id, Date.now());
    // The load runs in the queue: runs announced meanwhile are applied after it, never under it (the snapshot
    // would otherwise overwrite their newer state).
    const load = this.queue.then(() => this.load());
    this.queue = load.catch(() => undefined);
    await load;
    const poll = () => {
      if (this.stopped) return;
      void this.poll(windowMs).finally(() => { if (!this.stopped) this.pollTimer = setTimeout(poll, this.o.pollMs ?? 2000).unref(); });
    };
    this.pollTimer = setTimeout(poll, this.o.pollMs ?? 2000).unref();
  }

  private async load(): Promise<void> {
    const started = performance.now();
    let n = 0;
    await this.index.bulk(async () => {
      n = await this.queries.streamPublicOffers(async (rows) => {
        this.index.apply(rows);
        await new Promise((r) => setImmediate(r)); // let requests (health checks) through between batches
      });
    });
    this.ready = true;
    this.loadedAt = new Date();
    this.o.logger?.info({ offers: n, ms: Math.round(performance.now() - started), vocabulary: this.index.search.vocabulary }, 'read model loaded');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    this.unsubscribe?.();
    await this.queue;
  }

  /** Resolves once everything queued so far is applied (tests, graceful shutdown). */
  idle(): Promise<void> { return this.queue; }

  private async poll(windowMs: number): Promise<void> {
    try {
      const now = Date.now();
      for (const [id, at] of this.applied) if (now - at > 2 * windowMs) this.applied.delete(id);
      for (const id of await this.queries.changeRunsSince(new Date(now - windowMs))) if (!this.applied.has(id)) void this.enqueue(id, false);
      this.lastError = undefined;
    } catch (e) {
      this.lastError = (e as Error).message;
      this.o.logger?.warn({ err: e }, 'change feed poll failed');
    }
  }

  private enqueue(runId: string, announced: boolean): Promise<void> {
    this.queue = this.queue.then(() => this.applyRun(runId, announced)).catch((e) => {
      this.applied.delete(runId); // the poll retries it
      this.lastError = (e as Error).message;
      this.o.logger?.error({ err: e, run_id: runId }, 'applying a run to the read model failed');
    });
    return this.queue;
  }

  private async applyRun(runId: string, announced: boolean): Promise<void> {
    if (this.applied.has(runId) || this.stopped) return;
    this.applied.set(runId, Date.now());
    let total = 0;
    await this.queries.streamRunChanges(runId, async (rows) => {
      total += rows.length;
      const events = this.apply(rows, runId);
      if (events.length) for (const l of this.changeListeners) l(events, runId);
      await new Promise((r) => setImmediate(r));
    });
    const run = await this.queries.syncRun(runId);
    if (run) for (const l of this.runListeners) l(run);
    this.o.logger?.debug({ run_id: runId, changed: total, announced }, 'run applied to the read model');
  }

  private apply(rows: OfferChange[], runId: string): OfferChangeEvent[] {
    const changes = this.index.apply(rows);
    const events: OfferChangeEvent[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const c = changes[i];
      if (!c.isPublic && !c.wasPublic) continue; // never visible, nothing for the public to see
      const op = opOf(row, c.wasPublic, c.isPublic);
      events.push({
        op, id: row.id, run_id: runId, visible: c.isPublic, offer: JSON.parse(row.data) as Offer, status: row.status,
        first_seen_ms: row.first_seen_ms, changed_ms: row.changed_ms, group_key: row.group_key,
      });
    }
    return events;
  }
}

function opOf(row: OfferChange, wasPublic: boolean, isPublic: boolean): ChangeOp {
  if (isPublic) return !wasPublic ? (row.ops.includes('insert') ? 'insert' : 'reactivate') : 'update';
  if (row.status === 'expired') return 'expire';
  if (row.status === 'hidden') return 'hide';
  return 'deactivate';
}
