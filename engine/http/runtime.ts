// The HTTP runtime every connector request goes through: base-URL override, auth, pacing, retries with
// backoff and Retry-After, response classification, redirects, timeouts, and one structured log line
// (plus an ApiCall event) per attempt. Secrets are removed from everything it logs or throws.
import { Agent, request, errors as undiciErrors } from 'undici';
import { XMLParser } from 'fast-xml-parser';
import type { Dispatcher } from 'undici';
import type { ResponseRule } from '../types/connector.generated.ts';
import type { Logger } from '../log/logger.ts';
import type { Redactor } from '../log/redact.ts';
import { sleep } from '../util/duration.ts';
import { PacerRegistry, type PacingRule } from './rate-limit.ts';
import { CircuitBreaker } from './breaker.ts';
import { backoffDelay, DEFAULT_RETRY_STATUSES } from './retry.ts';
import { apiMessage, classify, type Classification } from './response-rules.ts';

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  url: string;
  body: AsyncIterable<Uint8Array>;
}

/** A stream's own pacing: its own bucket and queue under `key`. */
export interface CallPacing { key: string; rule: PacingRule & { scope: 'connector' | 'host' } }

export interface CallContext { stream?: string; partition?: string; purpose?: 'data' | 'token' | 'job' | 'download'; rules?: ResponseRule[]; pacing?: CallPacing }

export interface ApiCall {
  connector: string;
  stream?: string;
  partition?: string;
  purpose: string;
  method: string;
  url: string;
  status?: number;
  bytes: number;
  duration_ms: number;
  attempt: number;
  started_at: string;
  outcome: Classification['action'] | 'error';
  error?: string;
}

export interface AuthApplier {
  apply(req: HttpRequest): Promise<HttpRequest>;
  /** Drops a cached credential so the next apply obtains a fresh one; false when nothing can be refreshed. */
  refresh(failed: HttpRequest): Promise<boolean>;
  /** The credential carries a timestamp (signatures): a refused request is signed again once the server's clock is known. */
  signsTime?: boolean;
}

export interface RuntimeOptions {
  connectorId: string;
  baseUrlOverride?: string;
  pacing: PacingRule & { scope: 'connector' | 'host' };
  retry: { attempts: number; backoffMs: number; maxBackoffMs: number; statuses?: number[]; breakerFailures?: number; breakerCooldownMs?: number };
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  rules: ResponseRule[];
  redactor: Redactor;
  logger: Logger;
  onApiCall?: (call: ApiCall) => void;
  signal?: AbortSignal;
  random?: () => number;
  maxErrorBodyBytes?: number;
  /** Bindings response rules may read besides the response ($config). */
  bindings?: Record<string, unknown>;
  /** Connections through this dispatcher instead of the runtime's own (e.g. an SSRF-guarded one); the caller closes it. */
  dispatcher?: Dispatcher;
}

/** What a consumer of a successful response returns: its result, and the decoded body when rules may inspect it. */
export interface Consumed<T> { result: T; body?: unknown }

type Outcome<T> =
  | { kind: 'done'; result: T }
  | { kind: 'retry'; error: Error; waitMs?: number }
  | { kind: 'refresh'; error: Error }
  | { kind: 'fail'; error: Error };

export class HttpError extends Error {
  /** The error code of an error body shaped like OAuth's (RFC 6749 5.2: {"error": "invalid_grant"}), when short and plain. */
  code?: string;
  constructor(message: string, readonly status?: number, readonly url?: string, readonly retryable = false) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A success response whose body could not be decoded; its first bytes let response rules still read the API's message. */
export class UndecodableBodyError extends Error {
  constructor(readonly original: Error, readonly rawText: string) {
    super(original.message, { cause: original });
    this.name = original.name;
  }
}

/** Raised by consumers for a body that broke mid-way (reset, truncation): the page may be fetched again. */
export class RetryableBodyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) { super(message, options); this.name = 'RetryableBodyError'; }
}

const MAX_REDIRECTS = 5;
/** Date headers have 1 s resolution and travel with latency: smaller differences are noise, not skew. */
const CLOCK_NOISE_MS = 5_000;
/** A refused signed request is signed again when the server's clock turned out this far from the one used. */
const SKEW_RESIGN_MS = 30_000;

export class HttpRuntime {
  private readonly dispatcher: Dispatcher;
  private readonly pacers: PacerRegistry;
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** Per host: how far its clock (its Date headers) is ahead of ours. */
  private readonly clockOffsets = new Map<string, number>();
  auth?: AuthApplier;

  constructor(readonly opts: RuntimeOptions) {
    this.dispatcher = opts.dispatcher ?? new Agent({
      connect: { timeout: opts.timeouts.connectMs },
      headersTimeout: opts.timeouts.headersMs,
      bodyTimeout: opts.timeouts.bodyMs,
      keepAliveTimeout: 10_000,
    });
    this.pacers = new PacerRegistry(opts.pacing);
  }

  async close(): Promise<void> {
    if (!this.opts.dispatcher) await this.dispatcher.close();
  }

  /** Applies --base-url: scheme, host and port replaced, path and query kept. */
  resolveUrl(url: string): string {
    if (!this.opts.baseUrlOverride) return url;
    const target = new URL(url);
    const base = new URL(this.opts.baseUrlOverride);
    target.protocol = base.protocol;
    target.host = base.host;
    return target.toString();
  }

  /** The time on the clock of the server that `url` reaches, as far as its Date headers told (else ours). */
  serverNow(url: string): Date {
    return new Date(Date.now() + this.clockOffset(url));
  }

  private clockOffset(url: string): number {
    try { return this.clockOffsets.get(new URL(this.resolveUrl(url)).host) ?? 0; } catch { return 0; }
  }

  private noteServerClock(host: string, date: string | string[] | undefined): void {
    const at = Date.parse(Array.isArray(date) ? date[0] : date ?? '');
    if (Number.isNaN(at)) return;
    // The header is truncated to the second: its middle is the better estimate.
    const offset = at + 500 - Date.now();
    if (Math.abs(offset) < CLOCK_NOISE_MS) this.clockOffsets.delete(host);
    else this.clockOffsets.set(host, offset);
  }

  /**
   * Sends a request with retries and hands a successful response to `consume`. `retryBody` says whether a
   * body that broke during consumption may be fetched again (true when consume emitted nothing yet).
   */
  async exchange<T>(
    req: HttpRequest,
    ctx: CallContext,
    consume: (res: HttpResponse) => Promise<Consumed<T>>,
    opts: { auth?: boolean | AuthApplier; retryBody?: boolean } = {},
  ): Promise<T> {
    const { retry } = this.opts;
    const applier = typeof opts.auth === 'object' ? opts.auth : opts.auth === false ? undefined : this.auth;
    const useAuth = applier !== undefined;
    let refreshed = false;
    let resigned = false;
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      this.opts.signal?.throwIfAborted();
      const signedOffset = this.clockOffset(req.url);
      const prepared = useAuth ? await applier.apply({ ...req, headers: { ...req.headers } }) : req;
      const outcome = await this.attempt(prepared, ctx, attempt, consume, opts.retryBody ?? true);
      if (outcome.kind === 'done') return outcome.result;
      lastError = outcome.error;
      if ((outcome.kind === 'fail' || outcome.kind === 'refresh') && useAuth && applier.signsTime && !resigned
        && Math.abs(this.clockOffset(req.url) - signedOffset) >= SKEW_RESIGN_MS) {
        // Signed with a time the server's clock disagrees with: sign again with its time, once.
        resigned = true;
        this.opts.logger.warn({ connector: this.opts.connectorId, stream: ctx.stream, clock_offset_s: Math.round(this.clockOffset(req.url) / 1000) },
          'request refused while the server clock differs from ours: signing again with the server time');
        attempt--;
        continue;
      }
      if (outcome.kind === 'fail') throw outcome.error;
      if (outcome.kind === 'refresh') {
        if (refreshed || !useAuth || !(await applier.refresh(prepared))) {
          const failed = new HttpError(this.redact(`authentication failed: ${outcome.error.message}. Check the connector's credentials.`), 401, this.redact(prepared.url));
          failed.code = (outcome.error as HttpError).code;
          throw failed;
        }
        refreshed = true;
        attempt--; // a token refresh is not a failed attempt
        continue;
      }
      if (attempt === retry.attempts) break;
      const backoff = backoffDelay(attempt, retry.backoffMs, retry.maxBackoffMs, this.opts.random);
      const wait = outcome.waitMs !== undefined ? Math.min(outcome.waitMs, retry.maxBackoffMs) : backoff;
      this.opts.logger.warn({ connector: this.opts.connectorId, stream: ctx.stream, attempt, wait_ms: wait, reason: this.redact(outcome.error.message) }, 'retrying request');
      await sleep(wait, this.opts.signal);
    }
    throw new HttpError(this.redact(`giving up after ${retry.attempts} attempts: ${lastError?.message ?? 'unknown error'}`), (lastError as HttpError)?.status, this.redact(req.url));
  }

  private async attempt<T>(
    req: HttpRequest,
    ctx: CallContext,
    attempt: number,
    consume: (res: HttpResponse) => Promise<Consumed<T>>,
    retryBody: boolean,
  ): Promise<Outcome<T>> {
    const started = performance.now();
    const startedAt = new Date().toISOString();
    let bytes = 0;
    let status: number | undefined;
    let url = this.resolveUrl(req.url);
    const log = (outcome: ApiCall['outcome'], error?: string) => {
      const call: ApiCall = {
        connector: this.opts.connectorId, stream: ctx.stream, partition: ctx.partition, purpose: ctx.purpose ?? 'data',
        method: req.method, url: this.redact(stripSecretsFromUrl(url)), status, bytes,
        duration_ms: Math.round(performance.now() - started), attempt, started_at: startedAt, outcome,
        error: error ? this.redact(error) : undefined,
      };
      this.opts.logger.info(call, 'api call');
      this.opts.onApiCall?.(call);
    };
    const host = new URL(url).host;
    const breaker = this.breaker(host);
    await breaker.admit(this.opts.signal);
    const rule = ctx.pacing?.rule ?? this.opts.pacing;
    const pacer = this.pacers.get(`${ctx.pacing?.key ?? 'connector'}:${rule.scope === 'connector' ? this.opts.connectorId : host}`, rule);
    const outcome = await pacer.limit(async (): Promise<Outcome<T>> => {
      await pacer.bucket?.take(this.opts.signal);
      let res: Dispatcher.ResponseData;
      let headers = { ...req.headers };
      let method = req.method;
      let body = req.body;
      try {
        for (let hop = 0; ; hop++) {
          res = await request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: this.dispatcher, signal: this.opts.signal });
          status = res.statusCode;
          this.noteServerClock(new URL(url).host, res.headers.date);
          const location = res.headers.location;
          if (status >= 300 && status < 400 && status !== 304 && location && hop < MAX_REDIRECTS) {
            await res.body.dump();
            const next = new URL(String(location), url);
            // Credentials never follow a redirect to another host.
            if (next.host !== new URL(url).host) { delete headers.authorization; delete headers.Authorization; }
            if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) { method = 'GET'; body = undefined; }
            url = this.resolveUrl(next.toString());
            headers = { ...headers };
            continue;
          }
          break;
        }
      } catch (e) {
        if (this.opts.signal?.aborted) throw e;
        const err = e as Error;
        log('error', describeNetworkError(err));
        return { kind: 'retry', error: new HttpError(this.redact(describeNetworkError(err)), undefined, this.redact(url), true) };
      }
      const counted = countBytes(res!.body, (n) => { bytes += n; });
      const view = { status: status!, headers: res!.headers, url };
      const isSuccessStatus = status! >= 200 && status! < 300;
      if (isSuccessStatus) {
        let consumed: Consumed<T>;
        try {
          consumed = await consume({ ...view, body: counted });
        } catch (e) {
          const err = e instanceof UndecodableBodyError ? e.original : (e as Error);
          await res!.body.dump().catch(() => undefined);
          if (e instanceof UndecodableBodyError && !isUndiciBodyError(err)) {
            // An API that answers 2xx with an error in another format (text, XML): its own rules may recognise it.
            const verdict = await classify({ ...view, body: parseErrorBody(e.rawText, res!.headers['content-type']) }, this.rulesFor(ctx), this.retryStatuses(), this.opts.bindings);
            if (verdict.rule !== undefined && verdict.action !== 'success' && verdict.action !== 'ignore') {
              log(verdict.action, verdict.message);
              return this.verdictOutcome(verdict, view.status, url);
            }
          }
          const broken = err instanceof RetryableBodyError || isUndiciBodyError(err);
          log('error', err.message);
          if (broken && retryBody) return { kind: 'retry', error: err };
          return { kind: 'fail', error: err };
        }
        const rules = this.rulesFor(ctx);
        const verdict = rules.length ? await classify({ ...view, body: consumed.body }, rules, this.retryStatuses(), this.opts.bindings) : { action: 'success' as const };
        log(verdict.action);
        if (verdict.action === 'success' || verdict.action === 'ignore') return { kind: 'done', result: consumed.result };
        return this.verdictOutcome(verdict, view.status, url);
      }
      const text = await readCapped(counted, this.opts.maxErrorBodyBytes ?? 65_536).catch(() => '');
      const errorBody = parseErrorBody(text, res!.headers['content-type']);
      const verdict = await classify({ ...view, body: errorBody }, this.rulesFor(ctx), this.retryStatuses(), this.opts.bindings);
      log(verdict.action, verdict.message);
      if (verdict.action === 'success' || verdict.action === 'ignore') {
        return { kind: 'done', result: (await consume({ ...view, body: bufferIterable(text) })).result };
      }
      const out = this.verdictOutcome(verdict, view.status, url);
      const code = (errorBody as { error?: unknown } | undefined)?.error;
      if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) out.error.code = code;
      return out;
    });
    // Server trouble (network errors, 5xx) counts towards the breaker; throttling and client errors do not.
    if (outcome.kind === 'retry' && !(outcome.error instanceof HttpError && outcome.error.status === 429)) breaker.failure();
    else if (outcome.kind === 'done') breaker.success();
    return outcome;
  }

  private breaker(host: string): CircuitBreaker {
    let b = this.breakers.get(host);
    if (!b) {
      b = new CircuitBreaker(this.opts.retry.breakerFailures ?? 8, this.opts.retry.breakerCooldownMs ?? 30_000, (ms) =>
        this.opts.logger.warn({ connector: this.opts.connectorId, host, cooldown_ms: ms }, 'circuit open: pausing requests to this host'));
      this.breakers.set(host, b);
    }
    return b;
  }

  /** How often each host's circuit opened during this run. */
  breakerOpenings(): Record<string, number> {
    return Object.fromEntries([...this.breakers].filter(([, b]) => b.opened).map(([h, b]) => [h, b.opened]));
  }

  private verdictOutcome(verdict: Classification, status: number, url: string) {
    const text = `HTTP ${status} from ${stripSecretsFromUrl(url)}${verdict.message ? `: ${verdict.message}` : ''}`;
    const error = new HttpError(this.redact(text), status, this.redact(url), verdict.action === 'retry' || verdict.action === 'rate_limited');
    switch (verdict.action) {
      case 'rate_limited': return { kind: 'retry' as const, error, waitMs: verdict.waitMs ?? this.opts.retry.backoffMs };
      case 'retry': return { kind: 'retry' as const, error, waitMs: verdict.waitMs };
      case 'refresh_token': return { kind: 'refresh' as const, error };
      default: return { kind: 'fail' as const, error };
    }
  }

  /** A stream's own rules come before the connector's. */
  private rulesFor(ctx: CallContext): ResponseRule[] {
    // A token endpoint is another API: the data API's rules would misread its OAuth errors.
    if (ctx.purpose === 'token') return [];
    return ctx.rules?.length ? [...ctx.rules, ...this.opts.rules] : this.opts.rules;
  }

  private retryStatuses(): number[] {
    return this.opts.retry.statuses ?? DEFAULT_RETRY_STATUSES;
  }

  private redact(s: string): string {
    return this.opts.redactor.redact(s);
  }
}

// Query parameters whose names say they carry credentials are masked even when the value is not a known secret.
const SECRET_PARAM = /^(api[-_]?key|apikey|key|token|access[-_]?token|secret|client[-_]?secret|password|signature|sig|auth[-_]?key|x-amz-signature|x-amz-credential|x-amz-security-token)$/i;
export function stripSecretsFromUrl(url: string): string {
  try {
    const u = new URL(url);
    let changed = false;
    for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) { u.searchParams.set(k, 'REDACTED'); changed = true; }
    // Matrix parameters (;token=...) as some APIs use in the path.
    const path = u.pathname.replace(/;([^;=/]+)=([^;/]*)/g, (m, k: string) => (SECRET_PARAM.test(k) ? ((changed = true), `;${k}=REDACTED`) : m));
    if (u.username || u.password) { u.username = ''; u.password = ''; changed = true; }
    if (!changed) return url;
    u.pathname = path;
    return u.toString();
  } catch {
    return url;
  }
}

function describeNetworkError(e: Error): string {
  const code = (e as { code?: string }).code;
  if (e instanceof undiciErrors.ConnectTimeoutError) return `connect timeout (${e.message})`;
  if (e instanceof undiciErrors.HeadersTimeoutError) return 'timed out waiting for response headers';
  if (e instanceof undiciErrors.BodyTimeoutError) return 'timed out reading the response body';
  return code ? `${code}: ${e.message}` : e.message;
}

function isUndiciBodyError(e: Error): boolean {
  return e instanceof undiciErrors.BodyTimeoutError || e instanceof undiciErrors.SocketError || e instanceof undiciErrors.RequestAbortedError
    || (e as { code?: string }).code === 'ECONNRESET' || (e as { code?: string }).code === 'UND_ERR_SOCKET';
}

async function* countBytes(body: AsyncIterable<Uint8Array>, onBytes: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of body) { onBytes(chunk.length); yield chunk; }
}

async function* bufferIterable(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text);
}

async function readCapped(body: AsyncIterable<Uint8Array>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    if (n < max) chunks.push(Buffer.from(c).subarray(0, max - n));
    n += c.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseErrorBody(text: string, contentType: string | string[] | undefined): unknown {
  const t = text.trim();
  if (!t) return undefined;
  if (t.startsWith('{') || t.startsWith('[') || String(contentType ?? '').includes('json')) {
    try { return JSON.parse(t); } catch { /* fall through to text */ }
  }
  if (t.startsWith('<') && !/<!DOCTYPE|<!ENTITY/i.test(t)) {
    try { return new XMLParser({ ignoreAttributes: false, parseTagValue: false, processEntities: true }).parse(t); } catch { /* keep the text */ }
  }
  return t;
}

export { apiMessage };
