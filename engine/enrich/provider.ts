// A chat-completions client for any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp
// server): one POST per call with a timeout, retried on 429 (honouring Retry-After), 5xx, timeouts and
// connection errors with growing, jittered pauses. The API key is sent only in its header and never appears in
// an error message.

export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }

export interface ChatRequest {
  messages: ChatMessage[];
  maxTokens: number;
  /** A JSON Schema for the reply, used when the provider is configured for json_schema responses. */
  jsonSchema?: { name: string; schema: Record<string, unknown> };
  signal?: AbortSignal;
}

export interface ChatUsage { prompt_tokens: number; completion_tokens: number; estimated: boolean }

export interface ChatResult { content: string; usage: ChatUsage; attempts: number; model?: string }

/** What the enrichment pipeline needs from a model: one completion. */
export interface ChatProvider {
  readonly model: string;
  complete(req: ChatRequest): Promise<ChatResult>;
}

export interface ProviderConfig {
  /** The chat-completions URL, or a base URL ending in /v1 (then /chat/completions is appended). */
  url: string;
  model: string;
  apiKey?: string;
  /** authorization: `Authorization: Bearer <key>` (OpenAI, vLLM, Ollama); api-key: Azure's `api-key: <key>`. */
  authHeader?: 'authorization' | 'api-key';
  /** json_object is the widest supported; json_schema where the server has structured outputs; none for servers with neither. */
  responseFormat?: 'json_object' | 'json_schema' | 'none';
  temperature?: number;
  timeoutMs?: number;
  maxRetries?: number;
  retryBaseMs?: number;
  /** A Retry-After longer than this fails the call instead of waiting. */
  maxRetryAfterMs?: number;
  headers?: Record<string, string>;
}

export class ProviderError extends Error {
  constructor(message: string, readonly status?: number, readonly retryable = false, readonly attempts = 1) {
    super(message);
    this.name = 'ProviderError';
  }
}

export function chatCompletionsUrl(url: string): string {
  const u = url.replace(/\/+$/, '');
  return /\/chat\/completions(\?|$)/.test(u) ? u : `${u}/chat/completions`;
}

/** Seconds or an HTTP date, as milliseconds from now. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal?.aborted) return reject(signal.reason);
  const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

export class OpenAICompatibleProvider implements ChatProvider {
  readonly model: string;
  private readonly endpoint: string;

  constructor(private readonly cfg: ProviderConfig) {
    this.model = cfg.model;
    this.endpoint = chatCompletionsUrl(cfg.url);
  }

  private redact(s: string): string {
    return this.cfg.apiKey ? s.split(this.cfg.apiKey).join('[redacted]') : s;
  }

  async complete(req: ChatRequest): Promise<ChatResult> {
    const maxRetries = this.cfg.maxRetries ?? 3;
    const base = this.cfg.retryBaseMs ?? 500;
    let attempt = 0;
    for (;;) {
      attempt++;
      try {
        return { ...(await this.once(req)), attempts: attempt };
      } catch (e) {
        if (req.signal?.aborted) throw new ProviderError('cancelled', undefined, false, attempt);
        const err = e instanceof ProviderError ? e : new ProviderError(this.redact((e as Error).message), undefined, true);
        if (!err.retryable || attempt > maxRetries) throw new ProviderError(err.message, err.status, err.retryable, attempt);
        const wait = (err as ProviderError & { waitMs?: number }).waitMs ?? Math.min(30_000, base * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
        await sleep(wait, req.signal).catch(() => { throw new ProviderError('cancelled', undefined, false, attempt); });
      }
    }
  }

  private async once(req: ChatRequest): Promise<Omit<ChatResult, 'attempts'>> {
    const timeoutMs = this.cfg.timeoutMs ?? 60_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const body: Record<string, unknown> = {
      model: this.cfg.model,
      messages: req.messages,
      max_tokens: req.maxTokens,
      temperature: this.cfg.temperature ?? 0.3,
    };
    const format = this.cfg.responseFormat ?? 'json_object';
    if (format === 'json_object') body.response_format = { type: 'json_object' };
    if (format === 'json_schema' && req.jsonSchema) body.response_format = { type: 'json_schema', json_schema: { name: req.jsonSchema.name, schema: req.jsonSchema.schema, strict: false } };
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...this.cfg.headers };
    if (this.cfg.apiKey) {
      if (this.cfg.authHeader === 'api-key') headers['api-key'] = this.cfg.apiKey;
      else headers.authorization = `Bearer ${this.cfg.apiKey}`;
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.endpoint, { method: 'POST', headers, body: JSON.stringify(body), signal });
      text = await res.text();
    } catch (e) {
      if (timeout.aborted && !req.signal?.aborted) throw new ProviderError(`no reply within ${timeoutMs} ms`, undefined, true);
      throw new ProviderError(`request failed: ${this.redact((e as Error).cause ? String(((e as Error).cause as Error).message ?? (e as Error).cause) : (e as Error).message)}`, undefined, true);
    }
    if (!res.ok) {
      const snippet = this.redact(text.slice(0, 300)).replace(/\s+/g, ' ');
      const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
      const err = new ProviderError(`HTTP ${res.status}: ${snippet}`, res.status, retryable) as ProviderError & { waitMs?: number };
      if (res.status === 429 || res.status === 503) {
        const wait = retryAfterMs(res.headers.get('retry-after'));
        if (wait !== undefined) {
          if (wait > (this.cfg.maxRetryAfterMs ?? 60_000)) throw new ProviderError(`HTTP ${res.status}: the provider asks to wait ${Math.round(wait / 1000)} s, longer than allowed`, res.status, false);
          err.waitMs = wait;
        }
      }
      throw err;
    }
    let json: { choices?: Array<{ message?: { content?: string | null } }>; usage?: { prompt_tokens?: number; completion_tokens?: number }; model?: string };
    try { json = JSON.parse(text); } catch { throw new ProviderError('the reply is not JSON', res.status, true); }
    const content = json.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new ProviderError('the reply has no choices[0].message.content', res.status, true);
    const promptChars = req.messages.reduce((n, m) => n + m.content.length, 0);
    const usage: ChatUsage = json.usage?.prompt_tokens !== undefined && json.usage.completion_tokens !== undefined
      ? { prompt_tokens: json.usage.prompt_tokens, completion_tokens: json.usage.completion_tokens, estimated: false }
      : { prompt_tokens: estimateTokens(promptChars), completion_tokens: estimateTokens(content.length), estimated: true };
    return { content, usage, model: json.model };
  }
}

/** About four characters per token: a budget estimate, never billed. */
export const estimateTokens = (chars: number): number => Math.ceil(chars / 4);
