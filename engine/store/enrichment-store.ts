// Enrichment's tables in the serving store (migrations/duckdb/002_enrichment.sql): jobs and their errors, each
// offer's enrichment, the AI cache, the review queue and published translations. The only module that writes
// SQL against them; it works on a connection of its own, so it never joins a sync's transaction.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Offer } from '../types/offer.generated.ts';
import type { EnrichInput, MerchantStanding, OfferCopy, OfferEnrichmentView, RuleEnrichment } from '../enrich/types.ts';
import { all, run } from './duckdb.ts';
import { isoTs, openSideConnection, retryingTransaction, sqlTs } from './side-connection.ts';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed';

export interface EnrichmentJob {
  id: string; run_id: string | null; source: 'run' | 'manual'; status: JobStatus;
  offers: number; enriched: number; cached: number; failed: number;
  ai_requests: number; ai_cache_hits: number; tokens_in: number; tokens_out: number; cost: number; cost_currency: string | null;
  reviews_queued: number; error: string | null;
  queued_at: string; started_at?: string; finished_at?: string; duration_ms: number | null; pid: number | null;
}

export type JobSummary = Pick<EnrichmentJob, 'status' | 'offers' | 'enriched' | 'cached' | 'failed' | 'ai_requests' | 'ai_cache_hits' | 'tokens_in' | 'tokens_out' | 'cost' | 'cost_currency' | 'reviews_queued' | 'error'>;

export interface EnrichmentError { offer_id?: string; stage: 'rules' | 'ai' | 'store'; message: string }

/** One offer's enrichment as a job writes it. */
export interface EnrichmentRow { offer_id: string; content_hash: string; signature: string; result: RuleEnrichment; copy: OfferCopy }

export type ReviewKind = 'copy' | 'translation';
export type ReviewStatus = 'pending' | 'approved' | 'edited' | 'rejected' | 'superseded';

export interface ReviewInsert {
  offer_id: string; content_hash: string; kind: ReviewKind; lang: string;
  /** copy: an OfferCopy; translation: { title, summary }. */
  proposed: Record<string, unknown>;
  confidence?: number; reason: string; model?: string;
}

export interface ReviewItem extends ReviewInsert {
  id: number; job_id: string | null; status: ReviewStatus; final: Record<string, unknown> | null;
  decided_by: string | null; decided_at?: string; note: string | null; created_at: string;
  /** The offer's current title, for the reviewer. */
  offer_title?: string;
}

export interface ReviewFilter { status?: ReviewStatus; kind?: ReviewKind; lang?: string; offerId?: string; limit?: number; afterId?: number }

const parse = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

function toJob(r: Record<string, unknown>): EnrichmentJob {
  return {
    id: String(r.id), run_id: (r.run_id as string) ?? null, source: r.source as EnrichmentJob['source'], status: r.status as JobStatus,
    offers: num(r.offers), enriched: num(r.enriched), cached: num(r.cached), failed: num(r.failed),
    ai_requests: num(r.ai_requests), ai_cache_hits: num(r.ai_cache_hits), tokens_in: num(r.tokens_in), tokens_out: num(r.tokens_out),
    cost: num(r.cost), cost_currency: (r.cost_currency as string) ?? null, reviews_queued: num(r.reviews_queued), error: (r.error as string) ?? null,
    queued_at: isoTs(r.queued_at as string)!, started_at: isoTs(r.started_at as string), finished_at: isoTs(r.finished_at as string),
    duration_ms: r.duration_ms === null ? null : num(r.duration_ms), pid: r.pid === null ? null : num(r.pid),
  };
}

function toReview(r: Record<string, unknown>): ReviewItem {
  return {
    id: Number(r.id), offer_id: String(r.offer_id), content_hash: String(r.content_hash), kind: r.kind as ReviewKind, lang: String(r.lang),
    proposed: parse(r.proposed), confidence: r.confidence === null ? undefined : Number(r.confidence), reason: String(r.reason),
    model: (r.model as string) ?? undefined, job_id: (r.job_id as string) ?? null, status: r.status as ReviewStatus,
    final: r.final === null ? null : parse(r.final), decided_by: (r.decided_by as string) ?? null, decided_at: isoTs(r.decided_at as string),
    note: (r.note as string) ?? null, created_at: isoTs(r.created_at as string)!, offer_title: (r.offer_title as string) ?? undefined,
  };
}

export class EnrichmentStore {
  private constructor(readonly path: string, private readonly conn: DuckDBConnection) {}

  static async open(path: string): Promise<EnrichmentStore> {
    return new EnrichmentStore(path, await openSideConnection(path));
  }

  close(): void {
    this.conn.closeSync();
  }

  // ---- jobs ---------------------------------------------------------------------------------------------

  /** Records a job as queued; a job id seen before (a re-queued run) starts over. */
  async queueJob(id: string, source: 'run' | 'manual', runId: string | null, now = new Date()): Promise<void> {
    await retryingTransaction(this.conn, async () => {
      await run(this.conn, 'DELETE FROM enrichment_errors WHERE job_id = $id', { id });
      await run(this.conn, `INSERT INTO enrichment_jobs (id, run_id, source, status, queued_at, pid) VALUES ($id, $run, $src, 'queued', $now, $pid)
        ON CONFLICT (id) DO UPDATE SET status = 'queued', queued_at = excluded.queued_at, started_at = NULL, finished_at = NULL, error = NULL, pid = excluded.pid,
          offers = 0, enriched = 0, cached = 0, failed = 0, ai_requests = 0, ai_cache_hits = 0, tokens_in = 0, tokens_out = 0, cost = 0, reviews_queued = 0, duration_ms = NULL`,
      { id, run: runId, src: source, now: sqlTs(now), pid: process.pid });
    });
  }

  async startJob(id: string, now = new Date()): Promise<void> {
    await retryingTransaction(this.conn, () => run(this.conn, `UPDATE enrichment_jobs SET status = 'running', started_at = $now, pid = $pid WHERE id = $id`, { id, now: sqlTs(now), pid: process.pid }));
  }

  async finishJob(id: string, s: JobSummary, now = new Date()): Promise<void> {
    await retryingTransaction(this.conn, () => run(this.conn, `UPDATE enrichment_jobs SET status = $status, offers = $offers, enriched = $enriched, cached = $cached, failed = $failed,
        ai_requests = $req, ai_cache_hits = $hits, tokens_in = $tin, tokens_out = $tout, cost = $cost, cost_currency = $cur, reviews_queued = $rev,
        error = $err, finished_at = $now, duration_ms = CAST(date_diff('millisecond', coalesce(started_at, queued_at), $now::TIMESTAMP) AS INTEGER)
      WHERE id = $id`, {
      id, status: s.status, offers: s.offers, enriched: s.enriched, cached: s.cached, failed: s.failed, req: s.ai_requests, hits: s.ai_cache_hits,
      tin: s.tokens_in, tout: s.tokens_out, cost: s.cost, cur: s.cost_currency, rev: s.reviews_queued, err: s.error, now: sqlTs(now),
    }));
  }

  async getJob(id: string): Promise<EnrichmentJob | undefined> {
    const [r] = await all(this.conn, 'SELECT * FROM enrichment_jobs WHERE id = $id', { id });
    return r ? toJob(r) : undefined;
  }

  async listJobs(opts: { limit?: number; status?: JobStatus } = {}): Promise<EnrichmentJob[]> {
    const rows = await all(this.conn, `SELECT * FROM enrichment_jobs ${opts.status ? 'WHERE status = $s' : ''} ORDER BY queued_at DESC, id DESC LIMIT $n`,
      opts.status ? { s: opts.status, n: opts.limit ?? 50 } : { n: opts.limit ?? 50 });
    return rows.map(toJob);
  }

  /** Jobs a stopped process left queued or running: the runner picks them up again. */
  async unfinishedJobs(): Promise<EnrichmentJob[]> {
    return (await all(this.conn, `SELECT * FROM enrichment_jobs WHERE status IN ('queued', 'running') ORDER BY queued_at`)).map(toJob);
  }

  async recordErrors(jobId: string, errors: EnrichmentError[], now = new Date()): Promise<void> {
    if (!errors.length) return;
    await retryingTransaction(this.conn, () => run(this.conn, `INSERT INTO enrichment_errors
      SELECT $job, r->>'$.offer_id', r->>'$.stage', r->>'$.message', $now FROM (SELECT unnest(from_json($rows::JSON, '["json"]')) AS r)`,
    { job: jobId, rows: JSON.stringify(errors), now: sqlTs(now) }));
  }

  async jobErrors(jobId: string, limit = 100): Promise<Array<EnrichmentError & { created_at: string }>> {
    const rows = await all<{ offer_id: string | null; stage: EnrichmentError['stage']; message: string; created_at: string }>(this.conn,
      'SELECT offer_id, stage, message, created_at FROM enrichment_errors WHERE job_id = $j ORDER BY created_at, offer_id LIMIT $n', { j: jobId, n: limit });
    return rows.map((r) => ({ offer_id: r.offer_id ?? undefined, stage: r.stage, message: r.message, created_at: isoTs(r.created_at)! }));
  }

  // ---- what to enrich ------------------------------------------------------------------------------------

  /** Offers a committed run inserted, updated or reactivated that are live (active or hidden) now, a page at a time in id order. */
  async changedOffersPage(runId: string, afterId: string, limit: number): Promise<EnrichInput[]> {
    const rows = await all<{ id: string; content_hash: string; data: string }>(this.conn, `
      SELECT o.id, o.content_hash, o.data::VARCHAR AS data FROM offers o
      WHERE o.id IN (SELECT offer_id FROM offer_changes WHERE run_id = $r AND op IN ('insert', 'update', 'reactivate'))
        AND o.status IN ('active', 'hidden') AND o.id > $after
      ORDER BY o.id LIMIT $n`, { r: runId, after: afterId, n: limit });
    return rows.map((r) => ({ id: r.id, content_hash: r.content_hash, offer: JSON.parse(r.data) as Offer }));
  }

  /** Live offers in id order, a page at a time (a manual re-enrichment). */
  async liveOffersPage(afterId: string, limit: number, network?: string): Promise<EnrichInput[]> {
    const rows = await all<{ id: string; content_hash: string; data: string }>(this.conn, `
      SELECT id, content_hash, data::VARCHAR AS data FROM offers
      WHERE status IN ('active', 'hidden') AND id > $after ${network ? 'AND network = $net' : ''}
      ORDER BY id LIMIT $n`, network ? { after: afterId, n: limit, net: network } : { after: afterId, n: limit });
    return rows.map((r) => ({ id: r.id, content_hash: r.content_hash, offer: JSON.parse(r.data) as Offer }));
  }

  /** The content hash and signature each offer was last enriched with. */
  async enrichedSignatures(offerIds: string[]): Promise<Map<string, { content_hash: string; signature: string }>> {
    if (!offerIds.length) return new Map();
    const rows = await all<{ offer_id: string; content_hash: string; signature: string }>(this.conn,
      'SELECT offer_id, content_hash, signature FROM offer_enrichment WHERE offer_id IN (SELECT unnest(CAST($ids::JSON AS VARCHAR[])))', { ids: JSON.stringify(offerIds) });
    return new Map(rows.map((r) => [r.offer_id, { content_hash: r.content_hash, signature: r.signature }]));
  }

  /** Standing of merchants in the feed: days since their first offer and their live offers, keyed network|merchant. */
  async merchantStanding(keys: Array<{ network: string; merchant: string }>, now = new Date()): Promise<Map<string, MerchantStanding>> {
    if (!keys.length) return new Map();
    const rows = await all<{ k: string; days: number; offers: number }>(this.conn, `
      WITH k AS (SELECT DISTINCT r->>'$.network' AS network, r->>'$.merchant' AS merchant FROM (SELECT unnest(from_json($keys::JSON, '["json"]')) AS r))
      SELECT k.network || '|' || k.merchant AS k, date_diff('second', min(o.first_seen_at), $now::TIMESTAMP) / 86400.0 AS days,
        count(*) FILTER (WHERE o.status = 'active')::INTEGER AS offers
      FROM k JOIN offers o ON o.network = k.network AND coalesce(o.merchant_id, o.merchant_name) = k.merchant
      GROUP BY ALL`, { keys: JSON.stringify(keys), now: sqlTs(now) });
    return new Map(rows.map((r) => [r.k, { days: Number(r.days), offers: Number(r.offers) }]));
  }

  // ---- results -------------------------------------------------------------------------------------------

  /**
   * Stores a batch of enrichments and the review items they raised, in one transaction. Reviews still pending
   * for an older content of the same offers are superseded: they describe text that no longer exists.
   */
  async saveResults(jobId: string, rows: EnrichmentRow[], reviews: ReviewInsert[], now = new Date()): Promise<void> {
    if (!rows.length && !reviews.length) return;
    const t = sqlTs(now);
    const payload = JSON.stringify(rows.map((r) => ({
      offer_id: r.offer_id, content_hash: r.content_hash, signature: r.signature, languages: r.result.languages,
      language_detected: r.result.language_detected ?? null, language_confidence: r.result.language_confidence ?? null,
      countries: r.result.countries, country_sources: r.result.country_sources, categories: r.result.categories.map((c) => c.id),
      category_paths: r.result.categories.map((c) => c.path), tags: r.result.tags, tag_evidence: r.result.evidence, copy: r.copy, copy_source: r.copy.source,
    })));
    await retryingTransaction(this.conn, async () => {
      if (rows.length) {
        await run(this.conn, `INSERT INTO offer_enrichment
          SELECT r->>'$.offer_id', r->>'$.content_hash', r->>'$.signature', CAST(r->'$.languages' AS VARCHAR[]), r->>'$.language_detected',
            TRY_CAST(r->>'$.language_confidence' AS DOUBLE), CAST(r->'$.countries' AS VARCHAR[]), r->'$.country_sources',
            CAST(r->'$.categories' AS VARCHAR[]), CAST(r->'$.category_paths' AS VARCHAR[]), CAST(r->'$.tags' AS VARCHAR[]), r->'$.tag_evidence',
            r->'$.copy', r->>'$.copy_source', $job, $now
          FROM (SELECT unnest(from_json($rows::JSON, '["json"]')) AS r)
          ON CONFLICT (offer_id) DO UPDATE SET content_hash = excluded.content_hash, signature = excluded.signature, languages = excluded.languages,
            language_detected = excluded.language_detected, language_confidence = excluded.language_confidence, countries = excluded.countries,
            country_sources = excluded.country_sources, categories = excluded.categories, category_paths = excluded.category_paths, tags = excluded.tags,
            tag_evidence = excluded.tag_evidence, copy = excluded.copy, copy_source = excluded.copy_source, job_id = excluded.job_id, enriched_at = excluded.enriched_at`,
        { rows: payload, job: jobId, now: t });
        await run(this.conn, `UPDATE enrichment_reviews SET status = 'superseded', decided_at = $now, note = 'the offer changed before review'
          FROM (SELECT r->>'$.offer_id' AS offer_id, r->>'$.content_hash' AS content_hash FROM (SELECT unnest(from_json($rows::JSON, '["json"]')) AS r)) x
          WHERE enrichment_reviews.offer_id = x.offer_id AND enrichment_reviews.content_hash <> x.content_hash AND enrichment_reviews.status = 'pending'`,
        { rows: payload, now: t });
      }
      if (reviews.length) {
        // The same proposal for the same content is queued once, however often the offer is re-enriched.
        // (->> binds looser than =, hence the named columns before comparing.)
        await run(this.conn, `INSERT INTO enrichment_reviews (offer_id, content_hash, kind, lang, proposed, confidence, reason, model, job_id, status, created_at)
          SELECT x.offer_id, x.content_hash, x.kind, x.lang, x.proposed, x.confidence, x.reason, x.model, $job, 'pending', $now
          FROM (SELECT r->>'$.offer_id' AS offer_id, r->>'$.content_hash' AS content_hash, r->>'$.kind' AS kind, r->>'$.lang' AS lang,
              r->'$.proposed' AS proposed, TRY_CAST(r->>'$.confidence' AS DOUBLE) AS confidence, r->>'$.reason' AS reason, r->>'$.model' AS model
            FROM (SELECT unnest(from_json($rows::JSON, '["json"]')) AS r)) x
          WHERE NOT EXISTS (SELECT 1 FROM enrichment_reviews e WHERE e.offer_id = x.offer_id AND e.content_hash = x.content_hash
            AND e.kind = x.kind AND e.lang = x.lang AND e.status IN ('pending', 'approved', 'edited'))`,
        { rows: JSON.stringify(reviews.map((r) => ({ ...r, confidence: r.confidence ?? null, model: r.model ?? null }))), job: jobId, now: t });
      }
    });
  }

  // ---- AI cache ------------------------------------------------------------------------------------------

  async aiCacheGet(keys: string[]): Promise<Map<string, unknown>> {
    if (!keys.length) return new Map();
    const rows = await all<{ key: string; output: string }>(this.conn, 'SELECT key, output::VARCHAR AS output FROM ai_copy_cache WHERE key IN (SELECT unnest(CAST($k::JSON AS VARCHAR[])))', { k: JSON.stringify(keys) });
    return new Map(rows.map((r) => [r.key, JSON.parse(r.output)]));
  }

  async aiCachePut(entries: Array<{ key: string; content_hash: string; prompt_version: string; model: string; output: unknown }>, now = new Date()): Promise<void> {
    if (!entries.length) return;
    await retryingTransaction(this.conn, () => run(this.conn, `INSERT INTO ai_copy_cache
      SELECT r->>'$.key', r->>'$.content_hash', r->>'$.prompt_version', r->>'$.model', r->'$.output', $now FROM (SELECT unnest(from_json($rows::JSON, '["json"]')) AS r)
      ON CONFLICT (key) DO UPDATE SET output = excluded.output, created_at = excluded.created_at`, { rows: JSON.stringify(entries), now: sqlTs(now) }));
  }

  // ---- review queue --------------------------------------------------------------------------------------

  async listReviews(f: ReviewFilter = {}): Promise<ReviewItem[]> {
    const where = ['r.id > $after'];
    const params: Record<string, string | number> = { after: f.afterId ?? 0, n: Math.min(f.limit ?? 50, 500) };
    if (f.status) { where.push('r.status = $status'); params.status = f.status; }
    if (f.kind) { where.push('r.kind = $kind'); params.kind = f.kind; }
    if (f.lang) { where.push('r.lang = $lang'); params.lang = f.lang; }
    if (f.offerId) { where.push('r.offer_id = $offer'); params.offer = f.offerId; }
    const rows = await all(this.conn, `SELECT r.*, o.title AS offer_title FROM enrichment_reviews r LEFT JOIN offers o ON o.id = r.offer_id
      WHERE ${where.join(' AND ')} ORDER BY r.id LIMIT $n`, params);
    return rows.map(toReview);
  }

  async getReview(id: number): Promise<ReviewItem | undefined> {
    const [r] = await all(this.conn, 'SELECT r.*, o.title AS offer_title FROM enrichment_reviews r LEFT JOIN offers o ON o.id = r.offer_id WHERE r.id = $id', { id });
    return r ? toReview(r) : undefined;
  }

  async reviewCounts(): Promise<Record<string, number>> {
    const rows = await all<{ k: string; n: number }>(this.conn, `SELECT status || ':' || kind AS k, count(*)::INTEGER AS n FROM enrichment_reviews GROUP BY ALL`);
    return Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));
  }

  /**
   * Records a reviewer's decision and publishes what it approves, in one transaction: approved or edited copy
   * becomes the offer's copy, an approved or edited translation becomes its published translation. Only a
   * pending item of the offer's current content can be decided.
   */
  async decideReview(id: number, d: { status: 'approved' | 'edited' | 'rejected'; by: string; final?: Record<string, unknown>; note?: string; publishCopy?: OfferCopy; publishTranslation?: { title: string; summary: string | null; machine_generated: boolean; source: 'ai' | 'human' } }, now = new Date()): Promise<ReviewItem> {
    const t = sqlTs(now);
    await retryingTransaction(this.conn, async () => {
      const [cur] = await all<{ status: string; offer_id: string; content_hash: string; lang: string; current_hash: string | null }>(this.conn,
        `SELECT r.status, r.offer_id, r.content_hash, r.lang, o.content_hash AS current_hash FROM enrichment_reviews r LEFT JOIN offers o ON o.id = r.offer_id WHERE r.id = $id`, { id });
      if (!cur) throw new ReviewError(`no review item ${id}`, 404);
      if (cur.status !== 'pending') throw new ReviewError(`review item ${id} is already ${cur.status}`, 409);
      if (cur.current_hash !== cur.content_hash) {
        await run(this.conn, `UPDATE enrichment_reviews SET status = 'superseded', decided_at = $now, note = 'the offer changed before review' WHERE id = $id`, { id, now: t });
        throw new ReviewError(`review item ${id} is for an older version of the offer; it was superseded`, 409);
      }
      await run(this.conn, 'UPDATE enrichment_reviews SET status = $s, final = $f, decided_by = $by, decided_at = $now, note = $note WHERE id = $id', {
        id, s: d.status, f: d.final ? JSON.stringify(d.final) : null, by: d.by, now: t, note: d.note ?? null,
      });
      if (d.publishCopy) {
        await run(this.conn, 'UPDATE offer_enrichment SET copy = $c, copy_source = $src WHERE offer_id = $o AND content_hash = $h', {
          c: JSON.stringify(d.publishCopy), src: d.publishCopy.source, o: cur.offer_id, h: cur.content_hash,
        });
      }
      if (d.publishTranslation) {
        const p = d.publishTranslation;
        await run(this.conn, `INSERT INTO offer_translations VALUES ($o, $l, $h, $title, $summary, $src, $mg, $id, $now)
          ON CONFLICT (offer_id, lang) DO UPDATE SET content_hash = excluded.content_hash, title = excluded.title, summary = excluded.summary,
            source = excluded.source, machine_generated = excluded.machine_generated, review_id = excluded.review_id, updated_at = excluded.updated_at`,
        { o: cur.offer_id, l: cur.lang, h: cur.content_hash, title: p.title, summary: p.summary, src: p.source, mg: p.machine_generated, id, now: t });
      }
    });
    return (await this.getReview(id))!;
  }

  // ---- reads for serving ---------------------------------------------------------------------------------

  /**
   * The enrichment of offers for serving: only for the content they have now (an offer changed since its
   * enrichment shows none until re-enriched), with published translations of that content. Stored tags only:
   * add the time-dependent ones with enrich/tags.ts tagsAt().
   */
  async getEnrichment(offerIds: string[]): Promise<Map<string, OfferEnrichmentView & { expires_at?: string }>> {
    if (!offerIds.length) return new Map();
    const ids = JSON.stringify(offerIds);
    const rows = await all<{ offer_id: string; languages: string[]; countries: string[]; categories: string[]; category_paths: string[]; tags: string[]; copy: string; enriched_at: string; expires_at: string | null }>(this.conn, `
      SELECT e.offer_id, e.languages, e.countries, e.categories, e.category_paths, e.tags, e.copy::VARCHAR AS copy, e.enriched_at, o.expires_at
      FROM offer_enrichment e JOIN offers o ON o.id = e.offer_id AND o.content_hash = e.content_hash
      WHERE e.offer_id IN (SELECT unnest(CAST($ids::JSON AS VARCHAR[])))`, { ids });
    const translations = await all<{ offer_id: string; lang: string; title: string; summary: string | null; machine_generated: boolean }>(this.conn, `
      SELECT t.offer_id, t.lang, t.title, t.summary, t.machine_generated FROM offer_translations t JOIN offers o ON o.id = t.offer_id AND o.content_hash = t.content_hash
      WHERE t.offer_id IN (SELECT unnest(CAST($ids::JSON AS VARCHAR[])))`, { ids });
    const out = new Map<string, OfferEnrichmentView & { expires_at?: string }>();
    for (const r of rows) {
      out.set(r.offer_id, {
        offer_id: r.offer_id, languages: r.languages, countries: r.countries,
        categories: r.categories.map((id, i) => ({ id, path: r.category_paths[i] })), tags: r.tags,
        copy: JSON.parse(r.copy) as OfferCopy, translations: {}, enriched_at: isoTs(r.enriched_at)!, expires_at: isoTs(r.expires_at),
      });
    }
    for (const t of translations) {
      const v = out.get(t.offer_id);
      if (v) v.translations[t.lang] = { title: t.title, summary: t.summary, machine_generated: t.machine_generated };
    }
    return out;
  }
}

export class ReviewError extends Error {
  constructor(message: string, readonly status: 404 | 409 | 400) { super(message); this.name = 'ReviewError'; }
}
