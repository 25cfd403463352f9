// What the public sees: consent from a request, the offer as returned (consent applied), cursors, filters from
// query strings, and filter matching for subscription events (which carry offers, not read-model slots).
import type { IncomingHttpHeaders } from 'node:http';
import type { Offer } from '../engine/types/offer.generated.ts';
import type { ConsentMode } from './config.ts';
import { hasTrackingUrl, normVertical, verticalsOf, type ConsentView, type OfferFilter, type OfferIndex, type PageCursor } from './read-model/offer-index.ts';

export const CONSENT_COOKIE = 'offerfeed_consent';
export const CONSENT_HEADER = 'x-offerfeed-consent';
export const USER_COOKIE = 'offerfeed_uid';
export const PURPOSES = ['affiliate', 'analytics'] as const;

export interface Consent {
  purposes: string[];
  affiliate: boolean;
  /** A pseudonymous user id may be set and used (any purpose consented to). */
  identify: boolean;
  source: 'header' | 'cookie' | 'none';
}

/** Consent from the X-Offerfeed-Consent header, else the offerfeed_consent cookie: comma-separated purposes. */
export function readConsent(headers: IncomingHttpHeaders, cookies?: Record<string, string | undefined>): Consent {
  const header = headers[CONSENT_HEADER];
  const raw = typeof header === 'string' ? header : Array.isArray(header) ? header.join(',') : undefined;
  const cookie = cookies ? cookies[CONSENT_COOKIE] : cookieValue(headers.cookie, CONSENT_COOKIE);
  const value = raw ?? cookie;
  const purposes = value === undefined ? [] : [...new Set(safeDecode(value).split(/[\s,]+/).map((p) => p.trim().toLowerCase()).filter((p) => (PURPOSES as readonly string[]).includes(p)))];
  return { purposes, affiliate: purposes.includes('affiliate'), identify: purposes.length > 0, source: raw !== undefined ? 'header' : cookie !== undefined ? 'cookie' : 'none' };
}

export function consentView(c: Consent, mode: ConsentMode): ConsentView {
  return c.affiliate ? 'all' : mode === 'landing' ? 'landing' : 'no-tracking';
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

export interface OfferMeta { id: string; status: string; first_seen_ms: number; changed_ms: number; group_key?: string; duplicates?: number }

/** The public representation, or undefined when the consent view may not see it. */
export function publicOffer(offer: Offer, meta: OfferMeta, view: ConsentView, clickBase: string): Record<string, unknown> | undefined {
  const tracking = hasTrackingUrl(offer);
  if (tracking && view === 'no-tracking') return undefined;
  if (tracking && view === 'landing' && !offer.landing_url) return undefined;
  const out: Record<string, unknown> = {
    ...offer, id: meta.id, status: meta.status, first_seen_at: new Date(meta.first_seen_ms).toISOString(), last_changed_at: new Date(meta.changed_ms).toISOString(),
    click_url: `${clickBase}/go/${meta.id}`, group_key: meta.group_key, duplicates: meta.duplicates ?? 1,
  };
  if (tracking && view === 'landing') out.url = offer.landing_url;
  return out;
}

/** A slot of the read model as a public offer (the slot is public and visible under `view`). */
export function publicFromSlot(index: OfferIndex, slot: number, view: ConsentView, clickBase: string): Record<string, unknown> {
  // A fresh parse is ours to extend in place (no copy of every field, as publicOffer makes for shared objects).
  const out = JSON.parse(index.dataOf(slot)!) as Record<string, unknown>;
  const id = index.idOf(slot);
  out.id = id;
  out.status = 'active';
  out.first_seen_at = new Date(index.firstSeenOf(slot)).toISOString();
  out.last_changed_at = new Date(index.changedOf(slot)).toISOString();
  out.click_url = `${clickBase}/go/${id}`;
  out.group_key = index.groupKeyOf(slot);
  out.duplicates = index.groupSize(slot);
  if (view === 'landing' && index.hasTracking(slot)) out.url = out.landing_url;
  return out;
}

/**
 * The same public offer as JSON text, built around the stored canonical JSON instead of parsing and
 * re-serializing it: a page of 20 offers costs string concatenation, not 20 parse/stringify round trips. Safe
 * because the stored text is the canonical offer exactly as validated (schema/offer.schema.json, no additional
 * properties) and none of the API fields prefixed here is a canonical field name; api/rest.test.ts validates
 * responses against the documented schema. Only the landing view, which rewrites `url`, takes the slow path.
 * `extra` is prefixed verbatim (already-serialized `"key":value,` pairs such as a search score).
 */
export function publicJsonFromSlot(index: OfferIndex, slot: number, view: ConsentView, clickBase: string, extra = ''): string {
  const id = index.idOf(slot);
  const data = index.dataOf(slot)!;
  if (view === 'landing' && index.hasTracking(slot)) {
    const o = publicFromSlot(index, slot, view, clickBase);
    return `{${extra}${JSON.stringify(o).slice(1)}`;
  }
  const gk = index.groupKeyOf(slot);
  return `{${extra}"id":"${id}","status":"active","first_seen_at":"${new Date(index.firstSeenOf(slot)).toISOString()}",` +
    `"last_changed_at":"${new Date(index.changedOf(slot)).toISOString()}","click_url":${JSON.stringify(`${clickBase}/go/${id}`)},` +
    `${gk === undefined ? '' : `"group_key":${JSON.stringify(gk)},`}"duplicates":${index.groupSize(slot)},${data.slice(1)}`;
}

// ------------------------------------------------------------------------------------------------- cursors

export class CursorError extends Error {
  readonly statusCode = 400;
  constructor() { super('invalid cursor: pass the next_cursor of a previous page unchanged'); this.name = 'CursorError'; }
}

export function encodeCursor(kind: string, c: PageCursor): string {
  return Buffer.from(JSON.stringify({ t: kind, k: c.k, i: c.i, m: c.m })).toString('base64url');
}

export function decodeCursor(kind: string, s: string | undefined): PageCursor | undefined {
  if (!s) return undefined;
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { t?: unknown; k?: unknown; i?: unknown; m?: unknown };
    if (v.t !== kind || typeof v.k !== 'number' || !Number.isFinite(v.k) || typeof v.i !== 'string' || v.i.length > 64) throw new CursorError();
    if (v.m !== undefined && (typeof v.m !== 'number' || !Number.isInteger(v.m))) throw new CursorError();
    return { k: v.k, i: v.i, m: v.m as number | undefined };
  } catch {
    throw new CursorError();
  }
}

// ------------------------------------------------------------------------------------------------- filters

const list = (v: unknown): string[] | undefined => {
  if (v === undefined || v === null) return undefined;
  const items = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean);
  return items.length ? items : undefined;
};

/** Filters from REST query parameters (comma-separated lists allowed) or GraphQL filter input. */
export function filterFrom(q: Record<string, unknown>): OfferFilter {
  return {
    network: list(q.network), kind: list(q.kind), merchant: list(q.merchant), country: list(q.country), lang: list(q.lang), vertical: list(q.vertical),
    min_price: typeof q.min_price === 'number' ? q.min_price : undefined,
    max_price: typeof q.max_price === 'number' ? q.max_price : undefined,
    has_coupon: typeof q.has_coupon === 'boolean' ? q.has_coupon : undefined,
  };
}

/** The same filter semantics as OfferIndex.compile, on an offer object (subscription events). */
export function matchesFilter(o: Offer, f: OfferFilter): boolean {
  const lower = (xs: string[] | undefined) => xs?.map((x) => x.toLowerCase());
  if (f.network && !f.network.includes(o.network)) return false;
  if (f.kind && !f.kind.includes(o.kind)) return false;
  const merchants = lower(f.merchant);
  if (merchants && !merchants.includes((o.merchant_name ?? '').toLowerCase()) && !merchants.includes((o.merchant_id ?? '').toLowerCase())) return false;
  if (f.country && !(o.countries ?? []).some((c) => f.country!.map((x) => x.toUpperCase()).includes(c.toUpperCase()))) return false;
  if (f.lang) {
    const primary = (l: string) => l.toLowerCase().split(/[-_]/)[0];
    const wanted = f.lang.map(primary);
    if (!(o.languages ?? []).some((l) => wanted.includes(primary(l)))) return false;
  }
  if (f.vertical) {
    const wanted = f.vertical.map(normVertical);
    if (!verticalsOf(o).some((v) => wanted.includes(v))) return false;
  }
  if (f.has_coupon !== undefined && Boolean(o.coupon_code) !== f.has_coupon) return false;
  if (f.min_price !== undefined || f.max_price !== undefined) {
    const p = o.sale_price ?? o.price;
    if (typeof p !== 'number' || (f.min_price !== undefined && p < f.min_price) || (f.max_price !== undefined && p > f.max_price)) return false;
  }
  return true;
}
