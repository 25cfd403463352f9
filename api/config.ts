// API settings: defaults, then a config file (JSON or YAML; --config or OFFERFEED_API_CONFIG), then environment
// variables, then command-line flags. Documented in api/README.md. Postback secrets are registered with the
// redactor as they are read, so they can never appear in a log line or an error.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Redactor } from '../engine/log/redact.ts';

export type ConsentMode = 'omit' | 'landing';

export interface PostbackConfig {
  /** Shared secret: compared with the request's token, or the HMAC-SHA256 key. */
  secret: string;
  /** token: the secret itself in a header or parameter; hmac: a signature of the request. */
  auth: 'token' | 'hmac';
  /** Header carrying the token or the signature (default X-Offerfeed-Token / X-Offerfeed-Signature). */
  header?: string;
  /** Query or body parameter that may carry the token or signature instead (default token / signature). */
  param?: string;
  /** Where each conversion field is in the postback (defaults in api/routes/postbacks.ts). */
  fields?: Partial<Record<'transaction_id' | 'click_id' | 'amount' | 'commission' | 'currency' | 'status' | 'converted_at', string>>;
  /**
   * Replay protection: every postback must carry the time it was sent (Unix seconds or milliseconds, or ISO 8601)
   * in this header or parameter, within toleranceS of our clock either way. With HMAC the time is signed: as a
   * parameter it is part of the signed query or body; from the header the signed message is `<time>.<message>`.
   */
  timestamp?: { header?: string; param?: string; toleranceS?: number };
}

/** Requests per client address and window. */
export interface RateLimit { max: number; timeWindowMs: number }

export interface ApiConfig {
  host: string;
  port: number;
  /** Base URL the API is reached at, for absolute click URLs (default: relative /go/<id>). */
  publicUrl?: string;
  /** Trust X-Forwarded-* from this many proxies / these addresses (Fastify trustProxy). */
  trustProxy: boolean | number | string;
  /** Origins allowed by CORS: exact origins, or "*" for any (then without credentials). Empty: no CORS. */
  corsOrigins: string[];
  /**
   * Per client address: `max`/`timeWindowMs` for reads and everything else; clicks (/go) and postbacks have limits
   * of their own, counted separately (a visitor clicks rarely; a network posts many conversions from few addresses).
   */
  rateLimit: RateLimit & { clicks?: RateLimit; postbacks?: RateLimit };
  /** Largest request body accepted, in bytes (postbacks and GraphQL included). */
  bodyLimit: number;
  /** Without affiliate consent: omit offers with a tracking URL, or return them with their landing URL only. */
  consentMode: ConsentMode;
  /** Request header carrying the visitor's country (set by a CDN or proxy), recorded with clicks. */
  countryHeader?: string;
  /** Days the pseudonymous user id cookie lives. */
  userCookieDays: number;
  /** GraphQL limits: depth and cost, and aliases per operation (default 30); introspection and GraphiQL are off unless enabled. */
  graphql: { graphiql: boolean; introspection: boolean; maxDepth: number; maxCost: number; maxAliases?: number };
  /** Per network: how its postbacks are authenticated and read. */
  postbacks: Record<string, PostbackConfig>;
  /** Per network: the tracking-URL parameter that carries our click id back in postbacks (sub id). */
  clickIdParams: Record<string, string>;
  docs: boolean;
  logLevel: string;
  logRequests: boolean;
  /** How often the read model looks for changes nobody announced. */
  pollMs: number;
  exportIntervalMs: number;
  clickRetentionDays: number;
  /** Seconds a shutdown waits for in-flight requests. */
  shutdownTimeoutS: number;
}

// Sub-id parameters as the networks document them for publisher click references.
const CLICK_ID_PARAMS: Record<string, string> = {
  awin: 'clickref', cj: 'sid', impact: 'subId1', rakuten: 'u1', shareasale: 'afftrack', flexoffers: 'fobs',
  pepperjam: 'sid', clickbank: 'tid', 'ebay-partner-network': 'customid', tradedoubler: 'epi', skimlinks: 'xcust',
  'sovrn-commerce': 'cuid', avantlink: 'ctc', travelpayouts: 'sub_id',
};

/** A person follows a few links a minute; many people may share one address (NAT), hence the headroom. */
export const DEFAULT_CLICK_LIMIT: RateLimit = { max: 120, timeWindowMs: 60_000 };
/** Networks send conversions in bursts from a few servers. */
export const DEFAULT_POSTBACK_LIMIT: RateLimit = { max: 3000, timeWindowMs: 60_000 };
/** Default tolerance of postback timestamps: clocks ±10 minutes apart still agree. */
export const DEFAULT_POSTBACK_TOLERANCE_S = 900;

export function defaultApiConfig(): ApiConfig {
  return {
    host: '127.0.0.1', port: 8080, trustProxy: false, corsOrigins: [], rateLimit: { max: 600, timeWindowMs: 60_000, clicks: { ...DEFAULT_CLICK_LIMIT }, postbacks: { ...DEFAULT_POSTBACK_LIMIT } },
    bodyLimit: 64 * 1024, consentMode: 'omit', userCookieDays: 365,
    graphql: { graphiql: false, introspection: false, maxDepth: 8, maxCost: 5000 },
    postbacks: {}, clickIdParams: { ...CLICK_ID_PARAMS }, docs: true, logLevel: 'info', logRequests: false,
    pollMs: 2000, exportIntervalMs: 5000, clickRetentionDays: 90, shutdownTimeoutS: 10,
  };
}

export class ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Partial<ApiConfig>;
  redactor?: Redactor;
}

export function loadApiConfig(o: LoadOptions = {}): ApiConfig {
  const env = o.env ?? process.env;
  const cfg = defaultApiConfig();
  const file = o.file ?? env.OFFERFEED_API_CONFIG;
  if (file) {
    let raw: unknown;
    try {
      const text = readFileSync(file, 'utf8');
      raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`cannot read the API config file ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    merge(cfg, raw, file);
  }
  fromEnv(cfg, env);
  Object.assign(cfg, Object.fromEntries(Object.entries(o.overrides ?? {}).filter(([, v]) => v !== undefined)));
  check(cfg);
  for (const p of Object.values(cfg.postbacks)) o.redactor?.add(p.secret);
  return cfg;
}

function merge(cfg: ApiConfig, raw: unknown, where: string): void {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: the API config is an object`);
  const r = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(r)) {
    if (!(k in cfg)) throw new ConfigError(`${where}: unknown setting "${k}" (see api/README.md)`);
    const cur = (cfg as unknown as Record<string, unknown>)[k];
    if (cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v)) {
      (cfg as unknown as Record<string, unknown>)[k] = { ...(cur as object), ...(v as object) };
    } else {
      (cfg as unknown as Record<string, unknown>)[k] = v;
    }
  }
}

function fromEnv(cfg: ApiConfig, env: NodeJS.ProcessEnv): void {
  const s = (name: string) => env[name] !== undefined && env[name] !== '' ? env[name] : undefined;
  const n = (name: string) => { const v = s(name); if (v === undefined) return undefined; const x = Number(v); if (!Number.isFinite(x)) throw new ConfigError(`${name}="${v}" is not a number`); return x; };
  const b = (name: string) => { const v = s(name); if (v === undefined) return undefined; if (!/^(1|0|true|false|yes|no)$/i.test(v)) throw new ConfigError(`${name}="${v}" is not a boolean`); return /^(1|true|yes)$/i.test(v); };
  cfg.host = s('OFFERFEED_API_HOST') ?? cfg.host;
  cfg.port = n('OFFERFEED_API_PORT') ?? cfg.port;
  cfg.publicUrl = s('OFFERFEED_API_PUBLIC_URL') ?? cfg.publicUrl;
  const tp = s('OFFERFEED_API_TRUST_PROXY');
  if (tp !== undefined) cfg.trustProxy = /^(true|false)$/i.test(tp) ? tp.toLowerCase() === 'true' : /^\d+$/.test(tp) ? Number(tp) : tp;
  const cors = s('OFFERFEED_API_CORS_ORIGINS');
  if (cors !== undefined) cfg.corsOrigins = cors.split(',').map((x) => x.trim()).filter(Boolean);
  const limit = (prefix: string, cur: RateLimit | undefined, dflt: RateLimit): RateLimit => ({
    max: n(`${prefix}_MAX`) ?? cur?.max ?? dflt.max, timeWindowMs: n(`${prefix}_WINDOW_MS`) ?? cur?.timeWindowMs ?? dflt.timeWindowMs,
  });
  cfg.rateLimit = {
    ...limit('OFFERFEED_API_RATE_LIMIT', cfg.rateLimit, defaultApiConfig().rateLimit),
    clicks: limit('OFFERFEED_API_CLICK_RATE_LIMIT', cfg.rateLimit.clicks, DEFAULT_CLICK_LIMIT),
    postbacks: limit('OFFERFEED_API_POSTBACK_RATE_LIMIT', cfg.rateLimit.postbacks, DEFAULT_POSTBACK_LIMIT),
  };
  cfg.bodyLimit = n('OFFERFEED_API_BODY_LIMIT') ?? cfg.bodyLimit;
  cfg.consentMode = (s('OFFERFEED_API_CONSENT_MODE') as ConsentMode | undefined) ?? cfg.consentMode;
  cfg.countryHeader = s('OFFERFEED_API_COUNTRY_HEADER') ?? cfg.countryHeader;
  cfg.graphql = {
    graphiql: b('OFFERFEED_API_GRAPHIQL') ?? cfg.graphql.graphiql,
    introspection: b('OFFERFEED_API_GRAPHQL_INTROSPECTION') ?? cfg.graphql.introspection,
    maxDepth: n('OFFERFEED_API_GRAPHQL_MAX_DEPTH') ?? cfg.graphql.maxDepth,
    maxCost: n('OFFERFEED_API_GRAPHQL_MAX_COST') ?? cfg.graphql.maxCost,
  };
  const maxAliases = n('OFFERFEED_API_GRAPHQL_MAX_ALIASES') ?? cfg.graphql.maxAliases;
  if (maxAliases !== undefined) cfg.graphql.maxAliases = maxAliases;
  cfg.docs = b('OFFERFEED_API_DOCS') ?? cfg.docs;
  cfg.logLevel = s('OFFERFEED_LOG_LEVEL') ?? cfg.logLevel;
  cfg.logRequests = b('OFFERFEED_API_LOG_REQUESTS') ?? cfg.logRequests;
  // OFFERFEED_POSTBACK_<NETWORK>_SECRET (+ _AUTH token|hmac): a network's postback secret without a file.
  for (const [k, v] of Object.entries(env)) {
    const m = /^OFFERFEED_POSTBACK_([A-Z0-9_]+)_SECRET$/.exec(k);
    if (!m || !v) continue;
    const network = m[1].toLowerCase().replace(/_/g, '-');
    const auth = env[`OFFERFEED_POSTBACK_${m[1]}_AUTH`];
    cfg.postbacks[network] = { ...cfg.postbacks[network], secret: v, auth: auth === 'hmac' ? 'hmac' : auth === 'token' ? 'token' : cfg.postbacks[network]?.auth ?? 'token' };
    // OFFERFEED_POSTBACK_<NETWORK>_TIMESTAMP_TOLERANCE_S: require a timestamp (header X-Offerfeed-Timestamp or parameter ts).
    const tolerance = n(`OFFERFEED_POSTBACK_${m[1]}_TIMESTAMP_TOLERANCE_S`);
    if (tolerance !== undefined) cfg.postbacks[network].timestamp = { ...cfg.postbacks[network].timestamp, toleranceS: tolerance };
  }
}

function check(c: ApiConfig): void {
  const fail = (m: string) => { throw new ConfigError(`API config: ${m}`); };
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) fail(`port ${c.port} is not a TCP port`);
  if (!['omit', 'landing'].includes(c.consentMode)) fail(`consentMode is "omit" or "landing", not "${c.consentMode}"`);
  if (!Array.isArray(c.corsOrigins) || c.corsOrigins.some((o) => typeof o !== 'string' || (o !== '*' && !/^https?:\/\/[^/]+$/.test(o)))) fail('corsOrigins lists origins like https://shop.example (no path), or "*"');
  for (const [k, r] of [['rateLimit', c.rateLimit], ['rateLimit.clicks', c.rateLimit.clicks], ['rateLimit.postbacks', c.rateLimit.postbacks]] as const) {
    if (r && (!(r.max > 0) || !(r.timeWindowMs > 0))) fail(`${k}.max and ${k}.timeWindowMs are positive`);
  }
  if (!(c.bodyLimit >= 1024)) fail('bodyLimit is at least 1024 bytes');
  if (c.publicUrl !== undefined && !/^https?:\/\//.test(c.publicUrl)) fail('publicUrl is an http(s) URL');
  for (const [net, p] of Object.entries(c.postbacks)) {
    if (!p || typeof p.secret !== 'string' || p.secret.length < 16) fail(`postbacks.${net}.secret must be a string of at least 16 characters`);
    if (!['token', 'hmac'].includes(p.auth)) fail(`postbacks.${net}.auth is "token" or "hmac"`);
    const t = p.timestamp;
    if (t !== undefined && (typeof t !== 'object' || (t.toleranceS !== undefined && !(t.toleranceS > 0)))) fail(`postbacks.${net}.timestamp is { header?, param?, toleranceS? } with a positive toleranceS`);
  }
  for (const k of ['maxDepth', 'maxCost'] as const) if (!(c.graphql[k] > 0)) fail(`graphql.${k} is positive`);
  if (c.graphql.maxAliases !== undefined && !(c.graphql.maxAliases >= 0)) fail('graphql.maxAliases is zero or positive');
}
