import { createRequire } from 'node:module';

// The data files alone: the package's entry point registers ~80 locales at import time.
const require = createRequire(import.meta.url);
const CODES = require('i18n-iso-countries/codes.json') as [string, string, string, string][];
interface LocaleFile { countries: Record<string, string | string[]> }
// English first so it wins any clash; then the languages of the European networks' feeds.
const LOCALES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt'].map((l) => require(`i18n-iso-countries/langs/${l}.json`) as LocaleFile);

const ALPHA2 = new Set<string>();
const ALPHA3 = new Map<string, string>();
const NUMERIC = new Map<string, string>();
// Keys are folded names (see fold) and raw lower-cased names; values alpha-2.
const NAMES = new Map<string, string>();

const COMBINING = /[\u0300-\u036f]/g;
const PUNCT_DROP = /\./g;
const PUNCT_SPACE = /[,()'’`\-/_]+/g;
const SPACES = /\s+/g;

// "Côte d'Ivoire" / "cote d ivoire", "Korea, Republic of" / "korea republic of", "St. Lucia" / "saint lucia".
function fold(s: string): string {
  let f = s.toLowerCase().normalize('NFD').replace(COMBINING, '').replace(PUNCT_DROP, '').replace(PUNCT_SPACE, ' ')
    .replace('&', ' and ').replace(SPACES, ' ').trim();
  if (f.startsWith('the ')) f = f.slice(4);
  if (f.startsWith('st ')) f = 'saint ' + f.slice(3);
  return f;
}

function addName(name: string, alpha2: string): void {
  const lower = name.trim().toLowerCase();
  if (!NAMES.has(lower)) NAMES.set(lower, alpha2);
  const f = fold(name);
  if (f !== '' && !NAMES.has(f)) NAMES.set(f, alpha2);
}

for (const [a2, a3, num] of CODES) {
  ALPHA2.add(a2);
  ALPHA3.set(a3, a2);
  NUMERIC.set(num, a2);
}

// Names feeds use that the locale files lack; added before the locale files so English aliases win.
const ALIASES: Record<string, string> = {
  'uk': 'GB', 'u.k.': 'GB', 'britain': 'GB', 'great britain': 'GB', 'england': 'GB', 'scotland': 'GB', 'wales': 'GB',
  'northern ireland': 'GB', 'united kingdom of great britain and northern ireland': 'GB',
  'america': 'US', 'united states': 'US', 'usa': 'US', 'u.s.': 'US', 'u.s.a.': 'US', 'us of america': 'US',
  'holland': 'NL', 'uae': 'AE', 'u.a.e.': 'AE', 'emirates': 'AE', 'korea': 'KR', 's. korea': 'KR', 'czech': 'CZ',
  'turkiye': 'TR', 'türkiye': 'TR', 'vatican': 'VA', 'vatican city': 'VA', 'burma': 'MM', 'swaziland': 'SZ',
  'macedonia': 'MK', 'macau': 'MO', 'macao': 'MO', 'laos': 'LA', 'syria': 'SY', 'moldova': 'MD', 'micronesia': 'FM',
  'brunei': 'BN', 'cabo verde': 'CV', 'east timor': 'TL', 'dr congo': 'CD', 'drc': 'CD', 'congo-kinshasa': 'CD',
  'congo-brazzaville': 'CG', 'hong kong sar': 'HK', 'taiwan': 'TW', 'russia': 'RU', 'iran': 'IR', 'bolivia': 'BO',
  'venezuela': 'VE', 'tanzania': 'TZ', 'palestine': 'PS', 'vietnam': 'VN', 'viet nam': 'VN', 'ivory coast': 'CI',
  'st kitts': 'KN', 'saint kitts': 'KN', 'st vincent': 'VC', 'north korea': 'KP', 'south korea': 'KR',
  'the gambia': 'GM', 'the bahamas': 'BS', 'curacao': 'CW', 'reunion': 'RE',
};
for (const k in ALIASES) addName(k, ALIASES[k]);
for (const locale of LOCALES) {
  for (const a2 in locale.countries) {
    const names = locale.countries[a2];
    if (typeof names === 'string') addName(names, a2);
    else for (const n of names) addName(n, a2);
  }
}

// Two-letter codes feeds use that are not ISO 3166-1: UK (United Kingdom), EL (Greece in EU statistics).
const ALPHA2_ALIASES = new Map([['UK', 'GB'], ['EL', 'GR']]);

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * ISO 3166-1 alpha-2 (upper case) from alpha-2, alpha-3 or numeric codes, English (and de/fr/es/it/nl/pt) names,
 * common aliases (UK, USA, Holland) and locale tags ("en_US"), in any case. Undefined when unknown.
 */
export function normalizeCountry(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 && v < 1000 ? NUMERIC.get(String(v).padStart(3, '0')) : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  const n = s.length;
  if (n === 2) {
    const up = s.toUpperCase();
    return ALPHA2.has(up) ? up : ALPHA2_ALIASES.get(up);
  }
  if (n === 3) {
    const up = s.toUpperCase();
    const a2 = ALPHA3.get(up) ?? NUMERIC.get(up);
    if (a2 !== undefined) return a2;
  }
  if (n === 0) return undefined;
  // Locale tags carry the country as their region: "en_US", "pt-BR".
  if (n === 5 && (s[2] === '-' || s[2] === '_') && isAsciiLetter(s.charCodeAt(0)) && isAsciiLetter(s.charCodeAt(1))) {
    const up = s.slice(3).toUpperCase();
    if (ALPHA2.has(up)) return up;
  }
  return NAMES.get(s.toLowerCase()) ?? NAMES.get(fold(s));
}
