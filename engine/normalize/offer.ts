import { cleanText } from './text.ts';
import { normalizeCurrency } from './currency.ts';
import { parsePriceInto, parsePercent } from './price.ts';
import { ParseStatus } from './status.ts';
import { normalizeCountry } from './country.ts';
import { normalizeLanguage } from './language.ts';
import { toUtcIsoStatus } from './date.ts';
import { absoluteUrlStatus } from './url.ts';

export type OfferKind = 'product' | 'coupon' | 'deal' | 'program';

export interface NormalizeContext {
  /** Connector id; always overrides whatever the mapping produced. */
  network: string;
  /** Base for relative url/landing_url/image_url values. */
  baseUrl?: string;
  /** Kind when the mapping gives none. */
  defaultKind?: OfferKind;
  /** Currency (code or symbol) when neither the mapping nor a price string gives one. */
  defaultCurrency?: string;
  /** IANA zone of dates that carry no zone (default UTC). */
  timeZone?: string;
}

// Returned by field normalizers to remove the key: the value means "nothing" (empty, "N/A", 0000-00-00, javascript:).
const DROP = Symbol('drop');

const STRIP = { stripTags: true } as const;
const LIST_SEPARATORS = /[,;|]/;
// Grouping separators in counts: "1,234", "1.234", "1 234".
const THOUSANDS = /[,.\s](?=\d{3}(?:\D|$))/g;

const AVAILABILITY: Record<string, string> = {
  'in_stock': 'in_stock', 'instock': 'in_stock', 'in stock': 'in_stock', 'available': 'in_stock', 'yes': 'in_stock',
  'true': 'in_stock', '1': 'in_stock', 'out_of_stock': 'out_of_stock', 'outofstock': 'out_of_stock',
  'out of stock': 'out_of_stock', 'sold out': 'out_of_stock', 'soldout': 'out_of_stock', 'unavailable': 'out_of_stock',
  'no': 'out_of_stock', 'false': 'out_of_stock', '0': 'out_of_stock', 'discontinued': 'out_of_stock',
  'preorder': 'preorder', 'pre-order': 'preorder', 'pre_order': 'preorder', 'backorder': 'backorder',
  'back order': 'backorder', 'back_order': 'backorder', 'limited': 'limited', 'limitedavailability': 'limited',
  'limited availability': 'limited', 'unknown': 'unknown',
};
const CONDITION: Record<string, string> = {
  'new': 'new', 'newcondition': 'new', 'used': 'used', 'usedcondition': 'used', 'pre-owned': 'used',
  'preowned': 'used', 'refurbished': 'refurbished', 'refurbishedcondition': 'refurbished', 'renewed': 'refurbished',
};

function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
}

// Ids arrive as numbers from JSON APIs and as padded strings from CSV.
function normId(v: unknown): unknown {
  if (typeof v === 'string') { const s = v.trim(); return s === '' ? DROP : s; }
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v;
  if (typeof v === 'bigint') return String(v);
  return v;
}

function normText(v: unknown, strip: boolean): unknown {
  const s = cleanText(v, strip ? STRIP : undefined);
  if (s !== undefined) return s;
  // A string that cleans to nothing ("  ", "<p></p>") is absent; a non-text value is left for the validator.
  return typeof v === 'string' ? DROP : v;
}

function normUrl(v: unknown, base: string | undefined): unknown {
  const r = absoluteUrlStatus(v, base);
  return typeof r === 'string' ? r : r === ParseStatus.Empty ? DROP : v;
}

function normDate(v: unknown, timeZone: string | undefined): unknown {
  const r = toUtcIsoStatus(v, timeZone);
  return typeof r === 'string' ? r : r === ParseStatus.Empty ? DROP : v;
}

function normCurrency(v: unknown): unknown {
  if (typeof v === 'string' && v.trim() === '') return DROP;
  return normalizeCurrency(v) ?? v;
}

function pushFlat(v: unknown, out: unknown[], depth: number): void {
  if (Array.isArray(v)) { if (depth < 8) for (const x of v) pushFlat(x, out, depth + 1); }
  else if (v !== null && v !== undefined) out.push(v);
}

// categories / tags: string or (nested) array; cleaned, empties dropped, deduped in order.
// Items that are not text (objects) stay for the validator to report.
function normStringList(v: unknown): unknown {
  const items: unknown[] = [];
  pushFlat(v, items, 0);
  const out: unknown[] = [];
  for (const item of items) {
    const s = cleanText(item, STRIP);
    if (s !== undefined) { if (!out.includes(s)) out.push(s); }
    else if (typeof item === 'object') out.push(item);
  }
  return out.length === 0 ? DROP : out;
}

// countries / languages: "US,GB" or arrays; unknown entries ("Worldwide", "EU") dropped.
function normCodeList(v: unknown, normalize: (x: unknown) => string | undefined): unknown {
  const items: unknown[] = [];
  pushFlat(v, items, 0);
  const out: string[] = [];
  for (const item of items) {
    if (typeof item === 'string' && LIST_SEPARATORS.test(item)) {
      for (const part of item.split(LIST_SEPARATORS)) {
        const c = normalize(part);
        if (c !== undefined && !out.includes(c)) out.push(c);
      }
    } else {
      const c = normalize(item);
      if (c !== undefined && !out.includes(c)) out.push(c);
    }
  }
  return out.length === 0 ? DROP : out;
}

function percentValue(v: unknown): unknown {
  if (typeof v === 'string' && v.trim() === '') return DROP;
  const p = parsePercent(v);
  return Number.isNaN(p) ? v : p;
}

// payout and discount: {type, amount, currency, percent, description}; a bare "7.5%" or "$5" is accepted too.
function normMoneyTerms(v: unknown): unknown {
  if (typeof v === 'string' || typeof v === 'number') {
    if (typeof v === 'string' && v.trim().endsWith('%')) {
      const p = percentValue(v);
      return typeof p === 'number' ? { percent: p } : p;
    }
    const r = parsePriceInto(v);
    if (r.status === ParseStatus.Empty) return DROP;
    if (r.status === ParseStatus.Invalid) return v;
    return r.currency === undefined ? { amount: r.amount } : { amount: r.amount, currency: r.currency };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let amountCurrency: string | undefined;
  for (const k in src) {
    const x = src[k];
    if (x === null || x === undefined || k === '__proto__') continue;
    let r: unknown = x;
    switch (k) {
      case 'type':
        r = typeof x === 'string' ? (x.trim() === '' ? DROP : x.trim().toLowerCase()) : x;
        break;
      case 'amount':
        if (typeof x === 'string' && x.trim().endsWith('%') && src.percent == null) {
          // "7.5%" in the amount column is a percent payout.
          const p = percentValue(x);
          if (typeof p === 'number') { out.percent = p; r = DROP; break; }
        }
        {
          const pr = parsePriceInto(x);
          if (pr.status === ParseStatus.Ok) { r = pr.amount; amountCurrency = pr.currency; }
          else r = pr.status === ParseStatus.Empty ? DROP : x;
        }
        break;
      case 'percent':
        r = percentValue(x);
        break;
      case 'currency':
        r = normCurrency(x);
        break;
      case 'description':
        r = normText(x, true);
        break;
    }
    if (r !== DROP && !isEmpty(r)) out[k] = r;
  }
  if (out.currency === undefined && amountCurrency !== undefined) out.currency = amountCurrency;
  return Object.keys(out).length === 0 ? DROP : out;
}

function normEnum(v: unknown, table: Record<string, string>, schemaOrg: boolean): unknown {
  if (typeof v !== 'string') return v;
  let s = v.trim().toLowerCase();
  if (s === '') return DROP;
  // schema.org values: "https://schema.org/InStock", "schema:NewCondition".
  if (schemaOrg) {
    const slash = Math.max(s.lastIndexOf('/'), s.lastIndexOf(':'));
    if (slash !== -1) s = s.slice(slash + 1);
  }
  return table[s] ?? v;
}

function normNumber(v: unknown, integer: boolean): unknown {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  if (s === '') return DROP;
  const n = Number(integer ? s.replace(THOUSANDS, '') : s.replace(',', '.'));
  return Number.isFinite(n) && (!integer || Number.isInteger(n)) ? n : v;
}

function normBoolean(v: unknown): unknown {
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : v;
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (s === '') return DROP;
  if (s === 'true' || s === 'yes' || s === 'y' || s === '1') return true;
  if (s === 'false' || s === 'no' || s === 'n' || s === '0') return false;
  return v;
}

function normAttributes(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let any = false;
  for (const k in src) {
    const x = src[k];
    if (x === null || x === undefined || k === '__proto__') continue;
    out[k] = x;
    any = true;
  }
  return any ? out : DROP;
}

/**
 * Clean a mapped offer so it validates against schema/offer.schema.json. Never throws. Known fields are normalized;
 * a value that cannot be normalized (price "abc", an unparseable date) is kept as given so validation reports it
 * with the offending value. Values that mean "nothing" are removed: null, undefined, "", [], "N/A" prices,
 * 0/0000-00-00 dates, javascript:/data: URLs. Unknown keys pass through except null/undefined ones.
 */
export function normalizeOffer(raw: Record<string, unknown>, ctx: NormalizeContext): Record<string, unknown> {
  const out: Record<string, unknown> = { network: ctx.network };
  const base = ctx.baseUrl;
  let priceCurrency: string | undefined;
  // sale_price is written after the loop, once it is known to be below price: deleting a key would push the
  // object into slow dictionary mode for every later reader (validator, hashing, serialization).
  let sale: unknown;

  for (const key in raw) {
    const v = raw[key];
    // "__proto__" as an own key (JSON.parse makes those) would replace the output's prototype on assignment.
    if (v === null || v === undefined || key === 'network' || key === '__proto__') continue;
    let r: unknown;
    switch (key) {
      case 'external_id': case 'merchant_id':
        r = normId(v);
        break;
      case 'kind':
        r = typeof v === 'string' ? (v.trim() === '' ? DROP : v.trim().toLowerCase()) : v;
        break;
      case 'title': case 'description': case 'terms':
        r = normText(v, true);
        break;
      case 'merchant_name': case 'coupon_code': case 'brand':
        r = normText(v, false);
        break;
      case 'url': case 'landing_url': case 'image_url':
        r = normUrl(v, base);
        break;
      case 'price': case 'sale_price': {
        const p = parsePriceInto(v);
        if (p.status === ParseStatus.Ok) {
          r = p.amount;
          if (priceCurrency === undefined) priceCurrency = p.currency;
        } else r = p.status === ParseStatus.Empty ? DROP : v;
        if (key === 'sale_price') { sale = r; continue; }
        break;
      }
      case 'currency':
        r = normCurrency(v);
        break;
      case 'categories': case 'tags':
        r = normStringList(v);
        break;
      case 'countries':
        r = normCodeList(v, normalizeCountry);
        break;
      case 'languages':
        r = normCodeList(v, normalizeLanguage);
        break;
      case 'payout': case 'discount':
        r = normMoneyTerms(v);
        break;
      case 'starts_at': case 'expires_at':
        r = normDate(v, ctx.timeZone);
        break;
      case 'availability':
        r = normEnum(v, AVAILABILITY, true);
        break;
      case 'condition':
        r = normEnum(v, CONDITION, true);
        break;
      case 'rating':
        r = normNumber(v, false);
        break;
      case 'review_count':
        r = normNumber(v, true);
        break;
      case 'exclusive':
        r = normBoolean(v);
        break;
      case 'attributes':
        r = normAttributes(v);
        break;
      default:
        // Unknown keys are the connector's business: only null/undefined are removed (above).
        out[key] = v;
        continue;
    }
    if (r !== DROP && !isEmpty(r)) out[key] = r;
  }

  if (out.kind === undefined && ctx.defaultKind !== undefined) out.kind = ctx.defaultKind;
  if (out.url === undefined && typeof out.landing_url === 'string') out.url = out.landing_url;
  if (out.currency === undefined) {
    const c = priceCurrency ?? (ctx.defaultCurrency === undefined ? undefined : normalizeCurrency(ctx.defaultCurrency));
    if (c !== undefined) out.currency = c;
  }
  // A "sale" at or above the regular price is no sale.
  if (sale !== undefined && sale !== DROP && !(typeof sale === 'number' && typeof out.price === 'number' && sale >= out.price)) {
    out.sale_price = sale;
  }
  return out;
}
