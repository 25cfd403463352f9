import { decodeHTMLStrict } from 'entities';

export interface CleanTextOptions {
  /** Remove HTML tags (and script/style/comment blocks), keeping only the text. */
  stripTags?: boolean;
}

// Patterns are compiled once at module load: cleanText runs several times per record on millions of records.
// None has ambiguous repetition, so hostile input cannot make them backtrack catastrophically.
const SCRIPT_STYLE = /<(script|style)\b[^>]*>[\s\S]*?(?:<\/\1\s*>|$)/gi;
const HAS_SCRIPT_STYLE = /<(?:script|style)\b/i;
// Quoted attribute values may hold ">" but not "<", which keeps every match bounded by the next "<" (linear).
// Inline elements vanish without a trace ("Mega<b>Sale</b>!" -> "MegaSale!"); any other tag separates words.
// Two passes with plain replacement strings: a replacer callback per tag was the normalizer's largest cost.
const INLINE_TAG = /<\/?(?:a|abbr|b|bdi|bdo|cite|code|data|del|dfn|em|font|i|ins|kbd|mark|q|s|samp|small|span|strike|strong|sub|sup|time|tt|u|var|wbr)(?=[\s/>])[^<>"']*(?:"[^"<]*"[^<>"']*|'[^'<]*'[^<>"']*)*>/gi;
const OTHER_MARKUP = /<(?:\/?[A-Za-z][^<>"']*(?:"[^"<]*"[^<>"']*|'[^'<]*'[^<>"']*)*|[!?][^<>]*)>/g;
// Invisible characters that only break search and dedupe: C0 controls other than whitespace, DEL,
// soft hyphen, zero-width space, word joiner. ZWJ/ZWNJ stay: they are meaningful in emoji and some scripts.
const INVISIBLE = /[\u0000-\u0008\u000e-\u001f\u007f\u00ad\u200b\u2060]/g;
// Only runs and non-space whitespace (tab, newline, NBSP, BOM ...) are replaced: one match per single space
// cost more than the rest of cleanText.
const WHITESPACE_TO_COLLAPSE = /\s{2,}|[^\S ]/g;

const F_MARKUP = 1, F_ENTITY = 2, F_INVISIBLE = 4, F_NFC = 8, F_COLLAPSE = 16;

function isOddSpace(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028
    || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

// One pass over the string says which of the (regex-based) steps have anything to do; most strings need few.
function scan(s: string): number {
  let f = 0;
  let prevSpace = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 32 && c < 127) {
      prevSpace = false;
      if (c === 60) f |= F_MARKUP;
      else if (c === 38) f |= F_ENTITY;
      continue;
    }
    if (c === 32) {
      if (prevSpace) f |= F_COLLAPSE;
      prevSpace = true;
      continue;
    }
    if (isOddSpace(c)) { f |= F_COLLAPSE; prevSpace = true; continue; }
    prevSpace = false;
    if (c < 32 || c === 127 || c === 0xad || c === 0x200b || c === 0x2060) f |= F_INVISIBLE;
    // Everything below U+0300 is already in NFC; only text with later characters can change.
    else if (c >= 0x300) f |= F_NFC;
  }
  return f;
}

// Comments by index search rather than regex: a lazy regex rescans to the end for every unclosed "<!--".
function stripComments(s: string): string {
  let out = '';
  let from = 0;
  for (;;) {
    const open = s.indexOf('<!--', from);
    if (open === -1) return from === 0 ? s : out + s.slice(from);
    out += s.slice(from, open) + ' ';
    const close = s.indexOf('-->', open + 4);
    if (close === -1) return out;
    from = close + 3;
  }
}

function stripHtml(s: string): string {
  if (s.indexOf('<!--') !== -1) s = stripComments(s);
  if (HAS_SCRIPT_STYLE.test(s)) s = s.replace(SCRIPT_STYLE, ' ');
  return s.replace(INLINE_TAG, '').replace(OTHER_MARKUP, ' ');
}

// Feeds are often encoded twice or three times ("&amp;amp;", "&amp;#8217;"): decode until no entity is left,
// bounded. Strict mode (semicolon required) so plain text such as "?a=1&not=2" is not mangled into "¬=2".
const ENTITY = /&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);/i;

function decodeEntities(s: string): string {
  s = decodeHTMLStrict(s);
  for (let i = 0; i < 2 && s.indexOf('&') !== -1 && ENTITY.test(s); i++) s = decodeHTMLStrict(s);
  return s;
}

/**
 * Trim, decode HTML entities, drop invisible characters, NFC-normalize and collapse whitespace runs into one space.
 * Numbers and booleans become their string form. Returns undefined for empty results and non-text values.
 */
export function cleanText(v: unknown, opts?: CleanTextOptions): string | undefined {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) return undefined;
    s = String(v);
  } else if (typeof v === 'bigint' || typeof v === 'boolean') s = String(v);
  else return undefined;

  let f = scan(s);
  const strip = opts !== undefined && opts.stripTags === true;
  if (strip && (f & F_MARKUP) !== 0) s = stripHtml(s);
  if ((f & F_ENTITY) !== 0) {
    s = decodeEntities(s);
    // Escaped markup ("&lt;b&gt;Sale&lt;/b&gt;") is still markup once decoded.
    if (strip && s.indexOf('<') !== -1) s = stripHtml(s);
  }
  // Removed tags leave spaces, decoded entities may be any character (&nbsp; &shy; &#769;): assume the worst
  // rather than scan again.
  if ((f & F_MARKUP) !== 0 && strip) f |= F_COLLAPSE;
  if ((f & F_ENTITY) !== 0) f |= F_COLLAPSE | F_INVISIBLE | F_NFC;
  if ((f & F_INVISIBLE) !== 0) s = s.replace(INVISIBLE, '');
  if ((f & F_NFC) !== 0) s = s.normalize('NFC');
  if ((f & F_COLLAPSE) !== 0) s = s.replace(WHITESPACE_TO_COLLAPSE, ' ');
  s = s.trim();
  return s === '' ? undefined : s;
}
