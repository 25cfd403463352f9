// Identity of an offer: its stable public id, the content hash that decides "changed", and the group key
// that links the same offer across networks.
import { createHash, hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Offer } from '../types/offer.generated.ts';

/** Same as the offer_id() SQL macro of migrations/duckdb/001_init.sql (network ids never contain ':'). */
export function offerId(network: string, externalId: string): string {
  return createHash('sha1').update(`${network}:${externalId}`).digest('hex').slice(0, 16);
}

/** Hash over the canonical fields with keys sorted, so field order never counts as a change. */
export function contentHash(offer: Offer): string {
  return hashText(canonicalOfferJson(offer) ?? stableStringify(offer));
}

/** SHA-1 hex of a text (a string is hashed as UTF-8): the content hash of a canonical offer JSON. */
export const hashText = (text: string | Uint8Array): string => hash('sha1', text, 'hex');

export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

// The canonical offer's fields in sorted order (the schema allows no others), so an offer's keys are put in order
// by a lookup instead of a sort per offer.
const OFFER_KEYS: readonly string[] = Object.keys(JSON.parse(readFileSync(new URL('../../schema/offer.schema.json', import.meta.url), 'utf8')).properties).sort();
const OFFER_RANK: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(OFFER_KEYS.map((k, i) => [k, i])));
const EXOTIC = Symbol('exotic');

/**
 * The offer as JSON with keys sorted at every level: the same text as stableStringify(offer), built as a
 * key-sorted copy serialized by the native JSON.stringify (several times faster). Undefined when the offer holds
 * something JSON cannot carry the same way (functions, undefined array items, bigints, non-plain objects,
 * integer-like or `__proto__` keys, keys outside the schema); callers then fall back to stableStringify.
 */
export function canonicalOfferJson(offer: Offer): string | undefined {
  const src = offer as unknown as Record<string, unknown>;
  if (Object.getPrototypeOf(src) !== Object.prototype) return undefined;
  const keys = Object.keys(src);
  const slots: unknown[] = new Array(OFFER_KEYS.length);
  for (let i = 0; i < keys.length; i++) {
    const rank = OFFER_RANK[keys[i]];
    if (rank === undefined) return undefined;
    slots[rank] = src[keys[i]];
  }
  const copy: Record<string, unknown> = {};
  for (let r = 0; r < slots.length; r++) {
    const v = slots[r];
    if (v === undefined) continue;
    const c = sortedCopy(v);
    if (c === EXOTIC) return undefined;
    copy[OFFER_KEYS[r]] = c;
  }
  return JSON.stringify(copy);
}

function sortedCopy(v: unknown): unknown {
  switch (typeof v) {
    case 'string': case 'number': case 'boolean': return v;
    case 'object': break;
    default: return EXOTIC;
  }
  if (v === null) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) return EXOTIC;
      const x = v[i];
      const c = x !== null && typeof x === 'object' ? sortedCopy(x) : x;
      if (c === EXOTIC || c === undefined || typeof c === 'function' || typeof c === 'symbol' || typeof c === 'bigint') return EXOTIC;
      if (c !== x) (out ??= v.slice(0, i))[i] = c;
      else if (out) out[i] = c;
    }
    return out ?? v;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return EXOTIC;
  const keys = Object.keys(v).sort();
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    // Integer-like keys would be re-ordered by the engine, and `__proto__` would not be an own key of the copy.
    if ((k.charCodeAt(0) >= 48 && k.charCodeAt(0) <= 57) || k === '__proto__') return EXOTIC;
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    const c = sortedCopy(x);
    if (c === EXOTIC) return EXOTIC;
    out[k] = c;
  }
  return out;
}

// Parameters that only track the visitor, never identify the product page.
const TRACKING_PARAM = /^(utm_[a-z]+|ref|ref_|tag|aff(iliate)?(_?id)?|clickid|click_id|gclid|fbclid|irclickid|cjevent|ranmid|ransiteid|siteid|sid|subid|u1|psc|th|linkcode|camp|creative|mkevt|mkcid|mkrid|campid|toolid|customid)$/i;

export function normalizeLandingUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    const host = u.hostname.toLowerCase().replace(/^www\./, '').replace(/^m\./, '');
    const params = [...u.searchParams].filter(([k]) => !TRACKING_PARAM.test(k)).sort(([a], [b]) => a.localeCompare(b));
    const path = u.pathname.replace(/\/+$/, '') || '/';
    return `${host}${path}${params.length ? `?${new URLSearchParams(params).toString()}` : ''}`;
  } catch {
    return undefined;
  }
}

const normalizeTitle = (s: string) => s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^\p{L}\p{N}]+/gu, ' ').trim();

/** GTIN, then ASIN, then MPN with brand, then the landing page, then merchant + title (+ coupon code). */
export function groupKey(o: Offer): string {
  if (o.gtin) return `gtin:${o.gtin.padStart(14, '0')}`;
  if (o.asin) return `asin:${o.asin}`;
  if (o.mpn && o.brand) return `mpn:${normalizeTitle(o.brand)}:${o.mpn.toLowerCase()}`;
  const landing = o.landing_url ? normalizeLandingUrl(o.landing_url) : undefined;
  if (landing && o.kind === 'product') return `url:${landing}`;
  const merchant = normalizeTitle(o.merchant_name ?? o.merchant_id ?? o.network);
  return `mt:${o.kind}:${merchant}|${normalizeTitle(o.title)}${o.coupon_code ? `|${o.coupon_code.toLowerCase()}` : ''}`;
}
