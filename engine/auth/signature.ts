// Declarative request signatures (e.g. ShareASale's x-ShareASale-Authentication): a string-to-sign template
// over $sign.date, $sign.nonce, $request and $config, hashed or HMAC'd, then placed by header/query templates
// that read $sign.signature. The date is the server's time as this run knows it (see HttpRuntime.serverNow), so a
// server that checks it against its own clock accepts requests from a machine whose clock is minutes off.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { AuthSignature } from '../types/connector.generated.ts';
import { renderStringMap, renderValue, type Bindings } from '../expr/jsonata.ts';
import type { AuthApplier, HttpRequest } from '../http/runtime.ts';

export function formatSignDate(d: Date, format: AuthSignature['date_format'] = 'rfc1123'): string {
  switch (format) {
    case 'iso8601': return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    case 'iso8601_basic': return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
    case 'unix': return String(Math.floor(d.getTime() / 1000));
    case 'unix_ms': return String(d.getTime());
    default: return d.toUTCString();
  }
}

export function digest(algorithm: AuthSignature['algorithm'], data: string, key: string | undefined, encoding: NonNullable<AuthSignature['encoding']>): string {
  const hmac = algorithm.startsWith('hmac-');
  const alg = hmac ? algorithm.slice(5) : algorithm;
  const h = hmac ? createHmac(alg, key ?? '') : createHash(alg);
  h.update(data, 'utf8');
  if (encoding === 'HEX') return h.digest('hex').toUpperCase();
  return h.digest(encoding);
}

export class SignatureApplier implements AuthApplier {
  readonly signsTime = true;

  /** `now` gives the time to sign a request to `url` with. */
  constructor(private readonly spec: AuthSignature, private readonly bindings: Bindings, private readonly now: (url: string) => Date = () => new Date()) {}

  async apply(req: HttpRequest): Promise<HttpRequest> {
    const url = new URL(req.url);
    const sign: Record<string, string> = { date: formatSignDate(this.now(req.url), this.spec.date_format), nonce: randomUUID() };
    const request = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      query_string: url.search.replace(/^\?/, ''),
      host: url.host,
      body: typeof req.body === 'string' ? req.body : req.body?.toString('utf8') ?? '',
    };
    const b = { ...this.bindings, sign, request };
    const toSign = String(await renderValue(this.spec.string_to_sign, b) ?? '');
    const key = this.spec.key ? String(await renderValue(this.spec.key, b) ?? '') : undefined;
    sign.signature = digest(this.spec.algorithm, toSign, key, this.spec.encoding ?? 'hex');
    Object.assign(req.headers, await renderStringMap(this.spec.headers, b));
    const query = await renderStringMap(this.spec.query, b);
    if (Object.keys(query).length) {
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      req.url = url.toString();
    }
    return req;
  }

  async refresh(): Promise<boolean> { return false; }
}
