// Text → search terms, the same way for documents and queries, in any language: lower case, diacritics folded
// for Latin, Greek and Cyrillic (so "Café" finds "cafe"), words split on anything that is not a letter or digit;
// scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) go through ICU's dictionary word
// segmentation (Intl.Segmenter), since splitting them on spaces would leave whole sentences as one term.

const NO_SPACE_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
// Marks belong to their word (Devanagari and Thai vowel signs); Latin marks are already folded away.
const WORD = /[\p{L}\p{M}\p{N}]+/gu;
const FOLDABLE_MARKS = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}+/gu;
const ASCII = /^[\x00-\x7f]*$/;
const LETTERS_DIGITS_ASCII = /[a-z0-9]+/g;

let segmenter: Intl.Segmenter | undefined;

/** Lower case with Latin/Greek/Cyrillic diacritics removed; other scripts keep their marks (they carry meaning). */
export function foldText(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  return text.normalize('NFKD').replace(FOLDABLE_MARKS, '$1').normalize('NFC').toLowerCase().replace(/ß/g, 'ss');
}

/** Terms of a text, in order, repeats kept (term frequency counts them). */
export function tokenize(text: string | undefined | null, out: string[] = []): string[] {
  if (!text) return out;
  const folded = foldText(text);
  if (ASCII.test(folded)) {
    for (const m of folded.match(LETTERS_DIGITS_ASCII) ?? []) if (m.length > 1 || isDigit(m)) out.push(m);
    return out;
  }
  if (NO_SPACE_SCRIPT.test(folded)) {
    segmenter ??= new Intl.Segmenter(undefined, { granularity: 'word' });
    for (const s of segmenter.segment(folded)) {
      if (!s.isWordLike) continue;
      for (const m of s.segment.match(WORD) ?? []) if (m.length > 1 || NO_SPACE_SCRIPT.test(m) || isDigit(m)) out.push(m);
    }
    return out;
  }
  for (const m of folded.match(WORD) ?? []) if (m.length > 1 || isDigit(m)) out.push(m);
  return out;
}

const isDigit = (s: string) => s >= '0' && s <= '9';

// Row buffers reused across calls: a fuzzy lookup compares a query term with thousands of dictionary terms.
const rows = [new Int32Array(64), new Int32Array(64), new Int32Array(64)];

/**
 * Damerau–Levenshtein distance (adjacent transpositions count 1) if it is ≤ max, else max + 1. Stops as soon as
 * a whole row exceeds max, so comparing a query term with a dictionary of unrelated terms stays cheap.
 */
export function boundedDistance(a: string, b: string, max: number): number {
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > max) return max + 1;
  if (a === b) return 0;
  if (rows[0].length <= lb) for (let k = 0; k < 3; k++) rows[k] = new Int32Array(lb * 2 + 2);
  let [prev2, prev, cur] = rows;
  for (let j = 0; j <= lb; j++) prev[j] = j;
  for (let i = 1; i <= la; i++) {
    cur[0] = i;
    let rowMin = cur[0];
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= lb; j++) {
      const cb = b.charCodeAt(j - 1);
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca === cb ? 0 : 1));
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) v = Math.min(v, prev2[j - 2] + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const t = prev2; prev2 = prev; prev = cur; cur = t;
  }
  return prev[lb] <= max ? prev[lb] : max + 1;
}
