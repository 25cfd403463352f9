// Proposes a JSONata mapping from a sample's records to canonical offer fields, from field names (and their
// parents: merchant.name, price.amount) and from values: URLs (tracking vs landing by name and by URL shape),
// image URLs by extension, price-like strings, ISO currency codes, dates, unique ids. The proposal is a starting
// point the admin edits inline; each choice carries its reason so the UI can explain it.
import { parsePrice } from '../normalize/price.ts';
import { isCurrencyCode } from '../normalize/currency.ts';
import { toUtcIso } from '../normalize/date.ts';
import type { FieldProfile } from './detect.ts';

export type OfferKind = 'product' | 'coupon' | 'deal' | 'program';

export interface ProposedField {
  target: string;
  /** Record field path the value comes from. */
  source: string;
  /** JSONata producing the value. */
  expr: string;
  confidence: 'high' | 'medium' | 'low';
  reason: string;
}

export interface Proposal {
  /** The whole map expression for the spec. */
  map: string;
  kind: OfferKind;
  fields: ProposedField[];
  /** Record fields nothing maps (candidates for `attributes` or for fields the admin adds). */
  unmapped: string[];
  /** Required offer fields without a source. */
  missing: string[];
}

// ---- value predicates ----------------------------------------------------------------------------------------

const isHttpUrl = (v: unknown) => typeof v === 'string' && /^https?:\/\/[^\s/$.?#][^\s]*$/i.test(v.trim());
const IMAGE_EXT = /\.(jpe?g|png|gif|webp|avif|svg|bmp|tiff?)$/i;
const isImageUrl = (v: unknown) => {
  if (!isHttpUrl(v)) return false;
  try { return IMAGE_EXT.test(new URL(String(v)).pathname); } catch { return false; }
};
const isPriceLike = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0) || (typeof v === 'string' && /\d/.test(v) && v.length <= 40 && parsePrice(v).amount !== undefined);
const isCurrency = (v: unknown) => typeof v === 'string' && /^[A-Za-z]{3}$/.test(v.trim()) && isCurrencyCode(v.trim().toUpperCase());
const isDateLike = (v: unknown) => typeof v === 'string' && /\d{4}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}/.test(v) && toUtcIso(v) !== undefined;
const isScalarId = (v: unknown) => (typeof v === 'string' && v.trim() !== '' && v.length <= 200) || (typeof v === 'number' && Number.isFinite(v));
const isText = (v: unknown) => typeof v === 'string' && v.trim() !== '';
const isGtin = (v: unknown) => (typeof v === 'string' || typeof v === 'number') && /^\d{8,14}$/.test(String(v).trim());

// Names and URL shapes that say "this link goes through the network's click tracker".
const TRACKING_NAME = /(click|track|affiliate|aff_?(url|link)|deep_?link|redirect|referral|buy_?url|go_?url|out_?url)/i;
const TRACKING_VALUE = /(\/(click|track|go|out|redirect|r|aff|c)\/)|([?&](aff(_?id|_sub\d?)?|affid|subid|sub_?id|clickref|ref|tag|u1|sid|irclickid|cjevent|mid|awinmid|awinaffid|publisher_?id|pub_?id|tracking)=)|(click|track|redir|affiliate|tradedoubler|awin1|anrdoezrs|dpbolvw|jdoqocy|kqzyfj|tkqlhce|linksynergy|shareasale|impact|sjv\.io|pxf\.io|prf\.hn|avantlink|flexlinks|pjtra|pntra|gopjn)/i;

interface Rule {
  target: string;
  /** Matched against the field name and against the joined key path (price_amount, merchant_name). */
  names: RegExp;
  /** Partial matches (weaker). */
  hint?: RegExp;
  /** What a value must look like; a field whose values mostly fail it is never chosen. */
  value?: (v: unknown) => boolean;
  /** Chosen on values alone (no name match needed) with this score. */
  byValue?: number;
  /** Fields that must not be chosen (keys mentioning another entity). */
  not?: RegExp;
  expr?: (path: string) => string;
  array?: boolean;
}

const RULES: Rule[] = [
  { target: 'external_id', names: /^(id|sku|product_?id|offer_?id|item_?id|deal_?id|coupon_?id|promotion_?id|promo_?id|link_?id|ad_?id|guid|uuid|asin|aw_product_id)$/i, hint: /(^|_)id$/i,
    value: isScalarId, not: /(merchant|advertiser|program|store|shop|category|brand|parent|vendor|campaign|network|publisher)/i, expr: (p) => `$string(${p})` },
  { target: 'title', names: /^(title|name|product_?name|offer_?name|deal_?name|coupon_?name|headline|product_?title|item_?name)$/i, hint: /(title|name)/i,
    value: isText, not: /(merchant|advertiser|program|store|shop|category|brand|vendor|seller|author|user|file|image)/i },
  { target: 'image_url', names: /^(image|img|image_?url|imageurl|image_?link|thumbnail|thumb|picture|photo|logo|logo_?url|images_(src|url)|image_(src|url)|main_?image|large_?image|medium_?image)$/i, hint: /(image|img|thumb|picture|photo|logo)/i,
    value: isHttpUrl, byValue: 6 },
  { target: 'price', names: /^(price|regular_?price|list_?price|original_?price|msrp|retail_?price|old_?price|was_?price|base_?price|price_(amount|value)|prices_(regular_?price|price)|search_?price|rrp_?price|unit_?price)$/i, hint: /price/i,
    value: isPriceLike, not: /(sale|discount|special|offer|current|deal|final|now|promo|min|max|range|currency|minor)/i },
  { target: 'sale_price', names: /^(sale_?price|saleprice|discounted_?price|discount_?price|offer_?price|special_?price|current_?price|deal_?price|final_?price|now_?price|promo_?price|store_?price|prices_sale_?price)$/i, hint: /(sale|discount|special|offer|deal).*price/i,
    value: isPriceLike },
  { target: 'currency', names: /^(currency|currency_?code|currencycode|cur|ccy|curr|price_currency|prices_currency_?code|currency_?iso)$/i, hint: /curr/i, value: isCurrency, byValue: 5 },
  { target: 'coupon_code', names: /^(code|coupon|coupon_?code|couponcode|promo_?code|promocode|voucher|voucher_?code|discount_?code)$/i, hint: /(coupon|voucher|promo).*code/i, value: isText },
  { target: 'expires_at', names: /^(end|ends|end_?date|enddate|ends_?at|end_?at|expires|expires_?at|expiry|expiry_?date|expiration|expiration_?date|valid_?until|validuntil|valid_?to|valid_?through|until|to_?date|end_?time)$/i, hint: /(expir|valid_?to|end_?date)/i,
    value: (v) => isDateLike(v) || typeof v === 'number' },
  { target: 'starts_at', names: /^(start|starts|start_?date|startdate|starts_?at|start_?at|valid_?from|validfrom|begin|begins|begin_?date|from_?date|available_?from|start_?time)$/i, hint: /(start|valid_?from|begin)/i,
    value: (v) => isDateLike(v) || typeof v === 'number' },
  { target: 'description', names: /^(description|desc|summary|details|short_?description|long_?description|body|text|content|product_?description|terms)$/i, hint: /(desc|summary)/i,
    value: isText, not: /(merchant|advertiser|program|store|category|brand)/i },
  { target: 'merchant_name', names: /^(merchant|merchant_?name|merchantname|advertiser|advertiser_?name|advertisername|store|store_?name|shop|shop_?name|retailer|retailer_?name|program_?name|programname|seller|seller_?name|vendor|vendor_?name|(merchant|advertiser|store|shop|program|seller|vendor)_name)$/i,
    value: isText },
  { target: 'merchant_id', names: /^(merchant_?id|merchantid|advertiser_?id|advertiserid|program_?id|programid|store_?id|shop_?id|mid|seller_?id|vendor_?id|(merchant|advertiser|store|shop|program|seller|vendor)_id)$/i,
    value: isScalarId, expr: (p) => `$string(${p})` },
  { target: 'categories', names: /^(category|categories|category_?name|categoryname|category_?path|categories_name|department|product_?type|merchant_?category|primary_?category|category_?names)$/i, hint: /categor/i, value: (v) => isText(v) || Array.isArray(v), array: true },
  { target: 'brand', names: /^(brand|brand_?name|manufacturer|brands_name|brand_name)$/i, value: isText },
  { target: 'gtin', names: /^(gtin|gtin_?\d+|ean|ean_?13|upc|isbn|barcode)$/i, value: isGtin, expr: (p) => `$string(${p})` },
  { target: 'countries', names: /^(country|countries|country_?code|country_?codes|region|regions|geo|geos|market|markets|ship_?to)$/i, value: (v) => isText(v) || Array.isArray(v), array: true },
  { target: 'languages', names: /^(language|languages|lang|locale)$/i, value: (v) => isText(v) || Array.isArray(v), array: true },
  { target: 'tags', names: /^(tags|tag|labels|keywords|tags_name)$/i, value: (v) => isText(v) || Array.isArray(v), array: true },
  { target: 'sku', names: /^(sku|merchant_?sku|product_?sku|mpn_?sku)$/i, value: isScalarId, expr: (p) => `$string(${p})` },
];

const ratio = (values: unknown[], pred: (v: unknown) => boolean): number => {
  const vs = values.flatMap((v) => (Array.isArray(v) ? v : [v]));
  return vs.length ? vs.filter(pred).length / vs.length : 0;
};

interface Scored { field: FieldProfile; score: number; reason: string }

function score(rule: Rule, f: FieldProfile): Scored | undefined {
  const joined = f.keys.join('_');
  if (rule.not && rule.not.test(joined) && !rule.names.test(joined)) return undefined;
  let s = 0;
  let reason = '';
  if (rule.names.test(f.name)) { s = 10; reason = `field name "${f.name}"`; }
  else if (rule.names.test(joined)) { s = 9; reason = `field path "${f.path}"`; }
  else if (rule.hint?.test(joined)) { s = 4; reason = `name resembles ${rule.target}`; }
  if (rule.value) {
    const r = ratio(f.values, rule.value);
    if (s > 0 && r < 0.6) return undefined;
    if (s === 0) {
      if (!rule.byValue || r < 0.9) return undefined;
      s = rule.byValue;
      reason = `values look like ${rule.target.replace('_', ' ')}`;
    } else if (r >= 0.9) reason += ' and its values';
    s += 2 * r;
  }
  if (s === 0) return undefined;
  if (rule.target === 'external_id' && !f.unique && f.values.length > 1) s -= 6;
  if (rule.array && f.array) s += 1;
  if (!rule.array && f.array) s -= 5;
  s += f.presence * 2 - (f.keys.length - 1) * 0.7;
  return s > 0 ? { field: f, score: s, reason } : undefined;
}

const confidence = (s: number): ProposedField['confidence'] => (s >= 11 ? 'high' : s >= 7 ? 'medium' : 'low');

export function proposeMapping(fields: FieldProfile[], o: { kind?: OfferKind } = {}): Proposal {
  const used = new Set<string>();
  const chosen: ProposedField[] = [];
  const take = (target: string, s: Scored, expr: string) => {
    used.add(s.field.path);
    chosen.push({ target, source: s.field.path, expr, confidence: confidence(s.score), reason: s.reason });
  };
  const best = (rule: Rule) => fields.filter((f) => !used.has(f.path)).map((f) => score(rule, f)).filter((x): x is Scored => !!x).sort((a, b) => b.score - a.score)[0];

  for (const target of ['external_id', 'title']) {
    const rule = RULES.find((r) => r.target === target)!;
    const b = best(rule);
    if (b) take(target, b, rule.expr ? rule.expr(b.field.path) : b.field.path);
  }
  chooseUrls(fields, used, take);
  for (const rule of RULES) {
    if (chosen.some((c) => c.target === rule.target)) continue;
    if (rule.target === 'sku' && chosen.some((c) => c.target === 'external_id' && /sku/i.test(c.source))) continue;
    const b = best(rule);
    if (b) take(rule.target, b, rule.expr ? rule.expr(b.field.path) : b.field.path);
  }
  // A lone sale-looking price is the price.
  if (!chosen.some((c) => c.target === 'price')) {
    const sale = chosen.find((c) => c.target === 'sale_price');
    if (sale) sale.target = 'price';
  }
  const kind = o.kind ?? (chosen.some((c) => c.target === 'coupon_code') ? 'coupon' : chosen.some((c) => c.target === 'price') ? 'product' : 'deal');
  const order = ['external_id', 'title', 'description', 'url', 'landing_url', 'image_url', 'merchant_id', 'merchant_name', 'brand', 'price', 'sale_price', 'currency',
    'coupon_code', 'categories', 'countries', 'languages', 'tags', 'starts_at', 'expires_at', 'gtin', 'sku'];
  chosen.sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target));
  const map = `{\n${chosen.map((c) => `  "${c.target}": ${c.expr}`).join(',\n')}\n}`;
  const missing = ['external_id', 'title', 'url'].filter((t) => !chosen.some((c) => c.target === t || (t === 'url' && c.target === 'landing_url')));
  const unmapped = fields.filter((f) => !used.has(f.path) && !fields.some((g) => used.has(g.path) && f.path.startsWith(`${g.path}.`))).map((f) => f.path);
  return { map, kind, fields: chosen, unmapped, missing };
}

/** Links: a tracking link becomes `url`, a plain product page `landing_url` (the normalizer fills url from it when alone). */
function chooseUrls(fields: FieldProfile[], used: Set<string>, take: (t: string, s: Scored, e: string) => void): void {
  const links = fields.filter((f) => !used.has(f.path) && !f.array && ratio(f.values, isHttpUrl) >= 0.8 && ratio(f.values, isImageUrl) < 0.5
    && !/(image|img|thumb|picture|photo|logo|icon|video|pdf|api|self|prev|next|first|last)/i.test(f.keys.join('_')));
  const named = /^(url|link|href|permalink|product_?url|landing_?url|landing_?page|destination|destination_?url|website|web_?url|page_?url|deep_?link|deeplink|click_?url|clickurl|tracking_?url|trackingurl|affiliate_?url|affiliate_?link|aff_?url|aff_?link|buy_?url|offer_?url|deal_?url|coupon_?url|merchant_?url|store_?url|go_?url|out_?url|redirect_?url|link_?url)$/i;
  const scored = links.map((f) => {
    const tracking = TRACKING_NAME.test(f.keys.join('_')) || ratio(f.values, (v) => TRACKING_VALUE.test(String(v))) >= 0.5;
    const nameScore = named.test(f.name) ? 10 : 4;
    const merchantLink = /(merchant|advertiser|store|shop|program)/i.test(f.keys.join('_'));
    return { field: f, tracking, score: nameScore + f.presence * 2 - (f.keys.length - 1) * 0.7 - (merchantLink ? 4 : 0) };
  }).sort((a, b) => b.score - a.score);
  const tracking = scored.find((s) => s.tracking);
  const landing = scored.find((s) => !s.tracking);
  if (tracking) take('url', { field: tracking.field, score: tracking.score + 1, reason: `${TRACKING_NAME.test(tracking.field.keys.join('_')) ? 'a link whose name says click tracking' : 'a link whose URLs look like click tracking'}` }, tracking.field.path);
  if (landing) take('landing_url', { field: landing.field, score: landing.score, reason: tracking ? 'a plain link next to the tracking link: the product page' : 'the record\'s link (url defaults to it)' }, landing.field.path);
}
