// The generic sandbox every connector uses: serves the sample responses in connectors/<id>/sandbox/ on
// 127.0.0.1, enforcing the connector's own auth scheme (its OAuth token endpoint included) with the
// sandbox's credentials, and optionally injecting throttling and failures once per page. Signed requests are
// checked against the sandbox's clock as real networks do (a signature date more than `signature_max_skew` away
// is refused), and that clock can be set off from the machine's to test clock skew.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { Auth, ConnectorSpec } from '../types/connector.generated.ts';
import { loadSpecFile } from '../spec/loader.ts';
import { specPath } from '../spec/registry.ts';
import { renderStringMap, renderValue, type Bindings } from '../expr/jsonata.ts';
import { signSigV4 } from '../auth/sigv4.ts';
import { digest } from '../auth/signature.ts';
import { parseDuration } from '../util/duration.ts';

export interface SandboxResponse {
  status?: number;
  headers?: Record<string, string>;
  body_file?: string;
  body?: unknown;
  gzip?: boolean;
}

export interface SandboxRoute extends SandboxResponse {
  /** Served without credentials (for streams with `authenticate: false`). */
  public?: boolean;
  method?: string;
  path: string;
  match?: { query?: Record<string, string | null>; body?: Record<string, unknown>; headers?: Record<string, string> };
}

export interface SandboxDefinition {
  config?: string;
  /** The network's real response to a request without valid credentials. */
  unauthorized?: SandboxResponse;
  /** The token endpoint's success body (an access token is generated when absent). */
  token?: SandboxResponse;
  /** Header carrying the signature date, for the `signature` auth recipe. */
  signature_date_header?: string;
  /** How far a signature's date (signature recipe, SigV4) may be from the sandbox's clock; default 5m, as AWS. */
  signature_max_skew?: string | number;
  routes: SandboxRoute[];
  expect?: { quarantined?: number };
}

export interface SandboxOptions {
  port?: number; faults?: 'once-per-page'; dir?: string; spec?: ConnectorSpec;
  /** The sandbox's clock runs this far ahead of the machine's (negative: behind); its Date headers show it. */
  clockOffsetMs?: number;
}

export interface RunningSandbox {
  url: string;
  port: number;
  dir: string;
  configFile: string;
  config: Record<string, unknown>;
  definition: SandboxDefinition;
  /** Requests served, for tests that assert on traffic. */
  requests: Array<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

export async function loadSandbox(id: string): Promise<{ spec: ConnectorSpec; dir: string; definition: SandboxDefinition; config: Record<string, unknown>; configFile: string }> {
  const { spec, dir: specDir } = await loadSpecFile(specPath(id));
  const dir = join(specDir, 'sandbox');
  const definition = parseYaml(await readFile(join(dir, 'routes.yaml'), 'utf8')) as SandboxDefinition;
  if (!definition || !Array.isArray(definition.routes)) throw new Error(`${join(dir, 'routes.yaml')} must have a routes list`);
  const configFile = join(dir, definition.config ?? 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  return { spec, dir, definition, config, configFile };
}

export async function startSandbox(id: string, opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const { spec, dir, definition, config, configFile } = await loadSandbox(id);
  return serveSandbox(spec, dir, definition, config, configFile, opts);
}

export async function serveSandbox(
  spec: ConnectorSpec, dir: string, definition: SandboxDefinition, config: Record<string, unknown>, configFile: string, opts: SandboxOptions = {},
): Promise<RunningSandbox> {
  const bindings: Bindings = { config };
  const clock: SandboxClock = { now: () => Date.now() + (opts.clockOffsetMs ?? 0), maxSkewMs: parseDuration(definition.signature_max_skew, 5 * 60_000) };
  // A request passes with the connector's credentials or with those of any stream that has its own auth.
  // The connector's own scheme counts only when some stream uses it (a stream without its own auth that authenticates).
  const connectorAuthUsed = spec.streams.some((st) => !st.auth && st.authenticate !== false);
  const schemes = [...(connectorAuthUsed ? [spec.auth] : []), ...spec.streams.map((st) => st.auth).filter((a) => a !== undefined)];
  const checkers = await Promise.all((schemes.length ? schemes : [undefined]).map((a) => authChecker(a, definition, bindings, clock)));
  const auth: AuthChecker = {
    queryParams: new Set(checkers.flatMap((c) => [...c.queryParams])),
    check: async (req, url, body) => {
      for (const c of checkers) if (await c.check(req, url, body)) return true;
      return false;
    },
    issueToken: async () => ({ status: 404 }),
  };
  const tokenCheckers = new Map(checkers.filter((c) => c.tokenPath).map((c) => [c.tokenPath!, c]));
  const faultHits = new Map<string, number>();
  const requests: RunningSandbox['requests'] = [];

  const server = createServer(async (req, res) => {
    try {
      res.setHeader('date', new Date(clock.now()).toUTCString());
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const send = async (r: SandboxResponse) => {
        requests.push({ method: req.method ?? 'GET', path: url.pathname, status: r.status ?? 200 });
        await respond(res, dir, r);
      };
      const tokenChecker = tokenCheckers.get(url.pathname);
      if (tokenChecker) return await send(await tokenChecker.issueToken(req, body));
      const route = findRoute(definition.routes, req, url, body);
      if (!route?.public && !(await auth.check(req, url, body))) {
        return await send(definition.unauthorized ?? { status: 401, body: { error: 'unauthorized' } });
      }
      if (!route) return await send({ status: 404, body: { error: `no sandbox route for ${req.method} ${url.pathname}${url.search}` } });
      if (opts.faults === 'once-per-page') {
        const key = `${req.method} ${url.pathname}?${[...url.searchParams].filter(([k]) => !auth.queryParams.has(k)).sort().map(([k, v]) => `${k}=${v}`).join('&')} ${bodyKey(body)}`;
        const hits = (faultHits.get(key) ?? 0) + 1;
        faultHits.set(key, hits);
        if (hits === 1) return await send({ status: 429, headers: { 'retry-after': '0', 'content-type': 'application/json' }, body: { error: 'rate limited (sandbox fault injection)' } });
        if (hits === 2) return await send({ status: 503, headers: { 'content-type': 'application/json' }, body: { error: 'service unavailable (sandbox fault injection)' } });
      }
      await send(route);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `sandbox error: ${(e as Error).message}` }));
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, dir, configFile, config, definition, requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function parsedBody(body: Buffer): Record<string, unknown> | undefined {
  const text = body.toString('utf8').trim();
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return Object.fromEntries(new URLSearchParams(text)); }
}

const bodyKey = (body: Buffer) => (body.length ? body.toString('utf8') : '');

async function respond(res: ServerResponse, dir: string, r: SandboxResponse): Promise<void> {
  let payload: Buffer;
  if (r.body_file) payload = await readFile(join(dir, r.body_file));
  else if (r.body === undefined) payload = Buffer.alloc(0);
  else payload = Buffer.from(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = guessType(r.body_file, payload);
  // A stored .gz file is served as is; `gzip: true` compresses on the fly with Content-Encoding.
  if (r.gzip) { payload = gzipSync(payload); headers['content-encoding'] = 'gzip'; }
  res.writeHead(r.status ?? 200, headers);
  res.end(payload);
}

function guessType(file: string | undefined, payload: Buffer): string {
  const f = file ?? '';
  if (f.endsWith('.xml')) return 'application/xml; charset=utf-8';
  if (f.endsWith('.csv')) return 'text/csv; charset=utf-8';
  if (f.endsWith('.tsv') || f.endsWith('.txt')) return 'text/plain; charset=utf-8';
  if (f.endsWith('.ndjson') || f.endsWith('.jsonl')) return 'application/x-ndjson';
  if (f.endsWith('.gz')) return 'application/gzip';
  if (f.endsWith('.zip')) return 'application/zip';
  const head = payload.subarray(0, 1).toString();
  return head === '<' ? 'application/xml; charset=utf-8' : 'application/json; charset=utf-8';
}

function findRoute(routes: SandboxRoute[], req: IncomingMessage, url: URL, body: Buffer): SandboxRoute | undefined {
  let best: SandboxRoute | undefined;
  let bestScore = -1;
  const json = parsedBody(body);
  for (const r of routes) {
    if ((r.method ?? 'GET').toUpperCase() !== req.method) continue;
    if (!pathMatches(r.path, url.pathname)) continue;
    let score = 0;
    let ok = true;
    for (const [k, v] of Object.entries(r.match?.query ?? {})) {
      const actual = url.searchParams.get(k);
      if (v === null ? actual !== null : actual !== String(v)) { ok = false; break; }
      score++;
    }
    for (const [k, v] of Object.entries(r.match?.headers ?? {})) {
      if (req.headers[k.toLowerCase()] !== v) { ok = false; break; }
      score++;
    }
    if (ok && r.match?.body) {
      if (!json || !subsetOf(r.match.body, json)) ok = false;
      else score += Object.keys(r.match.body).length;
    }
    if (ok && score > bestScore) { best = r; bestScore = score; }
  }
  return best;
}

function pathMatches(pattern: string, path: string): boolean {
  if (!pattern.includes(':') && !pattern.includes('*')) return pattern === path || decodeURIComponent(path) === pattern;
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/:[A-Za-z_]+/g, '[^/]+')}$`);
  return re.test(path) || re.test(decodeURIComponent(path));
}

function subsetOf(expected: unknown, actual: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return String(expected) === String(actual);
  if (actual === null || typeof actual !== 'object') return false;
  return Object.entries(expected).every(([k, v]) => subsetOf(v, (actual as Record<string, unknown>)[k]));
}

const same = (a: string | undefined, b: string | undefined): boolean => {
  if (a === undefined || b === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

interface AuthChecker {
  tokenPath?: string;
  queryParams: Set<string>;
  check(req: IncomingMessage, url: URL, body: Buffer): Promise<boolean>;
  issueToken(req: IncomingMessage, body: Buffer): Promise<SandboxResponse>;
}

interface SandboxClock { now(): number; maxSkewMs: number }

/** A signature date as the recipe formats it → epoch ms (NaN when unreadable). */
function parseSignDate(v: string, format: string | undefined): number {
  switch (format) {
    case 'unix': return /^\d+$/.test(v) ? Number(v) * 1000 : NaN;
    case 'unix_ms': return /^\d+$/.test(v) ? Number(v) : NaN;
    case 'iso8601_basic': return Date.parse(v.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    default: return Date.parse(v);
  }
}

const fresh = (clock: SandboxClock, at: number) => Number.isFinite(at) && Math.abs(clock.now() - at) <= clock.maxSkewMs;

async function authChecker(a: Auth | undefined, def: SandboxDefinition, bindings: Bindings, clock: SandboxClock): Promise<AuthChecker> {
  const str = async (v: string | undefined) => (v === undefined ? '' : String((await renderValue(v, bindings)) ?? ''));
  const none: AuthChecker = { queryParams: new Set(), check: async () => true, issueToken: async () => ({ status: 404 }) };
  if (!a || a.type === 'none') return none;
  switch (a.type) {
    case 'api_key': {
      const want = await str(a.value);
      return {
        ...none,
        queryParams: new Set(a.in === 'query' ? [a.name] : []),
        check: async (req, url) => same(a.in === 'header' ? header(req, a.name) : url.searchParams.get(a.name) ?? undefined, want),
      };
    }
    case 'basic': {
      const want = `Basic ${Buffer.from(`${await str(a.username)}:${await str(a.password)}`).toString('base64')}`;
      return { ...none, check: async (req) => same(header(req, 'authorization'), want) };
    }
    case 'bearer': {
      const want = `${a.prefix ?? 'Bearer '}${await str(a.token)}`;
      return { ...none, check: async (req) => same(header(req, a.header ?? 'authorization'), want) };
    }
    case 'oauth2': {
      const issued = new Set<string>();
      const clientId = await str(a.client_id);
      const clientSecret = await str(a.client_secret);
      const extra = await renderStringMap(a.params, bindings);
      const extraHeaders = await renderStringMap(a.headers, bindings);
      return {
        queryParams: new Set(),
        tokenPath: new URL(await str(a.token_url), 'http://sandbox').pathname,
        check: async (req, url) => {
          if (a.token_in === 'query') return issued.has(url.searchParams.get(a.token_param ?? 'access_token') ?? '');
          const h = header(req, a.header ?? 'authorization') ?? '';
          for (const token of issued) {
            const want = a.header_value ? String(await renderValue(a.header_value, { ...bindings, token })) : `${a.prefix ?? 'Bearer '}${token}`;
            if (h === want) return true;
          }
          return false;
        },
        issueToken: async (req, body) => {
          const form = parsedBody(body) ?? {};
          let id = form.client_id as string | undefined;
          let secret = form.client_secret as string | undefined;
          const basic = header(req, 'authorization');
          if ((a.client_auth ?? 'body') === 'header' && basic?.startsWith('Basic ')) {
            const [u, ...p] = Buffer.from(basic.slice(6), 'base64').toString('utf8').split(':');
            id = u; secret = p.join(':');
          }
          const extraOk = Object.entries(extra).every(([k, v]) => String(form[k]) === v)
            && Object.entries(extraHeaders).every(([k, v]) => same(header(req, k), v));
          const clientOk = a.client_id === undefined || (same(id, clientId) && same(secret, clientSecret));
          if (!clientOk || !extraOk || form.grant_type !== (a.grant_type ?? 'client_credentials')) {
            return def.unauthorized ?? { status: 401, body: { error: 'invalid_client' } };
          }
          const token = `sbx_${randomBytes(12).toString('hex')}`;
          issued.add(token);
          if (def.token?.body_file || def.token?.body) {
            // The stored token body's access token is replaced by a fresh one, so each grant is distinct.
            const stored = def.token.body ?? {};
            return { ...def.token, body_file: undefined, body: JSON.stringify(stored).replace(/"access_token"\s*:\s*"[^"]*"/, `"access_token":"${token}"`) };
          }
          return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: 3600 } };
        },
      };
    }
    case 'aws_sigv4': {
      const creds = {
        accessKeyId: await str(a.access_key_id), secretAccessKey: await str(a.secret_access_key),
        sessionToken: a.session_token ? await str(a.session_token) : undefined, region: await str(a.region), service: await str(a.service),
      };
      return {
        ...none,
        check: async (req, _url, body) => {
          const given = header(req, 'authorization');
          const date = header(req, 'x-amz-date');
          const signed = /SignedHeaders=([^,]+)/.exec(given ?? '')?.[1]?.split(';') ?? [];
          if (!given || !date || !signed.length) return false;
          const headers: Record<string, string> = {};
          for (const h of signed) if (h !== 'host' && h !== 'x-amz-date') headers[h] = header(req, h) ?? '';
          const now = new Date(parseSignDate(date, 'iso8601_basic'));
          if (!fresh(clock, now.getTime())) return false;
          const expected = signSigV4({ method: req.method ?? 'GET', url: `http://${header(req, 'host')}${req.url}`, headers, body: body.length ? body : undefined }, creds, now);
          return same(expected.Authorization, given);
        },
      };
    }
    case 'signature': {
      // Where the recipe sends its date: the definition says, or a header / query parameter that is exactly $sign.date.
      const carriesDate = (t: unknown) => typeof t === 'string' && /^\{\{\s*\$sign\.date\s*\}\}$/.test(t.trim());
      const dateHeader = def.signature_date_header ?? Object.keys(a.headers ?? {}).find((k) => carriesDate(a.headers![k]));
      const dateQuery = dateHeader ? undefined : Object.keys(a.query ?? {}).find((k) => carriesDate(a.query![k]));
      return {
        ...none,
        queryParams: new Set(Object.keys(a.query ?? {})),
        check: async (req, url, body) => {
          const date = dateHeader ? header(req, dateHeader) : dateQuery ? url.searchParams.get(dateQuery) ?? undefined : undefined;
          if ((dateHeader || dateQuery) && (!date || !fresh(clock, parseSignDate(date, a.date_format)))) return false;
          const query = Object.fromEntries([...url.searchParams].filter(([k]) => !(k in (a.query ?? {}))));
          const request = { method: req.method, path: url.pathname, query, query_string: new URLSearchParams(query).toString(), host: header(req, 'host'), body: body.toString('utf8') };
          const sign: Record<string, string> = { date: date ?? '', nonce: '' };
          const b = { ...bindings, sign, request };
          const key = a.key ? await str(a.key) : undefined;
          sign.signature = digest(a.algorithm, String((await renderValue(a.string_to_sign, b)) ?? ''), key, a.encoding ?? 'hex');
          const wantHeaders = await renderStringMap(a.headers, b);
          const wantQuery = await renderStringMap(a.query, b);
          return Object.entries(wantHeaders).every(([k, v]) => same(header(req, k), v))
            && Object.entries(wantQuery).every(([k, v]) => k === 'nonce' || same(url.searchParams.get(k) ?? undefined, v));
        },
      };
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

