// Copies clicks and conversions from the serving store to ClickHouse shortly after they happen (a click asks for
// a flush within a fraction of a second; a timer retries whatever is left), and runs GDPR erasures across both
// stores. Flushes and erasures are serialized, so an erasure never races a flush that read the user's rows
// before they were deleted. Batches carry a deduplication token derived from their rows, so a flush retried
// after a lost acknowledgement inserts nothing twice. ClickHouse being down loses nothing: rows stay flagged
// unexported, and an erasure stays pending, until it is back. An erasure is finished only when ClickHouse has also
// removed the parts that held the erased rows (a mutation writes new parts; the old ones linger until cleanup).
import { createHash } from 'node:crypto';
import { preErasureParts, type InteractionHistory, type PartsSnapshot } from './interaction-history.ts';
import type { ErasureVersions, InteractionStore } from './interaction-store.ts';

export interface ExporterOptions {
  intervalMs?: number;
  /** Delay between a nudge (a new click) and its flush: clicks arriving together go in one insert. */
  nudgeDelayMs?: number;
  batchSize?: number;
  /** Exported clicks older than this leave DuckDB (ClickHouse keeps them); conversions link to clicks within it. */
  clickRetentionDays?: number;
  /** How long an erasure request waits for ClickHouse before it is answered 'pending' (the erasure goes on). */
  erasureWaitMs?: number;
  onError?: (err: unknown, what: string) => void;
}

export interface ErasureResult {
  duckdb: { clicks: number; conversions: number; consents: number; quarantine: number };
  clickhouse: 'erased' | 'pending' | 'not configured';
}

export class InteractionExporter {
  private chain: Promise<unknown> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private nudgeTimer?: NodeJS.Timeout;
  private lastPrune = 0;
  private stopped = false;
  private readonly o: Required<Omit<ExporterOptions, 'onError'>> & Pick<ExporterOptions, 'onError'>;

  constructor(private readonly store: InteractionStore, private readonly history: InteractionHistory | undefined, opts: ExporterOptions = {}) {
    this.o = { intervalMs: 5000, nudgeDelayMs: 100, batchSize: 5000, clickRetentionDays: 90, erasureWaitMs: 15_000, ...opts };
  }

  start(): void {
    this.timer = setInterval(() => { void this.tick(); }, this.o.intervalMs);
    this.timer.unref();
  }

  /** Asks for a flush soon. */
  nudge(): void {
    if (this.nudgeTimer || this.stopped || !this.history) return;
    this.nudgeTimer = setTimeout(() => { this.nudgeTimer = undefined; void this.flush().catch((e) => this.o.onError?.(e, 'flush')); }, this.o.nudgeDelayMs);
    this.nudgeTimer.unref();
  }

  /** Copies every unexported click and conversion to ClickHouse. */
  flush(): Promise<{ clicks: number; conversions: number }> {
    return this.serial(async () => {
      const out = { clicks: 0, conversions: 0 };
      if (!this.history) return out;
      for (;;) {
        const clicks = await this.store.unexportedClicks(this.o.batchSize);
        if (!clicks.length) break;
        await this.history.insertClicks(clicks, `clicks:${digest(clicks.map((c) => c.seq))}`);
        await this.store.markExported('clicks', clicks.map((c) => c.seq));
        out.clicks += clicks.length;
      }
      for (;;) {
        const conversions = await this.store.unexportedConversions(this.o.batchSize);
        if (!conversions.length) break;
        // An updated conversion keeps its seq: its new receipt time makes it a new batch, not a duplicate.
        await this.history.insertConversions(conversions.map(({ seq: _seq, ...c }) => c), `conversions:${digest(conversions.map((c) => `${c.seq}@${c.received_at}`))}`);
        await this.store.markExported('conversions', conversions.map((c) => c.seq));
        out.conversions += conversions.length;
      }
      return out;
    });
  }

  /**
   * Erases a user from DuckDB at once and from ClickHouse now or, if it is unreachable or slow, as soon as it can:
   * the request is recorded (by key) in the same transaction as the DuckDB part, and the timer retries it.
   * 'erased' means ClickHouse's rows are rewritten; the erasure stays open until the parts that held them are gone.
   */
  async erase(userId: string): Promise<ErasureResult> {
    // Serialized with flushes: a flush that read the user's rows before they were deleted has inserted them
    // before the ClickHouse part runs, so the mutation sees them.
    const { key, ...duckdb } = await this.serial(() => this.store.eraseUser(userId));
    if (!this.history) {
      await this.store.erasureDone(key);
      return { duckdb, clickhouse: 'not configured' };
    }
    const applied = this.serial(() => this.applyErasure(key));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), this.o.erasureWaitMs); });
    try {
      return { duckdb, clickhouse: (await Promise.race([applied, waited])) ? 'erased' : 'pending' };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * ClickHouse's part of an erasure: rewrite the rows (skipped when none is left, as when erasing again), then
   * done once no part written before the rewrite remains. False when ClickHouse failed (the timer retries). Reads
   * the request afresh: another call may have advanced it since it was queued.
   */
  private async applyErasure(key: string): Promise<boolean> {
    const history = this.history!;
    const r = await this.store.erasureRequest(key);
    if (!r) return true;
    try {
      let versions = r.versions ?? {};
      if (!r.rewritten && (await history.countKeys(r.user_key, r.click_keys)) > 0) versions = mergeVersions(versions, await history.eraseKeys(r.user_key, r.click_keys));
      if (!r.rewritten) await this.store.erasureRewritten(key, versions);
      await this.finishIfClean(key, versions, await history.parts());
      return true;
    } catch (e) {
      await this.store.erasureFailed(key, (e as Error).message);
      this.o.onError?.(e, 'erasure');
      return false;
    }
  }

  /** Finishes an erasure whose rows are rewritten once ClickHouse has removed every part that held them. */
  private async finishIfClean(key: string, versions: ErasureVersions, parts: PartsSnapshot): Promise<void> {
    const left = preErasureParts(parts, versions);
    if (!left.length) return this.store.erasureDone(key);
    const detached = left.filter((p) => p.state === 'detached');
    await this.store.erasureWaiting(key, detached.length
      ? `detached parts written before the erasure remain (${detached.slice(0, 5).map((p) => `${p.table}/${p.name}`).join(', ')}): drop them with ALTER TABLE … DROP DETACHED PART`
      : `waiting for ClickHouse to remove ${left.length} part(s) written before the erasure (old_parts_lifetime)`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.nudgeTimer);
    await this.flush().catch((e) => this.o.onError?.(e, 'flush'));
    await this.chain;
  }

  private async tick(): Promise<void> {
    // Each on its own: rows that ClickHouse keeps refusing must not hold erasures back, nor the reverse.
    await this.flush().catch((e) => this.o.onError?.(e, 'export'));
    if (this.history) await this.advanceErasures().catch((e) => this.o.onError?.(e, 'erasure'));
    if (Date.now() - this.lastPrune > 3_600_000) {
      this.lastPrune = Date.now();
      await this.serial(() => this.store.pruneExportedClicks(new Date(Date.now() - this.o.clickRetentionDays * 86_400_000))).catch((e) => this.o.onError?.(e, 'prune'));
    }
  }

  /** Open erasures: finishes those whose old parts are gone, (re)applies those not yet rewritten. */
  private async advanceErasures(): Promise<void> {
    await this.serial(async () => {
      // Read inside the serialized step: an erasure requested meanwhile re-opens its request.
      const waiting = (await this.store.openErasures()).filter((r) => r.rewritten);
      if (!waiting.length) return;
      const parts = await this.history!.parts();
      for (const r of waiting) await this.finishIfClean(r.user_key, r.versions ?? {}, parts);
    });
    for (const r of (await this.store.openErasures()).filter((x) => !x.rewritten)) {
      // One failure is enough to know ClickHouse is unavailable: the others wait for the next tick.
      if (!(await this.serial(() => this.applyErasure(r.user_key)))) break;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** The later version of each table/replica/partition: parts must be newer than every erasure of the user. */
function mergeVersions(a: ErasureVersions, b: ErasureVersions): ErasureVersions {
  const out: ErasureVersions = {};
  for (const v of [a, b]) for (const [table, parts] of Object.entries(v)) for (const [p, n] of Object.entries(parts)) (out[table] ??= {})[p] = Math.max(out[table][p] ?? 0, n);
  return out;
}

const digest = (parts: Array<string | number>) => createHash('sha1').update(parts.join(',')).digest('hex');
