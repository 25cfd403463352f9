// The optimizer's tables in the serving store (migrations/duckdb/003_optimizer.sql): interaction counters,
// scores, controls (pins, promotions, automatic hides, admin protection), the decision log and the analytics
// outbox for ClickHouse. The only module that writes SQL against them. Status changes follow the serving
// store's history conventions (offer_changes with the state before, an offer_version event in the outbox) in
// the same transaction as the decision record. It works on a connection of its own (see side-connection.ts).
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { all, run } from './duckdb.ts';
import { isoTs, openSideConnection, retryingTransaction, sqlTs } from './side-connection.ts';
import type { MomentSums } from '../optimize/stats.ts';

export interface NetworkMoments { network: string; ctr: MomentSums; cvr: MomentSums; conversions: number; revenue: number }

export interface PriorRow { network: string; ctr_a: number; ctr_b: number; cvr_a: number; cvr_b: number; value: number }

export interface ScoreParams {
  /** Per network, plus one row with network '*' for networks without their own. */
  priors: PriorRow[];
  weights: { performance: number; freshness: number; discount: number; payout: number };
  promotedBoost: number;
  freshnessHalfLifeDays: number;
  /** Discount fraction that counts as full marks (0.5: half price). */
  discountFullAt: number;
  /** Pseudo-conversions of the payout prior in the value per conversion. */
  valueStrength: number;
  /** Minimum score change written to ClickHouse history. */
  historyEpsilon: number;
}

export interface ScoreRunResult { runId: string; scored: number; changed: number; epiRef: number; payoutRef: number }

export interface Candidate {
  offer_id: string; network: string; scored: boolean; score: number; perf: number;
  ctr_alpha: number; ctr_beta: number; cvr_alpha: number; cvr_beta: number; value: number;
  pinned: boolean; pin_rank: number | null; promoted: boolean; impressions: number;
}

/** Filters of the serving API, applied to the offer and to its enrichment. */
export interface RankFilters {
  network?: string; kind?: string; merchant?: string;
  /** ISO 3166-1 alpha-2: the connector's countries or the enriched ones. */
  country?: string;
  /** Language (primary subtag): the connector's languages or the detected ones. */
  lang?: string;
  /** A taxonomy id (e.g. "505771") or a connector category, exactly. */
  vertical?: string;
  minPrice?: number; maxPrice?: number; hasCoupon?: boolean;
}

export interface TestRow { offer_id: string; network: string; impressions: number; clicks: number; conversions: number; net_impressions: number; net_clicks: number; net_conversions: number; promoted: boolean; pinned: boolean; protected_until?: string }

export interface StatusDecision {
  offer_id: string; action: 'hide' | 'unhide'; reason: string; actor: string;
  /** The optimizer's reason class for an automatic hide; null clears it. */
  autoHidden: 'stale' | 'underperforming' | null;
  /** Admin override: no automatic hide before this time (undefined keeps, null clears). */
  protectedUntil?: Date | null;
  details?: Record<string, unknown>;
}

export interface ControlDecision {
  offer_id: string; action: 'pin' | 'unpin' | 'promote' | 'demote'; reason: string; actor: string;
  pinRank?: number | null; details?: Record<string, unknown>;
}

export interface Decision { id: number; offer_id: string; network: string; action: string; reason: string; actor: string; details: Record<string, unknown> | null; decided_at: string }

export interface OfferControl { offer_id: string; pinned: boolean; pin_rank: number | null; promoted: boolean; auto_hidden: string | null; protected_until?: string }

const rowsParam = (rows: unknown[]) => JSON.stringify(rows);
const FROM_ROWS = `FROM (SELECT unnest(from_json($rows::JSON, '["json"]')) AS r)`;

export class OptimizerStore {
  private constructor(readonly path: string, private readonly conn: DuckDBConnection) {}

  static async open(path: string): Promise<OptimizerStore> {
    return new OptimizerStore(path, await openSideConnection(path));
  }

  close(): void {
    this.conn.closeSync();
  }

  // ---- interactions -------------------------------------------------------------------------------------

  /** Adds served impressions (aggregated per offer, surface and minute) and queues them for ClickHouse. Unknown offer ids are ignored. */
  async addImpressions(rows: Array<{ offer_id: string; surface: string; bucket: Date; count: number }>, now = new Date()): Promise<number> {
    if (!rows.length) return 0;
    const payload = rowsParam(rows.map((r) => ({ offer_id: r.offer_id, surface: r.surface, bucket: sqlTs(r.bucket).slice(0, 19), count: r.count })));
    const t = sqlTs(now);
    return retryingTransaction(this.conn, async () => {
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_imp');
      await run(this.conn, `CREATE TEMP TABLE opt_imp AS SELECT x.*, o.network FROM (SELECT r->>'$.offer_id' AS offer_id, r->>'$.surface' AS surface,
          (r->>'$.bucket')::TIMESTAMP AS bucket, (r->>'$.count')::BIGINT AS n ${FROM_ROWS}) x JOIN offers o ON o.id = x.offer_id`, { rows: payload });
      await run(this.conn, `INSERT INTO offer_stats (offer_id, impressions, last_impression_at, updated_at)
        SELECT offer_id, sum(n), max(bucket), $now FROM opt_imp GROUP BY offer_id
        ON CONFLICT (offer_id) DO UPDATE SET impressions = offer_stats.impressions + excluded.impressions,
          last_impression_at = greatest(offer_stats.last_impression_at, excluded.last_impression_at), updated_at = excluded.updated_at`, { now: t });
      await run(this.conn, `INSERT INTO analytics_outbox (kind, payload, created_at)
        SELECT 'impression', json_object('bucket', strftime(bucket, '%Y-%m-%d %H:%M:%S'), 'offer_id', offer_id, 'network', network, 'surface', surface, 'impressions', n), $now FROM opt_imp`, { now: t });
      const [{ n }] = await all<{ n: number }>(this.conn, 'SELECT coalesce(sum(n), 0)::BIGINT AS n FROM opt_imp');
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_imp');
      return Number(n);
    });
  }

  async addClicks(rows: Array<{ offer_id: string; count: number }>, now = new Date()): Promise<void> {
    if (!rows.length) return;
    await retryingTransaction(this.conn, () => run(this.conn, `INSERT INTO offer_stats (offer_id, clicks, last_click_at, updated_at)
      SELECT x.offer_id, sum(x.n), $now, $now FROM (SELECT r->>'$.offer_id' AS offer_id, (r->>'$.count')::BIGINT AS n ${FROM_ROWS}) x
      JOIN offers o ON o.id = x.offer_id GROUP BY x.offer_id
      ON CONFLICT (offer_id) DO UPDATE SET clicks = greatest(0, offer_stats.clicks + excluded.clicks), last_click_at = excluded.last_click_at, updated_at = excluded.updated_at`,
    { rows: rowsParam(rows), now: sqlTs(now) }));
  }

  async addConversions(rows: Array<{ offer_id: string; count: number; revenue: number }>, now = new Date()): Promise<void> {
    if (!rows.length) return;
    await retryingTransaction(this.conn, () => run(this.conn, `INSERT INTO offer_stats (offer_id, conversions, revenue, last_conversion_at, updated_at)
      SELECT x.offer_id, sum(x.n), sum(x.revenue), $now, $now FROM (SELECT r->>'$.offer_id' AS offer_id, (r->>'$.count')::BIGINT AS n, (r->>'$.revenue')::DOUBLE AS revenue ${FROM_ROWS}) x
      JOIN offers o ON o.id = x.offer_id GROUP BY x.offer_id
      ON CONFLICT (offer_id) DO UPDATE SET conversions = greatest(0, offer_stats.conversions + excluded.conversions),
        revenue = offer_stats.revenue + excluded.revenue, last_conversion_at = excluded.last_conversion_at, updated_at = excluded.updated_at`,
    { rows: rowsParam(rows), now: sqlTs(now) }));
  }

  /** Replaces click and conversion totals (a rebuild from ClickHouse); impressions stay. */
  async replaceInteractionTotals(rows: Array<{ offer_id: string; clicks: number; conversions: number; revenue: number }>, now = new Date()): Promise<void> {
    await retryingTransaction(this.conn, async () => {
      await run(this.conn, 'UPDATE offer_stats SET clicks = 0, conversions = 0, revenue = 0, updated_at = $now', { now: sqlTs(now) });
      if (!rows.length) return;
      await run(this.conn, `INSERT INTO offer_stats (offer_id, clicks, conversions, revenue, updated_at)
        SELECT x.offer_id, x.clicks, x.conversions, x.revenue, $now FROM (SELECT r->>'$.offer_id' AS offer_id, (r->>'$.clicks')::BIGINT AS clicks,
          (r->>'$.conversions')::BIGINT AS conversions, (r->>'$.revenue')::DOUBLE AS revenue ${FROM_ROWS}) x JOIN offers o ON o.id = x.offer_id
        ON CONFLICT (offer_id) DO UPDATE SET clicks = excluded.clicks, conversions = excluded.conversions, revenue = excluded.revenue, updated_at = excluded.updated_at`,
      { rows: rowsParam(rows), now: sqlTs(now) });
    });
  }

  async stats(offerId: string): Promise<{ impressions: number; clicks: number; conversions: number; revenue: number } | undefined> {
    const [r] = await all<{ impressions: number; clicks: number; conversions: number; revenue: number }>(this.conn, 'SELECT impressions, clicks, conversions, revenue FROM offer_stats WHERE offer_id = $o', { o: offerId });
    return r ? { impressions: Number(r.impressions), clicks: Number(r.clicks), conversions: Number(r.conversions), revenue: Number(r.revenue) } : undefined;
  }

  // ---- scoring ------------------------------------------------------------------------------------------

  /** Per network: the sums the empirical-Bayes priors need (offers with enough trials count for the spread). */
  async networkMoments(minImpressions: number, minClicks: number): Promise<NetworkMoments[]> {
    const rows = await all<Record<string, number | string>>(this.conn, `
      SELECT o.network,
        count(*) FILTER (WHERE s.impressions >= $mi)::INTEGER AS ctr_groups, sum(s.impressions)::DOUBLE AS impressions, sum(least(s.clicks, s.impressions))::DOUBLE AS ctr_clicks,
        coalesce(sum(least(s.clicks, s.impressions)::DOUBLE / s.impressions) FILTER (WHERE s.impressions >= $mi), 0) AS ctr_sum,
        coalesce(sum((least(s.clicks, s.impressions)::DOUBLE / s.impressions) ^ 2) FILTER (WHERE s.impressions >= $mi), 0) AS ctr_sum2,
        coalesce(sum(1.0 / s.impressions) FILTER (WHERE s.impressions >= $mi), 0) AS ctr_inv,
        count(*) FILTER (WHERE s.clicks >= $mc)::INTEGER AS cvr_groups, sum(s.clicks)::DOUBLE AS clicks, sum(least(s.conversions, s.clicks))::DOUBLE AS cvr_conv,
        coalesce(sum(least(s.conversions, s.clicks)::DOUBLE / s.clicks) FILTER (WHERE s.clicks >= $mc), 0) AS cvr_sum,
        coalesce(sum((least(s.conversions, s.clicks)::DOUBLE / s.clicks) ^ 2) FILTER (WHERE s.clicks >= $mc), 0) AS cvr_sum2,
        coalesce(sum(1.0 / s.clicks) FILTER (WHERE s.clicks >= $mc), 0) AS cvr_inv,
        sum(s.conversions)::DOUBLE AS conversions, sum(s.revenue)::DOUBLE AS revenue
      FROM offers o JOIN offer_stats s ON s.offer_id = o.id GROUP BY o.network ORDER BY o.network`, { mi: minImpressions, mc: minClicks });
    return rows.map((r) => ({
      network: String(r.network),
      ctr: { groups: Number(r.ctr_groups), trials: Number(r.impressions), successes: Number(r.ctr_clicks), sumRate: Number(r.ctr_sum), sumRate2: Number(r.ctr_sum2), sumInvTrials: Number(r.ctr_inv) },
      cvr: { groups: Number(r.cvr_groups), trials: Number(r.clicks), successes: Number(r.cvr_conv), sumRate: Number(r.cvr_sum), sumRate2: Number(r.cvr_sum2), sumInvTrials: Number(r.cvr_inv) },
      conversions: Number(r.conversions), revenue: Number(r.revenue),
    }));
  }

  /**
   * One scoring pass over every live offer, in SQL: Beta posteriors of CTR and conversion rate (prior + counts),
   * value per conversion (commissions smoothed toward the payout), EPC and earnings per impression; the score
   * weighs performance (earnings per impression against the median offer), freshness, discount and payout, plus
   * a boost for promoted offers. Scores that moved by historyEpsilon or more go to the analytics outbox.
   */
  async computeScores(p: ScoreParams, now = new Date()): Promise<ScoreRunResult> {
    const runId = `score-${sqlTs(now).replace(/[-: .]/g, '').slice(0, 14)}-${randomUUID().slice(0, 6)}`;
    const t = sqlTs(now);
    const w = p.weights;
    return retryingTransaction(this.conn, async () => {
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_sc');
      await run(this.conn, `CREATE TEMP TABLE opt_sc AS
        WITH pr AS (
          SELECT r->>'$.network' AS network, (r->>'$.ctr_a')::DOUBLE AS ctr_a, (r->>'$.ctr_b')::DOUBLE AS ctr_b,
            (r->>'$.cvr_a')::DOUBLE AS cvr_a, (r->>'$.cvr_b')::DOUBLE AS cvr_b, (r->>'$.value')::DOUBLE AS value_prior ${FROM_ROWS}
        ),
        f AS (
          SELECT o.id, o.network, o.first_seen_at, o.price, o.sale_price, TRY_CAST(o.data->>'$.discount.percent' AS DOUBLE) AS stated_pct,
            TRY_CAST(o.payout->>'$.amount' AS DOUBLE) AS payout_amount, TRY_CAST(o.payout->>'$.percent' AS DOUBLE) AS payout_percent,
            coalesce(s.impressions, 0) AS impressions, coalesce(s.clicks, 0) AS clicks, coalesce(s.conversions, 0) AS conversions,
            coalesce(s.revenue, 0) AS revenue, coalesce(c.promoted, false) AS promoted,
            coalesce(p.ctr_a, g.ctr_a) AS ctr_a, coalesce(p.ctr_b, g.ctr_b) AS ctr_b, coalesce(p.cvr_a, g.cvr_a) AS cvr_a,
            coalesce(p.cvr_b, g.cvr_b) AS cvr_b, coalesce(p.value_prior, g.value_prior) AS value_prior
          FROM offers o LEFT JOIN offer_stats s ON s.offer_id = o.id LEFT JOIN offer_controls c ON c.offer_id = o.id
            LEFT JOIN pr p ON p.network = o.network CROSS JOIN (SELECT * FROM pr WHERE network = '*') g
          WHERE o.status IN ('active', 'hidden')
        ),
        v AS (
          SELECT *,
            coalesce(payout_amount, payout_percent / 100 * coalesce(sale_price, price)) AS payout_value,
            CASE WHEN price > 0 AND sale_price < price THEN 1 - sale_price / price WHEN stated_pct > 0 THEN least(stated_pct, 100) / 100 ELSE 0 END AS discount_frac,
            ctr_a + least(clicks, impressions) AS ctr_alpha, ctr_b + greatest(impressions - clicks, 0) AS ctr_beta,
            cvr_a + least(conversions, clicks) AS cvr_alpha, cvr_b + greatest(clicks - conversions, 0) AS cvr_beta
          FROM f
        ),
        e AS (
          SELECT *, ctr_alpha / (ctr_alpha + ctr_beta) AS ctr, cvr_alpha / (cvr_alpha + cvr_beta) AS cvr,
            (revenue + $k * coalesce(payout_value, value_prior)) / (conversions + $k) AS value
          FROM v
        ),
        m AS (SELECT *, ctr * cvr * value AS epi FROM e)
        SELECT *, cvr * value AS epc,
          median(epi) OVER () AS epi_ref,
          coalesce(median(CASE WHEN payout_value > 0 THEN payout_value END) OVER (), 0) AS payout_ref,
          pow(0.5, greatest(0, date_diff('second', first_seen_at, $now::TIMESTAMP)) / 86400.0 / $half) AS freshness
        FROM m`, { rows: rowsParam(p.priors), k: p.valueStrength, now: t, half: p.freshnessHalfLifeDays });
      await run(this.conn, `ALTER TABLE opt_sc ADD COLUMN perf DOUBLE`);
      await run(this.conn, `UPDATE opt_sc SET perf = CASE WHEN epi_ref > 0 THEN epi / (epi + epi_ref) ELSE 0.5 END`);
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_scored');
      await run(this.conn, `CREATE TEMP TABLE opt_scored AS SELECT opt_sc.*,
          least(1, discount_frac / $full) AS discount, CASE WHEN payout_value > 0 AND payout_ref > 0 THEN payout_value / (payout_value + payout_ref) ELSE 0 END AS payout_norm,
          $wp * opt_sc.perf + $wf * opt_sc.freshness + $wd * least(1, discount_frac / $full)
            + $wy * (CASE WHEN payout_value > 0 AND payout_ref > 0 THEN payout_value / (payout_value + payout_ref) ELSE 0 END)
            + CASE WHEN opt_sc.promoted THEN $boost ELSE 0 END AS score,
          old.score AS old_score
        FROM opt_sc LEFT JOIN offer_scores old ON old.offer_id = opt_sc.id`, { full: p.discountFullAt, wp: w.performance, wf: w.freshness, wd: w.discount, wy: w.payout, boost: p.promotedBoost });
      await run(this.conn, `INSERT INTO analytics_outbox (kind, payload, created_at)
        SELECT 'offer_score', json_object('scored_at', strftime($now::TIMESTAMP, '%Y-%m-%d %H:%M:%S.%g'), 'score_run', $run, 'offer_id', id, 'network', network,
          'impressions', impressions, 'clicks', clicks, 'conversions', conversions, 'revenue', revenue, 'ctr', ctr, 'cvr', cvr, 'epc', epc,
          'freshness', freshness, 'discount', discount, 'payout', payout_norm, 'score', score, 'promoted', promoted), $now
        FROM opt_scored WHERE old_score IS NULL OR abs(score - old_score) >= $eps`, { now: t, run: runId, eps: p.historyEpsilon });
      await run(this.conn, `INSERT INTO offer_scores
        SELECT id, network, score, perf, ctr, cvr, epc, value, ctr_alpha, ctr_beta, cvr_alpha, cvr_beta, freshness, discount, payout_norm, promoted, $run, $now FROM opt_scored
        ON CONFLICT (offer_id) DO UPDATE SET network = excluded.network, score = excluded.score, perf = excluded.perf, ctr = excluded.ctr, cvr = excluded.cvr,
          epc = excluded.epc, value = excluded.value, ctr_alpha = excluded.ctr_alpha, ctr_beta = excluded.ctr_beta, cvr_alpha = excluded.cvr_alpha,
          cvr_beta = excluded.cvr_beta, freshness = excluded.freshness, discount = excluded.discount, payout = excluded.payout, promoted = excluded.promoted,
          score_run = excluded.score_run, scored_at = excluded.scored_at`, { run: runId, now: t });
      // Offers no longer live keep no score: their last one is in ClickHouse.
      await run(this.conn, `DELETE FROM offer_scores WHERE offer_id NOT IN (SELECT id FROM opt_scored)`);
      const [r] = await all<{ scored: number; changed: number; epi_ref: number | null; payout_ref: number | null }>(this.conn, `
        SELECT count(*)::INTEGER AS scored, count(*) FILTER (WHERE old_score IS NULL OR abs(score - old_score) >= $eps)::INTEGER AS changed,
          max(epi_ref) AS epi_ref, max(payout_ref) AS payout_ref FROM opt_scored`, { eps: p.historyEpsilon });
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_sc');
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_scored');
      return { runId, scored: Number(r.scored), changed: Number(r.changed), epiRef: Number(r.epi_ref ?? 0), payoutRef: Number(r.payout_ref ?? 0) };
    });
  }

  /** The median earnings per impression of the last scoring pass (the ranker's reference after a restart). */
  async epiReference(): Promise<number> {
    const [r] = await all<{ m: number | null }>(this.conn, 'SELECT median(ctr * cvr * value) AS m FROM offer_scores');
    return Number(r?.m ?? 0);
  }

  /**
   * Ranking candidates among active offers matching the filters: pinned ones, the best by score, and the least
   * seen (so new offers can be explored). Offers not scored yet come with scored = false.
   */
  async candidates(f: RankFilters, pool: number, newPool: number): Promise<Candidate[]> {
    const where = [`o.status = 'active'`];
    const params: Record<string, string | number | boolean> = { pool, newPool };
    if (f.network) { where.push('o.network = $network'); params.network = f.network; }
    if (f.kind) { where.push('o.kind = $kind'); params.kind = f.kind; }
    if (f.merchant) { where.push('(o.merchant_id = $merchant OR o.merchant_name = $merchant)'); params.merchant = f.merchant; }
    if (f.country) { where.push('(list_contains(o.countries, $country) OR list_contains(e.countries, $country))'); params.country = f.country.toUpperCase(); }
    if (f.lang) {
      where.push(`(list_contains(e.languages, $lang) OR len(list_filter(o.languages, l -> lower(split_part(replace(l, '_', '-'), '-', 1)) = $lang)) > 0)`);
      params.lang = f.lang.toLowerCase();
    }
    if (f.vertical) { where.push('(list_contains(e.categories, $vertical) OR list_contains(o.categories, $vertical))'); params.vertical = f.vertical; }
    if (f.minPrice !== undefined) { where.push('coalesce(o.sale_price, o.price) >= $minPrice'); params.minPrice = f.minPrice; }
    if (f.maxPrice !== undefined) { where.push('coalesce(o.sale_price, o.price) <= $maxPrice'); params.maxPrice = f.maxPrice; }
    if (f.hasCoupon !== undefined) where.push(f.hasCoupon ? `coalesce(o.coupon_code, '') <> ''` : `coalesce(o.coupon_code, '') = ''`);
    const rows = await all<Record<string, unknown>>(this.conn, `
      WITH base AS (
        SELECT o.id AS offer_id, o.network, s.offer_id IS NOT NULL AS scored, coalesce(s.score, 0) AS score, coalesce(s.perf, 0.5) AS perf,
          coalesce(s.ctr_alpha, 0) AS ctr_alpha, coalesce(s.ctr_beta, 0) AS ctr_beta, coalesce(s.cvr_alpha, 0) AS cvr_alpha, coalesce(s.cvr_beta, 0) AS cvr_beta,
          coalesce(s.value, 0) AS value, coalesce(c.pinned, false) AS pinned, c.pin_rank, coalesce(c.promoted, false) AS promoted,
          coalesce(st.impressions, 0) AS impressions, o.first_seen_at
        FROM offers o LEFT JOIN offer_scores s ON s.offer_id = o.id LEFT JOIN offer_controls c ON c.offer_id = o.id
          LEFT JOIN offer_stats st ON st.offer_id = o.id LEFT JOIN offer_enrichment e ON e.offer_id = o.id
        WHERE ${where.join(' AND ')}
      )
      SELECT DISTINCT ON (offer_id) * FROM (
        (SELECT * FROM base WHERE pinned)
        UNION ALL (SELECT * FROM base ORDER BY scored DESC, score DESC, offer_id LIMIT $pool)
        UNION ALL (SELECT * FROM base ORDER BY impressions, first_seen_at DESC, offer_id LIMIT $newPool)
      )`, params);
    return rows.map((r) => ({
      offer_id: String(r.offer_id), network: String(r.network), scored: Boolean(r.scored), score: Number(r.score), perf: Number(r.perf),
      ctr_alpha: Number(r.ctr_alpha), ctr_beta: Number(r.ctr_beta), cvr_alpha: Number(r.cvr_alpha), cvr_beta: Number(r.cvr_beta), value: Number(r.value),
      pinned: Boolean(r.pinned), pin_rank: r.pin_rank === null ? null : Number(r.pin_rank), promoted: Boolean(r.promoted), impressions: Number(r.impressions),
    }));
  }

  /** Scores of given offers (re-ranking a list the API already filtered, e.g. search results). */
  async candidatesById(offerIds: string[]): Promise<Candidate[]> {
    if (!offerIds.length) return [];
    const rows = await all<Record<string, unknown>>(this.conn, `
      SELECT o.id AS offer_id, o.network, s.offer_id IS NOT NULL AS scored, coalesce(s.score, 0) AS score, coalesce(s.perf, 0.5) AS perf,
        coalesce(s.ctr_alpha, 0) AS ctr_alpha, coalesce(s.ctr_beta, 0) AS ctr_beta, coalesce(s.cvr_alpha, 0) AS cvr_alpha, coalesce(s.cvr_beta, 0) AS cvr_beta,
        coalesce(s.value, 0) AS value, coalesce(c.pinned, false) AS pinned, c.pin_rank, coalesce(c.promoted, false) AS promoted, coalesce(st.impressions, 0) AS impressions
      FROM offers o LEFT JOIN offer_scores s ON s.offer_id = o.id LEFT JOIN offer_controls c ON c.offer_id = o.id LEFT JOIN offer_stats st ON st.offer_id = o.id
      WHERE o.id IN (SELECT unnest(CAST($ids::JSON AS VARCHAR[])))`, { ids: JSON.stringify(offerIds) });
    return rows.map((r) => ({
      offer_id: String(r.offer_id), network: String(r.network), scored: Boolean(r.scored), score: Number(r.score), perf: Number(r.perf),
      ctr_alpha: Number(r.ctr_alpha), ctr_beta: Number(r.ctr_beta), cvr_alpha: Number(r.cvr_alpha), cvr_beta: Number(r.cvr_beta), value: Number(r.value),
      pinned: Boolean(r.pinned), pin_rank: r.pin_rank === null ? null : Number(r.pin_rank), promoted: Boolean(r.promoted), impressions: Number(r.impressions),
    }));
  }

  // ---- decisions ----------------------------------------------------------------------------------------

  /** Active offers not verified since `before`, that no pin or admin protection keeps. */
  async staleOffers(before: Date, now = new Date()): Promise<Array<{ offer_id: string; last_verified_at: string }>> {
    const rows = await all<{ offer_id: string; last_verified_at: string }>(this.conn, `
      SELECT o.id AS offer_id, o.last_verified_at FROM offers o LEFT JOIN offer_controls c ON c.offer_id = o.id
      WHERE o.status = 'active' AND o.last_verified_at < $before AND NOT coalesce(c.pinned, false)
        AND (c.protected_until IS NULL OR c.protected_until <= $now)
      ORDER BY o.id`, { before: sqlTs(before), now: sqlTs(now) });
    return rows.map((r) => ({ offer_id: r.offer_id, last_verified_at: isoTs(r.last_verified_at)! }));
  }

  /** Offers the optimizer hid as stale that a sync has verified again since `since`. */
  async reverifiedStale(since: Date): Promise<Array<{ offer_id: string; last_verified_at: string }>> {
    const rows = await all<{ offer_id: string; last_verified_at: string }>(this.conn, `
      SELECT o.id AS offer_id, o.last_verified_at FROM offers o JOIN offer_controls c ON c.offer_id = o.id
      WHERE o.status = 'hidden' AND c.auto_hidden = 'stale' AND o.last_verified_at >= $since ORDER BY o.id`, { since: sqlTs(since) });
    return rows.map((r) => ({ offer_id: r.offer_id, last_verified_at: isoTs(r.last_verified_at)! }));
  }

  /** Active offers with their counts and their network's totals without them: the inputs of the peer tests. */
  async testRows(minImpressions: number, minConversions: number): Promise<TestRow[]> {
    const rows = await all<Record<string, unknown>>(this.conn, `
      WITH t AS (
        SELECT o.id AS offer_id, o.network, o.status, s.impressions, least(s.clicks, s.impressions) AS clicks, least(s.conversions, s.clicks) AS conversions,
          sum(s.impressions) OVER (PARTITION BY o.network) AS ni, sum(least(s.clicks, s.impressions)) OVER (PARTITION BY o.network) AS nc,
          sum(least(s.conversions, s.clicks)) OVER (PARTITION BY o.network) AS nv,
          coalesce(c.promoted, false) AS promoted, coalesce(c.pinned, false) AS pinned, c.protected_until
        FROM offers o JOIN offer_stats s ON s.offer_id = o.id LEFT JOIN offer_controls c ON c.offer_id = o.id
        WHERE o.status IN ('active', 'hidden')
      )
      SELECT * FROM t WHERE status = 'active' AND (impressions >= $mi OR conversions >= $mv OR promoted) ORDER BY offer_id`, { mi: minImpressions, mv: minConversions });
    return rows.map((r) => ({
      offer_id: String(r.offer_id), network: String(r.network), impressions: Number(r.impressions), clicks: Number(r.clicks), conversions: Number(r.conversions),
      net_impressions: Number(r.ni) - Number(r.impressions), net_clicks: Number(r.nc) - Number(r.clicks), net_conversions: Number(r.nv) - Number(r.conversions),
      promoted: Boolean(r.promoted), pinned: Boolean(r.pinned), protected_until: isoTs(r.protected_until as string | null),
    }));
  }

  /**
   * Hides or unhides offers with their reasons, in one transaction: the status change with its history
   * (offer_changes with the state before, an offer_version event), the decision record, its analytics event
   * and the offer's controls. Only real transitions apply (hide an active offer, unhide a hidden one); an
   * unhidden offer past its expiry becomes expired. With skipSyncing, offers of a connector whose sync is
   * running are left for the next pass: a write to a row the sync's open merge also writes would make one of the
   * two transactions fail, and it must never be the sync. Returns the offers that changed.
   */
  async applyStatusDecisions(list: StatusDecision[], now = new Date(), opts: { skipSyncing?: boolean } = {}): Promise<string[]> {
    if (!list.length) return [];
    const t = sqlTs(now);
    const runId = `${list[0].actor === 'optimizer' ? 'optimizer' : 'admin'}-${randomUUID().slice(0, 8)}`;
    const payload = rowsParam(list.map((d) => ({
      offer_id: d.offer_id, action: d.action, reason: d.reason, actor: d.actor, auto_hidden: d.autoHidden,
      set_protection: d.protectedUntil !== undefined, protected_until: d.protectedUntil ? sqlTs(d.protectedUntil) : null, details: d.details ?? null,
    })));
    return retryingTransaction(this.conn, async () => {
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_dec');
      await run(this.conn, `CREATE TEMP TABLE opt_dec AS SELECT x.*, o.network, o.status AS prev_status FROM (
          SELECT r->>'$.offer_id' AS offer_id, r->>'$.action' AS action, r->>'$.reason' AS reason, r->>'$.actor' AS actor, r->>'$.auto_hidden' AS auto_hidden,
            (r->>'$.set_protection')::BOOLEAN AS set_protection, TRY_CAST(r->>'$.protected_until' AS TIMESTAMP) AS protected_until, r->'$.details' AS details ${FROM_ROWS}
        ) x JOIN offers o ON o.id = x.offer_id
        WHERE ((x.action = 'hide' AND o.status = 'active') OR (x.action = 'unhide' AND o.status = 'hidden'))
          ${opts.skipSyncing ? 'AND o.network NOT IN (SELECT connector FROM run_locks)' : ''}`, { rows: payload });
      await run(this.conn, `INSERT INTO offer_changes (run_id, offer_id, op, prev_status, prev_status_reason, prev_data, prev_content_hash, prev_version, prev_missed_runs, changed_at)
        SELECT $run, o.id, d.action, o.status, o.status_reason, NULL, NULL, NULL, o.missed_runs, $now FROM opt_dec d JOIN offers o ON o.id = d.offer_id`, { run: runId, now: t });
      await run(this.conn, `UPDATE offers SET status = CASE WHEN d.action = 'hide' THEN 'hidden' WHEN offers.expires_at IS NOT NULL AND offers.expires_at < $now THEN 'expired' ELSE 'active' END,
          status_reason = d.reason
        FROM opt_dec d WHERE offers.id = d.offer_id`, { now: t });
      // The same offer_version event the serving store writes for every status change (its outbox feeds ClickHouse).
      await run(this.conn, `INSERT INTO outbox (kind, payload, created_at)
        SELECT 'offer_version', json_object('event_time', strftime($now::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%g'), 'run_id', $run, 'op', d.action,
          'offer_id', o.id, 'network', o.network, 'external_id', o.external_id, 'version', o.version, 'status', o.status,
          'content_hash', o.content_hash, 'kind', o.kind, 'title', o.title, 'merchant_name', o.merchant_name, 'price', o.price,
          'sale_price', o.sale_price, 'currency', o.currency, 'expires_at', strftime(o.expires_at, '%Y-%m-%dT%H:%M:%S.%g'), 'offer', o.data), $now
        FROM opt_dec d JOIN offers o ON o.id = d.offer_id`, { run: runId, now: t });
      await this.logDecisions('opt_dec', t, `json_merge_patch(coalesce(details, '{}'::JSON), json_object('run_id', $run, 'from', prev_status))`, { run: runId });
      await run(this.conn, `INSERT INTO offer_controls (offer_id, updated_at) SELECT offer_id, $now FROM opt_dec ON CONFLICT (offer_id) DO NOTHING`, { now: t });
      await run(this.conn, `UPDATE offer_controls SET auto_hidden = d.auto_hidden,
          protected_until = CASE WHEN d.set_protection THEN d.protected_until ELSE offer_controls.protected_until END, updated_at = $now
        FROM opt_dec d WHERE offer_controls.offer_id = d.offer_id`, { now: t });
      const changed = await all<{ offer_id: string }>(this.conn, 'SELECT offer_id FROM opt_dec ORDER BY offer_id');
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_dec');
      return changed.map((c) => c.offer_id);
    });
  }

  /** Pins, unpins, promotions and demotions with their reasons. Returns the offers that changed. */
  async applyControlDecisions(list: ControlDecision[], now = new Date()): Promise<string[]> {
    if (!list.length) return [];
    const t = sqlTs(now);
    const payload = rowsParam(list.map((d) => ({ offer_id: d.offer_id, action: d.action, reason: d.reason, actor: d.actor, pin_rank: d.pinRank ?? null, details: d.details ?? null })));
    return retryingTransaction(this.conn, async () => {
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_ctl');
      await run(this.conn, `CREATE TEMP TABLE opt_ctl AS SELECT x.*, o.network FROM (
          SELECT r->>'$.offer_id' AS offer_id, r->>'$.action' AS action, r->>'$.reason' AS reason, r->>'$.actor' AS actor,
            TRY_CAST(r->>'$.pin_rank' AS INTEGER) AS pin_rank, r->'$.details' AS details ${FROM_ROWS}
        ) x JOIN offers o ON o.id = x.offer_id LEFT JOIN offer_controls c ON c.offer_id = x.offer_id
        WHERE (x.action = 'pin') OR (x.action = 'unpin' AND coalesce(c.pinned, false))
          OR (x.action = 'promote' AND NOT coalesce(c.promoted, false)) OR (x.action = 'demote' AND coalesce(c.promoted, false))`, { rows: payload });
      await this.logDecisions('opt_ctl', t, `coalesce(details, '{}'::JSON)`, {});
      await run(this.conn, `INSERT INTO offer_controls (offer_id, updated_at) SELECT offer_id, $now FROM opt_ctl ON CONFLICT (offer_id) DO NOTHING`, { now: t });
      await run(this.conn, `UPDATE offer_controls SET
          pinned = CASE c.action WHEN 'pin' THEN true WHEN 'unpin' THEN false ELSE offer_controls.pinned END,
          pin_rank = CASE c.action WHEN 'pin' THEN c.pin_rank WHEN 'unpin' THEN NULL ELSE offer_controls.pin_rank END,
          promoted = CASE c.action WHEN 'promote' THEN true WHEN 'demote' THEN false ELSE offer_controls.promoted END,
          updated_at = $now
        FROM opt_ctl c WHERE offer_controls.offer_id = c.offer_id`, { now: t });
      const changed = await all<{ offer_id: string }>(this.conn, 'SELECT offer_id FROM opt_ctl ORDER BY offer_id');
      await run(this.conn, 'DROP TABLE IF EXISTS temp.opt_ctl');
      return changed.map((c) => c.offer_id);
    });
  }

  private async logDecisions(table: 'opt_dec' | 'opt_ctl', now: string, detailsExpr: string, params: Record<string, string>): Promise<void> {
    await run(this.conn, `INSERT INTO offer_decisions (offer_id, network, action, reason, actor, details, decided_at)
      SELECT offer_id, network, action, reason, actor, ${detailsExpr}, $now FROM ${table}`, { now, ...params });
    await run(this.conn, `INSERT INTO analytics_outbox (kind, payload, created_at)
      SELECT 'offer_decision', json_object('decided_at', strftime($now::TIMESTAMP, '%Y-%m-%d %H:%M:%S.%g'), 'offer_id', offer_id, 'network', network,
        'action', action, 'reason', reason, 'actor', actor, 'details', (${detailsExpr})::VARCHAR), $now FROM ${table}`, { now, ...params });
  }

  async controls(offerId: string): Promise<OfferControl | undefined> {
    const [r] = await all<Record<string, unknown>>(this.conn, 'SELECT * FROM offer_controls WHERE offer_id = $o', { o: offerId });
    return r ? { offer_id: String(r.offer_id), pinned: Boolean(r.pinned), pin_rank: r.pin_rank === null ? null : Number(r.pin_rank), promoted: Boolean(r.promoted), auto_hidden: (r.auto_hidden as string) ?? null, protected_until: isoTs(r.protected_until as string | null) } : undefined;
  }

  async decisions(opts: { offerId?: string; limit?: number; action?: string } = {}): Promise<Decision[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = { n: opts.limit ?? 100 };
    if (opts.offerId) { where.push('offer_id = $o'); params.o = opts.offerId; }
    if (opts.action) { where.push('action = $a'); params.a = opts.action; }
    const rows = await all<Record<string, unknown>>(this.conn, `SELECT id, offer_id, network, action, reason, actor, details::VARCHAR AS details, decided_at FROM offer_decisions
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $n`, params);
    return rows.map((r) => ({ id: Number(r.id), offer_id: String(r.offer_id), network: String(r.network), action: String(r.action), reason: String(r.reason), actor: String(r.actor), details: r.details ? JSON.parse(String(r.details)) : null, decided_at: isoTs(r.decided_at as string)! }));
  }

  // ---- analytics outbox ---------------------------------------------------------------------------------

  /**
   * The next batch to send: the range a previous flush claimed and did not complete, else the first `limit`
   * events, claimed now (so a retry sends exactly the same events under the same token).
   */
  async claimOutboxBatch(limit: number): Promise<{ first: number; last: number; events: Array<{ id: number; kind: string; payload: string }> } | undefined> {
    return retryingTransaction(this.conn, async () => {
      const [pending] = await all<{ first_id: number; last_id: number }>(this.conn, 'SELECT first_id, last_id FROM analytics_flush_state WHERE id = 1');
      const events = pending
        ? await all<{ id: number; kind: string; payload: string }>(this.conn, 'SELECT id::BIGINT AS id, kind, payload::VARCHAR AS payload FROM analytics_outbox WHERE id BETWEEN $f AND $l ORDER BY id', { f: pending.first_id, l: pending.last_id })
        : await all<{ id: number; kind: string; payload: string }>(this.conn, 'SELECT id::BIGINT AS id, kind, payload::VARCHAR AS payload FROM analytics_outbox ORDER BY id LIMIT $n', { n: limit });
      if (!events.length) {
        if (pending) await run(this.conn, 'DELETE FROM analytics_flush_state WHERE id = 1');
        return undefined;
      }
      const first = pending ? Number(pending.first_id) : Number(events[0].id);
      const last = pending ? Number(pending.last_id) : Number(events[events.length - 1].id);
      if (!pending) await run(this.conn, 'INSERT INTO analytics_flush_state VALUES (1, $f, $l)', { f: first, l: last });
      return { first, last, events };
    });
  }

  /** ClickHouse acknowledged the claimed batch: its events leave the outbox. */
  async completeOutboxBatch(last: number): Promise<void> {
    await retryingTransaction(this.conn, async () => {
      await run(this.conn, 'DELETE FROM analytics_outbox WHERE id <= $m', { m: last });
      await run(this.conn, 'DELETE FROM analytics_flush_state WHERE id = 1');
    });
  }

  async outboxSize(): Promise<number> {
    const [{ n }] = await all<{ n: number }>(this.conn, 'SELECT count(*)::INTEGER AS n FROM analytics_outbox');
    return Number(n);
  }
}
