import { normalizeCurrency } from './currency.ts';
import { ParseStatus } from './status.ts';

export interface PriceResult { amount?: number; currency?: string }

interface InternalPrice { status: ParseStatus; amount: number; currency: string | undefined }

// Words feeds put in a price field to say "no price"; they drop the field rather than fail validation.
const NO_PRICE = new Set(['free', 'gratis', 'kostenlos', 'gratuit', 'n/a', 'na', 'none', 'null', 'nil', '-', '--', '–', '—', 'tbd', 'tba']);

const AMOUNT_KEYS = ['amount', 'value', 'Amount', 'Value', 'price', 'Price'];
const CURRENCY_KEYS = ['currency', 'currencyCode', 'currency_code', 'Currency', 'CurrencyCode'];

// One scratch result reused by the offer normalizer; parsing is synchronous so it is never shared concurrently.
const scratch: InternalPrice = { status: ParseStatus.Empty, amount: 0, currency: undefined };

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// Separators that may sit between digit groups: . , ' ’ and the space family (incl. NBSP, narrow NBSP, thin space).
function isGroupChar(c: number): boolean {
  return c === 46 || c === 44 || c === 39 || c === 0x2019 || c === 32 || c === 0xa0 || c === 0x202f || c === 0x2009;
}

function isDigitGroup(s: string, at: number): boolean {
  return at + 3 <= s.length && isDigit(s.charCodeAt(at)) && isDigit(s.charCodeAt(at + 1)) && isDigit(s.charCodeAt(at + 2))
    && (at + 3 === s.length || !isDigit(s.charCodeAt(at + 3)));
}

/**
 * Number from a run of digits and separators, deciding which of "." and "," is the decimal mark:
 * both present -> the last one; one present several times -> grouping; once followed by exactly three digits
 * after a non-zero integer part of at most three digits -> grouping ("1,299", "¥1,000", "1.299"); else decimal.
 */
function parseNumberRun(run: string): number {
  let lastDot = -1, lastComma = -1, dots = 0, commas = 0;
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    if (c === 46) { lastDot = i; dots++; } else if (c === 44) { lastComma = i; commas++; }
  }
  let decimalAt = -1;
  if (dots > 0 && commas > 0) decimalAt = lastDot > lastComma ? lastDot : lastComma;
  else if (dots + commas === 1) {
    const at = dots === 1 ? lastDot : lastComma;
    let after = 0, before = 0, leadingZero = false;
    for (let i = at + 1; i < run.length; i++) if (isDigit(run.charCodeAt(i))) after++;
    for (let i = 0; i < at; i++) {
      const c = run.charCodeAt(i);
      if (isDigit(c)) { if (before === 0 && c === 48) leadingZero = true; before++; }
    }
    const grouping = after === 3 && before <= 3 && !(before === 1 && leadingZero);
    if (!grouping) decimalAt = at;
  }
  let out = '';
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    if (isDigit(c)) out += run[i];
    else if (i === decimalAt) out += '.';
  }
  return out === '' ? NaN : Number(out);
}

const PUNCT = ',.:;-–—=/';

function stripPunct(t: string, atEnd: boolean): string {
  let a = 0, b = t.length;
  if (atEnd) while (b > a && PUNCT.indexOf(t[b - 1]) !== -1) b--;
  else while (a < b && PUNCT.indexOf(t[a]) !== -1) a++;
  return a === 0 && b === t.length ? t : t.slice(a, b);
}

// Currency in the text before (touchingEnd) or after the number: the whole text ("US$", "euro"), else only the
// token touching the number ("from US$ 5", "12.99 EUR incl. VAT"), else that token without punctuation ("EUR:").
function currencyNear(text: string, touchingEnd: boolean): string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const whole = normalizeCurrency(t);
  if (whole !== undefined) return whole;
  const sp = touchingEnd ? t.lastIndexOf(' ') : t.indexOf(' ');
  const token = sp === -1 ? t : touchingEnd ? t.slice(sp + 1) : t.slice(0, sp);
  if (token !== t) {
    const c = normalizeCurrency(token);
    if (c !== undefined) return c;
  }
  const bare = stripPunct(token, touchingEnd);
  return bare !== token && bare !== '' ? normalizeCurrency(bare) : undefined;
}

/** Shared parser; fills and returns the module scratch object. */
export function parsePriceInto(v: unknown): InternalPrice {
  const r = scratch;
  r.amount = 0;
  r.currency = undefined;
  if (v === null || v === undefined) { r.status = ParseStatus.Empty; return r; }
  if (typeof v === 'number') {
    r.status = Number.isFinite(v) ? ParseStatus.Ok : ParseStatus.Invalid;
    r.amount = v;
    return r;
  }
  if (typeof v === 'bigint') { r.status = ParseStatus.Ok; r.amount = Number(v); return r; }
  if (typeof v === 'object' && !Array.isArray(v)) return parseMoneyObject(v as Record<string, unknown>, r);
  if (typeof v !== 'string') { r.status = ParseStatus.Invalid; return r; }

  const s = v.trim();
  const n = s.length;
  let start = -1;
  for (let i = 0; i < n; i++) if (isDigit(s.charCodeAt(i))) { start = i; break; }
  if (start === -1) {
    r.status = n === 0 || NO_PRICE.has(s.toLowerCase()) ? ParseStatus.Empty : ParseStatus.Invalid;
    return r;
  }
  let end = start + 1;
  while (end < n) {
    const c = s.charCodeAt(end);
    if (isDigit(c)) end++;
    else if ((c === 46 || c === 44) && end + 1 < n && isDigit(s.charCodeAt(end + 1))) end += 2;
    // Spaces and apostrophes only ever group thousands: exactly three digits must follow ("1 299", "1'299").
    else if (isGroupChar(c) && isDigitGroup(s, end + 1)) end += 4;
    else break;
  }
  // A second number or a percent sign means this is not one price ("10-20", "20% off").
  for (let i = end; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c) || c === 37) { r.status = ParseStatus.Invalid; return r; }
  }
  let amount = parseNumberRun(s.slice(start, end));
  if (Number.isNaN(amount)) { r.status = ParseStatus.Invalid; return r; }

  let prefix = s.slice(0, start).trim();
  if (prefix.length > 0) {
    const last = prefix.charCodeAt(prefix.length - 1), first = prefix.charCodeAt(0);
    // "-12", "$-12", "-$12" and the Unicode minus sign.
    if (last === 45 || last === 0x2212) { amount = -amount; prefix = prefix.slice(0, -1); }
    else if (first === 45 || first === 0x2212) { amount = -amount; prefix = prefix.slice(1); }
    else if (last === 43) prefix = prefix.slice(0, -1);
  }
  r.status = ParseStatus.Ok;
  r.amount = amount;
  r.currency = (prefix.length > 0 ? currencyNear(prefix, true) : undefined)
    ?? (end < n ? currencyNear(stripPunct(s.slice(end), false), false) : undefined);
  return r;
}

// {"value": "12.99", "currency": "USD"} as eBay, Amazon and others return money.
function parseMoneyObject(o: Record<string, unknown>, r: InternalPrice): InternalPrice {
  let amount: unknown, cur: unknown;
  for (const k of AMOUNT_KEYS) if (o[k] !== undefined && o[k] !== null) { amount = o[k]; break; }
  for (const k of CURRENCY_KEYS) if (o[k] !== undefined && o[k] !== null) { cur = o[k]; break; }
  if (amount === undefined || typeof amount === 'object') {
    r.status = amount === undefined && cur === undefined && Object.keys(o).length === 0 ? ParseStatus.Empty : ParseStatus.Invalid;
    return r;
  }
  parsePriceInto(amount);
  const explicit = normalizeCurrency(cur);
  if (explicit !== undefined) r.currency = explicit;
  return r;
}

/**
 * Price in major units plus the currency written with it, from numbers and strings in common locales:
 * "$1,299.00" -> 1299 USD, "1.299,00 €" -> 1299 EUR, "12,5" -> 12.5, "USD 10", "£5", "¥1,000" -> 1000 JPY.
 * Returns {} for no price ("", "Free", "N/A") and for anything unparseable.
 */
export function parsePrice(v: unknown): PriceResult {
  const r = parsePriceInto(v);
  if (r.status !== ParseStatus.Ok) return {};
  return r.currency === undefined ? { amount: r.amount } : { amount: r.amount, currency: r.currency };
}

/** Percent from 7.5, "7.5", "7,5 %" or "7.5%"; NaN when not a single number. */
export function parsePercent(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v !== 'string') return NaN;
  let s = v.trim();
  if (s.endsWith('%')) s = s.slice(0, -1).trimEnd();
  if (s === '') return NaN;
  let neg = false;
  if (s[0] === '-' || s[0] === '\u2212') { neg = true; s = s.slice(1); }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c) && c !== 46 && c !== 44) return NaN;
  }
  // A percent never has thousands grouping, so a lone comma is a decimal mark.
  const x = Number(s.replace(',', '.'));
  return neg ? -x : x;
}
