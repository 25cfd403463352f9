// Enrichment settings: the AI provider (any OpenAI-compatible chat-completions endpoint) and its limits, from
// OFFERFEED_AI_* environment variables or an object (a config file's `enrichment:` section). Without a URL and
// a model there is no provider: copy is rule-based and nothing is translated.
import { parseDuration } from '../util/duration.ts';
import { DEFAULT_AI_CONFIG, type AiCopyConfig } from './ai-copy.ts';
import { OpenAICompatibleProvider, type ChatProvider, type ProviderConfig } from './provider.ts';

export interface EnrichmentConfig {
  provider?: ProviderConfig;
  ai: AiCopyConfig;
  /** Jobs run at once (each job works through its offers in chunks). */
  jobConcurrency: number;
  /** Offers read, analysed and written together. */
  chunkSize: number;
}

export interface EnrichmentSettings {
  ai_url?: string; ai_model?: string; ai_key?: string; ai_auth_header?: 'authorization' | 'api-key';
  ai_response_format?: 'json_object' | 'json_schema' | 'none'; ai_timeout?: string | number; ai_max_retries?: number;
  ai_max_retry_after?: string | number; ai_languages?: string[] | string; ai_batch_size?: number; ai_concurrency?: number;
  ai_max_tokens_per_job?: number; ai_max_output_tokens_per_offer?: number; ai_min_confidence?: number;
  ai_price_input?: number; ai_price_output?: number; ai_price_currency?: string; job_concurrency?: number; chunk_size?: number;
}

const ENV: Record<keyof EnrichmentSettings, string> = {
  ai_url: 'OFFERFEED_AI_URL', ai_model: 'OFFERFEED_AI_MODEL', ai_key: 'OFFERFEED_AI_KEY', ai_auth_header: 'OFFERFEED_AI_AUTH_HEADER',
  ai_response_format: 'OFFERFEED_AI_RESPONSE_FORMAT', ai_timeout: 'OFFERFEED_AI_TIMEOUT', ai_max_retries: 'OFFERFEED_AI_MAX_RETRIES',
  ai_max_retry_after: 'OFFERFEED_AI_MAX_RETRY_AFTER', ai_languages: 'OFFERFEED_AI_LANGUAGES', ai_batch_size: 'OFFERFEED_AI_BATCH_SIZE',
  ai_concurrency: 'OFFERFEED_AI_CONCURRENCY', ai_max_tokens_per_job: 'OFFERFEED_AI_MAX_TOKENS_PER_JOB',
  ai_max_output_tokens_per_offer: 'OFFERFEED_AI_MAX_OUTPUT_TOKENS_PER_OFFER', ai_min_confidence: 'OFFERFEED_AI_MIN_CONFIDENCE',
  ai_price_input: 'OFFERFEED_AI_PRICE_INPUT', ai_price_output: 'OFFERFEED_AI_PRICE_OUTPUT', ai_price_currency: 'OFFERFEED_AI_PRICE_CURRENCY',
  job_concurrency: 'OFFERFEED_ENRICH_JOB_CONCURRENCY', chunk_size: 'OFFERFEED_ENRICH_CHUNK_SIZE',
};

const NUMERIC = new Set<keyof EnrichmentSettings>(['ai_max_retries', 'ai_batch_size', 'ai_concurrency', 'ai_max_tokens_per_job', 'ai_max_output_tokens_per_offer', 'ai_min_confidence', 'ai_price_input', 'ai_price_output', 'job_concurrency', 'chunk_size']);

/** Settings from OFFERFEED_AI_* / OFFERFEED_ENRICH_* variables; values given in `over` win. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env, over: EnrichmentSettings = {}): EnrichmentSettings {
  const out: Record<string, unknown> = {};
  for (const [k, name] of Object.entries(ENV) as Array<[keyof EnrichmentSettings, string]>) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    if (NUMERIC.has(k)) {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`${name} must be a number`);
      out[k] = n;
    } else out[k] = v;
  }
  return { ...out, ...over } as EnrichmentSettings;
}

export function enrichmentConfig(s: EnrichmentSettings = settingsFromEnv()): EnrichmentConfig {
  const languages = (Array.isArray(s.ai_languages) ? s.ai_languages : (s.ai_languages ?? '').split(','))
    .map((l) => l.trim().toLowerCase()).filter(Boolean);
  const provider: ProviderConfig | undefined = s.ai_url && s.ai_model ? {
    url: s.ai_url, model: s.ai_model, apiKey: s.ai_key, authHeader: s.ai_auth_header, responseFormat: s.ai_response_format,
    timeoutMs: parseDuration(s.ai_timeout, 60_000), maxRetries: s.ai_max_retries ?? 3, maxRetryAfterMs: parseDuration(s.ai_max_retry_after, 60_000),
  } : undefined;
  if ((s.ai_url && !s.ai_model) || (!s.ai_url && s.ai_model)) throw new Error('an AI provider needs both OFFERFEED_AI_URL and OFFERFEED_AI_MODEL');
  return {
    provider,
    ai: {
      ...DEFAULT_AI_CONFIG,
      languages,
      batchSize: s.ai_batch_size ?? DEFAULT_AI_CONFIG.batchSize,
      concurrency: s.ai_concurrency ?? DEFAULT_AI_CONFIG.concurrency,
      maxTokensPerJob: s.ai_max_tokens_per_job ?? DEFAULT_AI_CONFIG.maxTokensPerJob,
      maxOutputTokensPerOffer: s.ai_max_output_tokens_per_offer ?? DEFAULT_AI_CONFIG.maxOutputTokensPerOffer,
      minConfidence: s.ai_min_confidence ?? DEFAULT_AI_CONFIG.minConfidence,
      prices: { input: s.ai_price_input ?? 0, output: s.ai_price_output ?? 0, currency: s.ai_price_currency ?? 'USD' },
    },
    jobConcurrency: s.job_concurrency ?? 1,
    chunkSize: s.chunk_size ?? 500,
  };
}

export const providerFor = (c: EnrichmentConfig): ChatProvider | undefined => (c.provider ? new OpenAICompatibleProvider(c.provider) : undefined);
