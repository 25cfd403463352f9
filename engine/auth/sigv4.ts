/**
 * AWS Signature Version 4 request signing (header form, AWS4-HMAC-SHA256), built on node:crypto only.
 *
 * Steps follow the AWS specification: canonical request → string to sign → derived signing key →
 * signature → Authorization header. Verified against AWS's published SigV4 test suite
 * (see sigv4.vectors.ts) and the IAM ListUsers example from the AWS documentation.
 *
 * URL handling: the path and query are taken exactly as written in `url` (not re-encoded by the WHATWG
 * URL parser), because that text is what the canonical request is defined over. Pass them in the form
 * that goes on the wire (percent-encoded where needed).
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
  service: string;
}

export interface SignableRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export interface SigV4Options {
  /** Also send (and sign) `x-amz-content-sha256` carrying the payload hash; S3 requires it. */
  contentSha256Header?: boolean;
  /** Use the literal `UNSIGNED-PAYLOAD` instead of hashing the body (S3 over HTTPS allows it). */
  unsignedPayload?: boolean;
}

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** SHA-256 of the empty string: the payload hash of a request without a body. */
export const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * S3 (and its variants) sign the path as sent, encoded once; every other service encodes the
 * already-encoded path a second time and normalizes dot segments and empty segments away.
 */
const SINGLE_ENCODE_SERVICES = new Set(['s3', 's3-object-lambda', 's3-outposts', 's3express']);

/**
 * Never signed: Authorization is what we produce, and the rest are hop-by-hop or routinely rewritten by
 * proxies, load balancers and tracing agents, which would break the signature in transit. This is the
 * union of what botocore and the AWS SDK for JavaScript leave out.
 */
const UNSIGNABLE_HEADERS = new Set([
  'authorization',
  'connection',
  'expect',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);

const HEX = '0123456789ABCDEF';

function isUnreservedByte(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    (b >= 0x30 && b <= 0x39) || // 0-9
    b === 0x2d || // -
    b === 0x2e || // .
    b === 0x5f || // _
    b === 0x7e // ~
  );
}

function encodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    out += isUnreservedByte(b) ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/**
 * RFC 3986 encoding as AWS defines it: every UTF-8 byte except A-Z a-z 0-9 - . _ ~ becomes %XY
 * (upper-case hex). `%` itself is encoded, so an already-encoded string gets encoded again.
 */
export function uriEncode(value: string): string {
  return encodeBytes(Buffer.from(value, 'utf8'));
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Brings text that may or may not already be percent-encoded to the one canonical encoding: valid %XY
 * escapes stand for their byte, everything else for its UTF-8 bytes, then each byte is encoded as in
 * `uriEncode`. Works on bytes, so escapes that are not valid UTF-8 survive unchanged, and a stray `%`
 * becomes %25 instead of failing.
 */
function normalizeEncoding(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; ) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 && i + 2 < raw.length && isHexDigit(raw.charCodeAt(i + 1)) && isHexDigit(raw.charCodeAt(i + 2))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const cp = raw.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  return encodeBytes(Uint8Array.from(bytes));
}

interface SplitUrl {
  /** Lower-cased host with a non-default port, as an HTTP client sends it in the Host header. */
  host: string;
  /** Path exactly as written in the URL (never empty: "/" at least). */
  rawPath: string;
  /** Query exactly as written, without the leading "?" (empty when absent). */
  rawQuery: string;
}

function splitUrl(url: string): SplitUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('sigv4: request url is not an absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`sigv4: unsupported URL scheme ${parsed.protocol}`);
  }
  // The WHATWG parser re-encodes path and query; the raw text is taken from the string itself.
  const noFragment = url.trim().split('#', 1)[0];
  const schemeEnd = noFragment.indexOf('://');
  if (schemeEnd < 0) throw new TypeError('sigv4: request url must have the form scheme://host/path');
  const afterScheme = schemeEnd + 3;
  // WHATWG treats a backslash as "/" in http(s) URLs, so the request line an HTTP client sends does too.
  const authorityEnd = noFragment.slice(afterScheme).search(/[/?\\]/);
  const rest = authorityEnd < 0 ? '' : noFragment.slice(afterScheme + authorityEnd);
  const q = rest.indexOf('?');
  const rawPath = (q < 0 ? rest : rest.slice(0, q)).replace(/\\/g, '/');
  const rawQuery = q < 0 ? '' : rest.slice(q + 1);
  return { host: parsed.host, rawPath: rawPath === '' ? '/' : rawPath, rawQuery };
}

/** Removes empty, "." and ".." segments the way the AWS SDKs do for non-S3 services. */
function normalizePath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return '/' + segments.join('/') + trailing;
}

function isSingleEncodeService(service: string): boolean {
  return SINGLE_ENCODE_SERVICES.has(service.toLowerCase());
}

/** The CanonicalURI line of the canonical request. */
export function canonicalUri(rawPath: string, service: string): string {
  if (isSingleEncodeService(service)) {
    return rawPath.split('/').map(normalizeEncoding).join('/');
  }
  return normalizePath(rawPath).split('/').map(uriEncode).join('/');
}

/** The CanonicalQueryString line: pairs encoded per RFC 3986, sorted by key, then by value. */
export function canonicalQueryString(rawQuery: string): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([normalizeEncoding(key), normalizeEncoding(value)]);
  }
  // Encoded text is pure ASCII, so code-unit order is the byte order AWS sorts by.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalHeaderValue(value: string): string {
  return String(value).trim().replace(/\s+/g, ' ');
}

interface CanonicalHeaders {
  text: string;
  signedHeaders: string;
}

/**
 * Lower-cases names, trims values and collapses inner whitespace, joins repeated names (header keys
 * differing only in case) with "," in the order given, and sorts by name. Host comes from the URL unless
 * a Host header is given.
 */
function canonicalHeaders(headers: Record<string, string>, urlHost: string): CanonicalHeaders {
  const byName = new Map<string, string[]>();
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.trim().toLowerCase();
    if (name === '' || UNSIGNABLE_HEADERS.has(name)) continue;
    const values = byName.get(name);
    if (values) values.push(canonicalHeaderValue(value));
    else byName.set(name, [canonicalHeaderValue(value)]);
  }
  if (!byName.has('host')) byName.set('host', [urlHost]);
  const names = [...byName.keys()].sort();
  return {
    text: names.map((n) => `${n}:${byName.get(n)!.join(',')}\n`).join(''),
    signedHeaders: names.join(';'),
  };
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Uint8Array, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Hex SHA-256 of the body (empty body when absent). */
export function hashPayload(body: string | Uint8Array | undefined): string {
  if (body === undefined) return EMPTY_PAYLOAD_SHA256;
  return sha256Hex(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
}

function buildCanonicalRequest(
  req: SignableRequest,
  service: string,
  payloadHash: string,
): { text: string; signedHeaders: string } {
  const { host, rawPath, rawQuery } = splitUrl(req.url);
  const headers = canonicalHeaders(req.headers, host);
  const text = [
    req.method.toUpperCase(),
    canonicalUri(rawPath, service),
    canonicalQueryString(rawQuery),
    headers.text,
    headers.signedHeaders,
    payloadHash,
  ].join('\n');
  return { text, signedHeaders: headers.signedHeaders };
}

/**
 * The canonical request for `req` exactly as given: every header in `req.headers` (minus the unsignable
 * ones) plus Host from the URL is signed. `payloadHash` defaults to the SHA-256 of `req.body`.
 * `signSigV4` builds this over the request plus the X-Amz-* headers it adds.
 */
export function canonicalRequest(req: SignableRequest, service: string, payloadHash?: string): string {
  return buildCanonicalRequest(req, service, payloadHash ?? hashPayload(req.body)).text;
}

/** `YYYYMMDDTHHMMSSZ` in UTC, the X-Amz-Date format. */
export function amzDate(now: Date): string {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new TypeError('sigv4: signing time is not a valid Date');
  }
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** `YYYYMMDD/region/service/aws4_request`. */
export function credentialScope(now: Date, region: string, service: string): string {
  return `${amzDate(now).slice(0, 8)}/${region}/${service}/aws4_request`;
}

/** AWS4-HMAC-SHA256, the request time, the credential scope and the hex hash of the canonical request. */
export function stringToSign(canonicalRequestText: string, now: Date, region: string, service: string): string {
  return [SIGV4_ALGORITHM, amzDate(now), credentialScope(now, region, service), sha256Hex(canonicalRequestText)].join(
    '\n',
  );
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secretAccessKey: string, now: Date, region: string, service: string): Buffer {
  const kDate = hmac('AWS4' + secretAccessKey, amzDate(now).slice(0, 8));
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

function requireField(value: unknown, field: string): void {
  // Names the field only: values may be secrets.
  if (typeof value !== 'string' || value === '') throw new TypeError(`sigv4: credentials.${field} is required`);
}

function findHeader(headers: Record<string, string>, lowerName: string): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === lowerName) return value;
  }
  return undefined;
}

/**
 * Returns the headers to add to the request (Authorization, X-Amz-Date, X-Amz-Security-Token when a
 * session token is given, and x-amz-content-sha256 when opts.contentSha256Header). Does not mutate input.
 *
 * The returned headers replace any same-named ones (compared case-insensitively) in `req.headers`; they
 * are signed with the returned values. An `x-amz-content-sha256` already present in `req.headers` is used
 * as the payload hash (for callers that hash or stream the body themselves) unless `unsignedPayload`.
 */
export function signSigV4(
  req: SignableRequest,
  creds: SigV4Credentials,
  now: Date,
  opts?: { contentSha256Header?: boolean; unsignedPayload?: boolean },
): Record<string, string> {
  requireField(creds.accessKeyId, 'accessKeyId');
  requireField(creds.secretAccessKey, 'secretAccessKey');
  requireField(creds.region, 'region');
  requireField(creds.service, 'service');
  const date = amzDate(now);

  const givenContentSha = findHeader(req.headers, 'x-amz-content-sha256');
  const payloadHash = opts?.unsignedPayload
    ? UNSIGNED_PAYLOAD
    : givenContentSha !== undefined
      ? canonicalHeaderValue(givenContentSha)
      : hashPayload(req.body);

  const added: Record<string, string> = { 'X-Amz-Date': date };
  if (creds.sessionToken) added['X-Amz-Security-Token'] = creds.sessionToken;
  if (opts?.contentSha256Header || (givenContentSha !== undefined && canonicalHeaderValue(givenContentSha) !== payloadHash)) {
    added['x-amz-content-sha256'] = payloadHash;
  }

  const overridden = new Set(Object.keys(added).map((k) => k.toLowerCase()));
  const signed: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!overridden.has(name.trim().toLowerCase())) signed[name] = value;
  }
  Object.assign(signed, added);

  const canonical = buildCanonicalRequest({ ...req, headers: signed }, creds.service, payloadHash);
  const toSign = stringToSign(canonical.text, now, creds.region, creds.service);
  const signature = createHmac('sha256', deriveSigningKey(creds.secretAccessKey, now, creds.region, creds.service))
    .update(toSign, 'utf8')
    .digest('hex');

  return {
    Authorization:
      `${SIGV4_ALGORITHM} Credential=${creds.accessKeyId}/${credentialScope(now, creds.region, creds.service)}, ` +
      `SignedHeaders=${canonical.signedHeaders}, Signature=${signature}`,
    ...added,
  };
}
