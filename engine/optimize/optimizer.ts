// The offer optimizer: learns from impressions (offers the API served), clicks and conversions; scores every live
// offer (Bayesian-smoothed CTR, conversion rate and EPC with priors from each network's peers, combined with
// freshness, discount and payout); ranks with a Thompson-sampling exploration share so new and uncertain offers
// get seen; hides stale offers and significant underperformers, promotes significant high converters; and
// records every decision with its reason. Admins pin, unpin, hide and show offers; showing an automatically
// hidden offer protects it from being hidden again for a while.
import type { ClickHouseClient } from '@clickhouse/client';
import pino from 'pino';
import type { Logger } from '../log/logger.ts';
import type { CommitCounts } from '../store/serving-store.ts';
import {
  OptimizerStore, type Candidate, type ControlDecision, type Decision, type OfferControl, type PriorRow, type RankFilters, type StatusDecision,
} from '../store/optimizer-store.ts';
import { flushAnalytics, type AnalyticsFlushResult } from './analytics-flusher.ts';
import { optimizerConfig, type OptimizerConfig, type OptimizerSettings } from './config.ts';
import { bhThreshold, peerPrior, priorOf, sampleBeta, twoProportionTest, type Random } from './stats.ts';

export type { RankFilters } from '../store/optimizer-store.ts';

export interface RankedOffer {
  offer_id: string;
  /** The offer's score (posterior means); for an explored slot, sampled_score is what placed it. */
  score: number;
  sampled_score?: number;
  reason: 'pinned' | 'score' | 'explore';
}

export interface ScoreSummary { runId: string; scored: number; changed: number; priors: PriorRow[] }
export interface DecisionSummary { hidden: string[]; unhidden: string[]; promoted: string[]; demoted: string[]; tested: number }

export interface OptimizerOptions {
  /** The serving store's DuckDB file (the optimizer opens its own connection on it). */
  path: string;
  config?: OptimizerConfig | OptimizerSettings;
  /** ClickHouse client (database set) for analytics; without it events wait in the outbox. */
  clickhouse?: ClickHouseClient;
  random?: Random;
  now?: () => Date;
  logger?: Logger;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const pval = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
const minute = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);

export class Optimizer {
  readonly config: OptimizerConfig;
  private readonly impressions = new Map<string, { offer_id: string; surface: string; bucket: Date; count: number }>();
  private readonly cache = new Map<string, { at: number; candidates: Candidate[] }>();
  private priors: PriorRow[] = [];
  private epiRef: number | undefined;
  private timers: NodeJS.Timeout[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private optimizing: Promise<unknown> | undefined;
  private readonly random: Random;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly clickhouse?: ClickHouseClient;

  private constructor(readonly store: OptimizerStore, o: OptimizerOptions) {
    // Settings merge onto the defaults (a complete config passes through unchanged).
    this.config = optimizerConfig(o.config as OptimizerSettings);
    this.random = o.random ?? Math.random;
    this.now = o.now ?? (() => new Date());
    this.log = o.logger ?? pino({ level: 'silent' });
    this.clickhouse = o.clickhouse;
  }

  static async open(o: OptimizerOptions): Promise<Optimizer> {
    return new Optimizer(await OptimizerStore.open(o.path), o);
  }

  // ---- learning -----------------------------------------------------------------------------------------

  /** Offers the API served (call with what was actually returned). Buffered; written by flushImpressions. */
  recordImpressions(offerIds: string[], ctx: { surface?: string } = {}): void {
    const bucket = minute(this.now());
    const surface = ctx.surface ?? 'api';
    for (const id of offerIds) {
      const key = `${id}|${surface}|${bucket.getTime()}`;
      const e = this.impressions.get(key);
      if (e) e.count++;
      else this.impressions.set(key, { offer_id: id, surface, bucket, count: 1 });
    }
  }

  /** Clicks on offers (the API calls this after recording a click of its own). */
  async recordClicks(offerIds: string[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const id of offerIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    await this.store.addClicks([...counts].map(([offer_id, count]) => ({ offer_id, count })), this.now());
  }

  /**
   * Conversions (the API calls this once per new transaction). commission is what was earned; a reversal is
   * recorded with count -1 and the negative commission.
   */
  async recordConversions(items: Array<{ offerId: string; commission?: number; count?: number }>): Promise<void> {
    await this.store.addConversions(items.map((i) => ({ offer_id: i.offerId, count: i.count ?? 1, revenue: i.commission ?? 0 })), this.now());
  }

  /** Writes buffered impressions to the counters and the analytics outbox. */
  async flushImpressions(): Promise<number> {
    if (!this.impressions.size) return 0;
    const rows = [...this.impressions.values()];
    this.impressions.clear();
    try {
      return await this.store.addImpressions(rows, this.now());
    } catch (e) {
      // Put them back: a failed write must not lose what was served.
      for (const r of rows) {
        const key = `${r.offer_id}|${r.surface}|${r.bucket.getTime()}`;
        const cur = this.impressions.get(key);
        if (cur) cur.count += r.count; else this.impressions.set(key, r);
      }
      throw e;
    }
  }

  /**
   * Recomputes click and conversion totals from ClickHouse's clicks and conversions tables (the API's record of
   * them; conversions FINAL, rejected or reversed ones left out). For recovery, or when the API does not call
   * recordClicks/recordConversions.
   */
  async rebuildStatsFromClickHouse(ch: ClickHouseClient | undefined = this.clickhouse): Promise<number> {
    if (!ch) throw new Error('no ClickHouse client given');
    const rs = await ch.query({
      query: `SELECT offer_id, sum(clicks) AS clicks, sum(conversions) AS conversions, sum(revenue) AS revenue FROM (
          SELECT offer_id, count() AS clicks, 0 AS conversions, 0 AS revenue FROM clicks GROUP BY offer_id
          UNION ALL
          SELECT assumeNotNull(offer_id) AS offer_id, 0, count(), sum(coalesce(commission, 0)) FROM conversions FINAL
          WHERE offer_id IS NOT NULL AND status NOT IN ('rejected', 'reversed', 'declined', 'cancelled') GROUP BY offer_id
        ) GROUP BY offer_id`,
      format: 'JSONEachRow',
    });
    const rows = (await rs.json<{ offer_id: string; clicks: string; conversions: string; revenue: number }>()).map((r) => ({ offer_id: r.offer_id, clicks: Number(r.clicks), conversions: Number(r.conversions), revenue: Number(r.revenue) }));
    await this.store.replaceInteractionTotals(rows, this.now());
    return rows.length;
  }

  // ---- scoring ------------------------------------------------------------------------------------------

  /** Priors per network from the peers' data, shrunk toward the network-wide rates. */
  async computePriors(): Promise<PriorRow[]> {
    const p = this.config.priors;
    const moments = await this.store.networkMoments(p.minImpressions, p.minClicks);
    const sum = (k: 'ctr' | 'cvr') => moments.reduce((a, m) => ({
      groups: a.groups + m[k].groups, trials: a.trials + m[k].trials, successes: a.successes + m[k].successes,
      sumRate: a.sumRate + m[k].sumRate, sumRate2: a.sumRate2 + m[k].sumRate2, sumInvTrials: a.sumInvTrials + m[k].sumInvTrials,
    }), { groups: 0, trials: 0, successes: 0, sumRate: 0, sumRate2: 0, sumInvTrials: 0 });
    const opts = (fallbackStrength: number, minTrials: number) => ({ minTrials, minOffers: p.minOffers, fallbackStrength, minStrength: p.minStrength, maxStrength: p.maxStrength });
    const gCtr = peerPrior(sum('ctr'), p.ctrMean, opts(p.ctrStrength, p.minImpressions * 5));
    const gCvr = peerPrior(sum('cvr'), p.cvrMean, opts(p.cvrStrength, p.minClicks * 5));
    const totalConv = moments.reduce((n, m) => n + m.conversions, 0);
    const gValue = totalConv > 0 ? moments.reduce((n, m) => n + m.revenue, 0) / totalConv : 1;
    const rows: PriorRow[] = [{ network: '*', ctr_a: gCtr.alpha, ctr_b: gCtr.beta, cvr_a: gCvr.alpha, cvr_b: gCvr.beta, value: gValue }];
    for (const m of moments) {
      const ctr = peerPrior(m.ctr, gCtr.mean, opts(gCtr.strength, p.minImpressions * 5));
      const cvr = peerPrior(m.cvr, gCvr.mean, opts(gCvr.strength, p.minClicks * 5));
      rows.push({ network: m.network, ctr_a: ctr.alpha, ctr_b: ctr.beta, cvr_a: cvr.alpha, cvr_b: cvr.beta, value: m.conversions > 0 ? m.revenue / m.conversions : gValue });
    }
    return rows;
  }

  /** One scoring pass over every live offer (impressions are flushed first). */
  async scoreOffers(): Promise<ScoreSummary> {
    await this.flushImpressions();
    const priors = await this.computePriors();
    const c = this.config;
    const r = await this.store.computeScores({
      priors, weights: c.weights, promotedBoost: c.promotedBoost, freshnessHalfLifeDays: c.freshnessHalfLifeDays,
      discountFullAt: c.discountFullAt, valueStrength: c.priors.valueStrength, historyEpsilon: c.historyEpsilon,
    }, this.now());
    this.priors = priors;
    this.epiRef = r.epiRef;
    this.cache.clear();
    return { runId: r.runId, scored: r.scored, changed: r.changed, priors };
  }

  // ---- ranking ------------------------------------------------------------------------------------------

  private async candidates(filters: RankFilters): Promise<Candidate[]> {
    const key = JSON.stringify(Object.entries(filters).filter(([, v]) => v !== undefined).sort());
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.config.exploration.cacheMs) return hit.candidates;
    const candidates = await this.store.candidates(filters, this.config.exploration.pool, this.config.exploration.newPool);
    if (this.cache.size > 500) this.cache.clear();
    this.cache.set(key, { at: Date.now(), candidates });
    return candidates;
  }

  /** A Thompson sample of a candidate's score: its performance part drawn from the Beta posteriors. */
  private sampleScore(c: Candidate, epiRef: number): number {
    const w = this.config.weights;
    let { ctr_alpha: a1, ctr_beta: b1, cvr_alpha: a2, cvr_beta: b2, value } = c;
    let base = c.score - w.performance * c.perf;
    if (!c.scored) {
      // Not scored yet: the network's prior, and full freshness (it has just arrived).
      const p = this.priors.find((x) => x.network === c.network) ?? this.priors.find((x) => x.network === '*');
      const d = { ctr: priorOf(this.config.priors.ctrMean, this.config.priors.ctrStrength), cvr: priorOf(this.config.priors.cvrMean, this.config.priors.cvrStrength) };
      [a1, b1, a2, b2] = p ? [p.ctr_a, p.ctr_b, p.cvr_a, p.cvr_b] : [d.ctr.alpha, d.ctr.beta, d.cvr.alpha, d.cvr.beta];
      value = p?.value ?? 1;
      base = w.freshness;
    }
    const epi = sampleBeta(a1, b1, this.random) * sampleBeta(a2, b2, this.random) * value;
    const perf = epiRef > 0 ? epi / (epi + epiRef) : 0.5;
    return base + w.performance * perf;
  }

  private order(candidates: Candidate[], limit: number, epiRef: number): RankedOffer[] {
    const pinned = candidates.filter((c) => c.pinned).sort((a, b) => (a.pin_rank ?? 1e9) - (b.pin_rank ?? 1e9) || b.score - a.score);
    const out: RankedOffer[] = pinned.slice(0, limit).map((c) => ({ offer_id: c.offer_id, score: c.score, reason: 'pinned' }));
    const slots = limit - out.length;
    if (slots <= 0) return out;
    const rest = candidates.filter((c) => !c.pinned);
    // Each free slot explores with probability `share`: the expected exploration share is exact for any limit.
    let explore = 0;
    for (let i = 0; i < slots; i++) if (this.random() < this.config.exploration.share) explore++;
    const byMean = rest.filter((c) => c.scored).sort((a, b) => b.score - a.score || (a.offer_id < b.offer_id ? -1 : 1));
    const exploit = byMean.slice(0, slots - explore);
    // Exploration samples among offers the best-by-mean list would not show anyway (all others when too few).
    const wouldShow = new Set(byMean.slice(0, slots).map((c) => c.offer_id));
    const outside = rest.filter((c) => !wouldShow.has(c.offer_id));
    const chosen = new Set(exploit.map((c) => c.offer_id));
    const pool = outside.length >= explore ? outside : rest.filter((c) => !chosen.has(c.offer_id));
    const sampled = pool.map((c) => ({ c, s: this.sampleScore(c, epiRef) })).sort((a, b) => b.s - a.s);
    const explored: RankedOffer[] = sampled.slice(0, slots - exploit.length).map(({ c, s }) => ({ offer_id: c.offer_id, score: c.score, sampled_score: s, reason: 'explore' }));
    const ranked: RankedOffer[] = exploit.map((c) => ({ offer_id: c.offer_id, score: c.score, reason: 'score' }));
    // Explored offers take random positions among the free slots, so position bias does not count against them.
    for (const e of explored) ranked.splice(Math.floor(this.random() * (ranked.length + 1)), 0, e);
    return [...out, ...ranked];
  }

  private async reference(): Promise<number> {
    if (this.epiRef === undefined) this.epiRef = await this.store.epiReference();
    return this.epiRef;
  }

  /**
   * The top offers for `GET /api/offers/top` (and any "best first" list): pinned offers first, then the best by
   * score, with an exploration share of slots given by Thompson sampling. With `record`, the returned offers are
   * recorded as impressions on that surface.
   */
  async rankForTop(limit: number, filters: RankFilters = {}, opts: { record?: string } = {}): Promise<RankedOffer[]> {
    const ranked = this.order(await this.candidates(filters), Math.max(0, limit), await this.reference());
    if (opts.record) this.recordImpressions(ranked.map((r) => r.offer_id), { surface: opts.record });
    return ranked;
  }

  /** Orders offers the caller already selected (e.g. search results), with the same pins and exploration. */
  async rankOffers(offerIds: string[], opts: { limit?: number; record?: string } = {}): Promise<RankedOffer[]> {
    const ranked = this.order(await this.store.candidatesById(offerIds), opts.limit ?? offerIds.length, await this.reference());
    if (opts.record) this.recordImpressions(ranked.map((r) => r.offer_id), { surface: opts.record });
    return ranked;
  }

  // ---- decisions ----------------------------------------------------------------------------------------

  /**
   * Automatic decisions: hide offers not verified for staleAfterMs (show them again once a sync verifies them),
   * hide offers whose CTR or conversion rate is significantly below their network's (one-sided two-proportion
   * z-test, minimum sample, Benjamini–Hochberg across all tests of the pass, and a minimum effect size), promote
   * significant high converters and demote promoted offers that fell back. Pinned and admin-protected offers
   * are never hidden automatically.
   */
  async decide(): Promise<DecisionSummary> {
    const now = this.now();
    const c = this.config;
    const summary: DecisionSummary = { hidden: [], unhidden: [], promoted: [], demoted: [], tested: 0 };
    const hours = Math.round(c.staleAfterMs / 3_600_000);
    const cutoff = new Date(now.getTime() - c.staleAfterMs);
    const stale = await this.store.staleOffers(cutoff, now);
    const status: StatusDecision[] = stale.map((s) => ({
      offer_id: s.offer_id, action: 'hide', actor: 'optimizer', autoHidden: 'stale',
      reason: `stale: not verified by a sync since ${s.last_verified_at} (limit ${hours} h)`,
      details: { rule: 'stale', last_verified_at: s.last_verified_at, stale_after_hours: hours },
    }));
    for (const s of await this.store.reverifiedStale(cutoff)) {
      status.push({ offer_id: s.offer_id, action: 'unhide', actor: 'optimizer', autoHidden: null, reason: `verified again by a sync at ${s.last_verified_at}`, details: { rule: 'stale', last_verified_at: s.last_verified_at } });
    }

    const u = c.underperformance;
    const rows = await this.store.testRows(u.minImpressions, c.promotion.minConversions);
    const staleIds = new Set(stale.map((s) => s.offer_id));
    type Test = { offer_id: string; metric: 'CTR' | 'conversion rate'; z: number; p: number; rate: number; peerRate: number; n: number };
    const low: Test[] = [];
    const high: Test[] = [];
    for (const r of rows) {
      const protectedNow = r.pinned || (r.protected_until !== undefined && new Date(r.protected_until) > now) || staleIds.has(r.offer_id);
      const peerCtr = r.net_impressions > 0 ? r.net_clicks / r.net_impressions : 0;
      if (!protectedNow && r.impressions >= u.minImpressions && r.net_impressions > 0 && r.impressions * peerCtr >= u.minExpectedClicks) {
        const t = twoProportionTest(r.clicks, r.impressions, r.net_clicks, r.net_impressions, 'less');
        low.push({ offer_id: r.offer_id, metric: 'CTR', ...t, n: r.impressions });
      }
      const peerCvr = r.net_clicks > 0 ? r.net_conversions / r.net_clicks : 0;
      if (!protectedNow && r.clicks >= u.minClicksForCvr && r.net_clicks > 0 && r.clicks * peerCvr >= 5) {
        const t = twoProportionTest(r.conversions, r.clicks, r.net_conversions, r.net_clicks, 'less');
        low.push({ offer_id: r.offer_id, metric: 'conversion rate', ...t, n: r.clicks });
      }
      if (r.conversions >= c.promotion.minConversions && r.net_clicks > 0 && r.clicks > 0) {
        const t = twoProportionTest(r.conversions, r.clicks, r.net_conversions, r.net_clicks, 'greater');
        high.push({ offer_id: r.offer_id, metric: 'conversion rate', ...t, n: r.clicks });
      } else if (r.promoted && r.clicks > 0) {
        high.push({ offer_id: r.offer_id, metric: 'conversion rate', ...twoProportionTest(r.conversions, r.clicks, r.net_conversions, Math.max(1, r.net_clicks), 'greater'), p: 1, n: r.clicks });
      }
    }
    summary.tested = new Set([...low, ...high].map((t) => t.offer_id)).size;
    const lowThreshold = bhThreshold(low.map((t) => t.p), u.fdr);
    const hide = new Map<string, Test & { threshold: number }>();
    for (const t of low) {
      if (t.p > lowThreshold || t.rate > u.maxRatio * t.peerRate) continue;
      const prev = hide.get(t.offer_id);
      if (!prev || t.p < prev.p) hide.set(t.offer_id, { ...t, threshold: lowThreshold });
    }
    for (const t of hide.values()) {
      status.push({
        offer_id: t.offer_id, action: 'hide', actor: 'optimizer', autoHidden: 'underperforming',
        reason: `underperforming: ${t.metric} ${pct(t.rate)} vs peers ${pct(t.peerRate)} (z = ${t.z.toFixed(2)}, p = ${pval(t.p)} ≤ ${pval(t.threshold)} at FDR ${u.fdr}; n = ${t.n})`,
        details: { rule: 'underperforming', metric: t.metric, rate: t.rate, peer_rate: t.peerRate, z: t.z, p: t.p, threshold: t.threshold, n: t.n, fdr: u.fdr },
      });
    }
    const changedStatus = await this.store.applyStatusDecisions(status, now, { skipSyncing: true });
    const changed = new Set(changedStatus);
    for (const s of status) if (changed.has(s.offer_id)) (s.action === 'hide' ? summary.hidden : summary.unhidden).push(s.offer_id);

    const p = c.promotion;
    const highThreshold = bhThreshold(high.filter((t) => t.p < 1).map((t) => t.p), p.fdr);
    const controls: ControlDecision[] = [];
    const promotedNow = new Set(rows.filter((r) => r.promoted).map((r) => r.offer_id));
    for (const t of high) {
      const ratio = t.peerRate > 0 ? t.rate / t.peerRate : Infinity;
      if (!promotedNow.has(t.offer_id) && t.p <= highThreshold && ratio >= p.minRatio) {
        controls.push({ offer_id: t.offer_id, action: 'promote', actor: 'optimizer', reason: `high converter: conversion rate ${pct(t.rate)} vs peers ${pct(t.peerRate)} (z = ${t.z.toFixed(2)}, p = ${pval(t.p)} ≤ ${pval(highThreshold)} at FDR ${p.fdr}; n = ${t.n})`, details: { rule: 'promotion', rate: t.rate, peer_rate: t.peerRate, z: t.z, p: t.p, n: t.n } });
      } else if (promotedNow.has(t.offer_id) && ratio < p.demoteBelowRatio) {
        controls.push({ offer_id: t.offer_id, action: 'demote', actor: 'optimizer', reason: `no longer a high converter: conversion rate ${pct(t.rate)} vs peers ${pct(t.peerRate)} (ratio ${ratio.toFixed(2)} < ${p.demoteBelowRatio})`, details: { rule: 'promotion', rate: t.rate, peer_rate: t.peerRate, n: t.n } });
      }
    }
    const changedControls = new Set(await this.store.applyControlDecisions(controls, now));
    for (const d of controls) if (changedControls.has(d.offer_id)) (d.action === 'promote' ? summary.promoted : summary.demoted).push(d.offer_id);
    if (changed.size || changedControls.size) this.cache.clear();
    return summary;
  }

  /** Flush impressions, score, decide, then (with a ClickHouse client) flush analytics. One at a time. */
  async optimize(): Promise<{ scores: ScoreSummary; decisions: DecisionSummary; analytics?: AnalyticsFlushResult }> {
    while (this.optimizing) await this.optimizing.catch(() => undefined);
    const work = (async () => {
      const scores = await this.scoreOffers();
      const decisions = await this.decide();
      // Promotions change scores: rescore so the ranking sees them now, not next pass.
      const final = decisions.promoted.length || decisions.demoted.length ? await this.scoreOffers() : scores;
      const analytics = this.clickhouse ? await this.flushAnalytics() : undefined;
      return { scores: final, decisions, analytics };
    })();
    this.optimizing = work;
    try { return await work; } finally { this.optimizing = undefined; }
  }

  async flushAnalytics(ch: ClickHouseClient | undefined = this.clickhouse): Promise<AnalyticsFlushResult> {
    if (!ch) throw new Error('no ClickHouse client given');
    const r = await flushAnalytics(this.store, ch);
    if (r.error) this.log.warn({ remaining: r.remaining, error: r.error }, 'ClickHouse unavailable: analytics kept in the outbox');
    return r;
  }

  // ---- admin --------------------------------------------------------------------------------------------

  async pin(offerId: string, o: { by: string; reason?: string; rank?: number }): Promise<boolean> {
    const changed = await this.store.applyControlDecisions([{ offer_id: offerId, action: 'pin', actor: `admin:${o.by}`, reason: o.reason ?? 'pinned by an admin', pinRank: o.rank ?? null }], this.now());
    this.cache.clear();
    return changed.length > 0;
  }

  async unpin(offerId: string, o: { by: string; reason?: string }): Promise<boolean> {
    const changed = await this.store.applyControlDecisions([{ offer_id: offerId, action: 'unpin', actor: `admin:${o.by}`, reason: o.reason ?? 'unpinned by an admin' }], this.now());
    this.cache.clear();
    return changed.length > 0;
  }

  async hide(offerId: string, o: { by: string; reason: string }): Promise<boolean> {
    const changed = await this.store.applyStatusDecisions([{ offer_id: offerId, action: 'hide', actor: `admin:${o.by}`, reason: o.reason, autoHidden: null }], this.now());
    this.cache.clear();
    return changed.length > 0;
  }

  /**
   * Shows a hidden offer again. Overriding an automatic hide protects the offer from automatic hiding for
   * protectForMs (default overrideProtectionMs), so the optimizer does not undo the admin's decision.
   */
  async unhide(offerId: string, o: { by: string; reason: string; protectForMs?: number }): Promise<boolean> {
    const now = this.now();
    const until = new Date(now.getTime() + (o.protectForMs ?? this.config.overrideProtectionMs));
    const changed = await this.store.applyStatusDecisions([{ offer_id: offerId, action: 'unhide', actor: `admin:${o.by}`, reason: o.reason, autoHidden: null, protectedUntil: until, details: { protected_until: until.toISOString() } }], now);
    this.cache.clear();
    return changed.length > 0;
  }

  decisions(opts: { offerId?: string; limit?: number; action?: string } = {}): Promise<Decision[]> {
    return this.store.decisions(opts);
  }

  controls(offerId: string): Promise<OfferControl | undefined> {
    return this.store.controls(offerId);
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------

  /** For SyncOptions.onCommitted: a scoring pass soon after new or changed offers land (debounced). Never throws. */
  readonly onCommitted = (_runId: string, counts: CommitCounts): void => {
    if (counts.new + counts.updated + counts.reactivated + counts.deactivated + counts.expired === 0 || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.optimize().catch((e: Error) => this.log.warn({ err: e.message }, 'optimizer pass failed'));
    }, this.config.optimizeDebounceMs);
    this.debounce.unref();
  };

  /** Background timers: impressions flushed every impressionFlushMs, a full pass every optimizeEveryMs. */
  start(): void {
    if (this.timers.length) return;
    const flush = setInterval(() => { this.flushImpressions().catch((e: Error) => this.log.warn({ err: e.message }, 'impression flush failed')); }, this.config.impressionFlushMs);
    const pass = setInterval(() => { this.optimize().catch((e: Error) => this.log.warn({ err: e.message }, 'optimizer pass failed')); }, this.config.optimizeEveryMs);
    flush.unref(); pass.unref();
    this.timers = [flush, pass];
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
  }

  /** Stops timers, writes buffered impressions, waits for a pass in progress, closes the connection. */
  async close(): Promise<void> {
    this.stop();
    await this.optimizing?.catch(() => undefined);
    await this.flushImpressions().catch((e: Error) => this.log.warn({ err: e.message }, 'impression flush at close failed'));
    this.store.close();
  }
}
