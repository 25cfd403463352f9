// Identity of an offer: its stable public id, the content hash that decides "changed", and the group key
// that links the same offer across networks.
import { createHash } from 'node:crypto';
import type { Offer } from '../types/offer.generated.ts';

/** Same as the offer_id() SQL macro of migrations/duckdb/001_init.sql (network ids never contain ':'). */
export function offerId(network: string, externalId: string): string {
  return createHash('sha1').update(`${network}:${externalId}`).digest('hex').slice(0, 16);
}

/** Hash over the canonical fields with keys sorted, so field order never counts as a change. */
export function contentHash(offer: Offer): string {
  return createHash('sha1').update(stableStringify(offer)).digest('hex');
}

export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(',')}}`;
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
