// One sync run of a connector: every emitting stream, for every partition, through request → decode →
// records → map → normalize → validate, into a sink. The runner decides nothing about storage; the sink
// (NDJSON for --dry-run, the stores later) receives offers, quarantined records and the run's outcome.
import pLimit from 'p-limit';
import type { ConnectorSpec, RateLimit, Stream } from '../types/connector.generated.ts';
import type { PacingRule } from '../http/rate-limit.ts';
import type { Offer } from '../types/offer.generated.ts';
import { compileExpression, ExpressionError, renderValue, type Bindings } from '../expr/jsonata.ts';
import { locateExpression } from '../spec/loader.ts';
import { ExpressionUsage, trackExpressions, type ExpressionSummary } from '../expr/usage.ts';
import { HttpRuntime, type ApiCall, type CallPacing } from '../http/runtime.ts';
import { createAuth } from '../auth/index.ts';
import type { Logger } from '../log/logger.ts';
import type { Redactor } from '../log/redact.ts';
import { parseDuration } from '../util/duration.ts';
import { RecordMapper, type QuarantineItem } from '../map/mapper.ts';
import { partitionLabel, readStream, type PageInfo, type RawRecord } from '../extract/stream-reader.ts';
import type { ConfigValues } from '../spec/config.ts';
import { BodyFailureLog, type ErrorPayload } from './error-payload.ts';
import { ReauthRequiredError } from '../auth/oauth2.ts';

export interface OfferSink {
  offers(batch: Offer[], info: PageInfo): Promise<void>;
  quarantine(items: QuarantineItem[]): Promise<void>;
}

export interface IncrementalState {
  get(connector: string, stream: string): Promise<string | number | undefined>;
}

export interface RunProgress { pages: number; records: number; offers: number; quarantined: number; filtered: number; api_calls: number }

export interface StreamOutcome { pages: number; records: number; offers: number; quarantined: number; complete: boolean; cursor?: string | number }

export interface RunResult {
  status: 'succeeded' | 'failed' | 'cancelled';
  /** True when every emitting stream returned all of its data (no page cap, no incremental window, no failure). */
  complete: boolean;
  streams: Record<string, StreamOutcome>;
  counts: RunProgress;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  error?: string;
  warnings: string[];
  /** A failed run: the redacted first bytes of the page bodies that could not be decoded. */
  error_payloads?: ErrorPayload[];
  /** A failed run whose credentials the network refused for good (OAuth invalid_grant): no retry helps. */
  reauth?: { reason: string };
  /** The expressions the run used: how many run compiled, how many on `jsonata`, and where those are. */
  expressions?: ExpressionSummary;
}

export interface RunOptions {
  spec: ConnectorSpec;
  config: ConfigValues;
  redactor: Redactor;
  logger: Logger;
  sink: OfferSink;
  baseUrlOverride?: string;
  maxPages?: number;
  streams?: string[];
  state?: IncrementalState;
  full?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  onApiCall?: (call: ApiCall) => void;
  random?: () => number;
  /** Overrides the spec's pacing and retry timing (contract tests against a local sandbox). */
  pacingOverride?: { concurrency?: number; requests?: number };
  retryOverride?: { backoffMs?: number; maxBackoffMs?: number };
}

export async function runConnector(o: RunOptions): Promise<RunResult> {
  const usage = new ExpressionUsage();
  const result = await trackExpressions(usage, () => run(o));
  result.expressions = usage.summary((source) => locateExpression(o.spec, source));
  // one line per run: its outcome, and the expressions that ran on jsonata (slower) with where they are
  const { status, complete, duration_ms, counts, error } = result;
  o.logger[status === 'succeeded' ? 'info' : 'warn']({ connector: o.spec.id, status, complete, duration_ms, counts, error, expressions: result.expressions }, 'run finished');
  return result;
}

async function run(o: RunOptions): Promise<RunResult> {
  const { spec, logger } = o;
  const started = Date.now();
  const warnings: string[] = [];
  const counts: RunProgress = { pages: 0, records: 0, offers: 0, quarantined: 0, filtered: 0, api_calls: 0 };
  const streams: Record<string, StreamOutcome> = {};
  const bodyFailures = new BodyFailureLog();
  if (spec.status === 'retired' || spec.status === 'deprecated' || spec.notice) {
    const lifecycle = spec.status && spec.status !== 'active' ? `${spec.name} is ${spec.status}${spec.successor ? `; use the "${spec.successor}" connector instead` : ''}.` : `${spec.name}:`;
    const text = `${lifecycle} ${spec.notice ?? ''}`.trim();
    warnings.push(text);
    logger.warn({ connector: spec.id, status: spec.status, successor: spec.successor }, text);
  }
  // A failing stream or partition stops the rest of the run at once instead of letting queued requests go on.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const runtime = new HttpRuntime({
    connectorId: spec.id,
    baseUrlOverride: o.baseUrlOverride,
    pacing: pacingRule(spec.rate_limit, o.pacingOverride),
    retry: {
      attempts: spec.retry?.attempts ?? 5,
      backoffMs: o.retryOverride?.backoffMs ?? parseDuration(spec.retry?.backoff, 500),
      maxBackoffMs: o.retryOverride?.maxBackoffMs ?? parseDuration(spec.retry?.max_backoff, 60_000),
      statuses: spec.retry?.statuses,
      breakerFailures: spec.retry?.breaker?.failures,
      breakerCooldownMs: o.retryOverride?.maxBackoffMs !== undefined ? Math.min(o.retryOverride.maxBackoffMs, parseDuration(spec.retry?.breaker?.cooldown, 30_000)) : parseDuration(spec.retry?.breaker?.cooldown, 30_000),
    },
    timeouts: {
      connectMs: parseDuration(spec.timeouts?.connect, 10_000),
      headersMs: parseDuration(spec.timeouts?.headers, 60_000),
      bodyMs: parseDuration(spec.timeouts?.body, 300_000),
    },
    rules: spec.response_rules ?? [],
    bindings: { config: o.config },
    redactor: o.redactor,
    logger,
    signal: stop.signal,
    random: o.random,
    onApiCall: (call) => { counts.api_calls++; o.onApiCall?.(call); },
  });
  const base: Bindings = { config: o.config };
  const finish = (status: RunResult['status'], error?: string): RunResult => {
    const emitting = Object.values(streams);
    return {
      status,
      complete: status === 'succeeded' && emitting.length > 0 && emitting.every((s) => s.complete),
      streams, counts, warnings, error,
      started_at: new Date(started).toISOString(),
      finished_at: new Date().toISOString(),
      duration_ms: Date.now() - started,
    };
  };
  try {
    runtime.auth = await createAuth(spec.auth, base, runtime, o.redactor);
    const baseUrl = String(await renderValue(spec.base_url, base));
    const ctx: StreamContext = { o, runtime, baseUrl, base, counts, parentCache: new Map(), bodyFailures };
    for (const stream of spec.streams) {
      if (stream.emit === false) continue;
      if (o.streams && !o.streams.includes(stream.name)) continue;
      if (stream.enabled !== undefined && !truthy(await renderValue(stream.enabled, base))) {
        logger.info({ connector: spec.id, stream: stream.name }, 'stream disabled by its `enabled` setting');
        continue;
      }
      streams[stream.name] = await runStream(ctx, stream);
    }
    const q = spec.quality;
    const maxRate = q?.max_quarantine_rate ?? 0.5;
    if (counts.records >= (q?.min_records ?? 100) && counts.quarantined / counts.records > maxRate) {
      const text = `${counts.quarantined} of ${counts.records} records were quarantined (${Math.round((100 * counts.quarantined) / counts.records)}%, limit ${Math.round(maxRate * 100)}%): the data looks broken, so this run is not committed and the previous offers stay live`;
      logger.error({ connector: spec.id, quarantined: counts.quarantined, records: counts.records }, text);
      return finish('failed', text);
    }
    return finish('succeeded');
  } catch (e) {
    stop.abort(e);
    const err = o.redactor.redactError(e);
    const cancelled = o.signal?.aborted === true;
    // an expression that failed the run (a guard stopped it) is named by its spec file, line and field
    const where = e instanceof ExpressionError ? locateExpression(spec, e.source) : undefined;
    if (where) err.message = `${where}: ${err.message}`;
    logger.error({ connector: spec.id, err: { message: err.message, name: err.name } }, cancelled ? 'run cancelled' : 'run failed');
    const out = finish(cancelled ? 'cancelled' : 'failed', err.message);
    if (bodyFailures.size) out.error_payloads = await bodyFailures.payloads(o.redactor);
    if (e instanceof ReauthRequiredError) out.reauth = { reason: err.message };
    return out;
  } finally {
    o.signal?.removeEventListener('abort', onOuterAbort);
    await runtime.close();
  }
}

/** The DSL's rate_limit as a pacing rule; a contract test's override replaces it. */
export function pacingRule(r: RateLimit | undefined, override?: RunOptions['pacingOverride']): PacingRule & { scope: 'connector' | 'host' } {
  if (override) return { requests: override.requests, intervalMs: 1000, concurrency: override.concurrency ?? 2, scope: 'connector' };
  return { requests: r?.requests, intervalMs: parseDuration(r?.interval, 1000), burst: r?.burst, concurrency: r?.concurrency ?? 2, scope: r?.scope ?? 'host' };
}

interface StreamContext {
  o: RunOptions;
  runtime: HttpRuntime;
  baseUrl: string;
  base: Bindings;
  counts: RunProgress;
  parentCache: Map<string, RawRecord[]>;
  bodyFailures: BodyFailureLog;
}

async function runStream(ctx: StreamContext, stream: Stream): Promise<StreamOutcome> {
  const { o } = ctx;
  const outcome: StreamOutcome = { pages: 0, records: 0, offers: 0, quarantined: 0, complete: true };
  const auth = stream.auth ? await createAuth(stream.auth, ctx.base, ctx.runtime, o.redactor) : undefined;
  const mapper = new RecordMapper(stream, o.spec.id, { baseUrl: ctx.baseUrl, timeZone: stream.timezone ?? o.spec.timezone });
  const incremental = await incrementalWindow(o, stream);
  if (incremental && incremental.start !== undefined) outcome.complete = false;
  const cursorExpr = stream.incremental ? compileExpression(stream.incremental.cursor_field) : undefined;
  let maxCursor: string | number | undefined;
  const partitions = await partitionValues(ctx, stream);
  const limit = pLimit(stream.partitions?.concurrency ?? 1);
  await Promise.all(partitions.map((partition) => limit(async () => {
    const bindings: Bindings = { ...ctx.base, partition, stream: { name: stream.name, kind: stream.kind }, incremental };
    const result = await readStream({
      spec: o.spec, stream, baseUrl: ctx.baseUrl, runtime: ctx.runtime, bindings, pacing: streamPacing(stream, o), auth,
      maxPages: o.maxPages ?? Infinity,
      onBodyError: (f) => ctx.bodyFailures.add(f),
      onPage: () => { ctx.counts.pages++; outcome.pages++; o.onProgress?.(ctx.counts); },
      onBatch: async (records, info) => {
        const offers: Offer[] = [];
        const quarantined: QuarantineItem[] = [];
        for (const record of records) {
          const r = await mapper.mapRecord(record, bindings, { partition, page: info.page });
          if (r.kind === 'offer') offers.push(r.offer);
          else if (r.kind === 'quarantine') quarantined.push(r.item);
          else ctx.counts.filtered++;
          if (cursorExpr) maxCursor = maxOf(maxCursor, await cursorExpr.evaluate(record, bindings), stream.incremental!.type);
        }
        ctx.counts.records += records.length;
        outcome.records += records.length;
        ctx.counts.offers += offers.length;
        outcome.offers += offers.length;
        ctx.counts.quarantined += quarantined.length;
        outcome.quarantined += quarantined.length;
        if (offers.length) await o.sink.offers(offers, info);
        if (quarantined.length) {
          await o.sink.quarantine(quarantined);
          for (const q of quarantined) o.logger.warn({ connector: o.spec.id, stream: stream.name, page: q.page, external_id: q.external_id, reasons: q.reasons }, 'record quarantined');
        }
        o.onProgress?.(ctx.counts);
      },
    });
    if (result.truncated) {
      outcome.complete = false;
      o.logger.warn({ connector: o.spec.id, stream: stream.name, partition: partitionLabel(partition) }, 'page limit reached: the run is partial and deactivates nothing');
    }
  })));
  if (stream.complete === false) outcome.complete = false;
  if (maxCursor !== undefined) outcome.cursor = maxCursor;
  return outcome;
}

/** Values of $partition: one undefined partition when the stream has none. */
async function partitionValues(ctx: StreamContext, stream: Stream): Promise<unknown[]> {
  const p = stream.partitions;
  if (!p) return [undefined];
  const name = p.name ?? 'value';
  const wrap = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : { [name]: v, value: v });
  if (p.values !== undefined) {
    const v = typeof p.values === 'string' ? await renderValue(p.values, ctx.base) : p.values;
    const list = v === undefined || v === null || v === '' ? [] : Array.isArray(v) ? v : String(v).split(',').map((s) => s.trim()).filter(Boolean);
    return list.map(wrap);
  }
  const parentName = p.from_stream!;
  let records = ctx.parentCache.get(parentName);
  if (!records) {
    const parent = ctx.o.spec.streams.find((s) => s.name === parentName)!;
    const collected: RawRecord[] = [];
    const parentPartitions = await partitionValues(ctx, parent);
    for (const partition of parentPartitions) {
      const bindings = { ...ctx.base, partition, stream: { name: parent.name, kind: parent.kind } };
      const filter = parent.filter ? compileExpression(parent.filter) : undefined;
      await readStream({
        spec: ctx.o.spec, stream: parent, baseUrl: ctx.baseUrl, runtime: ctx.runtime, bindings, pacing: streamPacing(parent, ctx.o),
        auth: parent.auth ? await createAuth(parent.auth, ctx.base, ctx.runtime, ctx.o.redactor) : undefined,
        maxPages: ctx.o.maxPages ?? Infinity,
        onBodyError: (f) => ctx.bodyFailures.add(f),
        onPage: () => { ctx.counts.pages++; },
        onBatch: async (batch) => {
          for (const r of batch) if (!filter || truthy(await filter.evaluate(r, bindings))) collected.push(r);
        },
      });
    }
    records = collected;
    ctx.parentCache.set(parentName, records);
  }
  const valueExpr = p.value ? compileExpression(p.value) : undefined;
  const values = [];
  for (const r of records) {
    const v = valueExpr ? await valueExpr.evaluate(r, ctx.base) : r;
    if (v !== undefined && v !== null && v !== '') values.push(wrap(v));
  }
  return values;
}

function streamPacing(stream: Stream, o: RunOptions): CallPacing | undefined {
  return stream.rate_limit ? { key: `stream:${stream.name}`, rule: pacingRule(stream.rate_limit, o.pacingOverride) } : undefined;
}

/**
 * The DSL's default `incremental.lookback`: tolerates an upstream clock 10 minutes off (or set back by that
 * much), with room for stamps in whole seconds and writes that become visible a little after their stamp.
 */
export const DEFAULT_LOOKBACK_MS = 15 * 60_000;

async function incrementalWindow(o: RunOptions, stream: Stream): Promise<{ start?: string | number; end: string } | undefined> {
  const inc = stream.incremental;
  if (!inc) return undefined;
  const end = new Date().toISOString();
  const saved = o.full ? undefined : await o.state?.get(o.spec.id, stream.name);
  const initial = inc.start ? await renderValue(inc.start, { config: o.config }) : undefined;
  const from = saved ?? (initial === '' || initial === null ? undefined : (initial as string | number | undefined));
  if (from === undefined) return { end };
  // Consecutive windows overlap by default: clocks that disagree by minutes (or get corrected) lose nothing.
  const lookback = parseDuration(inc.lookback, DEFAULT_LOOKBACK_MS);
  if ((inc.type ?? 'datetime') === 'number') return { start: Number(from), end };
  const t = Date.parse(String(from));
  if (Number.isNaN(t)) throw new Error(`incremental cursor of stream ${stream.name} is not a date: ${String(from)}`);
  return { start: new Date(t - lookback).toISOString(), end };
}

function maxOf(current: string | number | undefined, value: unknown, type: 'datetime' | 'number' = 'datetime'): string | number | undefined {
  if (value === undefined || value === null || value === '') return current;
  if (type === 'number') {
    const n = Number(value);
    if (Number.isNaN(n)) return current;
    return current === undefined || n > Number(current) ? n : current;
  }
  const t = typeof value === 'number' ? value : Date.parse(String(value));
  if (Number.isNaN(t)) return current;
  const iso = new Date(t).toISOString();
  return current === undefined || iso > String(current) ? iso : current;
}

const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0));
