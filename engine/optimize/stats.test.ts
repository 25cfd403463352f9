import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bhThreshold, normalCdf, peerPrior, sampleBeta, seededRandom, twoProportionTest } from './stats.ts';

test('normal CDF: centre and tails', () => {
  assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-12);
  assert.ok(Math.abs(normalCdf(-1.959963985) - 0.025) < 1e-9);
  assert.ok(Math.abs(normalCdf(1.644853627) - 0.95) < 1e-9);
  assert.ok(Math.abs(normalCdf(-5) / 2.866515719e-7 - 1) < 1e-6, 'relative accuracy deep in the tail');
  assert.ok(Math.abs(normalCdf(-10) / 7.619853024e-24 - 1) < 1e-6);
});

test('two-proportion z-test and Benjamini–Hochberg', () => {
  const t = twoProportionTest(20, 2000, 900, 18000, 'less');
  assert.ok(t.z < -6 && t.p < 1e-9);
  assert.ok(twoProportionTest(95, 2000, 900, 18000, 'less').p > 0.2, 'a 5% offer among 5% peers is not significant');
  assert.ok(twoProportionTest(60, 200, 500, 10000, 'greater').p < 1e-10);
  assert.equal(bhThreshold([0.001, 0.2, 0.04, 0.03], 0.05), 0.001, 'sorted, 0.03 is above 2/4 × 0.05: only 0.001 survives');
  assert.equal(bhThreshold([0.001, 0.01, 0.02, 0.5], 0.05), 0.02);
  assert.equal(bhThreshold([0.3, 0.5], 0.05), -Infinity);
  assert.equal(bhThreshold([0, 0.5], 0.05), 0, 'a p-value that underflowed to 0 still passes');
});

test('Beta samples have the right mean and spread; seeded generators repeat', () => {
  const r = seededRandom(7);
  const n = 20000;
  let sum = 0;
  let sum2 = 0;
  for (let i = 0; i < n; i++) { const x = sampleBeta(2, 8, r); sum += x; sum2 += x * x; }
  const mean = sum / n;
  const variance = sum2 / n - mean * mean;
  assert.ok(Math.abs(mean - 0.2) < 0.005, `mean ${mean}`);
  assert.ok(Math.abs(variance - (2 * 8) / (100 * 11)) < 0.001, `variance ${variance}`);
  const small = seededRandom(1);
  for (let i = 0; i < 1000; i++) { const x = sampleBeta(0.3, 0.5, small); assert.ok(x >= 0 && x <= 1); }
  assert.equal(seededRandom(42)(), seededRandom(42)());
});

test('peer priors: pooled mean shrunk toward the parent, strength from the spread between offers', () => {
  const opts = { minTrials: 1000, minOffers: 5, fallbackStrength: 200, minStrength: 20, maxStrength: 5000 };
  const none = peerPrior({ groups: 0, trials: 0, successes: 0, sumRate: 0, sumRate2: 0, sumInvTrials: 0 }, 0.02, opts);
  assert.ok(Math.abs(none.mean - 0.02) < 1e-12);
  assert.equal(none.strength, 200);
  // Ten offers at 2%..6% with 5000 impressions each: real spread, so a moderate strength.
  const rates = [0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.055, 0.06, 0.04];
  const s = { groups: 10, trials: 50000, successes: rates.reduce((a, x) => a + x * 5000, 0), sumRate: rates.reduce((a, x) => a + x, 0), sumRate2: rates.reduce((a, x) => a + x * x, 0), sumInvTrials: 10 / 5000 };
  const p = peerPrior(s, 0.02, opts);
  assert.ok(p.mean > 0.038 && p.mean < 0.041, `mean ${p.mean}`);
  assert.ok(p.strength > 100 && p.strength < 500, `strength ${p.strength}`);
  // Identical rates: no spread beyond noise, the strongest prior.
  const same = { groups: 10, trials: 50000, successes: 2000, sumRate: 0.4, sumRate2: 10 * 0.04 * 0.04, sumInvTrials: 10 / 5000 };
  assert.equal(peerPrior(same, 0.02, opts).strength, 5000);
});
