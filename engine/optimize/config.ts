// Optimizer settings: score weights, priors, exploration, staleness, the statistical tests behind automatic
// hiding and promotion, and timings. Every value has a default; an object (a config file's `optimizer:`
// section) overrides any of them.

export interface OptimizerConfig {
  weights: { performance: number; freshness: number; discount: number; payout: number };
  /** Added to the score of a promoted offer. */
  promotedBoost: number;
  freshnessHalfLifeDays: number;
  /** Discount fraction that earns the full discount component (0.5 = half price). */
  discountFullAt: number;
  priors: {
    /** Network-wide rates used until there is data, and the strength (pseudo-trials) of those priors. */
    ctrMean: number; ctrStrength: number; cvrMean: number; cvrStrength: number;
    /** Offers need this many trials to count for the spread between offers. */
    minImpressions: number; minClicks: number; minOffers: number;
    minStrength: number; maxStrength: number;
    /** Pseudo-conversions of the payout in the value per conversion. */
    valueStrength: number;
  };
  exploration: {
    /** Share of ranked slots filled by Thompson sampling instead of the best mean score. */
    share: number;
    /** Best-scored and least-seen candidates considered per ranking. */
    pool: number; newPool: number;
    /** How long candidates of one filter set are reused between scoring passes. */
    cacheMs: number;
  };
  /** Offers not verified by a sync for this long are hidden (and shown again once verified). */
  staleAfterMs: number;
  underperformance: {
    /** Minimum sample: impressions, and expected clicks at the peers' rate, before an offer is tested. */
    minImpressions: number; minExpectedClicks: number;
    /** Clicks before the conversion rate is tested too. */
    minClicksForCvr: number;
    /** The offer's rate must also be at most this fraction of its peers'. */
    maxRatio: number;
    /** False discovery rate across the offers tested in one pass (Benjamini–Hochberg). */
    fdr: number;
  };
  promotion: { minConversions: number; minRatio: number; fdr: number; /** Below this ratio a promoted offer is demoted. */ demoteBelowRatio: number };
  /** How long an admin's "show this offer" keeps automatic hiding away. */
  overrideProtectionMs: number;
  /** Minimum score change recorded in ClickHouse history. */
  historyEpsilon: number;
  impressionFlushMs: number;
  /** Scoring and decisions run at most this often when triggered by commits, and at least this often by timer. */
  optimizeDebounceMs: number;
  optimizeEveryMs: number;
}

export const DEFAULT_OPTIMIZER_CONFIG: OptimizerConfig = {
  weights: { performance: 0.6, freshness: 0.15, discount: 0.15, payout: 0.1 },
  promotedBoost: 0.1,
  freshnessHalfLifeDays: 14,
  discountFullAt: 0.5,
  priors: { ctrMean: 0.02, ctrStrength: 200, cvrMean: 0.05, cvrStrength: 40, minImpressions: 200, minClicks: 30, minOffers: 5, minStrength: 20, maxStrength: 5000, valueStrength: 3 },
  exploration: { share: 0.1, pool: 200, newPool: 50, cacheMs: 5000 },
  staleAfterMs: 72 * 3_600_000,
  underperformance: { minImpressions: 1000, minExpectedClicks: 10, minClicksForCvr: 100, maxRatio: 0.5, fdr: 0.05 },
  promotion: { minConversions: 10, minRatio: 1.5, fdr: 0.05, demoteBelowRatio: 1.2 },
  overrideProtectionMs: 30 * 86_400_000,
  historyEpsilon: 0.001,
  impressionFlushMs: 5000,
  optimizeDebounceMs: 30_000,
  optimizeEveryMs: 300_000,
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type OptimizerSettings = DeepPartial<OptimizerConfig>;

export function optimizerConfig(over: OptimizerSettings = {}): OptimizerConfig {
  const c = structuredClone(DEFAULT_OPTIMIZER_CONFIG) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    if (v && typeof v === 'object' && c[k] && typeof c[k] === 'object') Object.assign(c[k] as object, v);
    else if (v !== undefined) c[k] = v;
  }
  const cfg = c as unknown as OptimizerConfig;
  if (cfg.exploration.share < 0 || cfg.exploration.share > 1) throw new Error('optimizer exploration.share must be between 0 and 1');
  return cfg;
}
