// A circuit breaker per host: after a burst of consecutive failures (network errors, 5xx) requests to that
// host pause for a cool-down instead of hammering a struggling server; the next success closes it again.
import { sleep } from '../util/duration.ts';

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  opened = 0;

  constructor(private readonly threshold: number, private readonly cooldownMs: number, private readonly onOpen?: (ms: number) => void) {}

  /** Waits while the circuit is open. */
  async admit(signal?: AbortSignal): Promise<void> {
    const wait = this.openUntil - Date.now();
    if (wait > 0) await sleep(wait, signal);
  }

  success(): void {
    this.failures = 0;
  }

  failure(): void {
    this.failures++;
    if (this.failures >= this.threshold && Date.now() >= this.openUntil) {
      this.openUntil = Date.now() + this.cooldownMs;
      this.opened++;
      // Half-open: the first request after the cool-down decides; one more failure re-opens at once.
      this.failures = this.threshold - 1;
      this.onOpen?.(this.cooldownMs);
    }
  }
}
