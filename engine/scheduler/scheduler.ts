// Runs every connector on its schedule (admin override, else the spec's `schedule`, else daily) with jitter,
// never two runs of one connector at once (an in-process guard here, the store's run lock across processes),
// exponential backoff after a failed run, and a circuit breaker: after N consecutive failed runs a connector
// stops running until a cool-down has passed, then one trial run decides (success closes, failure re-opens).
// Admins pause/resume connectors, override schedules and start runs on demand; all of it is published as events.
// A connector whose credentials the network refused for good (OAuth invalid_grant) needs re-authentication: it
// is not run again until its credentials change.
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ConnectorSpec } from '../types/connector.generated.ts';
import type { Logger } from '../log/logger.ts';
import { createLogger } from '../log/logger.ts';
import { Redactor } from '../log/redact.ts';
import { loadSpecFile } from '../spec/loader.ts';
import { listConnectorIds, specPath } from '../spec/registry.ts';
import { envConfigSource, resolveConfig, type ConfigSource } from '../spec/config.ts';
import { secretStoreConfigSource } from '../spec/secret-config.ts';
import { SecretStore } from '../store/secrets.ts';
import { sameCredentials } from '../auth/reauth.ts';
import type { ConfigValues } from '../spec/config.ts';
import { RunInProgressError, ServingStore, type CommitCounts } from '../store/serving-store.ts';
import type { AdminStore, BreakerState, ConnectorSettings, SchedulerState } from '../store/admin-store.ts';
import { syncConnector, type SyncOptions } from '../sync/sync-connector.ts';
import type { RunProgress } from '../run/runner.ts';
import { safePublish, type EventPublisher } from './events.ts';
import { TOPICS, type RunCommitted } from '../events/bus.ts';
import { backoffMs, nextRegular, parseSchedule, periodMs, ScheduleError, type EffectiveSchedule, type ScheduleInput } from './schedule.ts';

export { ScheduleError } from './schedule.ts';
export type { EffectiveSchedule, ScheduleInput } from './schedule.ts';

export type Trigger = 'schedule' | 'manual';

export interface RunSummary {
  jobId: string;
  connector: string;
  trigger: Trigger;
  full: boolean;
  actor?: string;
  runId?: string;
  /** skipped: another process holds the connector's run lock. */
  status: 'succeeded' | 'failed' | 'cancelled' | 'skipped';
  counts?: CommitCounts;
  error?: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
}

export interface RunHandle { jobId: string; connector: string; done: Promise<RunSummary> }

export interface ConnectorStatus {
  connector: string;
  name?: string;
  state: 'scheduled' | 'queued' | 'running' | 'paused' | 'breaker_open' | 'unconfigured' | 'retired' | 'invalid' | 'needs_reauth';
  /** Why the connector does not run (unconfigured, invalid spec, retired, credentials refused). */
  problem?: string;
  schedule: EffectiveSchedule | null;
  next_run_at: string | null;
  next_reason: 'schedule' | 'backoff' | 'breaker_trial' | null;
  paused: boolean;
  paused_reason: string | null;
  job?: { jobId: string; trigger: Trigger; full: boolean; state: 'queued' | 'running'; runId?: string; started_at?: string; progress?: RunProgress };
  breaker: { state: BreakerState; consecutive_failures: number; opened_at: string | null; retry_at: string | null; openings: number };
  last_attempt_at: string | null;
  last_status: string | null;
  last_error: string | null;
}

export interface SchedulerOptions {
  /** The serving store's DuckDB file; every run gets a connection of its own on it. */
  storePath: string;
  admin: AdminStore;
  clickhouse?: ClickHouseClient;
  /** engine/events/bus.ts's EventBus (or anything with publish). */
  events?: EventPublisher;
  /** Logger for one run, given the run's redactor (default: pino to stderr through that redactor). */
  logger?: (redactor: Redactor) => Logger;
  /** Connector ids to schedule (default: every folder under connectors/). */
  connectorIds?: () => string[];
  loadSpec?: (id: string) => Promise<ConnectorSpec>;
  /** Where a run's settings come from (default: environment, then the secret store). */
  configSources?: (spec: ConnectorSpec, secrets: SecretStore) => ConfigSource[];
  /** Extra sync options per connector (a base-URL override, page caps, test pacing). */
  runOptions?: (id: string) => Partial<Pick<SyncOptions, 'baseUrlOverride' | 'maxPages' | 'pacingOverride' | 'retryOverride' | 'missedRunsToDeactivate'>>;
  /** Used when neither the admin nor the spec sets a schedule (default every 24 h). */
  defaultSchedule?: ScheduleInput;
  /** Shortest allowed interval (default 1 min). */
  minIntervalMs?: number;
  /** Time zone of cron patterns (default UTC). */
  timezone?: string;
  /** Upper bound of the random delay added to scheduled runs (default: 10% of the period, at most 5 min). */
  jitterMs?: number;
  /** Runs of different connectors at the same time (default 2). */
  maxConcurrent?: number;
  breaker?: { failures?: number; cooldownMs?: number };
  backoff?: { baseMs?: number; maxMs?: number };
  /** How often progress events are published per run (default 500 ms). */
  progressEveryMs?: number;
  /** How often the connector list, specs and settings are re-read (default 5 min). */
  refreshEveryMs?: number;
  /** Called after a run's changes are committed, before history is flushed (enrichment, the optimizer). */
  onCommitted?: (runId: string, counts: CommitCounts) => void;
  /** Called after every run (the health monitor re-evaluates the connector). */
  onRunFinished?: (summary: RunSummary) => void | Promise<void>;
  random?: () => number;
  now?: () => Date;
}

export class AlreadyRunningError extends Error {
  readonly status = 409;
  constructor(connector: string, readonly jobId: string) {
    super(`${connector} is already queued or running (job ${jobId}); runs of one connector never overlap`);
    this.name = 'AlreadyRunningError';
  }
}

export class UnknownConnectorError extends Error {
  readonly status = 404;
  constructor(id: string) { super(`unknown connector "${id}"`); this.name = 'UnknownConnectorError'; }
}

interface Entry {
  id: string;
  spec?: ConnectorSpec;
  schedule: EffectiveSchedule | null;
  settings?: ConnectorSettings;
  problem?: { state: 'unconfigured' | 'retired' | 'invalid' | 'needs_reauth'; message: string };
  timer?: NodeJS.Timeout;
  nextAt?: Date;
  nextReason?: ConnectorStatus['next_reason'];
}

interface Job {
  jobId: string;
  connector: string;
  trigger: Trigger;
  full: boolean;
  actor?: string;
  state: 'queued' | 'running';
  abort: AbortController;
  startedAt?: Date;
  runId?: string;
  progress?: RunProgress;
  done: Promise<RunSummary>;
}

const MAX_TIMER_MS = 2_147_000_000;

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly jobs = new Map<string, Job>();
  private readonly states = new Map<string, SchedulerState>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;
  private started = false;
  private refreshTimer?: NodeJS.Timeout;
  private configStore?: ServingStore;
  private logger?: Logger;
  private resolving: Promise<unknown> = Promise.resolve();
  private readonly o: Required<Pick<SchedulerOptions, 'minIntervalMs' | 'timezone' | 'maxConcurrent' | 'progressEveryMs' | 'refreshEveryMs'>> & SchedulerOptions;
  private readonly now: () => Date;
  private readonly random: () => number;

  constructor(opts: SchedulerOptions) {
    this.o = { minIntervalMs: 60_000, timezone: 'UTC', maxConcurrent: 2, progressEveryMs: 500, refreshEveryMs: 5 * 60_000, ...opts };
    this.now = opts.now ?? (() => new Date());
    this.random = opts.random ?? Math.random;
  }

  private get failuresToOpen(): number { return this.o.breaker?.failures ?? 5; }
  private get cooldownMs(): number { return this.o.breaker?.cooldownMs ?? 3_600_000; }

  // ---- lifecycle ------------------------------------------------------------------------------------------

  /** Loads connectors, settings and state, and arms every connector's timer. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.refresh();
    this.refreshTimer = setInterval(() => { void this.refresh().catch((e) => this.log().error({ err: e }, 'scheduler refresh failed')); }, this.o.refreshEveryMs);
    this.refreshTimer.unref();
  }

  /** Stops scheduling; waits for runs in progress (aborting them first when asked). */
  async stop(o: { abortRunning?: boolean } = {}): Promise<void> {
    this.started = false;
    clearInterval(this.refreshTimer);
    for (const e of this.entries.values()) clearTimeout(e.timer);
    if (o.abortRunning) for (const j of this.jobs.values()) j.abort.abort(new Error('scheduler stopped'));
    await Promise.all([...this.jobs.values()].map((j) => j.done));
    this.configStore?.close();
    this.configStore = undefined;
  }

  /**
   * Re-reads the connector list (or one connector): spec, admin settings, persisted state; then re-plans.
   * Call it after a spec, secret or wizard change so the scheduler sees it at once.
   */
  async refresh(id?: string): Promise<void> {
    const ids = id ? [id] : this.connectorIds();
    if (!id) for (const known of [...this.entries.keys()]) if (!ids.includes(known)) { clearTimeout(this.entries.get(known)!.timer); this.entries.delete(known); }
    const settings = new Map((await this.o.admin.connectorSettings(id)).map((s) => [s.connector, s]));
    for (const s of await this.o.admin.schedulerStates()) if (!id || s.connector === id) this.states.set(s.connector, s);
    for (const cid of ids) {
      const entry = this.entries.get(cid) ?? { id: cid, schedule: null };
      this.entries.set(cid, entry);
      entry.settings = settings.get(cid);
      await this.load(entry);
      if (!this.jobs.has(cid)) await this.plan(entry);
    }
  }

  // ---- admin actions -------------------------------------------------------------------------------------

  /**
   * Starts a run now (queued behind the concurrency limit). Refused when the connector is already queued or
   * running. Runs regardless of pause and of an open breaker: an explicit request is a trial run.
   */
  async runNow(id: string, o: { full?: boolean; actor?: string } = {}): Promise<RunHandle> {
    const entry = await this.entryFor(id);
    const running = this.jobs.get(id);
    if (running) throw new AlreadyRunningError(id, running.jobId);
    // Credentials may have been replaced since the mark was read.
    if (entry.problem?.state === 'needs_reauth') await this.load(entry);
    if (entry.problem && entry.problem.state !== 'retired') throw new Error(`${id} cannot run: ${entry.problem.message}`);
    const job = this.enqueue(entry, 'manual', o.full ?? false, o.actor);
    return { jobId: job.jobId, connector: id, done: job.done };
  }

  /** Aborts a queued or running run of the connector; false when none is. */
  cancel(id: string, reason = 'cancelled by an admin'): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    job.abort.abort(new Error(reason));
    return true;
  }

  async pause(id: string, o: { by: string; reason?: string }): Promise<ConnectorStatus> {
    const entry = await this.entryFor(id);
    entry.settings = await this.o.admin.upsertConnectorSettings(id, { paused: true, paused_reason: o.reason ?? null }, o.by, this.now());
    await this.plan(entry);
    safePublish(this.o.events, 'scheduler.connector', { connector: id, paused: true, by: o.by });
    return this.statusOf(entry);
  }

  async resume(id: string, o: { by: string }): Promise<ConnectorStatus> {
    const entry = await this.entryFor(id);
    entry.settings = await this.o.admin.upsertConnectorSettings(id, { paused: false, paused_reason: null }, o.by, this.now());
    await this.plan(entry);
    safePublish(this.o.events, 'scheduler.connector', { connector: id, paused: false, by: o.by });
    return this.statusOf(entry);
  }

  /** Overrides the connector's schedule (null: back to the spec's). Throws ScheduleError for a bad schedule. */
  async setSchedule(id: string, schedule: ScheduleInput | null, o: { by: string }): Promise<ConnectorStatus> {
    const entry = await this.entryFor(id);
    if (schedule) parseSchedule(schedule, 'override', this.o);
    const patch = schedule
      ? { schedule_cron: schedule.cron ?? null, schedule_interval: schedule.interval === undefined || schedule.interval === null ? null : String(schedule.interval) }
      : { schedule_cron: null, schedule_interval: null };
    entry.settings = await this.o.admin.upsertConnectorSettings(id, patch, o.by, this.now());
    await this.load(entry);
    if (!this.jobs.has(id)) await this.plan(entry);
    safePublish(this.o.events, 'scheduler.connector', { connector: id, schedule: entry.schedule, by: o.by });
    return this.statusOf(entry);
  }

  /** Closes an open breaker by hand (after fixing credentials, say): the next run is scheduled normally. */
  async resetBreaker(id: string): Promise<ConnectorStatus> {
    const entry = await this.entryFor(id);
    const s = this.stateOf(id);
    await this.saveState({ ...s, consecutive_failures: 0, breaker: 'closed', breaker_opened_at: null, breaker_retry_at: null });
    safePublish(this.o.events, 'scheduler.breaker', { connector: id, state: 'closed', reason: 'reset by an admin' });
    if (!this.jobs.has(id)) await this.plan(entry);
    return this.statusOf(entry);
  }

  status(): ConnectorStatus[] {
    return [...this.entries.values()].sort((a, b) => a.id.localeCompare(b.id)).map((e) => this.statusOf(e));
  }

  connectorStatus(id: string): ConnectorStatus | undefined {
    const e = this.entries.get(id);
    return e && this.statusOf(e);
  }

  // ---- planning ------------------------------------------------------------------------------------------

  private connectorIds(): string[] {
    return this.o.connectorIds ? this.o.connectorIds() : listConnectorIds();
  }

  private async entryFor(id: string): Promise<Entry> {
    let entry = this.entries.get(id);
    if (!entry) {
      if (!this.connectorIds().includes(id)) throw new UnknownConnectorError(id);
      await this.refresh(id);
      entry = this.entries.get(id)!;
    }
    return entry;
  }

  /** Spec, effective schedule and whether the connector can run at all (spec valid, settings complete, not retired). */
  private async load(entry: Entry): Promise<void> {
    entry.problem = undefined;
    let spec: ConnectorSpec;
    try {
      spec = await (this.o.loadSpec ? this.o.loadSpec(entry.id) : loadSpecFile(specPath(entry.id)).then((l) => l.spec));
      entry.spec = spec;
    } catch (e) {
      entry.spec = undefined;
      entry.schedule = null;
      entry.problem = { state: 'invalid', message: (e as Error).message.split('\n')[0] };
      return;
    }
    const s = entry.settings;
    try {
      entry.schedule = s && (s.schedule_cron || s.schedule_interval)
        ? parseSchedule({ cron: s.schedule_cron, interval: s.schedule_interval }, 'override', this.o)
        : spec.schedule && (spec.schedule.cron || spec.schedule.interval !== undefined)
          ? parseSchedule(spec.schedule, 'spec', this.o)
          : parseSchedule(this.o.defaultSchedule ?? { interval: '24h' }, 'default', this.o);
    } catch (e) {
      entry.schedule = null;
      entry.problem = { state: 'invalid', message: `schedule: ${(e as Error).message}` };
      return;
    }
    if (spec.status === 'retired') {
      entry.problem = { state: 'retired', message: `${spec.name} is retired${spec.successor ? `; use ${spec.successor}` : ''}` };
      return;
    }
    let config: ConfigValues;
    try {
      config = await this.resolve(spec, new Redactor());
    } catch (e) {
      entry.problem = { state: 'unconfigured', message: (e as Error).message };
      return;
    }
    const mark = await this.withConfigStore((store) => store.needsReauth(spec.id));
    if (!mark) return;
    if (mark.fingerprint && !sameCredentials(mark.fingerprint, spec, config)) {
      // New credentials (the environment changed, say): try them.
      await this.withConfigStore((store) => store.clearNeedsReauth(spec.id));
      safePublish(this.o.events, 'scheduler.connector', { connector: spec.id, needs_reauth: false, reason: 'credentials changed' });
      return;
    }
    entry.problem = { state: 'needs_reauth', message: mark.reason };
  }

  /** Settings of a run; one resolution at a time, as they share the scheduler's store connection. */
  private resolve(spec: ConnectorSpec, redactor: Redactor) {
    return this.withConfigStore((store) => {
      const secrets = new SecretStore(store);
      const sources = this.o.configSources ? this.o.configSources(spec, secrets) : [envConfigSource(), secretStoreConfigSource(secrets)];
      return resolveConfig(spec, sources, redactor);
    });
  }

  /** One operation at a time on the scheduler's own store connection. */
  private withConfigStore<T>(fn: (store: ServingStore) => Promise<T>): Promise<T> {
    const next = this.resolving.then(async () => {
      this.configStore ??= await ServingStore.open(this.o.storePath);
      return fn(this.configStore);
    });
    this.resolving = next.catch(() => undefined);
    return next;
  }

  /** Arms the connector's timer for its next run: breaker trial, backoff retry, or regular schedule. */
  private async plan(entry: Entry): Promise<void> {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.nextAt = undefined;
    entry.nextReason = null;
    if (!entry.schedule || entry.problem || entry.settings?.paused) return;
    const now = this.now();
    const state = this.stateOf(entry.id);
    const lastStart = state.last_attempt_at ? new Date(state.last_attempt_at) : await this.lastRunStart(entry.id);
    let at: Date;
    let reason: NonNullable<ConnectorStatus['next_reason']>;
    if (state.breaker !== 'closed') {
      at = new Date(Math.max(now.getTime(), Date.parse(state.breaker_retry_at ?? now.toISOString())));
      reason = 'breaker_trial';
    } else {
      const regular = nextRegular(entry.schedule, now, lastStart, this.o.timezone);
      const period = periodMs(entry.schedule, this.o.timezone);
      at = new Date(regular.getTime() + this.jitter(period));
      reason = 'schedule';
      if (state.consecutive_failures > 0 && lastStart) {
        const retry = new Date(Math.max(now.getTime(), lastStart.getTime() + backoffMs(state.consecutive_failures, this.o.backoff?.baseMs ?? 60_000, Math.min(this.o.backoff?.maxMs ?? 3_600_000, period))));
        if (retry < at) { at = retry; reason = 'backoff'; }
      }
    }
    entry.nextAt = at;
    entry.nextReason = reason;
    if (!this.started) return;
    const arm = () => {
      const wait = entry.nextAt!.getTime() - this.now().getTime();
      entry.timer = setTimeout(() => {
        if (entry.nextAt!.getTime() - this.now().getTime() > 0) return arm();
        this.fire(entry);
      }, Math.min(Math.max(wait, 0), MAX_TIMER_MS));
      entry.timer.unref();
    };
    arm();
  }

  private jitter(period: number): number {
    const max = this.o.jitterMs ?? Math.min(300_000, period * 0.1);
    return max > 0 ? Math.floor(this.random() * max) : 0;
  }

  private async lastRunStart(id: string): Promise<Date | undefined> {
    const [r] = await this.o.admin.lastRuns(id, 1);
    return r ? new Date(r.started_at) : undefined;
  }

  /** The timer fired: run unless something changed since it was armed. */
  private fire(entry: Entry): void {
    entry.timer = undefined;
    if (!this.started || entry.problem || entry.settings?.paused) return;
    const running = this.jobs.get(entry.id);
    if (running) {
      // The run in progress re-plans when it ends; a second one is never started next to it.
      safePublish(this.o.events, 'sync.skipped', { connector: entry.id, reason: 'the previous run is still going', jobId: running.jobId });
      return;
    }
    this.enqueue(entry, 'schedule', false);
  }

  // ---- running ---------------------------------------------------------------------------------------------

  private enqueue(entry: Entry, trigger: Trigger, full: boolean, actor?: string): Job {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const job = { jobId: randomUUID(), connector: entry.id, trigger, full, actor, state: 'queued', abort: new AbortController() } as Job;
    this.jobs.set(entry.id, job);
    safePublish(this.o.events, 'sync.queued', { connector: entry.id, jobId: job.jobId, trigger, full, actor });
    job.done = this.execute(entry, job).finally(() => {
      this.jobs.delete(entry.id);
      void this.plan(entry).catch((e) => this.log().error({ err: e, connector: entry.id }, 'scheduler could not plan the next run'));
    });
    return job;
  }

  private async slot(signal: AbortSignal): Promise<void> {
    if (this.active < this.o.maxConcurrent) { this.active++; return; }
    await new Promise<void>((resolve, reject) => {
      const go = () => { signal.removeEventListener('abort', onAbort); this.active++; resolve(); };
      const onAbort = () => { const i = this.waiting.indexOf(go); if (i >= 0) this.waiting.splice(i, 1); reject(signal.reason); };
      this.waiting.push(go);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  private async execute(entry: Entry, job: Job): Promise<RunSummary> {
    const queuedAt = this.now();
    const summary = (status: RunSummary['status'], extra: Partial<RunSummary> = {}): RunSummary => {
      const finished = this.now();
      const started = job.startedAt ?? queuedAt;
      return { jobId: job.jobId, connector: entry.id, trigger: job.trigger, full: job.full, actor: job.actor, runId: job.runId, status, started_at: started.toISOString(), finished_at: finished.toISOString(), duration_ms: finished.getTime() - started.getTime(), ...extra };
    };
    try {
      await this.slot(job.abort.signal);
    } catch (e) {
      const out = summary('cancelled', { error: (e as Error).message });
      safePublish(this.o.events, 'sync.finished', out);
      return out;
    }
    let result: RunSummary;
    try {
      result = await this.runJob(entry, job, summary);
    } catch (e) {
      result = summary('failed', { error: (e as Error).message });
    } finally {
      this.release();
    }
    if (result.status !== 'skipped') await this.afterRun(entry, job, result).catch((e) => this.log().error({ err: e, connector: entry.id }, 'scheduler could not record the run outcome'));
    safePublish(this.o.events, 'sync.finished', result);
    try { await this.o.onRunFinished?.(result); } catch (e) { this.log().error({ err: e, connector: entry.id }, 'onRunFinished hook failed'); }
    return result;
  }

  private async runJob(entry: Entry, job: Job, summary: (s: RunSummary['status'], extra?: Partial<RunSummary>) => RunSummary): Promise<RunSummary> {
    // Fresh spec and settings for every run: an edited spec takes effect at the next run.
    await this.load(entry);
    if (!entry.spec || (entry.problem && entry.problem.state !== 'retired')) return summary('failed', { error: entry.problem?.message ?? 'no spec' });
    const spec = entry.spec;
    const redactor = new Redactor();
    const config = await this.resolve(spec, redactor);
    job.state = 'running';
    job.startedAt = this.now();
    const state = this.stateOf(entry.id);
    const trial = state.breaker !== 'closed';
    await this.saveState({ ...state, breaker: trial ? 'half_open' : state.breaker, last_attempt_at: job.startedAt.toISOString() });
    if (trial) safePublish(this.o.events, 'scheduler.breaker', { connector: entry.id, state: 'half_open' });
    safePublish(this.o.events, 'sync.started', { connector: entry.id, jobId: job.jobId, trigger: job.trigger, full: job.full, actor: job.actor, started_at: job.startedAt.toISOString() });
    const store = await ServingStore.open(this.o.storePath);
    let lastProgress = 0;
    let lookedUp = false;
    try {
      const out = await syncConnector({
        spec, config, redactor, store, clickhouse: this.o.clickhouse, full: job.full,
        logger: this.o.logger ? this.o.logger(redactor) : createLogger({ redactor }),
        signal: job.abort.signal,
        ...this.o.runOptions?.(entry.id),
        // Subscribers (read models, GraphQL subscriptions) learn of the commit before history is flushed.
        onCommitted: (runId, counts) => {
          this.o.events?.publish(TOPICS.runCommitted, { runId, counts, at: this.now().toISOString() } satisfies RunCommitted);
          this.o.onCommitted?.(runId, counts);
        },
        onProgress: (p) => {
          job.progress = { ...p };
          if (!lookedUp) {
            lookedUp = true;
            void this.o.admin.lockedRunId(entry.id).then((r) => { job.runId ??= r; }, () => undefined);
          }
          const t = Date.now();
          if (t - lastProgress < this.o.progressEveryMs) return;
          lastProgress = t;
          safePublish(this.o.events, 'sync.progress', { connector: entry.id, jobId: job.jobId, runId: job.runId, progress: job.progress });
        },
      });
      job.runId = out.runId;
      if (out.result.reauth) {
        // Not scheduled again until its credentials change (checked by every load).
        entry.problem = { state: 'needs_reauth', message: out.result.reauth.reason };
        safePublish(this.o.events, 'scheduler.connector', { connector: entry.id, needs_reauth: true, reason: out.result.reauth.reason });
      }
      return summary(out.result.status, { runId: out.runId, counts: out.counts, error: out.result.error });
    } catch (e) {
      if (e instanceof RunInProgressError) return summary('skipped', { error: e.message });
      throw e;
    } finally {
      store.close();
    }
  }

  /** Failure count and breaker after a run; a cancelled run changes neither. */
  private async afterRun(entry: Entry, job: Job, r: RunSummary): Promise<void> {
    const s = this.stateOf(entry.id);
    const now = this.now();
    if (r.status === 'cancelled') {
      await this.saveState({ ...s, breaker: s.breaker === 'half_open' ? 'open' : s.breaker, last_status: r.status, last_error: r.error ?? null });
      return;
    }
    if (r.status === 'succeeded') {
      const wasOpen = s.breaker !== 'closed';
      await this.saveState({ ...s, consecutive_failures: 0, breaker: 'closed', breaker_opened_at: null, breaker_retry_at: null, last_status: r.status, last_error: null });
      if (wasOpen) safePublish(this.o.events, 'scheduler.breaker', { connector: entry.id, state: 'closed', jobId: job.jobId });
      return;
    }
    const failures = s.consecutive_failures + 1;
    const open = s.breaker === 'half_open' || s.breaker === 'open' || failures >= this.failuresToOpen;
    const next: SchedulerState = { ...s, consecutive_failures: failures, last_status: r.status, last_error: r.error ?? null };
    if (open) {
      const retry = new Date(now.getTime() + this.cooldownMs);
      Object.assign(next, { breaker: 'open', breaker_opened_at: now.toISOString(), breaker_retry_at: retry.toISOString(), breaker_openings: s.breaker_openings + 1 });
      this.log().warn({ connector: entry.id, failures, retry_at: retry.toISOString() }, 'circuit breaker open: the connector pauses until the cool-down has passed');
      safePublish(this.o.events, 'scheduler.breaker', { connector: entry.id, state: 'open', failures, retry_at: retry.toISOString(), error: r.error });
    }
    await this.saveState(next);
  }

  private stateOf(id: string): SchedulerState {
    return this.states.get(id) ?? {
      connector: id, consecutive_failures: 0, breaker: 'closed', breaker_opened_at: null, breaker_retry_at: null, breaker_openings: 0,
      last_attempt_at: null, last_status: null, last_error: null, updated_at: this.now().toISOString(),
    };
  }

  private async saveState(s: SchedulerState): Promise<void> {
    const next = { ...s, updated_at: this.now().toISOString() };
    this.states.set(s.connector, next);
    await this.o.admin.saveSchedulerState(next, this.now());
  }

  private statusOf(e: Entry): ConnectorStatus {
    const s = this.stateOf(e.id);
    const job = this.jobs.get(e.id);
    const paused = e.settings?.paused ?? false;
    const breaker = s.breaker === 'open' && s.breaker_retry_at && Date.parse(s.breaker_retry_at) <= this.now().getTime() ? 'half_open' : s.breaker;
    const state: ConnectorStatus['state'] = job ? job.state
      : e.problem ? e.problem.state
        : paused ? 'paused'
          : s.breaker !== 'closed' ? 'breaker_open' : 'scheduled';
    return {
      connector: e.id, name: e.spec?.name, state, problem: e.problem?.message, schedule: e.schedule,
      next_run_at: e.nextAt?.toISOString() ?? null, next_reason: e.nextReason ?? null,
      paused, paused_reason: e.settings?.paused_reason ?? null,
      job: job && { jobId: job.jobId, trigger: job.trigger, full: job.full, state: job.state, runId: job.runId, started_at: job.startedAt?.toISOString(), progress: job.progress },
      breaker: { state: breaker, consecutive_failures: s.consecutive_failures, opened_at: s.breaker_opened_at, retry_at: s.breaker_retry_at, openings: s.breaker_openings },
      last_attempt_at: s.last_attempt_at, last_status: s.last_status, last_error: s.last_error,
    };
  }

  private log(): Logger {
    this.logger ??= this.o.logger ? this.o.logger(new Redactor()) : createLogger({ redactor: new Redactor() });
    return this.logger;
  }
}
