// Language of an offer's text: the eld detector (n-gram, offline, no model download) on title + description,
// with numbers, codes and URLs removed; short or ambiguous texts keep the connector's languages.
import { eld } from 'eld/medium';
import type { Offer } from '../types/offer.generated.ts';
import type { CompiledRules } from './rules.ts';
import { plainText } from './text.ts';

export interface LanguageResult { languages: string[]; detected?: string; confidence?: number }

/** The text that carries language: no URLs, no tokens with digits (prices, codes, model numbers). */
export function languageText(offer: Pick<Offer, 'title' | 'description'>): string {
  return `${offer.title}. ${plainText(offer.description)}`
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\S*\d\S*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function detectLanguage(text: string, rules: Pick<CompiledRules, 'language'>): { language?: string; confidence: number } {
  if (text.replace(/[^\p{L}]/gu, '').length < rules.language.min_chars) return { confidence: 0 };
  const r = eld.detect(text);
  if (!r.language) return { confidence: 0 };
  const confidence = r.getScores()[r.language] ?? 0;
  if (!r.isReliable() || confidence < rules.language.min_confidence) return { confidence };
  return { language: r.language, confidence };
}

const primary = (tag: string) => tag.toLowerCase().split(/[-_]/)[0];

export function offerLanguages(offer: Offer, rules: Pick<CompiledRules, 'language'>): LanguageResult {
  const connector = (offer.languages ?? []).filter(Boolean);
  const { language, confidence } = detectLanguage(languageText(offer), rules);
  if (!language) return { languages: [...new Set(connector)], confidence };
  // The text's language first: it is what a reader of this offer must understand.
  return { languages: [...new Set([language, ...connector.filter((l) => primary(l) !== language)])], detected: language, confidence };
}
