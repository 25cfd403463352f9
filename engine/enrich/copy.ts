// Rule-based copy: the summary, urgency line and call-to-action every offer gets without an AI provider (and
// whenever the provider fails or its output waits for review), from the per-language templates of the rules.
import type { Offer } from '../types/offer.generated.ts';
import type { CompiledRules, CopyTemplates } from './rules.ts';
import type { OfferCopy } from './types.ts';

const LOCALES: Record<string, string> = { en: 'en-GB', de: 'de-DE', fr: 'fr-FR', es: 'es-ES' };

function money(amount: number | undefined, currency: string | undefined, lang: string): string | undefined {
  if (amount === undefined) return undefined;
  try {
    return currency ? new Intl.NumberFormat(LOCALES[lang] ?? lang, { style: 'currency', currency }).format(amount) : String(amount);
  } catch {
    return `${amount} ${currency ?? ''}`.trim();
  }
}

function date(iso: string, lang: string): string | undefined {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  return new Intl.DateTimeFormat(LOCALES[lang] ?? lang, { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(d);
}

const fill = (template: string, values: Record<string, string | undefined>) =>
  template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? '').replace(/\s+([.,:;!?])/g, '$1').replace(/\s{2,}/g, ' ').trim();

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1).replace(/\s+\S*$/, '')}…`);

export function ruleCopy(offer: Offer, rules: CompiledRules, ctx: { language?: string; tags: string[]; discountPercent?: number }): OfferCopy {
  const lang = ctx.language && rules.copy[ctx.language] ? ctx.language : 'en';
  const t: CopyTemplates = rules.copy[lang];
  const merchant = offer.merchant_name ?? undefined;
  const values = {
    title: clip(offer.title.trim(), 120),
    merchant,
    price: money(offer.price, offer.currency, lang),
    sale_price: money(offer.sale_price, offer.currency, lang),
    discount: ctx.discountPercent !== undefined ? String(ctx.discountPercent) : undefined,
    code: offer.coupon_code,
    date: offer.expires_at ? date(offer.expires_at, lang) : undefined,
  };
  let summary: string;
  if (offer.coupon_code && merchant) summary = fill(t.summary_coupon, values);
  else if (values.sale_price && values.price && values.discount && merchant) summary = fill(t.summary_discount, values);
  else if (merchant) summary = fill(t.summary, values);
  else summary = fill(t.summary_no_merchant, values);
  let urgency: string | null = null;
  if (ctx.tags.includes('urgency:today-only')) urgency = t.urgency_today;
  else if (values.date) urgency = fill(t.urgency_ends, values);
  else if (ctx.tags.includes('urgency:limited-stock')) urgency = t.urgency_stock;
  else if (ctx.tags.includes('urgency:limited-time')) urgency = t.urgency_limited;
  return { summary, urgency_line: urgency, cta: t.cta[offer.kind], language: lang, source: 'rules', machine_generated: true };
}
