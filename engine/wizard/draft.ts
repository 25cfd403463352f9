// The wizard's draft (what the admin filled in: basics, auth and credentials, request, pagination, decoder,
// records, map) and its translation into a DSL spec: credentials become x-secret settings referenced as
// {{ $config.x }}, their values go to the secret store, never into the spec.
import type { Auth, ConnectorSpec, Decoder, Pagination, Stream } from '../types/connector.generated.ts';
import { checkUrl } from './ssrf.ts';

export type OfferKind = 'product' | 'coupon' | 'deal' | 'program';

export type WizardAuth =
  | { type: 'none' }
  | { type: 'api_key'; in: 'header' | 'query'; name: string; value: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string; header?: string; prefix?: string }
  | { type: 'oauth2'; token_url: string; client_id: string; client_secret: string; scopes?: string[]; client_auth?: 'body' | 'header' };

export interface WizardDraft {
  id: string;
  name: string;
  base_url: string;
  kind?: ConnectorSpec['kind'];
  description?: string;
  docs_url?: string;
  auth: WizardAuth;
  request: {
    method?: 'GET' | 'POST';
    path: string;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: Record<string, unknown> | string;
    body_format?: 'json' | 'form';
  };
  pagination?: Pagination;
  decoder?: Decoder;
  /** JSONata to the record list (detected when absent). */
  records?: string;
  /** JSONata map (proposed when absent). */
  map?: string;
  stream?: { name?: string; kind?: OfferKind };
  schedule?: { cron?: string; interval?: string };
  rate_limit?: { requests: number; interval: string; concurrency?: number };
  timezone?: string;
}

export class DraftError extends Error {
  readonly status = 422;
  constructor(message: string) { super(message); this.name = 'DraftError'; }
}

/** Setting name → the credential's value, as the draft holds them. */
export function credentialValues(auth: WizardAuth): Record<string, string> {
  switch (auth.type) {
    case 'none': return {};
    case 'api_key': return { api_key: auth.value };
    case 'basic': return { username: auth.username, password: auth.password };
    case 'bearer': return { token: auth.token };
    case 'oauth2': return { client_id: auth.client_id, client_secret: auth.client_secret };
  }
}

const SECRET_SETTINGS = new Set(['api_key', 'password', 'token', 'client_secret']);
const TITLES: Record<string, string> = { api_key: 'API key', username: 'User name', password: 'Password', token: 'Access token', client_id: 'Client ID', client_secret: 'Client secret' };

/** Sandbox stand-ins for the credentials: invented, random, realistic (never the real ones). */
export function sandboxCredentials(auth: WizardAuth, random: (n: number) => string): Record<string, string> {
  switch (auth.type) {
    case 'none': return {};
    case 'api_key': return { api_key: `sbx_${random(16)}` };
    case 'basic': return { username: 'sandbox-user', password: `sbx-${random(12)}` };
    case 'bearer': return { token: `sbx_${random(20)}` };
    case 'oauth2': return { client_id: `sandbox-client-${random(4)}`, client_secret: `sbx_${random(16)}` };
  }
}

const CREDENTIAL_NAME = /(api[-_]?key|apikey|access[-_]?key|secret|token|password|passwd|pwd|signature|^auth|authorization|^key$|^sig$|session)/i;
const TEMPLATE = /\{\{[\s\S]*\}\}/;

/** Refuses drafts that would put a credential into the spec or point at something other than http(s). */
export function checkDraft(d: WizardDraft, o: { needMap?: boolean } = {}): void {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(d.id ?? '')) throw new DraftError('id: lower-case letters, digits and dashes, starting with a letter or digit (it becomes the folder name)');
  if (!d.name?.trim()) throw new DraftError('name: required');
  try { checkUrl(d.base_url); } catch (e) { throw new DraftError(`base_url: ${(e as Error).message}`); }
  if (d.auth.type === 'oauth2') try { checkUrl(d.auth.token_url); } catch (e) { throw new DraftError(`auth.token_url: ${(e as Error).message}`); }
  if (!d.request?.path && d.request?.path !== '') throw new DraftError('request.path: required');
  for (const [where, map] of [['query', d.request.query], ['headers', d.request.headers]] as const) {
    for (const [k, v] of Object.entries(map ?? {})) {
      if (CREDENTIAL_NAME.test(k) && typeof v === 'string' && v.trim() && !TEMPLATE.test(v)) {
        throw new DraftError(`request.${where}.${k} looks like a credential: choose an auth kind in the auth step instead (e.g. api_key in ${where === 'query' ? 'query' : 'header'} named "${k}"), so it is stored encrypted and never written into the spec`);
      }
    }
  }
  const creds = credentialValues(d.auth);
  for (const [k, v] of Object.entries(creds)) if (typeof v !== 'string' || !v) throw new DraftError(`auth: ${TITLES[k] ?? k} is required`);
  // A credential typed into another field would end up in the spec.
  const literal = JSON.stringify({ ...d, auth: { ...d.auth, value: undefined, password: undefined, token: undefined, client_secret: undefined, username: undefined, client_id: undefined } });
  for (const [k, v] of Object.entries(creds)) if (SECRET_SETTINGS.has(k) && v.length >= 4 && literal.includes(v)) throw new DraftError(`the ${TITLES[k]} also appears elsewhere in the draft (path, query, headers or map); credentials belong only in the auth step`);
  if (o.needMap && !d.map?.trim()) throw new DraftError('map: required (accept the proposed mapping or write one)');
}

function specAuth(a: WizardAuth): Auth | undefined {
  const ref = (k: string) => `{{ $config.${k} }}`;
  switch (a.type) {
    case 'none': return { type: 'none' };
    case 'api_key': return { type: 'api_key', in: a.in, name: a.name, value: ref('api_key') };
    case 'basic': return { type: 'basic', username: ref('username'), password: ref('password') };
    case 'bearer': return { type: 'bearer', token: ref('token'), ...(a.header ? { header: a.header } : {}), ...(a.prefix !== undefined ? { prefix: a.prefix } : {}) };
    case 'oauth2': return {
      type: 'oauth2', token_url: a.token_url, client_id: ref('client_id'), client_secret: ref('client_secret'),
      ...(a.scopes?.length ? { scopes: a.scopes } : {}), ...(a.client_auth ? { client_auth: a.client_auth } : {}),
    };
  }
}

/** The spec the draft describes (credentials as settings, never as values). */
export function draftToSpec(d: WizardDraft, o: { map?: string; decoder?: Decoder; records?: string; createdAt?: Date } = {}): ConnectorSpec {
  const creds = Object.keys(credentialValues(d.auth));
  const properties: NonNullable<ConnectorSpec['config']>['properties'] = {};
  for (const k of creds) {
    properties[k] = { type: 'string', title: TITLES[k], description: `Set with \`offerfeed secrets set ${d.id} ${k}\` or OFFERFEED_${d.id.toUpperCase().replace(/-/g, '_')}_${k.toUpperCase()}.`, ...(SECRET_SETTINGS.has(k) ? { 'x-secret': true } : {}) };
  }
  const request: NonNullable<Stream['request']> = { ...(d.request.method && d.request.method !== 'GET' ? { method: d.request.method } : {}), path: d.request.path };
  if (d.request.query && Object.keys(d.request.query).length) request.query = d.request.query;
  if (d.request.headers && Object.keys(d.request.headers).length) request.headers = d.request.headers;
  if (d.request.body !== undefined) { request.body = d.request.body; if (d.request.body_format) request.body_format = d.request.body_format; }
  const decoder = o.decoder ?? d.decoder;
  const records = o.records ?? d.records;
  const stream: Stream = {
    name: d.stream?.name ?? 'offers',
    kind: d.stream?.kind ?? 'product',
    request,
    ...(d.pagination && d.pagination.type !== 'none' ? { pagination: d.pagination } : {}),
    ...(decoder && (decoder.format !== 'json' || Object.keys(decoder).length > 1) ? { decoder } : {}),
    ...(records ? { records } : {}),
    map: o.map ?? d.map ?? '$',
  };
  const created = (o.createdAt ?? new Date()).toISOString().slice(0, 10);
  return {
    dsl: 1,
    id: d.id,
    name: d.name.trim(),
    ...(d.docs_url ? { docs_url: d.docs_url } : {}),
    kind: d.kind ?? 'affiliate-network',
    status: 'beta',
    description: d.description?.trim() || `Created with the "Import New Network" wizard on ${created} from a sample of ${d.base_url}.`,
    config: { type: 'object', ...(creds.length ? { required: creds } : {}), properties },
    base_url: d.base_url,
    auth: specAuth(d.auth),
    rate_limit: d.rate_limit ?? { requests: 2, interval: '1s', concurrency: 1 },
    retry: { attempts: 5, backoff: '1s', max_backoff: '60s' },
    ...(d.timezone ? { timezone: d.timezone } : {}),
    schedule: d.schedule ?? { interval: '6h' },
    streams: [stream],
  } as ConnectorSpec;
}
