// A connector's effective schedule (admin override, else its spec's `schedule`, else the default) and the
// arithmetic of when it runs next: cron times via croner, intervals start-to-start, jitter, failure backoff.
import { Cron } from 'croner';
import { parseDuration } from '../util/duration.ts';

export interface ScheduleInput { cron?: string | null; interval?: string | number | null }

export interface EffectiveSchedule {
  source: 'override' | 'spec' | 'default';
  cron?: string;
  intervalMs?: number;
  /** As an admin would write it: the cron pattern or the interval text. */
  text: string;
}

export class ScheduleError extends Error {
  readonly status = 400;
  constructor(message: string) { super(message); this.name = 'ScheduleError'; }
}

/** Checks a schedule and returns it resolved; exactly one of cron and interval. */
export function parseSchedule(input: ScheduleInput, source: EffectiveSchedule['source'], o: { minIntervalMs: number; timezone: string }): EffectiveSchedule {
  const hasCron = typeof input.cron === 'string' && input.cron.trim() !== '';
  const hasInterval = input.interval !== undefined && input.interval !== null && input.interval !== '';
  if (hasCron === hasInterval) throw new ScheduleError('a schedule has exactly one of cron or interval');
  if (hasCron) {
    const cron = input.cron!.trim();
    let job: Cron;
    try { job = new Cron(cron, { timezone: o.timezone }); } catch (e) { throw new ScheduleError(`invalid cron "${cron}": ${(e as Error).message}`); }
    const [a, b] = job.nextRuns(2);
    if (!a) throw new ScheduleError(`cron "${cron}" never fires`);
    if (b && b.getTime() - a.getTime() < o.minIntervalMs) throw new ScheduleError(`cron "${cron}" fires more often than every ${o.minIntervalMs} ms`);
    return { source, cron, text: cron };
  }
  let intervalMs: number;
  try { intervalMs = parseDuration(input.interval!, 0); } catch (e) { throw new ScheduleError((e as Error).message); }
  if (!(intervalMs >= o.minIntervalMs)) throw new ScheduleError(`interval ${String(input.interval)} is shorter than the minimum of ${o.minIntervalMs} ms`);
  return { source, intervalMs, text: String(input.interval) };
}

/** The next regular run strictly after `lastStart` (interval) or after `now` (cron). */
export function nextRegular(s: EffectiveSchedule, now: Date, lastStart: Date | undefined, timezone: string): Date {
  if (s.cron) return new Cron(s.cron, { timezone }).nextRun(now) ?? new Date(now.getTime() + 86_400_000);
  const due = lastStart ? lastStart.getTime() + s.intervalMs! : now.getTime();
  return new Date(Math.max(due, now.getTime()));
}

/** Typical spacing of the schedule, for jitter and backoff caps. */
export function periodMs(s: EffectiveSchedule, timezone: string): number {
  if (s.intervalMs) return s.intervalMs;
  const [a, b] = new Cron(s.cron!, { timezone }).nextRuns(2);
  return a && b ? b.getTime() - a.getTime() : 86_400_000;
}

/** Exponential backoff after `failures` consecutive failures: base, 2×base, 4×base … capped. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}
