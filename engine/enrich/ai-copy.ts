// AI copy through a ChatProvider: several offers per request, a JSON reply checked against a schema, bounded
// concurrency, a token budget per job, cost per job, and a cache keyed by content hash + prompt version + model
// + languages, so the same offer content is never paid for twice. A malformed reply is retried, then the batch
// is split until the offer at fault stands alone; what still fails keeps its rule-based copy.
import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import pLimit from 'p-limit';
import type { Offer } from '../types/offer.generated.ts';
import { detectLanguage } from './language.ts';
import type { CompiledRules } from './rules.ts';
import { plainText } from './text.ts';
import { estimateTokens, ProviderError, type ChatProvider } from './provider.ts';

/** Bump when the prompt or the reply schema changes: cached replies of another version are not reused. */
export const PROMPT_VERSION = 'copy-v1';

export interface AiCopyConfig {
  /** Languages to translate title and summary into (an offer's own language is skipped). */
  languages: string[];
  batchSize: number;
  concurrency: number;
  /** Prompt + completion tokens one job may spend; further batches keep rule copy. */
  maxTokensPerJob: number;
  maxOutputTokensPerOffer: number;
  /** Copy whose confidence is below this waits for review instead of being published. */
  minConfidence: number;
  /** Prices per million tokens. */
  prices: { input: number; output: number; currency: string };
  /** Malformed replies tolerated per batch before it is split. */
  malformedRetries: number;
}

export const DEFAULT_AI_CONFIG: AiCopyConfig = {
  languages: [], batchSize: 8, concurrency: 2, maxTokensPerJob: 200_000, maxOutputTokensPerOffer: 350,
  minConfidence: 0.7, prices: { input: 0, output: 0, currency: 'USD' }, malformedRetries: 1,
};

export interface AiCopyItem {
  id: string;
  content_hash: string;
  offer: Offer;
  /** The offer's language as detected, when known. */
  language?: string;
  tags: string[];
  discountPercent?: number;
}

export interface AiCopy {
  summary: string;
  urgency_line: string | null;
  cta: string;
  confidence: number;
  translations: Record<string, { title: string; summary: string }>;
}

export interface AiCopyOutcome {
  copy: AiCopy;
  cached: boolean;
  /** Why this copy should not be published without a person looking at it. */
  lowConfidence: string[];
}

export interface AiUsage { requests: number; cacheHits: number; tokensIn: number; tokensOut: number; cost: number; currency: string; budgetExhausted: boolean }

export interface AiCopyResult { outcomes: Map<string, AiCopyOutcome>; errors: Map<string, string>; usage: AiUsage }

export interface AiCache {
  get(keys: string[]): Promise<Map<string, unknown>>;
  put(entries: Array<{ key: string; content_hash: string; prompt_version: string; model: string; output: unknown }>): Promise<void>;
}

export function cacheKey(contentHash: string, model: string, languages: string[]): string {
  return createHash('sha256').update([contentHash, PROMPT_VERSION, model, [...languages].sort().join(',')].join('\0')).digest('hex');
}

const SYSTEM = `You write short, accurate marketing copy for affiliate offers and translate it.
For every offer in the input, write:
- "summary": one or two sentences (at most 280 characters) a shopper would want to read, in the offer's language ("language"; English when unknown). Use only facts given in the offer: never invent prices, percentages, dates, stock levels or features.
- "urgency_line": one short sentence on why to act now, only if the offer gives a reason (an expiry, "today only", limited stock); otherwise null.
- "cta": a call-to-action of at most 4 words in the offer's language.
- "confidence": a number from 0 to 1: how sure you are that the copy is correct and idiomatic.
- "translations": for each language code in "translate_to", an object {"title", "summary"} with the offer's title and your summary translated into that language; keep brand and product names.
Reply with one JSON object {"offers": [...]}, one entry per input offer with its "id", and nothing else.`;

const REPLY_SCHEMA = {
  type: 'object', required: ['offers'],
  properties: {
    offers: {
      type: 'array',
      items: {
        type: 'object', required: ['id', 'summary', 'cta'],
        properties: {
          id: { type: 'string' },
          summary: { type: 'string', minLength: 10, maxLength: 400 },
          urgency_line: { type: ['string', 'null'], maxLength: 160 },
          cta: { type: 'string', minLength: 2, maxLength: 40 },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          translations: {
            type: 'object',
            additionalProperties: { type: 'object', required: ['title', 'summary'], properties: { title: { type: 'string', minLength: 1, maxLength: 400 }, summary: { type: 'string', minLength: 1, maxLength: 500 } } },
          },
        },
      },
    },
  },
} as const;
const ITEM_SCHEMA = REPLY_SCHEMA.properties.offers.items;

const ajv = new Ajv({ allErrors: false, strict: false });
const validateItem = ajv.compile(ITEM_SCHEMA);

class MalformedReply extends Error {}
class BudgetReached extends Error {}

function offerPayload(it: AiCopyItem, translateTo: string[]) {
  const o = it.offer;
  return {
    id: it.id, kind: o.kind, language: it.language ?? null, title: o.title,
    description: plainText(o.description).slice(0, 600) || undefined, merchant: o.merchant_name, brand: o.brand,
    price: o.price, sale_price: o.sale_price, currency: o.currency, discount_percent: it.discountPercent, coupon_code: o.coupon_code,
    expires_at: o.expires_at, terms: o.terms?.slice(0, 300), tags: it.tags.filter((t) => t.includes(':')), translate_to: translateTo,
  };
}

/** Numbers in the copy that the offer does not contain: a sign of invented facts. */
function unsupportedNumbers(copy: AiCopy, it: AiCopyItem): string[] {
  const o = it.offer;
  const source = [o.title, plainText(o.description), o.terms ?? '', o.coupon_code ?? '', o.expires_at ?? ''].join(' ');
  const known = new Set<string>();
  for (const m of source.matchAll(/\d+(?:[.,]\d+)?/g)) known.add(m[0].replace(',', '.'));
  for (const v of [o.price, o.sale_price, it.discountPercent, o.discount?.percent, o.discount?.amount]) {
    if (v !== undefined) { known.add(String(v)); known.add(v.toFixed(2)); known.add(String(Math.round(v))); }
  }
  if (o.expires_at) {
    const d = new Date(o.expires_at);
    if (!Number.isNaN(d.getTime())) for (const v of [d.getUTCDate(), d.getUTCFullYear(), d.getUTCMonth() + 1]) known.add(String(v));
  }
  const out: string[] = [];
  for (const text of [copy.summary, copy.urgency_line ?? '']) {
    for (const m of text.matchAll(/\d+(?:[.,]\d+)?/g)) {
      const n = m[0].replace(',', '.');
      if (!known.has(n) && !known.has(String(Number(n))) && !out.includes(m[0])) out.push(m[0]);
    }
  }
  return out;
}

function lowConfidenceReasons(copy: AiCopy, it: AiCopyItem, cfg: AiCopyConfig, rules: CompiledRules): string[] {
  const reasons: string[] = [];
  if (copy.confidence < cfg.minConfidence) reasons.push(`model confidence ${copy.confidence} below ${cfg.minConfidence}`);
  const numbers = unsupportedNumbers(copy, it);
  if (numbers.length) reasons.push(`mentions ${numbers.join(', ')}, not in the offer`);
  if (it.language) {
    const d = detectLanguage(copy.summary, rules);
    if (d.language && d.language !== it.language) reasons.push(`summary is in ${d.language}, the offer in ${it.language}`);
  }
  return reasons;
}

export async function generateAiCopy(items: AiCopyItem[], opts: {
  provider: ChatProvider; cache: AiCache; config: AiCopyConfig; rules: CompiledRules; signal?: AbortSignal;
  onError?: (offerId: string | undefined, message: string) => void;
}): Promise<AiCopyResult> {
  const { provider, cache, config: cfg, rules } = opts;
  const usage: AiUsage = { requests: 0, cacheHits: 0, tokensIn: 0, tokensOut: 0, cost: 0, currency: cfg.prices.currency, budgetExhausted: false };
  const outcomes = new Map<string, AiCopyOutcome>();
  const errors = new Map<string, string>();
  const translateTo = (it: AiCopyItem) => cfg.languages.filter((l) => l !== it.language);
  const keyOf = (it: AiCopyItem) => cacheKey(it.content_hash, provider.model, translateTo(it));

  const cached = await cache.get(items.map(keyOf));
  const todo: AiCopyItem[] = [];
  for (const it of items) {
    const hit = cached.get(keyOf(it)) as AiCopy | undefined;
    if (hit) {
      usage.cacheHits++;
      outcomes.set(it.id, { copy: hit, cached: true, lowConfidence: lowConfidenceReasons(hit, it, cfg, rules) });
    } else todo.push(it);
  }

  let reserved = 0;
  const fail = (its: AiCopyItem[], message: string) => { for (const it of its) { errors.set(it.id, message); opts.onError?.(it.id, message); } };

  /** One request for a batch: the valid entries of the reply by id; throws MalformedReply when the reply is unusable. */
  const request = async (batch: AiCopyItem[]): Promise<Map<string, AiCopy>> => {
    const user = JSON.stringify({ offers: batch.map((it) => offerPayload(it, translateTo(it))) });
    const maxTokens = cfg.maxOutputTokensPerOffer * batch.length * (1 + Math.max(...batch.map((it) => translateTo(it).length)) * 0.6);
    const estimate = estimateTokens(SYSTEM.length + user.length) + Math.ceil(maxTokens);
    if (usage.tokensIn + usage.tokensOut + reserved + estimate > cfg.maxTokensPerJob) {
      usage.budgetExhausted = true;
      throw new BudgetReached(`token budget of ${cfg.maxTokensPerJob} tokens per job reached: rule copy kept`);
    }
    reserved += estimate;
    try {
      usage.requests++;
      const res = await provider.complete({
        messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: user }],
        maxTokens: Math.ceil(maxTokens), jsonSchema: { name: 'offer_copy', schema: REPLY_SCHEMA as unknown as Record<string, unknown> }, signal: opts.signal,
      });
      usage.tokensIn += res.usage.prompt_tokens;
      usage.tokensOut += res.usage.completion_tokens;
      usage.cost += (res.usage.prompt_tokens * cfg.prices.input + res.usage.completion_tokens * cfg.prices.output) / 1e6;
      let reply: unknown;
      try { reply = JSON.parse(res.content.replace(/^\s*```(?:json)?\s*|\s*```\s*$/g, '')); } catch { throw new MalformedReply('the reply content is not JSON'); }
      const list = (reply as { offers?: unknown })?.offers;
      if (!Array.isArray(list)) throw new MalformedReply('the reply has no "offers" array');
      const out = new Map<string, AiCopy>();
      const wanted = new Set(batch.map((b) => b.id));
      for (const entry of list) {
        if (!validateItem(entry)) continue;
        const e = entry as { id: string; summary: string; urgency_line?: string | null; cta: string; confidence?: number; translations?: Record<string, { title: string; summary: string }> };
        if (!wanted.has(e.id)) continue;
        const it = batch.find((b) => b.id === e.id)!;
        const translations = Object.fromEntries(Object.entries(e.translations ?? {}).filter(([l]) => translateTo(it).includes(l)));
        out.set(e.id, {
          summary: e.summary.trim(), urgency_line: e.urgency_line?.trim() || null, cta: e.cta.trim(),
          confidence: e.confidence ?? 0.5, translations,
        });
      }
      if (!out.size) throw new MalformedReply('no entry of the reply matches the schema and the requested ids');
      return out;
    } finally {
      reserved -= estimate;
    }
  };

  const accept = async (batch: AiCopyItem[], got: Map<string, AiCopy>) => {
    const entries = [];
    for (const it of batch) {
      const copy = got.get(it.id);
      if (!copy) continue;
      outcomes.set(it.id, { copy, cached: false, lowConfidence: lowConfidenceReasons(copy, it, cfg, rules) });
      entries.push({ key: keyOf(it), content_hash: it.content_hash, prompt_version: PROMPT_VERSION, model: provider.model, output: copy });
    }
    await cache.put(entries);
  };

  /** A batch, its malformed-reply retries, then halves; entries missing from a good reply get one more request. */
  const runBatch = async (batch: AiCopyItem[], missingRetry = true): Promise<void> => {
    let lastMalformed = '';
    for (let attempt = 0; attempt <= cfg.malformedRetries; attempt++) {
      try {
        const got = await request(batch);
        await accept(batch, got);
        const missing = batch.filter((it) => !got.has(it.id));
        if (missing.length && missingRetry) await runBatch(missing, false);
        else if (missing.length) fail(missing, 'the reply had no valid entry for this offer');
        return;
      } catch (e) {
        if (!(e instanceof MalformedReply)) {
          if (e instanceof BudgetReached) fail(batch, e.message);
          else fail(batch, e instanceof ProviderError ? `AI provider: ${e.message}${e.attempts > 1 ? ` (after ${e.attempts} attempts)` : ''}` : `AI copy: ${(e as Error).message}`);
          return;
        }
        lastMalformed = e.message;
        opts.onError?.(undefined, `malformed reply for ${batch.length} offer(s): ${e.message}`);
      }
    }
    if (batch.length > 1) {
      const mid = Math.ceil(batch.length / 2);
      // One after the other: the halves stay within the batch's concurrency slot.
      await runBatch(batch.slice(0, mid), missingRetry);
      await runBatch(batch.slice(mid), missingRetry);
    } else {
      fail(batch, `malformed reply: ${lastMalformed}`);
    }
  };

  const limit = pLimit(Math.max(1, cfg.concurrency));
  const batches: AiCopyItem[][] = [];
  for (let i = 0; i < todo.length; i += cfg.batchSize) batches.push(todo.slice(i, i + cfg.batchSize));
  await Promise.all(batches.map((b) => limit(() => (opts.signal?.aborted ? fail(b, 'cancelled') : runBatch(b)))));
  return { outcomes, errors, usage };
}
