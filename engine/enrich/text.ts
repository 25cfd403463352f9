// Text handling shared by the enrichment rules: one normalization for offers and keywords alike (case, accents,
// ß, apostrophes), and keyword lists compiled to one regular expression per rule.

/** Lower case, accents removed, ß → ss, punctuation except % and ' turned into spaces, spaces collapsed. */
export function normalizeText(s: string): string {
  return s
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[’`´]/g, "'")
    // "-30 %" is a discount: the minus survives as a word, the rest of the punctuation does not.
    .replace(/(^|[\s(:])[-–−](?=\s?\d+(?:[.,]\d+)?\s?%)/g, '$1 minus ')
    .replace(/[^\p{L}\p{N}%']+/gu, ' ')
    .replace(/(\d) %/g, '$1%')
    .trim();
}

/** Visible text of a description that may carry HTML. */
export function plainText(s: string | undefined): string {
  if (!s) return '';
  return s
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&[a-z]+;/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A keyword in the rules file: a word or phrase matched on word boundaries after normalization. `*` at the
 * start or end of a word lets it be part of a longer word (German compounds: `*schuhe` matches "Laufschuhe");
 * `#` stands for a number ("only # left").
 */
function keywordSource(keyword: string): string | undefined {
  const parts: string[] = [];
  for (const word of keyword.replace(/#/g, ' # ').trim().split(/\s+/)) {
    if (word === '#') { parts.push('\\d+'); continue; }
    const lead = word.startsWith('*');
    const trail = word.endsWith('*') && word.length > 1;
    const core = normalizeText(word.replace(/^\*|\*$/g, ''));
    if (!core) continue;
    parts.push(`${lead ? '\\p{L}*' : ''}${core.split(' ').map(escapeRe).join(' ')}${trail ? '\\p{L}*' : ''}`);
  }
  // "50 %" and "50%" are one token after normalization.
  return parts.length ? parts.join(' ').replace(/\\d\+ %/g, '\\d+%') : undefined;
}

export interface KeywordMatcher {
  /** The first matching keyword's text in the input, or undefined. */
  match(normalized: string): string | undefined;
  readonly size: number;
}

/** One regular expression for a list of keywords; input must be normalizeText() output. */
export function compileKeywords(keywords: string[]): KeywordMatcher {
  const sources = [...new Set(keywords.map(keywordSource).filter((s): s is string => !!s))];
  if (!sources.length) return { match: () => undefined, size: 0 };
  // Longest first, so a phrase wins over its first word in the evidence.
  sources.sort((a, b) => b.length - a.length);
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${sources.join('|')})(?![\\p{L}\\p{N}])`, 'u');
  return {
    size: sources.length,
    match(normalized: string) {
      const m = re.exec(normalized);
      return m ? m[0] : undefined;
    },
  };
}
