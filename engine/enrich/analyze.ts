// The rule-based enrichment of one offer: languages, countries, categories, emotion tags and rule copy. Pure and
// synchronous, so it is testable on its own and its throughput is measurable.
import type { Offer } from '../types/offer.generated.ts';
import { offerCategories } from './categories.ts';
import { ruleCopy } from './copy.ts';
import { offerCountries } from './countries.ts';
import { offerLanguages } from './language.ts';
import type { CompiledRules } from './rules.ts';
import { tagOffer } from './tags.ts';
import type { MerchantStanding, RuleEnrichment } from './types.ts';

export function analyzeOffer(offer: Offer, rules: CompiledRules, ctx: { merchant?: MerchantStanding } = {}): RuleEnrichment {
  const lang = offerLanguages(offer, rules);
  const primary = lang.detected ?? lang.languages[0]?.toLowerCase().split(/[-_]/)[0];
  const countries = offerCountries(offer, primary, rules);
  const categories = offerCategories(offer, rules);
  const tags = tagOffer(offer, rules, ctx);
  return {
    languages: lang.languages,
    language_detected: lang.detected,
    language_confidence: lang.confidence,
    countries: countries.countries,
    country_sources: countries.sources,
    categories,
    tags: tags.tags,
    evidence: tags.evidence,
    discount_percent: tags.discountPercent,
    copy: ruleCopy(offer, rules, { language: primary, tags: tags.tags, discountPercent: tags.discountPercent }),
  };
}
