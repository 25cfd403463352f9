// Runs enrichment after each committed sync run, in the background of the same process: `onCommitted` only
// queues (it returns at once and never throws), jobs run with bounded concurrency on a store connection of
// their own, and each job records its status, counts, AI usage and errors. A failing or hanging provider slows
// only enrichment, never a sync. Offers whose content and enrichment signature are unchanged are skipped.
import pLimit from 'p-limit';
import pino from 'pino';
import type { Logger } from '../log/logger.ts';
import type { CommitCounts } from '../store/serving-store.ts';
import { EnrichmentStore, type EnrichmentError, type EnrichmentRow, type JobStatus, type JobSummary, type ReviewInsert } from '../store/enrichment-store.ts';
import { analyzeOffer } from './analyze.ts';
import { generateAiCopy, PROMPT_VERSION, type AiCopyItem } from './ai-copy.ts';
import { enrichmentConfig, providerFor, type EnrichmentConfig } from './config.ts';
import type { ChatProvider } from './provider.ts';
import { loadRules, type CompiledRules } from './rules.ts';
import type { EnrichInput, OfferCopy, RuleEnrichment } from './types.ts';

export interface RunnerOptions {
  /** The serving store's DuckDB file (the runner opens its own connection on it). */
  path: string;
  rules?: CompiledRules;
  config?: EnrichmentConfig;
  /** Overrides config.provider (tests, or a provider built elsewhere). Pass null for none. */
  provider?: ChatProvider | null;
  logger?: Logger;
  now?: () => Date;
}

export interface RunnerStatus { queued: number; running: string[]; finished: number; failed: number }

export interface ManualOptions { network?: string; /** Re-enrich offers whose signature is current too. */ force?: boolean }

interface Task { jobId: string; source: 'run' | 'manual'; runId: string | null; manual?: ManualOptions }

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export class EnrichmentRunner {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly pending = new Set<Promise<void>>();
  private readonly running = new Set<string>();
  private readonly abort = new AbortController();
  private finished = 0;
  private failedJobs = 0;
  private closed = false;
  readonly provider?: ChatProvider;
  readonly signature: string;

  private constructor(private readonly store: EnrichmentStore, readonly rules: CompiledRules, readonly config: EnrichmentConfig, provider: ChatProvider | undefined, private readonly log: Logger, private readonly now: () => Date) {
    this.provider = provider;
    this.limit = pLimit(Math.max(1, config.jobConcurrency));
    this.signature = provider ? `${rules.hash}|${provider.model}|${PROMPT_VERSION}|${[...config.ai.languages].sort().join(',')}` : `${rules.hash}|rules`;
  }

  static async open(o: RunnerOptions): Promise<EnrichmentRunner> {
    const config = o.config ?? enrichmentConfig();
    const provider = o.provider === null ? undefined : (o.provider ?? providerFor(config));
    const logger = o.logger ?? pino({ level: 'silent' });
    return new EnrichmentRunner(await EnrichmentStore.open(o.path), o.rules ?? loadRules(), config, provider, logger, o.now ?? (() => new Date()));
  }

  /** For SyncOptions.onCommitted: queues the run's enrichment and returns at once. Never throws. */
  readonly onCommitted = (runId: string, counts: CommitCounts): void => {
    try {
      if (this.closed || counts.new + counts.updated + counts.reactivated === 0) return;
      this.schedule({ jobId: runId, source: 'run', runId });
    } catch (e) {
      this.log.error({ run_id: runId, err: (e as Error).message }, 'enrichment could not be queued');
    }
  };

  /** Queues the enrichment of a committed run (again). */
  enqueueRun(runId: string): Promise<void> {
    return this.schedule({ jobId: runId, source: 'run', runId });
  }

  /** Re-enriches live offers (after a rules or provider change): those with an older signature, or all with force. */
  enrichAll(opts: ManualOptions = {}): { jobId: string; done: Promise<void> } {
    const jobId = `manual-${this.now().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${Math.random().toString(36).slice(2, 8)}`;
    return { jobId, done: this.schedule({ jobId, source: 'manual', runId: null, manual: opts }) };
  }

  /** Jobs left queued or running by a stopped process, queued again. */
  async resume(): Promise<number> {
    const jobs = await this.store.unfinishedJobs();
    for (const j of jobs) if (!this.running.has(j.id)) this.schedule({ jobId: j.id, source: j.source, runId: j.run_id, manual: j.source === 'manual' ? {} : undefined });
    return jobs.length;
  }

  status(): RunnerStatus {
    return { queued: this.limit.pendingCount, running: [...this.running], finished: this.finished, failed: this.failedJobs };
  }

  /** Resolves when every queued job has finished. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** Stops taking jobs, cancels provider calls in flight, and waits (up to timeoutMs) for jobs to record their end. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    this.limit.clearQueue();
    this.abort.abort(new Error('enrichment runner closed'));
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.store.close();
  }

  private schedule(task: Task): Promise<void> {
    if (this.closed) return Promise.resolve();
    // The queued row is written before the job waits its turn: the admin sees it, a restart resumes it.
    const p = this.store.queueJob(task.jobId, task.source, task.runId, this.now())
      .then(() => this.limit(() => this.process(task)))
      .catch((e: Error) => { this.log.error({ job_id: task.jobId, err: e.message }, 'enrichment job could not run'); });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  private async process(task: Task): Promise<void> {
    if (this.closed) return;
    this.running.add(task.jobId);
    const summary: JobSummary = {
      status: 'succeeded', offers: 0, enriched: 0, cached: 0, failed: 0, ai_requests: 0, ai_cache_hits: 0, tokens_in: 0, tokens_out: 0,
      cost: 0, cost_currency: this.provider ? this.config.ai.prices.currency : null, reviews_queued: 0, error: null,
    };
    let errors = 0;
    try {
      await this.store.startJob(task.jobId, this.now());
      let after = '';
      for (;;) {
        if (this.abort.signal.aborted) throw new Error('cancelled: the enrichment runner was closed');
        const page = task.source === 'run'
          ? await this.store.changedOffersPage(task.runId!, after, this.config.chunkSize)
          : await this.store.liveOffersPage(after, this.config.chunkSize, task.manual?.network);
        if (!page.length) break;
        after = page[page.length - 1].id;
        errors += await this.chunk(task, page, summary);
      }
      if (errors) summary.status = 'partial';
    } catch (e) {
      summary.status = 'failed';
      summary.error = (e as Error).message;
      this.failedJobs++;
      this.log.warn({ job_id: task.jobId, err: summary.error }, 'enrichment job failed');
    } finally {
      this.running.delete(task.jobId);
      this.finished++;
      try { await this.store.finishJob(task.jobId, summary, this.now()); } catch (e) { this.log.error({ job_id: task.jobId, err: (e as Error).message }, 'enrichment job end not recorded'); }
    }
  }

  /** One page of offers: skip the unchanged, analyse, AI copy, store. Returns the number of errors recorded. */
  private async chunk(task: Task, page: EnrichInput[], summary: JobSummary): Promise<number> {
    summary.offers += page.length;
    const errors: EnrichmentError[] = [];
    const known = await this.store.enrichedSignatures(page.map((p) => p.id));
    const todo = page.filter((p) => {
      const k = known.get(p.id);
      return task.manual?.force || !k || k.content_hash !== p.content_hash || k.signature !== this.signature;
    });
    summary.cached += page.length - todo.length;
    if (!todo.length) return 0;

    const merchants = await this.store.merchantStanding(
      todo.filter((p) => p.offer.merchant_id || p.offer.merchant_name).map((p) => ({ network: p.offer.network, merchant: (p.offer.merchant_id ?? p.offer.merchant_name)! })), this.now());
    const analysed: Array<{ input: EnrichInput; result: RuleEnrichment }> = [];
    for (const [i, input] of todo.entries()) {
      // Analysis is CPU work on the event loop: let other work (API requests, a sync) in between.
      if (i % 16 === 15) await yieldToLoop();
      try {
        const m = input.offer.merchant_id ?? input.offer.merchant_name;
        analysed.push({ input, result: analyzeOffer(input.offer, this.rules, { merchant: m ? merchants.get(`${input.offer.network}|${m}`) : undefined }) });
      } catch (e) {
        errors.push({ offer_id: input.id, stage: 'rules', message: (e as Error).message });
      }
    }

    const rows: EnrichmentRow[] = [];
    const reviews: ReviewInsert[] = [];
    const aiFailed = new Set<string>();
    const ai = this.provider && analysed.length
      ? await generateAiCopy(analysed.map(({ input, result }): AiCopyItem => ({
        id: input.id, content_hash: input.content_hash, offer: input.offer, language: result.language_detected, tags: result.tags, discountPercent: result.discount_percent,
      })), {
        provider: this.provider, cache: { get: (k) => this.store.aiCacheGet(k), put: (e) => this.store.aiCachePut(e, this.now()) },
        config: this.config.ai, rules: this.rules, signal: this.abort.signal,
        onError: (offerId, message) => { if (!offerId) errors.push({ stage: 'ai', message }); },
      })
      : undefined;
    if (ai) {
      summary.ai_requests += ai.usage.requests;
      summary.ai_cache_hits += ai.usage.cacheHits;
      summary.tokens_in += ai.usage.tokensIn;
      summary.tokens_out += ai.usage.tokensOut;
      summary.cost += ai.usage.cost;
      for (const [id, message] of ai.errors) { errors.push({ offer_id: id, stage: 'ai', message }); aiFailed.add(id); }
    }
    for (const { input, result } of analysed) {
      let copy: OfferCopy = result.copy;
      const outcome = ai?.outcomes.get(input.id);
      if (outcome && this.provider) {
        const lang = result.language_detected ?? result.copy.language;
        const aiCopy: OfferCopy = {
          summary: outcome.copy.summary, urgency_line: outcome.copy.urgency_line, cta: outcome.copy.cta, language: lang,
          source: 'ai', machine_generated: true, model: this.provider.model, confidence: outcome.copy.confidence,
        };
        if (outcome.lowConfidence.length) {
          reviews.push({ offer_id: input.id, content_hash: input.content_hash, kind: 'copy', lang, proposed: { ...aiCopy }, confidence: outcome.copy.confidence, reason: outcome.lowConfidence.join('; '), model: this.provider.model });
        } else {
          copy = aiCopy;
        }
        for (const [tl, tr] of Object.entries(outcome.copy.translations)) {
          reviews.push({ offer_id: input.id, content_hash: input.content_hash, kind: 'translation', lang: tl, proposed: { title: tr.title, summary: tr.summary }, confidence: outcome.copy.confidence, reason: 'machine translation', model: this.provider.model });
        }
      }
      // An offer whose AI copy failed keeps a signature that a later re-enrichment recognises as not done.
      rows.push({ offer_id: input.id, content_hash: input.content_hash, signature: aiFailed.has(input.id) ? `${this.rules.hash}|ai-failed` : this.signature, result, copy });
    }
    try {
      await this.store.saveResults(task.jobId, rows, reviews, this.now());
      summary.enriched += rows.length;
      summary.reviews_queued += reviews.length;
    } catch (e) {
      summary.failed += rows.length;
      errors.push({ stage: 'store', message: `storing ${rows.length} enrichments failed: ${(e as Error).message}` });
    }
    summary.failed += todo.length - analysed.length;
    try { await this.store.recordErrors(task.jobId, errors, this.now()); } catch (e) { this.log.error({ job_id: task.jobId, err: (e as Error).message }, 'enrichment errors not recorded'); }
    return errors.length;
  }

  /** The store the runner writes through (reads for the admin API: jobs, errors, reviews). */
  get enrichmentStore(): EnrichmentStore {
    return this.store;
  }
}

export type { JobStatus };
