// Request pacing per connector and host: a token bucket for "N requests per interval" and a p-limit
// queue for requests in flight. Both are shared by every stream and partition of a run.
import pLimit, { type LimitFunction } from 'p-limit';
import { sleep } from '../util/duration.ts';

export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly ratePerMs: number, private readonly capacity: number) {
    this.tokens = capacity;
  }

  /** Resolves when a request may start; callers are served in order. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = performance.now();
        this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.ratePerMs);
        this.last = now;
        if (this.tokens >= 1) { this.tokens -= 1; return; }
        await sleep(Math.ceil((1 - this.tokens) / this.ratePerMs), signal);
      }
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

export interface Pacer { bucket?: TokenBucket; limit: LimitFunction }

export interface PacingRule { requests?: number; intervalMs: number; burst?: number; concurrency: number }

export class PacerRegistry {
  private readonly pacers = new Map<string, Pacer>();
  constructor(private readonly rule: PacingRule) {}

  get(key: string, rule: PacingRule = this.rule): Pacer {
    let p = this.pacers.get(key);
    if (!p) {
      const { requests, intervalMs, burst, concurrency } = rule;
      p = {
        bucket: requests ? new TokenBucket(requests / intervalMs, burst ?? requests) : undefined,
        limit: pLimit(concurrency),
      };
      this.pacers.set(key, p);
    }
    return p;
  }
}
