// Emotion tags: urgency, exclusivity, trust and value, each from the rules file's keyword lists and field
// conditions, with the evidence that made each tag. Expiry urgency depends on the clock, so it is computed when
// an offer is read (dynamicTags), never frozen into the stored tags.
import type { Offer } from '../types/offer.generated.ts';
import type { CompiledRules, Emotion } from './rules.ts';
import { normalizeText, plainText } from './text.ts';
import type { MerchantStanding, TagEvidence } from './types.ts';

export interface TagResult { tags: string[]; evidence: TagEvidence[]; discountPercent?: number }

/** Discount in percent from the prices, else the offer's stated discount. */
export function discountPercent(offer: Offer): number | undefined {
  if (offer.price && offer.sale_price !== undefined && offer.sale_price < offer.price && offer.price > 0) {
    return Math.round((1 - offer.sale_price / offer.price) * 100);
  }
  if (offer.discount?.percent !== undefined && offer.discount.percent > 0) return Math.round(offer.discount.percent);
  if (offer.discount?.amount && offer.price && offer.price > 0) return Math.round((offer.discount.amount / offer.price) * 100);
  return undefined;
}

/** The emotion tags and their parent tags ("urgency:today-only" implies "urgency"), sorted. */
function withParents(tags: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const t of tags) {
    out.add(t);
    out.add(t.split(':')[0]);
  }
  return [...out].sort();
}

export function tagOffer(offer: Offer, rules: CompiledRules, ctx: { merchant?: MerchantStanding } = {}): TagResult {
  const text = normalizeText([offer.title, plainText(offer.description), offer.terms ?? ''].join(' | '));
  const evidence: TagEvidence[] = [];
  const add = (tag: string, by: TagEvidence['by'], match: string) => { if (!evidence.some((e) => e.tag === tag)) evidence.push({ tag, by, match }); };
  let textPercent: number | undefined;
  for (const rule of rules.tagRules) {
    const kw = rule.keywords.size ? rule.keywords.match(text) : undefined;
    if (kw) {
      add(rule.tag, 'keyword', kw);
      // "50% off" in the text is a discount size when the prices do not say.
      const pct = /(\d+)%/.exec(kw);
      if (pct && rule.emotion === 'value') textPercent = Math.max(textPercent ?? 0, Number(pct[1]));
    }
    if (rule.availability && offer.availability && rule.availability.has(offer.availability)) add(rule.tag, 'availability', offer.availability);
    if (rule.fieldExclusive && offer.exclusive === true) add(rule.tag, 'exclusive', 'exclusive: true');
    if (rule.rating && offer.rating !== undefined && offer.rating >= rule.rating.min && (offer.review_count ?? 0) >= rule.rating.minReviews) {
      add(rule.tag, 'rating', `${offer.rating} (${offer.review_count ?? 0} reviews)`);
    }
    if (rule.merchant && ctx.merchant && ctx.merchant.days >= rule.merchant.minDays && ctx.merchant.offers >= rule.merchant.minOffers) {
      add(rule.tag, 'merchant', `${Math.floor(ctx.merchant.days)} days, ${ctx.merchant.offers} offers`);
    }
  }
  const pct = discountPercent(offer) ?? (textPercent !== undefined && textPercent < 100 ? textPercent : undefined);
  if (pct !== undefined) {
    const step = rules.discountSteps.find((s) => pct >= s.minPercent);
    if (step) {
      // The size step replaces a plain keyword "discount" tag with the measured one.
      const i = evidence.findIndex((e) => e.tag === 'value:discount' && step.tag !== 'value:discount');
      if (i >= 0) evidence.splice(i, 1);
      add(step.tag, 'discount', `${pct}%`);
    }
  }
  return { tags: withParents(evidence.map((e) => e.tag)), evidence, discountPercent: pct };
}

/** Tags that depend on the time of reading: urgency:ending-soon while the expiry is near. */
export function dynamicTags(expiresAt: string | Date | undefined | null, rules: Pick<CompiledRules, 'endingSoonHours'>, now = new Date()): string[] {
  if (!expiresAt) return [];
  const t = (expiresAt instanceof Date ? expiresAt : new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(expiresAt) ? expiresAt : `${expiresAt.replace(' ', 'T')}Z`)).getTime();
  if (Number.isNaN(t)) return [];
  const left = t - now.getTime();
  return left > 0 && left <= rules.endingSoonHours * 3_600_000 ? ['urgency', 'urgency:ending-soon'] : [];
}

/** Stored tags plus the time-dependent ones, for serving. */
export function tagsAt(stored: string[], expiresAt: string | Date | undefined | null, rules: Pick<CompiledRules, 'endingSoonHours'>, now = new Date()): string[] {
  return withParents([...stored, ...dynamicTags(expiresAt, rules, now)]);
}

export const emotionsOf = (tags: string[]): Emotion[] => tags.filter((t): t is Emotion => ['urgency', 'exclusivity', 'trust', 'value'].includes(t));
