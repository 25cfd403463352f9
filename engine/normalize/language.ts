import { normalizeCountry } from './country.ts';

const EN_NAMES = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });
const REGION_NAMES = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

const COMBINING = /[\u0300-\u036f]/g;
const TAG_SHAPE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$/;
const POSIX_SUFFIX = /[.@]/;
const NAME_WITH_REGION = /^(.+?)\s*\(\s*([^()]+?)\s*\)$/;

function fold(s: string): string {
  return s.toLowerCase().normalize('NFD').replace(COMBINING, '').trim();
}

// Language names -> tag: English names and autonyms ("Deutsch", "français") of every two-letter code ICU knows,
// built once at load (~5 ms), plus names feeds use that ICU does not.
const NAMES = new Map<string, string>();
const ALIASES: Record<string, string> = {
  'farsi': 'fa', 'flemish': 'nl', 'castilian': 'es', 'castellano': 'es', 'mandarin': 'zh', 'cantonese': 'yue',
  'filipino': 'fil', 'tagalog': 'fil', 'norwegian': 'no', 'simplified chinese': 'zh-Hans', 'chinese simplified': 'zh-Hans',
  'chinese (simplified)': 'zh-Hans', 'traditional chinese': 'zh-Hant', 'chinese traditional': 'zh-Hant',
  'chinese (traditional)': 'zh-Hant', 'brazilian portuguese': 'pt-BR', 'portuguese (brazil)': 'pt-BR',
  'american english': 'en-US', 'british english': 'en-GB', 'latin american spanish': 'es-419',
};
for (const k in ALIASES) NAMES.set(k, ALIASES[k]);
for (let a = 97; a <= 122; a++) {
  for (let b = 97; b <= 122; b++) {
    const code = String.fromCharCode(a, b);
    const en = EN_NAMES.of(code);
    // Deprecated codes (iw, in, mo, ...) canonicalize to others; their names belong to the canonical code.
    if (en === undefined || Intl.getCanonicalLocales(code)[0] !== code) continue;
    const key = fold(en);
    if (!NAMES.has(key)) NAMES.set(key, code);
    const native = new Intl.DisplayNames([code], { type: 'language', fallback: 'none' }).of(code);
    if (native !== undefined) {
      const nk = fold(native);
      if (!NAMES.has(nk)) NAMES.set(nk, code);
    }
  }
}

// Results by raw input: a feed repeats a handful of values millions of times, and ICU canonicalization is not free.
// Bounded so hostile input cannot grow it without limit; '' marks a known miss.
const CACHE = new Map<string, string>();
const CACHE_MAX = 10000;

// Intl throws on malformed tags and on subtags its display data rejects; both mean "not a language tag".
function fromTag(s: string): string | undefined {
  try {
    const locale = new Intl.Locale(Intl.getCanonicalLocales(s.replaceAll('_', '-'))[0]);
    const lang = locale.language;
    if (lang === '' || lang === 'und' || EN_NAMES.of(lang) === undefined) return undefined;
    let tag = lang;
    if (locale.script !== undefined) tag += '-' + locale.script;
    // An unknown region ("en-XX") is noise on a known language: keep the language.
    if (locale.region !== undefined && REGION_NAMES.of(locale.region) !== undefined) tag += '-' + locale.region;
    return tag;
  } catch {
    return undefined;
  }
}

function compute(raw: string): string | undefined {
  let s = raw.trim();
  // POSIX locales: "en_US.UTF-8", "de_DE@euro".
  const cut = s.search(POSIX_SUFFIX);
  if (cut > 0 && TAG_SHAPE.test(s.slice(0, cut))) s = s.slice(0, cut);
  if (TAG_SHAPE.test(s)) {
    const t = fromTag(s);
    if (t !== undefined) return t;
  }
  const byName = NAMES.get(fold(s));
  if (byName !== undefined) return byName;
  // "English (United States)", "Deutsch (Schweiz)".
  const m = NAME_WITH_REGION.exec(s);
  if (m !== null) {
    const lang = NAMES.get(fold(m[1]));
    const region = normalizeCountry(m[2]);
    if (lang !== undefined) return region !== undefined && lang.indexOf('-') === -1 ? `${lang}-${region}` : lang;
  }
  return undefined;
}

/**
 * BCP 47 tag in canonical case from codes ("EN" -> "en", "en_US" -> "en-US", "de-de" -> "de-DE", "eng" -> "en",
 * "zh-hant-tw" -> "zh-Hant-TW"), POSIX locales and language names in English or the language itself
 * ("english", "Deutsch"). Undefined when the language is unknown.
 */
export function normalizeLanguage(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const hit = CACHE.get(v);
  if (hit !== undefined) return hit === '' ? undefined : hit;
  if (v.trim() === '') return undefined;
  const r = compute(v);
  if (CACHE.size < CACHE_MAX) CACHE.set(v, r ?? '');
  return r;
}
