// Backoff and Retry-After arithmetic, kept pure so tests can pin it down.

/** Exponential backoff with jitter: a random wait in [c/2, c] where c = min(max, base·2^(attempt-1)), so waits never collapse to zero. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Retry-After as delta-seconds or an HTTP date → milliseconds from now (undefined when absent or unreadable). */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export const DEFAULT_RETRY_STATUSES = [408, 425, 429, 500, 502, 503, 504];
