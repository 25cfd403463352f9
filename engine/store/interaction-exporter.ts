// Copies clicks and conversions from the serving store to ClickHouse shortly after they happen (a click asks for
// a flush within a fraction of a second; a timer retries whatever is left), and runs GDPR erasures across both
// stores. Flushes and erasures are serialized, so an erasure never races a flush that read the user's rows
// before they were deleted. Batches carry a deduplication token derived from their rows, so a flush retried
// after a lost acknowledgement inserts nothing twice. ClickHouse being down loses nothing: rows stay flagged
// unexported, and an erasure stays pending, until it is back.
import { createHash } from 'node:crypto';
import type { InteractionHistory } from './interaction-history.ts';
import type { InteractionStore } from './interaction-store.ts';

export interface ExporterOptions {
  intervalMs?: number;
  /** Delay between a nudge (a new click) and its flush: clicks arriving together go in one insert. */
  nudgeDelayMs?: number;
  batchSize?: number;
  /** Exported clicks older than this leave DuckDB (ClickHouse keeps them); conversions link to clicks within it. */
  clickRetentionDays?: number;
  onError?: (err: unknown, what: string) => void;
}

export interface ErasureResult {
  duckdb: { clicks: number; conversions: number; consents: number };
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
    this.o = { intervalMs: 5000, nudgeDelayMs: 100, batchSize: 5000, clickRetentionDays: 90, ...opts };
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

  /** Erases a user from DuckDB at once and from ClickHouse now or, if it is unreachable, as soon as it is back. */
  erase(userId: string): Promise<ErasureResult> {
    return this.serial(async () => {
      const clickIds = (await this.store.userData(userId)).clicks.map((c) => c.click_id);
      const duckdb = await this.store.eraseUser(userId);
      if (!this.history) {
        await this.store.erasureDone(userId);
        return { duckdb, clickhouse: 'not configured' as const };
      }
      try {
        await this.history.eraseUser(userId, clickIds);
        await this.store.erasureDone(userId);
        return { duckdb, clickhouse: 'erased' as const };
      } catch (e) {
        await this.store.erasureFailed(userId, (e as Error).message);
        this.o.onError?.(e, 'erasure');
        return { duckdb, clickhouse: 'pending' as const };
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.nudgeTimer);
    await this.flush().catch((e) => this.o.onError?.(e, 'flush'));
    await this.chain;
  }

  private async tick(): Promise<void> {
    try {
      await this.flush();
      if (this.history) {
        for (const userId of await this.store.pendingErasures()) {
          await this.serial(async () => {
            try { await this.history!.eraseUser(userId, []); await this.store.erasureDone(userId); } catch (e) { await this.store.erasureFailed(userId, (e as Error).message); throw e; }
          });
        }
      }
      if (Date.now() - this.lastPrune > 3_600_000) {
        this.lastPrune = Date.now();
        await this.serial(() => this.store.pruneExportedClicks(new Date(Date.now() - this.o.clickRetentionDays * 86_400_000)));
      }
    } catch (e) {
      this.o.onError?.(e, 'export');
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

const digest = (parts: Array<string | number>) => createHash('sha1').update(parts.join(',')).digest('hex');
