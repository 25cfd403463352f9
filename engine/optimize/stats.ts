// The statistics the optimizer rests on: Beta priors estimated from peers (method of moments), Beta sampling
// for Thompson sampling, the one-sided two-proportion z-test and Benjamini–Hochberg control of false
// discoveries across all offers tested in one pass. A seedable generator makes simulations repeatable.

export type Random = () => number;

/** mulberry32: small, fast, good enough for sampling; seeded for tests and simulations. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: Random): number {
  let u = 0;
  while (u === 0) u = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Gamma(shape, 1) by Marsaglia & Tsang; shapes below 1 through the boost Gamma(a+1)·U^(1/a). */
export function sampleGamma(shape: number, random: Random): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(random() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do { x = normal(random); v = 1 + c * x; } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(alpha: number, beta: number, random: Random): number {
  const x = sampleGamma(alpha, random);
  const y = sampleGamma(beta, random);
  return x + y === 0 ? alpha / (alpha + beta) : x / (x + y);
}

export interface BetaPrior { alpha: number; beta: number }

export const priorOf = (mean: number, strength: number): BetaPrior => {
  const m = Math.min(1 - 1e-9, Math.max(1e-9, mean));
  return { alpha: m * strength, beta: (1 - m) * strength };
};

/** Moment sums over the offers of a peer group that have at least the minimum trials. */
export interface MomentSums { groups: number; trials: number; successes: number; sumRate: number; sumRate2: number; sumInvTrials: number }

/**
 * An empirical-Bayes Beta prior for a peer group: its mean is the group's pooled rate (shrunk toward the parent
 * mean when the group has few trials), its strength the method-of-moments estimate of how much rates really
 * differ between offers beyond binomial noise (clamped; the fallback when too few offers have data).
 */
export function peerPrior(s: MomentSums, parentMean: number, o: { minTrials: number; minOffers: number; fallbackStrength: number; minStrength: number; maxStrength: number }): BetaPrior & { mean: number; strength: number } {
  const mean = (s.successes + parentMean * o.minTrials) / (s.trials + o.minTrials);
  let strength = o.fallbackStrength;
  if (s.groups >= o.minOffers) {
    const m = s.sumRate / s.groups;
    const observedVar = Math.max(0, s.sumRate2 / s.groups - m * m);
    const noise = m * (1 - m) * (s.sumInvTrials / s.groups);
    const between = observedVar - noise;
    strength = between <= 0 ? o.maxStrength : (m * (1 - m)) / between - 1;
  }
  strength = Math.min(o.maxStrength, Math.max(o.minStrength, strength));
  return { ...priorOf(mean, strength), mean, strength };
}

/** Standard normal CDF, accurate in the tails (Hart's algorithm as given by West, 2005). */
export function normalCdf(x: number): number {
  const z = Math.abs(x);
  let c: number;
  if (z > 37) c = 0;
  else {
    const e = Math.exp(-(z * z) / 2);
    if (z < 7.07106781186547) {
      let n = 3.52624965998911e-2 * z + 0.700383064443688;
      n = n * z + 6.37396220353165;
      n = n * z + 33.912866078383;
      n = n * z + 112.079291497871;
      n = n * z + 221.213596169931;
      n = n * z + 220.206867912376;
      let d = 8.83883476483184e-2 * z + 1.75566716318264;
      d = d * z + 16.064177579207;
      d = d * z + 86.7807322029461;
      d = d * z + 296.564248779674;
      d = d * z + 637.333633378831;
      d = d * z + 793.826512519948;
      d = d * z + 440.413735824752;
      c = (e * n) / d;
    } else {
      let b = z + 0.65;
      b = z + 4 / b;
      b = z + 3 / b;
      b = z + 2 / b;
      b = z + 1 / b;
      c = e / b / 2.506628274631;
    }
  }
  return x > 0 ? 1 - c : c;
}

export interface ZTest { z: number; p: number; rate: number; peerRate: number }

/**
 * One-sided two-proportion z-test of an offer (x of n) against its peers (y of m): `less` asks whether the
 * offer's rate is lower, `greater` whether it is higher. Pooled standard error.
 */
export function twoProportionTest(x: number, n: number, y: number, m: number, side: 'less' | 'greater'): ZTest {
  const rate = n > 0 ? x / n : 0;
  const peerRate = m > 0 ? y / m : 0;
  const pooled = (x + y) / Math.max(1, n + m);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / Math.max(1, n) + 1 / Math.max(1, m)));
  const z = se > 0 ? (rate - peerRate) / se : 0;
  // The upper tail as Φ(−z): 1 − Φ(z) would round to 0 for large z.
  return { z, p: side === 'less' ? normalCdf(z) : normalCdf(-z), rate, peerRate };
}

/** Benjamini–Hochberg: the p-value threshold that keeps the false discovery rate at q (−∞ when nothing passes). */
export function bhThreshold(pValues: number[], q: number): number {
  const sorted = [...pValues].sort((a, b) => a - b);
  let threshold = -Infinity;
  sorted.forEach((p, i) => { if (p <= ((i + 1) / sorted.length) * q) threshold = p; });
  return threshold;
}
