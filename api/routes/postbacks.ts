// POST|GET /api/postbacks/:network — a network reports a conversion. Authenticated per network (config
// `postbacks.<network>`): a shared token, or an HMAC-SHA256 signature of the request, both compared in
// constant time. Idempotent on the network's transaction id: a replay is acknowledged and counted once; a later
// postback with changed values (pending → approved) updates the conversion. Linked to the click when the click
// id (the sub id /go put into the tracking URL) comes back. A network configured with `timestamp` must also say
// when it sent the postback, within a tolerance of our clock (signed, with HMAC): a captured postback cannot be
// replayed later, and one replayed within the window is a duplicate of its transaction.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULT_POSTBACK_LIMIT, DEFAULT_POSTBACK_TOLERANCE_S, type PostbackConfig } from '../config.ts';

type Field = 'transaction_id' | 'click_id' | 'amount' | 'commission' | 'currency' | 'status' | 'converted_at';

const ALIASES: Record<Field, string[]> = {
  transaction_id: ['transaction_id', 'txn_id', 'order_id'],
  click_id: ['click_id', 'clickid', 'subid', 'sub_id'],
  amount: ['amount', 'sale_amount'],
  commission: ['commission', 'payout'],
  currency: ['currency'],
  status: ['status'],
  converted_at: ['converted_at', 'timestamp'],
};

const MAX_AMOUNT = 1e12;

class PostbackError extends Error {
  constructor(readonly statusCode: number, message: string) { super(message); }
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** Equal-length digests compared in constant time: neither the secret's content nor its length leaks. */
function tokenMatches(given: string | undefined, secret: string): boolean {
  return typeof given === 'string' && given.length > 0 && timingSafeEqual(sha256(given), sha256(secret));
}

function signatureMatches(given: string | undefined, secret: string, message: Buffer): boolean {
  if (typeof given !== 'string') return false;
  const sig = given.trim().replace(/^sha256=/i, '');
  // Hex, or base64 (standard or URL-safe) of exactly 32 bytes: Node's base64 decoder skips characters it does not
  // know, which would let many spellings of one signature through.
  const provided = /^[0-9a-f]{64}$/i.test(sig) ? Buffer.from(sig, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(sig) ? Buffer.from(sig, 'base64') : undefined;
  const expected = createHmac('sha256', secret).update(message).digest();
  return provided !== undefined && provided.length === expected.length && timingSafeEqual(provided, expected);
}

/** When the network says it sent the postback, and where that came from (a header's value is signed separately). */
function sentAt(req: FastifyRequest, cfg: NonNullable<PostbackConfig['timestamp']>, query: Record<string, string>, body: Record<string, unknown>): { value?: string; fromHeader: boolean } {
  const h = req.headers[(cfg.header ?? 'x-offerfeed-timestamp').toLowerCase()];
  if (typeof h === 'string') return { value: h.trim(), fromHeader: true };
  const param = cfg.param ?? 'ts';
  const v = typeof query[param] === 'string' ? query[param] : body[param] !== undefined && body[param] !== null ? String(body[param]) : undefined;
  return { value: v?.trim(), fromHeader: false };
}

/** Unix seconds, Unix milliseconds or ISO 8601, as epoch milliseconds (NaN when it is none of those). */
function parseSentAt(v: string): number {
  if (/^\d{9,10}$/.test(v)) return Number(v) * 1000;
  if (/^\d{12,13}$/.test(v)) return Number(v);
  return /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : Number.NaN;
}

/** What a GET postback signs: its parameters except the signature, sorted, as k=v joined by &. */
export function canonicalQuery(params: Record<string, unknown>, exclude: string): string {
  return Object.keys(params).filter((k) => k !== exclude).sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(String(params[k]))}`).join('&');
}

function parseBody(raw: Buffer, contentType: string | undefined): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (!text.trim()) return {};
  if (/json/i.test(contentType ?? '')) {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new PostbackError(400, 'a JSON postback body is an object');
    return v as Record<string, unknown>;
  }
  return Object.fromEntries(new URLSearchParams(text));
}

export default async function postbackRoutes(app: FastifyInstance): Promise<void> {
  const s = app.services;
  // Own content parsing in this scope: the signature covers the raw bytes, so they are kept as received.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: Math.min(s.config.bodyLimit, 64 * 1024) }, (req, body, done) => {
    (req as FastifyRequest & { rawBody?: Buffer }).rawBody = body as Buffer;
    try { done(null, parseBody(body as Buffer, req.headers['content-type'])); } catch (e) { done(e instanceof PostbackError ? e : new PostbackError(400, 'the postback body is not valid JSON or form data'), undefined); }
  });

  const limit = s.config.rateLimit.postbacks ?? DEFAULT_POSTBACK_LIMIT;
  app.route({
    method: ['GET', 'POST'],
    url: '/api/postbacks/:network',
    // Networks' servers post in bursts: postbacks are limited per client apart from reads.
    config: { rateLimit: { max: limit.max, timeWindow: limit.timeWindowMs } },
    schema: {
      tags: ['tracking'], summary: 'Conversion postback from a network',
      description: 'Authenticated with the network\'s shared token (header X-Offerfeed-Token or parameter token) or an HMAC-SHA256 signature ' +
        '(header X-Offerfeed-Signature or parameter signature, hex or base64) of the raw body (POST) or of the sorted query without the signature (GET). ' +
        'Fields: transaction_id (required), click_id, amount, commission, currency, status, converted_at; names configurable per network. ' +
        'Networks configured with `timestamp` also send the time of sending (header X-Offerfeed-Timestamp or parameter ts: Unix seconds, milliseconds or ISO 8601); ' +
        'outside the tolerance (default ±15 minutes) the postback is refused. With HMAC, a timestamp sent in the header is signed as `<timestamp>.<message>`.',
      params: { type: 'object', required: ['network'], properties: { network: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,63}$' } } },
      querystring: { type: 'object', additionalProperties: { type: 'string', maxLength: 1000 } },
      response: {
        200: {
          type: 'object', required: ['status', 'transaction_id'],
          properties: { status: { type: 'string', enum: ['recorded', 'updated', 'duplicate'] }, transaction_id: { type: 'string' }, click_linked: { type: 'boolean' } },
        },
        400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 413: { $ref: 'Error#' }, 429: { $ref: 'Error#' }, 500: { $ref: 'Error#' },
      },
    },
    handler: async (req, reply) => {
      const network = (req.params as { network: string }).network;
      const cfg = s.config.postbacks[network];
      if (!cfg) return reply.status(404).send({ error: 'not_found', message: 'no postbacks are configured for this network', request_id: req.id });
      const query = (req.query ?? {}) as Record<string, string>;
      const body = (req.body ?? {}) as Record<string, unknown>;
      const sent = cfg.timestamp ? sentAt(req, cfg.timestamp, query, body) : undefined;
      if (!authentic(req, cfg, query, body, sent?.fromHeader ? sent.value : undefined)) {
        s.metrics.postbacksRejected.inc({ network, reason: 'auth' });
        req.log.warn({ network }, 'postback rejected: bad token or signature');
        return reply.status(401).send({ error: 'unauthorized', message: 'postback token or signature invalid', request_id: req.id });
      }
      if (cfg.timestamp) {
        const at = sent?.value ? parseSentAt(sent.value) : Number.NaN;
        const tolerance = (cfg.timestamp.toleranceS ?? DEFAULT_POSTBACK_TOLERANCE_S) * 1000;
        if (!Number.isFinite(at) || Math.abs(Date.now() - at) > tolerance) {
          s.metrics.postbacksRejected.inc({ network, reason: 'stale' });
          req.log.warn({ network }, 'postback rejected: timestamp missing or outside the accepted window');
          return reply.status(401).send({ error: 'unauthorized', message: 'postback timestamp missing or outside the accepted window (check the sender\'s clock)', request_id: req.id });
        }
      }
      const params: Record<string, unknown> = { ...query, ...body };
      let read: ReturnType<typeof readFields>;
      try {
        read = readFields(params, cfg);
      } catch (e) {
        s.metrics.postbacksRejected.inc({ network, reason: 'invalid' });
        throw e;
      }
      const { fields, fingerprint } = read;
      const { outcome, conversion } = await s.interactions.recordConversion({ network, ...fields, payload_hash: fingerprint });
      if (outcome !== 'duplicate') s.exporter.nudge();
      // The optimizer learns each conversion once (an update changes a status, not the count).
      if (outcome === 'recorded' && conversion.offer_id) s.ranker?.converted(conversion.offer_id, fields.commission).catch((e) => req.log.warn({ err: s.redactor.redactError(e) }, 'optimizer did not take the conversion'));
      s.metrics.conversions.inc({ network, outcome });
      return { status: outcome, transaction_id: fields.transaction_id, click_linked: conversion.click_id !== null };
    },
  });
}

function authentic(req: FastifyRequest, cfg: PostbackConfig, query: Record<string, string>, body: Record<string, unknown>, headerTimestamp?: string): boolean {
  const param = cfg.param ?? (cfg.auth === 'hmac' ? 'signature' : 'token');
  const header = (cfg.header ?? (cfg.auth === 'hmac' ? 'x-offerfeed-signature' : 'x-offerfeed-token')).toLowerCase();
  const fromHeader = req.headers[header];
  const given = typeof fromHeader === 'string' ? fromHeader : typeof query[param] === 'string' ? query[param] : typeof body[param] === 'string' ? (body[param] as string) : undefined;
  if (cfg.auth === 'token') return tokenMatches(given, cfg.secret);
  const raw = (req as FastifyRequest & { rawBody?: Buffer }).rawBody;
  const signed = req.method === 'POST' && raw ? raw : Buffer.from(canonicalQuery(query, param));
  const message = headerTimestamp === undefined ? signed : Buffer.concat([Buffer.from(`${headerTimestamp}.`), signed]);
  return signatureMatches(given, cfg.secret, message);
}

function readFields(p: Record<string, unknown>, cfg: PostbackConfig) {
  const get = (f: Field): string | undefined => {
    const names = cfg.fields?.[f] ? [cfg.fields[f]!] : ALIASES[f];
    for (const n of names) {
      const v = p[n];
      if (v !== undefined && v !== null && String(v).trim() !== '') return String(v).trim();
    }
    return undefined;
  };
  const num = (f: Field) => {
    const v = get(f);
    if (v === undefined) return undefined;
    const n = Number(v.replace(/,/g, ''));
    if (!Number.isFinite(n)) throw new PostbackError(400, `${f} "${v.slice(0, 40)}" is not a number`);
    // No conversion is worth a trillion; larger integral values would not even bind as a store parameter (int64).
    if (Math.abs(n) > MAX_AMOUNT) throw new PostbackError(400, `${f} is out of range`);
    return n;
  };
  const transaction_id = get('transaction_id');
  if (!transaction_id || transaction_id.length > 200) throw new PostbackError(400, 'a postback needs a transaction id (up to 200 characters)');
  const click_id = get('click_id');
  if (click_id && click_id.length > 200) throw new PostbackError(400, 'click_id is too long');
  const currency = get('currency');
  if (currency && !/^[A-Za-z]{3}$/.test(currency)) throw new PostbackError(400, 'currency is an ISO 4217 code');
  const when = get('converted_at');
  let converted_at = new Date();
  if (when) {
    converted_at = /^\d{9,10}$/.test(when) ? new Date(Number(when) * 1000) : /^\d{12,13}$/.test(when) ? new Date(Number(when)) : new Date(when);
    if (Number.isNaN(converted_at.getTime())) throw new PostbackError(400, 'converted_at is not a date');
  }
  const fields = {
    transaction_id, click_id, amount: num('amount'), commission: num('commission'), currency: currency?.toUpperCase(),
    status: (get('status') ?? 'approved').toLowerCase().slice(0, 40), converted_at,
  };
  // What identifies a replay: the values as sent (a missing conversion time defaults to "now", which a replay
  // must not turn into a change).
  const fingerprint = createHash('sha256').update(JSON.stringify({ ...fields, converted_at: when ?? null })).digest('hex');
  return { fields, fingerprint };
}
