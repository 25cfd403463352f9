import { createRequire } from 'node:module';

interface CurrencyRecord { code: string; currency: string }

// The data file alone: the package's index pulls in helpers that scan the list on every call.
const require = createRequire(import.meta.url);
const CURRENCIES = require('currency-codes/data.js') as CurrencyRecord[];

const CODES = new Set<string>();
// Lower-cased symbols, prefixed symbols and English names -> ISO 4217 code.
const ALIASES = new Map<string, string>();

for (const c of CURRENCIES) {
  CODES.add(c.code);
  const name = c.currency.trim().toLowerCase();
  if (!ALIASES.has(name)) ALIASES.set(name, c.code);
}

const EXTRA: Record<string, string> = {
  // Bare symbols resolve to the currency most feeds mean by them.
  '$': 'USD', '€': 'EUR', '£': 'GBP', '¥': 'JPY', '￥': 'JPY', '₹': 'INR', '₩': 'KRW', '₽': 'RUB', '₺': 'TRY',
  '₪': 'ILS', '₱': 'PHP', '₫': 'VND', '฿': 'THB', '₴': 'UAH', '₦': 'NGN', '₡': 'CRC', '₸': 'KZT', '₾': 'GEL',
  '₼': 'AZN', '₲': 'PYG', '৳': 'BDT', '円': 'JPY', '元': 'CNY', '圆': 'CNY', '원': 'KRW',
  'us$': 'USD', 'u$s': 'USD', 'usd$': 'USD', 'ca$': 'CAD', 'c$': 'CAD', 'cad$': 'CAD', 'a$': 'AUD', 'au$': 'AUD',
  'aud$': 'AUD', 'nz$': 'NZD', 'hk$': 'HKD', 's$': 'SGD', 'sg$': 'SGD', 'r$': 'BRL', 'mx$': 'MXN', 'nt$': 'TWD',
  'cn¥': 'CNY', 'jp¥': 'JPY', 'rmb': 'CNY', 'zł': 'PLN', 'zl': 'PLN', 'kč': 'CZK', 'ft': 'HUF', 'lei': 'RON',
  'лв': 'BGN', 'лв.': 'BGN', 'руб': 'RUB', 'руб.': 'RUB', 'chf': 'CHF', 'sfr': 'CHF', 'fr.': 'CHF',
  'euro': 'EUR', 'euros': 'EUR', 'eur€': 'EUR', 'dollar': 'USD', 'dollars': 'USD', 'us dollar': 'USD',
  'us dollars': 'USD', 'u.s. dollar': 'USD', 'u.s. dollars': 'USD', 'pound': 'GBP', 'pounds': 'GBP',
  'sterling': 'GBP', 'gbp£': 'GBP', 'british pound': 'GBP', 'british pounds': 'GBP', 'yen': 'JPY',
  'japanese yen': 'JPY', 'yuan': 'CNY', 'renminbi': 'CNY', 'chinese yuan': 'CNY', 'rupee': 'INR', 'rupees': 'INR',
  'indian rupees': 'INR', 'canadian dollars': 'CAD', 'australian dollars': 'AUD', 'swiss francs': 'CHF',
  'real': 'BRL', 'reais': 'BRL', 'brazilian real': 'BRL', 'ruble': 'RUB', 'rouble': 'RUB', 'zloty': 'PLN',
  'złoty': 'PLN', 'forint': 'HUF',
};
for (const k in EXTRA) ALIASES.set(k, EXTRA[k]);

/** True when `code` is a current ISO 4217 code (upper case). */
export function isCurrencyCode(code: string): boolean {
  return CODES.has(code);
}

/**
 * ISO 4217 code from a code in any case, a symbol ("$", "€", "US$", "R$") or an English name ("euro").
 * Ambiguous symbols that no feed uses consistently ("kr", "R") are not guessed: undefined.
 */
export function normalizeCurrency(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s.length === 0) return undefined;
  if (s.length === 3) {
    if (CODES.has(s)) return s;
    const up = s.toUpperCase();
    if (CODES.has(up)) return up;
  }
  return ALIASES.get(s.toLowerCase());
}
