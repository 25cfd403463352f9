// The AI copy path against an OpenAI-compatible server on 127.0.0.1: batching, cost, the cache, 429 with
// Retry-After, 5xx, a timeout, malformed and partial replies, low-confidence detection, the token budget, and
// an API key that never shows in errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Offer } from '../types/offer.generated.ts';
import { generateAiCopy, DEFAULT_AI_CONFIG, type AiCache, type AiCopyConfig, type AiCopyItem } from './ai-copy.ts';
import { startFakeOpenAI, type Behaviour } from './fixtures/fake-openai.ts';
import { OpenAICompatibleProvider, chatCompletionsUrl, retryAfterMs, type ProviderConfig } from './provider.ts';
import { loadRules } from './rules.ts';

const rules = loadRules();
const KEY = 'sk-test-0123456789abcdef';

function items(n: number, lang = 'en'): AiCopyItem[] {
  return Array.from({ length: n }, (_, i) => {
    const offer: Offer = { network: 'shop', external_id: String(i), kind: 'product', title: `Espresso machine model ${i}`, url: `https://shop.example/${i}`, merchant_name: 'Shop', price: 200, sale_price: 150, currency: 'EUR' };
    return { id: `o${i}`, content_hash: `h${i}`, offer, language: lang, tags: [], discountPercent: 25 };
  });
}

function memoryCache(): AiCache & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async (keys) => new Map(keys.filter((k) => map.has(k)).map((k) => [k, map.get(k)])),
    put: async (entries) => { for (const e of entries) map.set(e.key, e.output); },
  };
}

const config = (over: Partial<AiCopyConfig> = {}): AiCopyConfig => ({ ...DEFAULT_AI_CONFIG, batchSize: 4, concurrency: 2, prices: { input: 2.5, output: 10, currency: 'USD' }, ...over });
const provider = (url: string, over: Partial<ProviderConfig> = {}) => new OpenAICompatibleProvider({ url, model: 'test-model', apiKey: KEY, timeoutMs: 2000, maxRetries: 3, retryBaseMs: 20, ...over });

test('batches offers per request, validates the JSON reply, accounts tokens and cost, and caches by content + prompt version', async () => {
  const srv = await startFakeOpenAI();
  try {
    const cache = memoryCache();
    const list = items(10);
    const r = await generateAiCopy(list, { provider: provider(srv.url), cache, config: config({ languages: ['de', 'fr'] }), rules });
    assert.equal(srv.requests.length, 3, '10 offers in batches of 4');
    assert.deepEqual(srv.requests.map((q) => q.offers.length).sort(), [2, 4, 4]);
    const first = srv.requests[0];
    assert.equal(first.headers.authorization, `Bearer ${KEY}`);
    assert.equal(first.body.model, 'test-model');
    assert.deepEqual(first.body.response_format, { type: 'json_object' });
    assert.deepEqual(first.offers[0].translate_to, ['de', 'fr']);
    assert.equal(r.outcomes.size, 10);
    assert.equal(r.errors.size, 0);
    const one = r.outcomes.get('o3')!;
    assert.match(one.copy.summary, /Espresso machine model 3/);
    assert.deepEqual(Object.keys(one.copy.translations).sort(), ['de', 'fr']);
    assert.deepEqual(one.lowConfidence, []);
    assert.equal(r.usage.requests, 3);
    assert.ok(r.usage.tokensIn > 0 && r.usage.tokensOut > 0);
    assert.ok(Math.abs(r.usage.cost - (r.usage.tokensIn * 2.5 + r.usage.tokensOut * 10) / 1e6) < 1e-12, 'cost = tokens × configured prices');

    const again = await generateAiCopy(list, { provider: provider(srv.url), cache, config: config({ languages: ['de', 'fr'] }), rules });
    assert.equal(srv.requests.length, 3, 'the same content is never requested twice');
    assert.equal(again.usage.cacheHits, 10);
    assert.equal(again.usage.cost, 0);
    await generateAiCopy(list.slice(0, 1), { provider: provider(srv.url), cache, config: config({ languages: ['es'] }), rules });
    assert.equal(srv.requests.length, 4, 'other target languages are another cache entry');
  } finally { await srv.close(); }
});

test('429 with Retry-After is waited out; 5xx is retried with backoff', async () => {
  let n = 0;
  const srv = await startFakeOpenAI((): Behaviour => {
    n++;
    if (n === 1) return { kind: 'status', status: 429, headers: { 'retry-after': '1' } };
    if (n === 2) return { kind: 'status', status: 503 };
    return { kind: 'ok' };
  });
  try {
    const r = await generateAiCopy(items(2), { provider: provider(srv.url), cache: memoryCache(), config: config(), rules });
    assert.equal(r.outcomes.size, 2);
    assert.equal(srv.requests.length, 3);
    const gap = srv.requests[1].at - srv.requests[0].at;
    assert.ok(gap >= 950, `waited ${Math.round(gap)} ms after Retry-After: 1`);
    assert.equal(r.usage.requests, 1, 'one logical request, retried inside the provider');
  } finally { await srv.close(); }
});

test('a Retry-After beyond the allowed wait fails the batch at once; rule copy stays', async () => {
  const srv = await startFakeOpenAI(() => ({ kind: 'status', status: 429, headers: { 'retry-after': '3600' } }));
  try {
    const started = performance.now();
    const r = await generateAiCopy(items(2), { provider: provider(srv.url, { maxRetryAfterMs: 5000 }), cache: memoryCache(), config: config(), rules });
    assert.ok(performance.now() - started < 1000);
    assert.equal(r.outcomes.size, 0);
    assert.match(r.errors.get('o0')!, /asks to wait 3600 s/);
    assert.equal(srv.requests.length, 1);
  } finally { await srv.close(); }
});

test('a request without a reply times out and is retried', async () => {
  let n = 0;
  const srv = await startFakeOpenAI(() => (++n === 1 ? { kind: 'hang' } : { kind: 'ok' }));
  try {
    const started = performance.now();
    const r = await generateAiCopy(items(3), { provider: provider(srv.url, { timeoutMs: 300 }), cache: memoryCache(), config: config(), rules });
    const took = performance.now() - started;
    assert.equal(r.outcomes.size, 3);
    assert.equal(srv.requests.length, 2);
    assert.ok(took >= 300 && took < 2500, `${Math.round(took)} ms`);
  } finally { await srv.close(); }
});

test('malformed replies: retried, then the batch is split until the offer at fault stands alone', async () => {
  // The "model" breaks whenever o5 is in the batch, and once more on the very first request.
  let n = 0;
  const srv = await startFakeOpenAI((req): Behaviour => {
    n++;
    if (n === 1) return { kind: 'malformed', content: 'Sure! Here is your copy: {"offers": [' };
    if (req.offers.some((o) => o.id === 'o5')) return { kind: 'malformed', content: '{"offers": "none"}' };
    return { kind: 'ok' };
  });
  try {
    const errors: string[] = [];
    const r = await generateAiCopy(items(8), { provider: provider(srv.url), cache: memoryCache(), config: config({ batchSize: 8, malformedRetries: 1 }), rules, onError: (_id, m) => errors.push(m) });
    assert.equal(r.outcomes.size, 7);
    assert.deepEqual([...r.errors.keys()], ['o5']);
    assert.match(r.errors.get('o5')!, /malformed reply: the reply has no "offers" array/);
    assert.ok(errors.some((e) => /not JSON/.test(e)), 'the first malformed reply is recorded');
    // 8 → retry → 4+4 (one fine, one with o5 → retry → 2+2 → … → o5 alone twice).
    assert.ok(srv.requests.length <= 12, `${srv.requests.length} requests`);
  } finally { await srv.close(); }
});

test('entries missing from a good reply are asked for once more', async () => {
  let n = 0;
  const srv = await startFakeOpenAI((): Behaviour => (++n === 1 ? { kind: 'ok', omit: ['o1'] } : { kind: 'ok' }));
  try {
    const r = await generateAiCopy(items(3), { provider: provider(srv.url), cache: memoryCache(), config: config(), rules });
    assert.equal(r.outcomes.size, 3);
    assert.deepEqual(srv.requests[1].offers.map((o) => o.id), ['o1']);
  } finally { await srv.close(); }
});

test('low confidence: the model\'s own score, invented numbers, the wrong language', async () => {
  const srv = await startFakeOpenAI((req): Behaviour => ({
    kind: 'ok', confidence: req.offers[0].id === 'o0' ? 0.4 : 0.95,
    summary: (o) => (o.id === 'o1' ? `Espresso machine now 30% off, only 99 EUR today!` : o.id === 'o2' ? 'Eine hervorragende Espressomaschine für Ihre Küche zu Hause.' : `${o.title}, now 150 instead of 200.`),
  }));
  try {
    const r = await generateAiCopy(items(4), { provider: provider(srv.url), cache: memoryCache(), config: config({ batchSize: 1 }), rules });
    assert.match(r.outcomes.get('o0')!.lowConfidence.join(), /model confidence 0.4 below 0.7/);
    assert.match(r.outcomes.get('o1')!.lowConfidence.join(), /mentions 30, 99, not in the offer/);
    assert.match(r.outcomes.get('o2')!.lowConfidence.join(), /summary is in de, the offer in en/);
    assert.deepEqual(r.outcomes.get('o3')!.lowConfidence, [], 'numbers from the offer are fine');
  } finally { await srv.close(); }
});

test('the token budget per job stops further requests; the rest keep rule copy', async () => {
  const srv = await startFakeOpenAI();
  try {
    const r = await generateAiCopy(items(12), { provider: provider(srv.url), cache: memoryCache(), config: config({ batchSize: 4, concurrency: 1, maxTokensPerJob: 2500 }), rules });
    assert.equal(r.usage.budgetExhausted, true);
    assert.ok(r.outcomes.size > 0 && r.outcomes.size < 12);
    assert.ok(r.usage.tokensIn + r.usage.tokensOut <= 2500);
    assert.match([...r.errors.values()][0], /token budget of 2500 tokens per job reached/);
  } finally { await srv.close(); }
});

test('the API key never appears in an error, even when the server echoes it; Azure-style api-key header', async () => {
  const srv = await startFakeOpenAI((req) => ({ kind: 'status', status: 401, body: JSON.stringify({ error: `invalid key ${String(req.headers['api-key'] ?? req.headers.authorization)}` }) }));
  try {
    const r = await generateAiCopy(items(1), { provider: provider(srv.url, { authHeader: 'api-key' }), cache: memoryCache(), config: config(), rules });
    const message = r.errors.get('o0')!;
    assert.match(message, /HTTP 401/);
    assert.ok(!message.includes(KEY), message);
    assert.equal(srv.requests[0].headers['api-key'], KEY);
    assert.equal(srv.requests[0].headers.authorization, undefined);
    assert.equal(srv.requests.length, 1, '401 is not retried');
  } finally { await srv.close(); }
});

test('endpoint and Retry-After parsing', () => {
  assert.equal(chatCompletionsUrl('http://localhost:11434/v1'), 'http://localhost:11434/v1/chat/completions');
  assert.equal(chatCompletionsUrl('https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21'), 'https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21');
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2026, 0, 1)), 10_000);
  assert.equal(retryAfterMs('soon'), undefined);
});
