// The "Import New Network" backend: fetch a sample server-side (SSRF-guarded, with the chosen auth applied
// exactly as a run would apply it), detect the records, propose a mapping, preview it through the engine's
// own mapper, and save a connector: connectors/<id>/connector.yaml (validated before writing), its sandbox
// built from the sample, and the credentials in the secret store. The saved connector must pass its own
// contract test (`offerfeed connectors test <id>`) or nothing is kept.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Agent } from 'undici';
import { stringify as toYaml } from 'yaml';
import type { ConnectorSpec, Decoder } from '../types/connector.generated.ts';
import type { Offer } from '../types/offer.generated.ts';
import { createAuth } from '../auth/index.ts';
import { HttpRuntime } from '../http/runtime.ts';
import { createLogger } from '../log/logger.ts';
import { Redactor } from '../log/redact.ts';
import { buildRequest } from '../extract/request-builder.ts';
import { Paginator } from '../extract/paginator.ts';
import { renderValue, ExpressionError, ExpressionGuardError } from '../expr/jsonata.ts';
import { RecordMapper } from '../map/mapper.ts';
import type { Reason } from '../validate/offer-validator.ts';
import { parseSpec, SpecValidationError } from '../spec/loader.ts';
import { connectorsDir } from '../spec/registry.ts';
import { masterKey, type SecretStore } from '../store/secrets.ts';
import { runContractTest, type ContractReport } from '../sandbox/contract.ts';
import type { SandboxDefinition, SandboxRoute } from '../sandbox/server.ts';
import { detectRecords, readAllRecords, type Detection, type SampleFormat } from './detect.ts';
import { proposeMapping, type Proposal } from './propose.ts';
import { checkDraft, credentialValues, draftToSpec, sandboxCredentials, DraftError, type WizardDraft } from './draft.ts';
import { guardedAgent, guardedFetch, policyFromEnv, SsrfError, type NetworkPolicy } from './ssrf.ts';

export type { WizardDraft, WizardAuth } from './draft.ts';
export { DraftError } from './draft.ts';
export { DetectionError } from './detect.ts';
export { SsrfError, ResponseTooLargeError } from './ssrf.ts';
export type { NetworkPolicy } from './ssrf.ts';

export interface WizardOptions {
  /** Allow-list for the sample fetch (default: OFFERFEED_WIZARD_ALLOW_HOSTS / OFFERFEED_WIZARD_ALLOW_CIDRS). */
  policy?: NetworkPolicy;
  /** Body cap of the sample (default 5 MiB). */
  maxBytes?: number;
  /** Time cap of the whole fetch, token request included (default 20 s). */
  timeoutMs?: number;
}

export interface Sample { body: Buffer; contentType?: string }

export interface FetchedSample extends Sample {
  ok: boolean;
  status: number;
  /** The final URL (after redirects), credentials masked. */
  url: string;
  redirects: string[];
  /** Response headers worth showing (no cookies), secrets masked. */
  headers: Record<string, string>;
  bytes: number;
  /** The first 64 KiB as text, secrets masked, for the UI. */
  text: string;
  detection?: Detection;
  proposal?: Proposal;
  /** Why no records were detected. */
  detectionError?: string;
}

const SHOWN_HEADERS = /^(content-type|content-length|content-encoding|link|x-total.*|x-page.*|x-per-page|x-wp-total.*|x-ratelimit.*|ratelimit.*|retry-after|date|etag|last-modified)$/i;

/** A runtime whose every connection (OAuth token requests included) goes through the SSRF-guarded dispatcher. */
function guardedRuntime(connectorId: string, redactor: Redactor, agent: Agent, signal: AbortSignal): HttpRuntime {
  const runtime = new HttpRuntime({
    connectorId, pacing: { concurrency: 1, intervalMs: 1000, scope: 'connector' },
    retry: { attempts: 1, backoffMs: 0, maxBackoffMs: 0 }, timeouts: { connectMs: 10_000, headersMs: 15_000, bodyMs: 15_000 },
    rules: [], redactor, logger: createLogger({ redactor, level: 'silent' }), signal, dispatcher: agent,
  });
  return runtime;
}

/** Builds the first page's request exactly as a run would (pagination parameters, headers, auth) and fetches it. */
export async function fetchSample(draft: WizardDraft, o: WizardOptions = {}): Promise<FetchedSample> {
  checkDraft(draft);
  const policy = o.policy ?? policyFromEnv('OFFERFEED_WIZARD');
  const timeoutMs = o.timeoutMs ?? 20_000;
  const spec = draftToSpec(draft);
  const config = credentialValues(draft.auth);
  const redactor = new Redactor();
  for (const v of Object.values(config)) redactor.add(v);
  const agent = guardedAgent(policy, { headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs });
  const signal = AbortSignal.timeout(timeoutMs);
  const runtime = guardedRuntime(draft.id, redactor, agent, signal);
  try {
    const bindings = { config };
    const auth = await createAuth(spec.auth, bindings, runtime, redactor);
    const stream = spec.streams[0];
    const { req } = await firstRequest(spec, bindings);
    const prepared = auth && stream.authenticate !== false ? await auth.apply({ ...req, headers: { ...req.headers } }) : req;
    const res = await guardedFetch(prepared, { policy, maxBytes: o.maxBytes, timeoutMs, dispatcher: agent, signal });
    const headers = Object.fromEntries(Object.entries(res.headers).filter(([k]) => SHOWN_HEADERS.test(k)).map(([k, v]) => [k, redactor.redact(v)]));
    const out: FetchedSample = {
      ok: res.status >= 200 && res.status < 300, status: res.status, url: redactor.redact(maskUrl(res.url)), redirects: res.redirects.map((u) => redactor.redact(maskUrl(u))),
      headers, bytes: res.body.length, body: res.body, contentType: res.headers['content-type'], text: redactor.redact(textOf(res.body).slice(0, 65_536)),
    };
    if (out.ok) {
      try {
        out.detection = await detectRecords({ body: res.body, contentType: out.contentType, decoder: draft.decoder, records: draft.records });
        out.proposal = proposeMapping(out.detection.fields, { kind: draft.stream?.kind });
      } catch (e) {
        out.detectionError = redactor.redact((e as Error).message);
      }
    }
    return out;
  } catch (e) {
    throw cleanError(e, redactor);
  } finally {
    await runtime.close().catch(() => undefined);
  }
}

/** The error with secrets masked, keeping its class (SsrfError stays SsrfError, also from inside the token request). */
function cleanError(e: unknown, redactor: Redactor): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  const refused = /SSRF_REFUSED: (.*)$/s.exec(err.message);
  if (refused && !(err instanceof SsrfError)) return new SsrfError(redactor.redact(`token request: ${refused[1]}`));
  err.message = redactor.redact(err.message);
  if (err.stack) err.stack = redactor.redact(err.stack);
  return err;
}

async function firstRequest(spec: ConnectorSpec, bindings: Record<string, unknown>) {
  const stream = spec.streams[0];
  const pagination = stream.pagination && typeof stream.pagination.page_size === 'string'
    ? { ...stream.pagination, page_size: Number(await renderValue(stream.pagination.page_size, bindings)) }
    : stream.pagination;
  const paginator = new Paginator(pagination, 1, bindings);
  const first = paginator.first();
  const { injected } = paginator.inject(first);
  const baseUrl = String(await renderValue(spec.base_url, bindings));
  return { req: await buildRequest(stream.request!, baseUrl, { ...bindings, page: first }, injected, spec.headers), injected, baseUrl };
}

const maskUrl = (u: string) => {
  try {
    const url = new URL(u);
    for (const k of [...url.searchParams.keys()]) if (/(key|token|secret|password|signature|sig)$/i.test(k)) url.searchParams.set(k, 'REDACTED');
    return url.toString();
  } catch { return u; }
};

function textOf(body: Buffer): string {
  if (body[0] === 0x1f && body[1] === 0x8b) {
    try { return gunzipSync(body, { maxOutputLength: 65_536 }).toString('utf8'); } catch (e) { return Buffer.from((e as { buffer?: Buffer }).buffer ?? []).toString('utf8'); }
  }
  return body.toString('utf8');
}

// ---- preview ------------------------------------------------------------------------------------------

export interface PreviewError { index: number; external_id?: string; reasons: Reason[]; record: unknown }

export interface Preview {
  records: number;
  offers: Offer[];
  /** Records the engine would quarantine, with the validator's reasons. */
  errors: PreviewError[];
  filtered: number;
  /** external_ids given to more than one record (the feed keeps one). */
  duplicates: string[];
  /** True when the time budget ran out before every record was mapped. */
  truncated: boolean;
  decoder: Decoder;
  recordsExpr?: string;
}

export class MapExpressionError extends Error {
  readonly status = 422;
  constructor(message: string, readonly position?: number) { super(message); this.name = 'MapExpressionError'; }
}

/** Runs the draft's map over every record of the sample through the engine's RecordMapper (normalize + validate). */
export async function previewMapping(draft: WizardDraft, sample: Sample, o: { timeBudgetMs?: number; maxRecords?: number } = {}): Promise<Preview> {
  if (!draft.map?.trim()) throw new DraftError('map: required');
  const detection = await detectRecords({ body: sample.body, contentType: sample.contentType, decoder: draft.decoder, records: draft.records });
  const records = await readAllRecords(sample.body, detection.decoder, detection.records, sample.contentType, o.maxRecords ?? 100_000);
  const spec = draftToSpec(draft, { decoder: detection.decoder, records: detection.records });
  const stream = spec.streams[0];
  let mapper: RecordMapper;
  try {
    mapper = new RecordMapper(stream, draft.id, { baseUrl: draft.base_url, timeZone: draft.timezone });
  } catch (e) {
    throw new MapExpressionError(`map: ${(e as Error).message}`, e instanceof ExpressionError ? e.position : undefined);
  }
  const bindings = { config: {}, stream: { name: stream.name, kind: stream.kind } };
  const deadline = Date.now() + (o.timeBudgetMs ?? 15_000);
  const out: Preview = { records: records.length, offers: [], errors: [], filtered: 0, duplicates: [], truncated: false, decoder: detection.decoder, recordsExpr: detection.records };
  const seen = new Map<string, number>();
  for (let i = 0; i < records.length; i++) {
    if (Date.now() > deadline) { out.truncated = true; break; }
    let r: Awaited<ReturnType<RecordMapper['mapRecord']>>;
    try {
      r = await mapper.mapRecord(records[i], bindings, { page: 1 });
    } catch (e) {
      // a guard stopped the map or filter (too slow, too deep, too big): the mapping is refused, not the record
      if (!(e instanceof ExpressionGuardError)) throw e;
      throw new MapExpressionError(`${e.source === stream.filter ? 'filter' : 'map'}: ${e.message} (record ${i + 1} of the sample)`, e.position);
    }
    if (r.kind === 'offer') {
      const key = `${r.offer.kind}:${r.offer.external_id}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (seen.get(key) === 2) out.duplicates.push(r.offer.external_id);
      out.offers.push(r.offer);
    } else if (r.kind === 'quarantine') out.errors.push({ index: i, external_id: r.item.external_id, reasons: r.item.reasons, record: r.item.record });
    else out.filtered++;
  }
  return out;
}

// ---- save -------------------------------------------------------------------------------------------------

export interface SaveOptions {
  secrets: SecretStore;
  /** Replace an existing connector folder (the old one is restored if the new one fails its contract test). */
  overwrite?: boolean;
  /** Skip the contract test (not recommended; the API never does). */
  skipContractTest?: boolean;
}

export interface SaveResult {
  id: string;
  dir: string;
  files: string[];
  yaml: string;
  offers: number;
  quarantined: number;
  contract?: { ok: boolean; passes: Array<{ name: string; offers: number; problems: string[] }> };
  secrets: string[];
}

export class SaveError extends Error {
  constructor(message: string, readonly status = 422, readonly problems: string[] = []) { super(message); this.name = 'SaveError'; }
}

const EXT: Record<SampleFormat, string> = { json: 'json', ndjson: 'ndjson', xml: 'xml', csv: 'csv', tsv: 'tsv' };

/**
 * Replaces every form of every real credential in the sample with the sandbox's stand-in. Works on the bytes
 * (latin1 maps bytes 1:1), so a sample in another encoding is stored unchanged apart from the replacements.
 */
function scrub(body: Buffer, real: Record<string, string>, fake: Record<string, string>): Buffer {
  let out = body.toString('latin1');
  for (const [k, v] of Object.entries(real)) {
    if (!v || v.length < 4) continue;
    const stand = Buffer.from(fake[k] ?? 'REDACTED', 'utf8').toString('latin1');
    for (const form of [v, encodeURIComponent(v), Buffer.from(v).toString('base64')]) out = out.split(Buffer.from(form, 'utf8').toString('latin1')).join(stand);
  }
  return Buffer.from(out, 'latin1');
}

const isGzip = (b: Buffer) => b[0] === 0x1f && b[1] === 0x8b;
const isZip = (b: Buffer) => b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/**
 * Writes connectors/<id>/ (spec, README, sandbox with the sample, expected offers), runs its contract test,
 * then stores the credentials. On any failure nothing is left behind (an overwritten folder is restored).
 */
export async function saveConnector(draft: WizardDraft, sample: Sample, o: SaveOptions): Promise<SaveResult> {
  checkDraft(draft, { needMap: true });
  const real = credentialValues(draft.auth);
  if (Object.keys(real).length) masterKey();
  const root = connectorsDir();
  const dir = join(root, draft.id);
  if (existsSync(dir) && !o.overwrite) throw new SaveError(`a connector "${draft.id}" already exists; choose another id or overwrite it`, 409);

  const random = (n: number) => randomBytes(n).toString('hex');
  const fake = sandboxCredentials(draft.auth, random);
  const detection = await detectRecords({ body: sample.body, contentType: sample.contentType, decoder: draft.decoder, records: draft.records });
  // Stored decompressed (so it can be scrubbed and read); a zip archive is kept as it came.
  const zip = isZip(sample.body);
  const plain = zip ? sample.body : scrub(isGzip(sample.body) ? gunzipSync(sample.body, { maxOutputLength: 200 * 1024 * 1024 }) : sample.body, real, fake);
  const sandboxSample = { body: plain, contentType: sample.contentType };

  const spec = draftToSpec(draft, { decoder: detection.decoder, records: detection.records });
  const yaml = `# ${spec.name}: created with the "Import New Network" wizard. Credentials live in the secret store\n# (offerfeed secrets set ${spec.id} <setting>), never in this file.\n${toYaml(spec, { lineWidth: 0 })}`;
  try {
    parseSpec(yaml, join(dir, 'connector.yaml'));
  } catch (e) {
    if (e instanceof SpecValidationError) throw new SaveError('the connector spec is not valid', 422, e.errors.map((x) => x.message));
    throw e;
  }
  for (const [k, v] of Object.entries(real)) if (v.length >= 4 && (yaml.includes(v) || yaml.includes(encodeURIComponent(v)))) throw new SaveError(`the spec would contain the ${k} credential; refusing to write it`);

  const preview = await previewMapping({ ...draft, decoder: detection.decoder, records: detection.records }, sandboxSample);
  if (preview.truncated) throw new SaveError('the sample is too large to preview in time; fetch a smaller page');
  if (!preview.offers.length) throw new SaveError('the mapping produces no valid offer from the sample', 422, preview.errors.slice(0, 20).flatMap((e) => e.reasons.map((r) => `record ${e.index + 1}: ${r.field}: ${r.message}`)));
  if (preview.duplicates.length) throw new SaveError(`external_id is not unique in the sample: ${preview.duplicates.slice(0, 5).join(', ')}`);

  const sampleFile = `sample-page-1.${zip ? 'zip' : EXT[detection.format]}`;
  const routes = await sandboxRoutes(spec, fake, sampleFile, preview.errors.length, draft);
  const files: Record<string, string | Buffer> = {
    'connector.yaml': yaml,
    'README.md': readme(spec, draft),
    'sandbox/routes.yaml': `# Sandbox built by the wizard from the sample fetched on ${new Date().toISOString().slice(0, 10)}; credentials are invented.\n${toYaml(routes, { lineWidth: 0 })}`,
    [`sandbox/${sampleFile}`]: plain,
    'sandbox/config.json': `${JSON.stringify(fake, null, 2)}\n`,
    'sandbox/expected.ndjson': preview.offers.map((x) => JSON.stringify(x)).join('\n') + '\n',
  };
  for (const [name, text] of Object.entries(files)) {
    for (const [k, v] of Object.entries(real)) if (v.length >= 4 && !(zip && Buffer.isBuffer(text)) && text.includes(v)) throw new SaveError(`${name} would contain the ${k} credential; refusing to write it`);
  }

  const staging = join(root, `.${draft.id}.wizard-${random(4)}`);
  const backup = join(root, `.${draft.id}.previous-${random(4)}`);
  await mkdir(join(staging, 'sandbox'), { recursive: true });
  let movedOld = false;
  let placed = false;
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(staging, name), text);
    if (existsSync(dir)) { await rename(dir, backup); movedOld = true; }
    await rename(staging, dir);
    placed = true;
    let contract: ContractReport | undefined;
    if (!o.skipContractTest) {
      contract = await runContractTest(draft.id);
      if (!contract.ok) throw new SaveError('the saved connector fails its contract test', 422, contract.passes.flatMap((p) => p.problems.map((x) => `${p.name}: ${x}`)));
    }
    for (const [k, v] of Object.entries(real)) await o.secrets.set(draft.id, k, v);
    if (movedOld) await rm(backup, { recursive: true, force: true });
    return {
      id: draft.id, dir, files: Object.keys(files), yaml, offers: preview.offers.length, quarantined: preview.errors.length, secrets: Object.keys(real),
      contract: contract && { ok: contract.ok, passes: contract.passes.map((p) => ({ name: p.name, offers: p.offers.length, problems: p.problems })) },
    };
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    if (placed) await rm(dir, { recursive: true, force: true });
    if (movedOld) await rename(backup, dir);
    throw e;
  }
}

/**
 * Routes serving the sample as page one of the request, and an empty (204) answer for any further page, so
 * the connector's pagination ends in the sandbox as it would on a last page.
 */
async function sandboxRoutes(spec: ConnectorSpec, fake: Record<string, string>, sampleFile: string, quarantined: number, draft: WizardDraft): Promise<SandboxDefinition> {
  const { req, injected } = await firstRequest(spec, { config: fake });
  const url = new URL(req.url);
  const method = (req.method ?? 'GET').toUpperCase();
  const pagination = spec.streams[0].pagination;
  const firstPage: SandboxRoute = { method, path: url.pathname, body_file: sampleFile };
  const authParam = draft.auth.type === 'api_key' && draft.auth.in === 'query' ? draft.auth.name : undefined;
  const pageQuery = Object.fromEntries(Object.entries(injected.query).filter(([k]) => k !== authParam));
  const match: Record<string, string | null> = pageQuery;
  if (pagination?.type === 'cursor' && pagination.cursor_param) match[pagination.cursor_param] = null;
  if (Object.keys(match).length) firstPage.match = { query: match };
  if (Object.keys(injected.body).length) firstPage.match = { ...(firstPage.match ?? {}), body: injected.body };
  const routes: SandboxRoute[] = [firstPage];
  if (pagination && pagination.type !== 'none') {
    const followUrls = pagination.type === 'next_url' || pagination.type === 'link_header';
    routes.push({ method, path: followUrls ? '*' : url.pathname, status: 204 });
  }
  const def: SandboxDefinition = {
    config: 'config.json',
    unauthorized: { status: 401, headers: { 'content-type': 'application/json' }, body: { error: 'unauthorized' } },
    routes,
  };
  if (spec.auth?.type === 'oauth2') def.token = { body: { access_token: 'x', token_type: 'bearer', expires_in: 3600 } };
  if (quarantined) def.expect = { quarantined };
  return def;
}

function readme(spec: ConnectorSpec, draft: WizardDraft): string {
  const env = (k: string) => `OFFERFEED_${spec.id.toUpperCase().replace(/-/g, '_')}_${k.toUpperCase()}`;
  const settings = Object.entries(spec.config?.properties ?? {});
  return `# ${spec.name}

Created with the "Import New Network" wizard from a sample of \`${draft.base_url}\` (status: beta). Review the
mapping in \`connector.yaml\` against the network's documentation before relying on it.

## What it pulls
One stream, \`${spec.streams[0].name}\`: \`${draft.request.method ?? 'GET'} ${draft.request.path}\`${spec.streams[0].pagination ? `, paginated (${spec.streams[0].pagination.type})` : ''}, decoded as ${(spec.streams[0].decoder?.format ?? 'json').toUpperCase()}.

## Credentials and settings
${settings.length ? settings.map(([k, p]) => `- \`${k}\` (${p.title ?? k})${p['x-secret'] ? ', secret' : ''}: \`offerfeed secrets set ${spec.id} ${k}\` (value on standard input) or the environment variable \`${env(k)}\`.`).join('\n') : 'None: the API is public.'}

## Run it
\`\`\`
offerfeed connectors test ${spec.id}
offerfeed sandbox ${spec.id}
offerfeed sync ${spec.id} --dry-run --out - --base-url <sandbox url> --config connectors/${spec.id}/sandbox/config.json
offerfeed sync ${spec.id}
\`\`\`

## Troubleshooting
- HTTP 401/403: the stored credentials are wrong or expired; set them again with \`offerfeed secrets set\`.
- Records quarantined: a field the map relies on is missing or malformed in some records; adjust \`map\` in \`connector.yaml\`.
- Throttling: lower \`rate_limit\` in \`connector.yaml\` to the network's documented limit.
`;
}
