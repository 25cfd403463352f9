// Reads one stream for one partition: request → decode → select records → hand batches on, page after page.
// Request streams paginate; file streams download one feed; job streams create a report, poll, then download.
import type { ConnectorSpec, Stream } from '../types/connector.generated.ts';
import { compileExpression, renderStringMap, renderValue, type Bindings } from '../expr/jsonata.ts';
import { decodeBody, type DecoderSpec } from '../decode/index.ts';
import { HttpError, UndecodableBodyError, type AuthApplier, type CallPacing, type HttpRequest, type HttpResponse, type HttpRuntime } from '../http/runtime.ts';
import { parseDuration, sleep } from '../util/duration.ts';
import { buildRequest } from './request-builder.ts';
import { fingerprint, Paginator, type PageState } from './paginator.ts';
import type { BodyFailure } from '../run/error-payload.ts';

export type RawRecord = Record<string, unknown>;

export interface PageInfo { stream: string; partition?: unknown; page: number; url: string }

export interface ReadOptions {
  spec: ConnectorSpec;
  stream: Stream;
  baseUrl: string;
  runtime: HttpRuntime;
  bindings: Bindings;
  maxPages: number;
  onBatch: (records: RawRecord[], info: PageInfo) => Promise<void>;
  onPage?: (info: PageInfo) => void;
  pacing?: CallPacing;
  /** The stream's own auth, when it has one. */
  auth?: AuthApplier;
  /** A page body broke while being decoded (malformed, truncated, bad compression): its first bytes, for the error record. */
  onBodyError?: (failure: BodyFailure) => void;
}

export interface ReadResult { pages: number; records: number; truncated: boolean }

const DOCUMENT_FORMATS = new Set(['json', 'xml']);

export async function readStream(o: ReadOptions): Promise<ReadResult> {
  if (o.stream.job) return readJob(o);
  if (o.stream.file) {
    const url = String(await renderValue(o.stream.file.url, o.bindings));
    const headers = await renderStringMap({ ...(o.spec.headers ?? {}), ...(o.stream.file.headers ?? {}) }, o.bindings);
    return readDownload(o, { method: 'GET', url: new URL(url, o.baseUrl).toString(), headers });
  }
  return readPages(o);
}

async function readPages(o: ReadOptions): Promise<ReadResult> {
  const pagination = o.stream.pagination && typeof o.stream.pagination.page_size === 'string'
    ? { ...o.stream.pagination, page_size: pageSizeOf(await renderValue(o.stream.pagination.page_size, o.bindings), o.stream.name) }
    : o.stream.pagination;
  const paginator = new Paginator(pagination, o.maxPages, o.bindings);
  let state: PageState | undefined = paginator.first();
  let pages = 0;
  let records = 0;
  while (state) {
    const { injected, url } = paginator.inject(state);
    const bindings = { ...o.bindings, page: state };
    const built = await buildRequest(o.stream.request!, o.baseUrl, bindings, injected, o.spec.headers);
    const req: HttpRequest = url ? { ...built, url: mergeAuthlessUrl(url, built.url, o.stream.request?.query !== undefined) } : built;
    const info: PageInfo = { stream: o.stream.name, partition: o.bindings.partition, page: state.index + 1, url: req.url };
    const page = await fetchPage(o, req, info);
    pages++;
    records += page.recordCount;
    o.onPage?.(info);
    state = await paginator.next(state, page);
  }
  return { pages, records, truncated: paginator.truncated };
}

// A next URL from the API is followed as given; only parameters it lacks are carried over (auth keys in the query, say).
function mergeAuthlessUrl(nextUrl: string, built: string, keepQuery: boolean): string {
  if (!keepQuery) return nextUrl;
  const next = new URL(nextUrl);
  for (const [k, v] of new URL(built).searchParams) if (!next.searchParams.has(k)) next.searchParams.set(k, v);
  return next.toString();
}

interface FetchedPage { status: number; headers: HttpResponse['headers']; url: string; body?: unknown; recordCount: number; fingerprint?: string }

async function fetchPage(o: ReadOptions, req: HttpRequest, info: PageInfo): Promise<FetchedPage> {
  const decoder = (o.stream.decoder ?? { format: 'json' }) as DecoderSpec;
  const documentFormat = DOCUMENT_FORMATS.has(decoder.format) && !decoder.xml?.record_tag;
  let bodyAttempt = 0;
  return o.runtime.exchange<FetchedPage & { deliver: () => Promise<void> }>(req, { stream: o.stream.name, partition: partitionLabel(o.bindings.partition), rules: o.stream.response_rules, pacing: o.pacing }, async (res) => {
    const meta = { status: res.status, headers: res.headers, url: res.url };
    // No content (204, or an empty 2xx body) is a page without records: it ends pagination, it does not fail.
    if (res.status === 204 || header(res.headers['content-length']) === '0') {
      for await (const _ of res.body) { /* drain */ }
      return { result: { ...meta, body: undefined, recordCount: 0, fingerprint: undefined, deliver: async () => undefined } };
    }
    const head = keepHead(res.body);
    const attempt = ++bodyAttempt;
    const broken = (e: Error) => {
      // A run being stopped cuts bodies short on purpose: that is not what the network sent.
      if (o.runtime.opts.signal?.aborted || head.bytes() === 0) return;
      o.onBodyError?.({ info: { ...info, url: res.url }, error: e, head: head.raw(), bytes: head.bytes(), attempt, status: res.status, contentType: header(res.headers['content-type']) });
    };
    const decoded = await decodeBody(head.body, decoder, { contentType: header(res.headers['content-type']), contentEncoding: header(res.headers['content-encoding']), url: res.url })
      .catch((e: Error) => {
        if (head.bytes() === 0) return undefined;
        broken(e);
        throw new UndecodableBodyError(e, head.text());
      });
    if (!decoded) return { result: { ...meta, body: undefined, recordCount: 0, fingerprint: undefined, deliver: async () => undefined } };
    if (decoded.kind === 'document') {
      const records = await selectRecords(o.stream.records, decoded.value, { ...o.bindings, headers: res.headers });
      // Hand records on only after the whole page decoded, so a broken page can be fetched again.
      return {
        result: { ...meta, body: decoded.value, recordCount: records.length, fingerprint: fingerprint(records), deliver: () => deliver(o, records, info) },
        body: decoded.value,
      };
    }
    let count = 0;
    for await (const batch of reportingFailures(decoded.batches, broken)) {
      count += batch.length;
      await o.onBatch(batch, info);
    }
    return { result: { ...meta, recordCount: count, deliver: async () => undefined } };
  }, { retryBody: documentFormat, auth: streamAuth(o) }).then(async (page) => {
    await page.deliver();
    return page;
  });
}

const streamAuth = (o: ReadOptions): boolean | AuthApplier => (o.stream.authenticate === false ? false : o.auth ?? true);

/** Record batches of a streamed body; an error of the decoder itself (not of the consumer of a batch) is reported first. */
async function* reportingFailures<T>(batches: AsyncIterable<T>, report: (e: Error) => void): AsyncGenerator<T> {
  const it = batches[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try { next = await it.next(); } catch (e) { report(e as Error); throw e; }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await it.return?.();
  }
}

const HEAD_BYTES = 65_536;

/** Passes the body through while keeping its first bytes, so an undecodable answer can still be shown to response rules. */
function keepHead(body: AsyncIterable<Uint8Array>): { body: AsyncIterable<Uint8Array>; text(): string; raw(): Buffer; bytes(): number } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  return {
    body: (async function* () {
      for await (const c of body) {
        total += c.length;
        if (kept < HEAD_BYTES) { chunks.push(Buffer.from(c.subarray(0, HEAD_BYTES - kept))); kept += Math.min(c.length, HEAD_BYTES - kept); }
        yield c;
      }
    })(),
    text: () => Buffer.concat(chunks).toString('utf8'),
    raw: () => Buffer.concat(chunks),
    bytes: () => total,
  };
}

function pageSizeOf(v: unknown, stream: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`stream ${stream}: pagination.page_size must render to a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function deliver(o: ReadOptions, records: RawRecord[], info: PageInfo): Promise<void> {
  const BATCH = 1000;
  for (let i = 0; i < records.length; i += BATCH) await o.onBatch(records.slice(i, i + BATCH), info);
}

export async function selectRecords(expr: string | undefined, doc: unknown, bindings: Bindings): Promise<RawRecord[]> {
  const value = expr ? await compileExpression(expr).evaluate(doc, bindings) : doc;
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((r): r is RawRecord => r !== null && typeof r === 'object');
}

async function readDownload(o: ReadOptions, req: HttpRequest): Promise<ReadResult> {
  const info: PageInfo = { stream: o.stream.name, partition: o.bindings.partition, page: 1, url: req.url };
  const page = await fetchPage(o, req, info);
  o.onPage?.(info);
  return { pages: 1, records: page.recordCount, truncated: false };
}

async function readJob(o: ReadOptions): Promise<ReadResult> {
  const job = o.stream.job!;
  const ctx = { stream: o.stream.name, purpose: 'job' as const, rules: o.stream.response_rules, pacing: o.pacing };
  const auth = { auth: streamAuth(o) };
  const created = await o.runtime.exchange(await buildRequest(job.create, o.baseUrl, o.bindings, undefined, o.spec.headers), ctx, readJson, auth);
  const id = job.job_id ? await compileExpression(job.job_id).evaluate(created, o.bindings) : undefined;
  const bindings = { ...o.bindings, job: { id, created } };
  const deadline = Date.now() + parseDuration(job.timeout, 30 * 60_000);
  const interval = parseDuration(job.interval, 5_000);
  for (;;) {
    const status = await o.runtime.exchange(await buildRequest(job.poll, o.baseUrl, bindings, undefined, o.spec.headers), ctx, readJson, auth);
    const b = { ...bindings, body: status };
    if (job.failed && truthy(await compileExpression(job.failed).evaluate(status, b))) {
      throw new HttpError(`report job ${String(id ?? '')} failed: ${JSON.stringify(status).slice(0, 300)}`);
    }
    if (!job.done || truthy(await compileExpression(job.done).evaluate(status, b))) {
      const url = job.download_url ? await compileExpression(job.download_url).evaluate(status, b) : undefined;
      if (typeof url !== 'string' || !url) throw new HttpError(`report job ${String(id ?? '')} finished without a download URL`);
      const headers = await renderStringMap(o.spec.headers, bindings);
      return readDownload({ ...o, bindings }, { method: 'GET', url: new URL(url, o.baseUrl).toString(), headers });
    }
    if (Date.now() > deadline) throw new HttpError(`report job ${String(id ?? '')} not done after ${job.timeout ?? '30m'}`);
    await sleep(interval, o.runtime.opts.signal);
  }
}

async function readJson(res: HttpResponse): Promise<{ result: unknown; body: unknown }> {
  const decoded = await decodeBody(res.body, { format: 'json' }, { contentType: header(res.headers['content-type']), contentEncoding: header(res.headers['content-encoding']) });
  const value = decoded.kind === 'document' ? decoded.value : undefined;
  return { result: value, body: value };
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0));

export function partitionLabel(p: unknown): string | undefined {
  if (p === undefined) return undefined;
  return typeof p === 'object' ? JSON.stringify(p) : String(p);
}
