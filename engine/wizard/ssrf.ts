// Outbound requests to admin-supplied URLs (the wizard's sample fetch, its OAuth token URL, alert webhooks)
// go through a dispatcher whose `connect` resolves the host itself, checks EVERY resolved address, and then
// connects to the checked address — so DNS that answers a private address, or changes its answer between a
// check and the connection (rebinding), never reaches an internal host. Every connection is checked, which
// covers every redirect hop. Refused: loopback, private, CGNAT, link-local (cloud metadata 169.254.169.254 and
// fd00:ec2::254 included), multicast, unspecified, reserved and documentation ranges, IPv4-mapped/compatible and
// NAT64/6to4/Teredo IPv6 (which embed IPv4). Numeric host forms (2130706433, 0x7f000001, 0177.0.0.1, 127.1) are
// canonicalized by the URL parser before the check. An allow-list (hosts, host:port, CIDRs) opens exceptions for
// local sandboxes and tests.
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';

export class SsrfError extends Error {
  readonly status = 400;
  readonly code = 'SSRF_REFUSED';
  constructor(message: string) { super(message); this.name = 'SsrfError'; }
}

export class ResponseTooLargeError extends Error {
  readonly status = 413;
  constructor(readonly limit: number) { super(`the response is larger than ${limit} bytes`); this.name = 'ResponseTooLargeError'; }
}

export interface NetworkPolicy {
  /** Host names or IPs (optionally host:port) reachable even when they resolve to a refused address. */
  allowHosts?: string[];
  /** Address ranges reachable even though they are refused by default (e.g. 127.0.0.1/32 for a local sandbox). */
  allowCidrs?: string[];
  /** Resolver (tests stub DNS with it); default the system's getaddrinfo. */
  lookup?: (host: string) => Promise<Array<{ address: string; family: number }>>;
}

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** `<PREFIX>_ALLOW_HOSTS` and `<PREFIX>_ALLOW_CIDRS`, comma-separated (e.g. OFFERFEED_WIZARD_ALLOW_HOSTS). */
export function policyFromEnv(prefix = 'OFFERFEED_WIZARD', env: NodeJS.ProcessEnv = process.env): NetworkPolicy {
  return { allowHosts: list(env[`${prefix}_ALLOW_HOSTS`]), allowCidrs: list(env[`${prefix}_ALLOW_CIDRS`]) };
}

// ---- address classification ----------------------------------------------------------------------------

const V4_BLOCKED: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified / "this network"'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata lives here)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved / broadcast'],
];

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

function v4Reason(ip: string): string | undefined {
  const n = v4ToInt(ip);
  if (ip === '169.254.169.254') return 'the cloud metadata service';
  for (const [base, bits, why] of V4_BLOCKED) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === ((v4ToInt(base) & mask) >>> 0)) return why;
  }
  return undefined;
}

/** Eight 16-bit groups of an IPv6 address (embedded dotted IPv4 and zone ids handled). */
export function v6Groups(ip: string): number[] | undefined {
  let s = ip.toLowerCase().replace(/^\[|\]$/g, '').split('%')[0];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = v4ToInt(dotted[1]);
    s = `${s.slice(0, -dotted[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const part = (p: string) => (p ? p.split(':').map((g) => parseInt(g, 16)) : []);
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array(Math.max(fill, 0)).fill(0), ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

function v6Reason(ip: string): string | undefined {
  const g = v6Groups(ip);
  if (!g) return 'an unparseable IPv6 address';
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(8)) return 'unspecified (::)';
  if (zeros(7) && g[7] === 1) return 'loopback (::1)';
  if (zeros(5) && g[5] === 0xffff) return 'IPv4-mapped IPv6 (::ffff:a.b.c.d)';
  if (zeros(6)) return 'IPv4-compatible IPv6 (::a.b.c.d)';
  if (zeros(4) && g[4] === 0xffff && g[5] === 0) return 'IPv4-translated IPv6';
  if (g[0] === 0x64 && g[1] === 0xff9b) return 'NAT64 (64:ff9b::/96 embeds IPv4)';
  if (g[0] === 0x100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return 'discard-only (100::/64)';
  if (g[0] === 0x2001 && g[1] === 0) return 'Teredo (2001::/32 embeds IPv4)';
  if (g[0] === 0x2001 && g[1] === 0xdb8) return 'documentation (2001:db8::/32)';
  if (g[0] === 0x2002) return '6to4 (2002::/16 embeds IPv4)';
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && g.slice(2, 7).every((x) => x === 0) && g[7] === 0x254) return 'the cloud metadata service (fd00:ec2::254)';
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique local (fc00::/7, private)';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local (fe80::/10)';
  if ((g[0] & 0xffc0) === 0xfec0) return 'site-local (fec0::/10)';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast (ff00::/8)';
  return undefined;
}

/** Why an address may not be contacted, or undefined when it is a public unicast address. */
export function forbiddenReason(ip: string): string | undefined {
  const family = isIP(ip.replace(/^\[|\]$/g, '').split('%')[0]);
  if (family === 4) return v4Reason(ip);
  if (family === 6) return v6Reason(ip);
  return 'not an IP address';
}

class Allow {
  private readonly hosts: Set<string>;
  private readonly blocks = new BlockList();
  private readonly any: boolean;

  constructor(p: NetworkPolicy) {
    this.hosts = new Set((p.allowHosts ?? []).map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
    for (const c of p.allowCidrs ?? []) {
      const [addr, bits] = c.split('/');
      const family = isIP(addr);
      if (!family) throw new Error(`allow-list entry "${c}" is not a CIDR (e.g. 127.0.0.1/32, fd00::/8)`);
      this.blocks.addSubnet(addr, Number(bits ?? (family === 4 ? 32 : 128)), family === 4 ? 'ipv4' : 'ipv6');
    }
    this.any = this.hosts.size > 0 || (p.allowCidrs ?? []).length > 0;
  }

  host(hostname: string, port: string | number): boolean {
    if (!this.any) return false;
    const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
    return this.hosts.has(h) || this.hosts.has(`${h}:${port}`);
  }

  address(ip: string): boolean {
    if (!this.any) return false;
    const family = isIP(ip);
    try { return family ? this.blocks.check(ip, family === 4 ? 'ipv4' : 'ipv6') : false; } catch { return false; }
  }
}

const defaultPort = (protocol: string) => (protocol === 'https:' ? 443 : 80);

/**
 * Checks a URL before any request: http/https only, no credentials in it, a host present. Returns it parsed
 * (the parser turns decimal, hex and octal IPv4 forms into dotted quads, which the connection check then sees).
 */
export function checkUrl(raw: string): URL {
  let u: URL;
  try { u = new URL(raw); } catch { throw new SsrfError(`"${raw}" is not an absolute URL`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SsrfError(`${u.protocol.replace(':', '')}: URLs are refused; only http and https are fetched`);
  if (u.username || u.password) throw new SsrfError('credentials in the URL are refused; choose an auth kind instead');
  if (!u.hostname) throw new SsrfError(`"${raw}" has no host`);
  return u;
}

/** Resolves a host and refuses it when any of its addresses is forbidden (unless allow-listed). */
export async function vetHost(hostname: string, port: string | number, policy: NetworkPolicy, allow = new Allow(policy)): Promise<Array<{ address: string; family: number }>> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  const addrs = literal ? [{ address: host, family: literal }] : await (policy.lookup ?? ((h: string) => dnsLookup(h, { all: true, verbatim: true })))(host).catch((e: NodeJS.ErrnoException) => {
    throw new SsrfError(`cannot resolve ${host}: ${e.code ?? e.message}`);
  });
  if (!addrs.length) throw new SsrfError(`${host} resolves to no address`);
  if (allow.host(host, port)) return addrs;
  for (const a of addrs) {
    const why = forbiddenReason(a.address);
    if (why && !allow.address(a.address)) {
      throw new SsrfError(`refused to connect to ${host}${literal ? '' : ` (${a.address})`}: ${why} addresses are not reachable from here; an operator can allow-list it (OFFERFEED_WIZARD_ALLOW_HOSTS / _ALLOW_CIDRS)`);
    }
  }
  return addrs;
}

export interface GuardedAgentOptions { connectTimeoutMs?: number; headersTimeoutMs?: number; bodyTimeoutMs?: number }

/** An undici dispatcher that checks the resolved address of every connection it opens. */
export function guardedAgent(policy: NetworkPolicy, o: GuardedAgentOptions = {}): Agent {
  const allow = new Allow(policy);
  const base = buildConnector({ timeout: o.connectTimeoutMs ?? 10_000 });
  const connect: buildConnector.connector = (opts, callback) => {
    const port = opts.port || defaultPort(opts.protocol);
    vetHost(opts.hostname, port, policy, allow).then(
      // Connect to the address that was checked, never to a second resolution of the name.
      (addrs) => base({ ...opts, hostname: addrs[0].address }, callback),
      (err: Error) => callback(err, null),
    );
  };
  return new Agent({ connect, headersTimeout: o.headersTimeoutMs ?? 15_000, bodyTimeout: o.bodyTimeoutMs ?? 15_000, keepAliveTimeout: 1_000 });
}

export interface GuardedRequest { method?: string; url: string; headers?: Record<string, string>; body?: string | Buffer }
export interface GuardedResponse { status: number; headers: Record<string, string>; url: string; body: Buffer; redirects: string[] }
export interface GuardedFetchOptions {
  policy: NetworkPolicy;
  /** Cap on the body (default 5 MiB): larger answers are refused, not truncated. */
  maxBytes?: number;
  /** Cap on the whole exchange including redirects (default 20 s). */
  timeoutMs?: number;
  maxRedirects?: number;
  /** A guarded dispatcher to reuse (one is created and closed per call otherwise). */
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

const CREDENTIAL_HEADERS = /^(authorization|cookie|proxy-authorization|x-api-key|api-key|x-auth-token)$/i;

/** One request to an admin-supplied URL, redirects followed by hand (each hop's URL re-checked, each connection vetted). */
export async function guardedFetch(req: GuardedRequest, o: GuardedFetchOptions): Promise<GuardedResponse> {
  const dispatcher = o.dispatcher ?? guardedAgent(o.policy);
  const signal = o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs ?? 20_000)]) : AbortSignal.timeout(o.timeoutMs ?? 20_000);
  const maxBytes = o.maxBytes ?? 5 * 1024 * 1024;
  let url = checkUrl(req.url);
  let method = (req.method ?? 'GET').toUpperCase();
  let body = req.body;
  let headers = { ...(req.headers ?? {}) };
  const redirects: string[] = [];
  try {
    for (let hop = 0; ; hop++) {
      const res = await request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher, signal }).catch((e: Error & { cause?: unknown }) => {
        // undici wraps connector errors; the SSRF verdict is the message worth showing.
        if (e instanceof SsrfError) throw e;
        if (e.cause instanceof SsrfError) throw e.cause;
        if (signal.aborted) throw new Error(`no answer from ${url.host} within ${o.timeoutMs ?? 20_000} ms`);
        throw new Error(`request to ${url.host} failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
      });
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && location) {
        await res.body.dump();
        if (hop >= (o.maxRedirects ?? 5)) throw new SsrfError(`more than ${o.maxRedirects ?? 5} redirects`);
        const next = checkUrl(new URL(String(location), url).toString());
        // Credentials never follow a redirect to another origin.
        if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.test(k)));
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) { method = 'GET'; body = undefined; }
        redirects.push(next.toString());
        url = next;
        continue;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) { res.body.destroy(); throw new ResponseTooLargeError(maxBytes); }
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res.body) {
        n += (c as Buffer).length;
        if (n > maxBytes) { res.body.destroy(); throw new ResponseTooLargeError(maxBytes); }
        chunks.push(c as Buffer);
      }
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
      return { status: res.statusCode, headers: flat, url: url.toString(), body: Buffer.concat(chunks), redirects };
    }
  } finally {
    if (!o.dispatcher) await dispatcher.close().catch(() => undefined);
  }
}
