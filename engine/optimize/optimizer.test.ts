// The optimizer on a real DuckDB file: ranking converges to the better offer in a simulation with known
// conversion rates; underperformers and stale offers are hidden with their reasons recorded in history; an admin
// override sticks; pins come first; high converters are promoted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshStore } from '../../test/support/store.ts';
import type { Offer } from '../types/offer.generated.ts';
import type { RunResult } from '../run/runner.ts';
import { all } from '../store/duckdb.ts';
import type { ServingStore } from '../store/serving-store.ts';
import { Optimizer } from './optimizer.ts';
import { seededRandom } from './stats.ts';

const result = (n: number): RunResult => ({ status: 'succeeded', complete: true, streams: {}, counts: { pages: 1, records: n, offers: n, quarantined: 0, filtered: 0, api_calls: 0 }, started_at: new Date().toISOString(), finished_at: new Date().toISOString(), duration_ms: 1, warnings: [] });

/** Offers into the serving store the way a sync commits them. */
async function commit(store: ServingStore, network: string, offers: Offer[], now = new Date()): Promise<void> {
  const runId = await store.beginRun(network, 'full', now);
  await store.stageOffers(runId, offers, 0);
  await store.commitRun(runId, network, result(offers.length), { apiCalls: [], quarantine: [] }, { missedRunsToDeactivate: 3, now });
}

const offer = (network: string, i: number, extra: Partial<Offer> = {}): Offer => ({
  network, external_id: String(i), kind: 'product', title: `Offer ${i}`, url: `https://shop.example/${network}/${i}`, price: 50, currency: 'EUR',
  payout: { type: 'cpa', amount: 10, currency: 'EUR' }, ...extra,
});

async function ids(store: ServingStore, network: string): Promise<string[]> {
  return (await all<{ id: string }>(store.conn, 'SELECT id FROM offers WHERE network = $n ORDER BY external_id::INTEGER', { n: network })).map((r) => r.id);
}

test('simulation: with known conversion rates, ranking converges to the best offer and keeps exploring a little', async (t) => {
  const { store, path } = await freshStore();
  const CVR = [0.02, 0.05, 0.1, 0.25];
  const CTR = 0.2;
  // The worse offers start ahead (a 10% discount each); only what users do can put the best one first.
  await commit(store, 'sim', CVR.map((_, i) => offer('sim', i, i < 3 ? { sale_price: 45 } : {})));
  const [a, b, c, best] = await ids(store, 'sim');
  const seed = Number(process.env.SIM_SEED ?? 2024);
  const rnd = seededRandom(seed);
  const world = seededRandom(seed + 1);
  const opt = await Optimizer.open({ path, random: rnd, config: { exploration: { share: 0.2, pool: 50, newPool: 10, cacheMs: 60_000 } } });
  try {
    await opt.scoreOffers();
    const [first] = await all<{ offer_id: string }>(store.conn, 'SELECT offer_id FROM offer_scores ORDER BY score DESC LIMIT 1');
    assert.notEqual(first.offer_id, best, 'the best offer does not start first');
    const shown = new Map<string, number>();
    const late = new Map<string, number>();
    const ROUNDS = 5000;
    let clicks: string[] = [];
    let conversions: Array<{ offerId: string; commission: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const [top] = await opt.rankForTop(1, { network: 'sim' }, { record: 'simulation' });
      shown.set(top.offer_id, (shown.get(top.offer_id) ?? 0) + 1);
      if (round > ROUNDS - 1000) late.set(top.offer_id, (late.get(top.offer_id) ?? 0) + 1);
      if (world() < CTR) {
        clicks.push(top.offer_id);
        const i = [a, b, c, best].indexOf(top.offer_id);
        if (world() < CVR[i]) conversions.push({ offerId: top.offer_id, commission: 10 });
      }
      if (round % 100 === 0) {
        await opt.recordClicks(clicks);
        await opt.recordConversions(conversions);
        clicks = [];
        conversions = [];
        await opt.scoreOffers();
      }
    }
    const share = (late.get(best) ?? 0) / 1000;
    t.diagnostic(`impressions over ${ROUNDS} rounds: ${[a, b, c, best].map((id, i) => `cvr ${CVR[i]} → ${shown.get(id) ?? 0}`).join(', ')}; best offer's share of the last 1000: ${share.toFixed(2)}`);
    assert.ok(share >= 0.7, `the best offer got ${share} of the last 1000 impressions`);
    assert.ok(share <= 0.9, 'the exploration share keeps showing the others');
    for (const id of [a, b, c]) assert.ok((shown.get(id) ?? 0) >= 50, 'every offer was explored');
    const scores = await all<{ offer_id: string; score: number }>(store.conn, 'SELECT offer_id, score FROM offer_scores ORDER BY score DESC');
    assert.equal(scores[0].offer_id, best, 'the best offer has the highest score');
    const stats = await opt.store.stats(best);
    assert.ok(stats!.impressions >= 1000 && stats!.clicks > 50 && stats!.conversions > 10, JSON.stringify(stats));
  } finally { await opt.close(); store.close(); }
});

test('auto-hide: a significant underperformer is hidden with its reason in history; small samples and noise are not; an admin override sticks', async () => {
  const { store, path } = await freshStore();
  await commit(store, 'net', Array.from({ length: 12 }, (_, i) => offer('net', i)));
  const offers = await ids(store, 'net');
  const opt = await Optimizer.open({ path, random: seededRandom(1) });
  try {
    // 10 offers at 5% CTR over 2000 impressions, one at 4.5% (noise), one at 1% (bad), one barely seen.
    const served: string[] = [];
    const clicked: string[] = [];
    offers.slice(0, 11).forEach((id, i) => {
      for (let k = 0; k < 2000; k++) served.push(id);
      const clicks = i === 9 ? 90 : i === 10 ? 20 : 100;
      for (let k = 0; k < clicks; k++) clicked.push(id);
    });
    for (let k = 0; k < 100; k++) served.push(offers[11]);
    opt.recordImpressions(served, { surface: 'top' });
    await opt.recordClicks(clicked);
    const bad = offers[10];

    const { decisions } = await opt.optimize();
    assert.deepEqual(decisions.hidden, [bad]);
    assert.equal(decisions.tested, 11, 'the barely seen offer is not tested: minimum sample');
    const [row] = await all<{ status: string; status_reason: string }>(store.conn, 'SELECT status, status_reason FROM offers WHERE id = $id', { id: bad });
    assert.equal(row.status, 'hidden');
    assert.match(row.status_reason, /^underperforming: CTR 1\.00% vs peers 4\.93% \(z = -\d+\.\d+, p = [\d.e-]+ ≤ [\d.e-]+ at FDR 0\.05; n = 2000\)$/);
    const [decision] = await opt.decisions({ offerId: bad });
    assert.deepEqual([decision.action, decision.actor, decision.reason], ['hide', 'optimizer', row.status_reason]);
    assert.equal(decision.details!.metric, 'CTR');
    const changes = await all<{ op: string; prev_status: string }>(store.conn, 'SELECT op, prev_status FROM offer_changes WHERE offer_id = $id AND op = $op', { id: bad, op: 'hide' });
    assert.deepEqual(changes, [{ op: 'hide', prev_status: 'active' }], 'the change is in the history with the state before');
    const events = await all<{ op: string; status: string }>(store.conn, `SELECT op, status FROM (SELECT payload->>'$.op' AS op, payload->>'$.status' AS status, payload->>'$.offer_id' AS offer_id FROM outbox WHERE kind = 'offer_version') WHERE offer_id = $id AND op = 'hide'`, { id: bad });
    assert.deepEqual(events, [{ op: 'hide', status: 'hidden' }], 'an offer_version event for ClickHouse history');
    assert.equal((await opt.controls(bad))!.auto_hidden, 'underperforming');
    assert.equal((await opt.rankForTop(20)).some((r) => r.offer_id === bad), false, 'hidden offers are never ranked');

    // An admin shows it again: it stays shown through later passes, and the history says who and why.
    assert.equal(await opt.unhide(bad, { by: 'ana', reason: 'new creative uploaded' }), true);
    const again = await opt.optimize();
    assert.deepEqual(again.decisions.hidden, []);
    const [after] = await all<{ status: string; status_reason: string }>(store.conn, 'SELECT status, status_reason FROM offers WHERE id = $id', { id: bad });
    assert.deepEqual(after, { status: 'active', status_reason: 'new creative uploaded' });
    const history = (await opt.decisions({ offerId: bad })).map((d) => `${d.action} by ${d.actor}`);
    assert.deepEqual(history, ['unhide by admin:ana', 'hide by optimizer']);
    assert.ok((await opt.controls(bad))!.protected_until! > new Date().toISOString());
    assert.equal(await opt.unhide(bad, { by: 'ana', reason: 'again' }), false, 'unhiding a visible offer changes nothing');

    // Admin hide and unhide of any offer.
    assert.equal(await opt.hide(offers[0], { by: 'ben', reason: 'merchant complaint' }), true);
    assert.equal((await opt.controls(offers[0]))!.auto_hidden, null);
    assert.equal((await opt.rankForTop(20)).some((r) => r.offer_id === offers[0]), false);
  } finally { await opt.close(); store.close(); }
});

test('stale offers are hidden after the configured time and shown again once a sync verifies them', async () => {
  const { store, path } = await freshStore();
  const t0 = new Date('2026-03-01T00:00:00Z');
  await commit(store, 'old', [offer('old', 1), offer('old', 2)], t0);
  await commit(store, 'fresh', [offer('fresh', 1)], new Date('2026-03-04T06:00:00Z'));
  let now = new Date('2026-03-04T12:00:00Z');
  const opt = await Optimizer.open({ path, now: () => now, config: { staleAfterMs: 48 * 3_600_000 } });
  try {
    const [o1, o2] = await ids(store, 'old');
    await opt.pin(o2, { by: 'ana' });
    // While a sync of the connector runs, its offers are left alone (the sync's merge writes the same rows).
    const running = await store.beginRun('old', 'full');
    assert.deepEqual((await opt.decide()).hidden, []);
    await store.abortRun(running, 'old', { ...result(0), status: 'cancelled' }, { apiCalls: [], quarantine: [] });
    const d = await opt.decide();
    assert.deepEqual(d.hidden, [o1], 'pinned offers are never hidden automatically');
    const [row] = await all<{ status: string; status_reason: string }>(store.conn, 'SELECT status, status_reason FROM offers WHERE id = $id', { id: o1 });
    assert.equal(row.status, 'hidden');
    assert.equal(row.status_reason, 'stale: not verified by a sync since 2026-03-01T00:00:00Z (limit 48 h)');
    assert.equal((await opt.controls(o1))!.auto_hidden, 'stale');

    // A sync sees the offer again: hidden stays hidden in the sync, the next pass shows it.
    now = new Date('2026-03-05T00:00:00Z');
    await commit(store, 'old', [offer('old', 1), offer('old', 2)], new Date('2026-03-04T23:00:00Z'));
    const d2 = await opt.decide();
    assert.deepEqual(d2.unhidden, [o1]);
    const [back] = await all<{ status: string; status_reason: string }>(store.conn, 'SELECT status, status_reason FROM offers WHERE id = $id', { id: o1 });
    assert.deepEqual(back, { status: 'active', status_reason: 'verified again by a sync at 2026-03-04T23:00:00Z' });
    assert.equal((await opt.controls(o1))!.auto_hidden, null);
  } finally { await opt.close(); store.close(); }
});

test('pins come first in their order; unpin returns an offer to its place; every pin is in the history', async () => {
  const { store, path } = await freshStore();
  await commit(store, 'p', Array.from({ length: 6 }, (_, i) => offer('p', i, { sale_price: 50 - i * 5 })));
  const list = await ids(store, 'p');
  const opt = await Optimizer.open({ path, random: seededRandom(3), config: { exploration: { share: 0 } } });
  try {
    await opt.scoreOffers();
    const plain = (await opt.rankForTop(6)).map((r) => r.offer_id);
    assert.deepEqual(plain, [...list].reverse(), 'without data, the bigger discount ranks higher');
    await opt.pin(list[0], { by: 'ana', rank: 2 });
    await opt.pin(list[1], { by: 'ana', rank: 1, reason: 'launch partner' });
    const pinned = await opt.rankForTop(3);
    assert.deepEqual(pinned.map((r) => [r.offer_id, r.reason]), [[list[1], 'pinned'], [list[0], 'pinned'], [list[5], 'score']]);
    assert.deepEqual((await opt.rankForTop(3, { network: 'other' })).length, 0, 'filters apply to pinned offers too');
    await opt.unpin(list[1], { by: 'ana' });
    assert.deepEqual((await opt.rankForTop(2)).map((r) => r.offer_id), [list[0], list[5]]);
    assert.deepEqual((await opt.decisions({ offerId: list[1] })).map((d) => [d.action, d.reason]), [['unpin', 'unpinned by an admin'], ['pin', 'launch partner']]);
    const reordered = await opt.rankOffers([list[2], list[4], list[0]]);
    assert.deepEqual(reordered.map((r) => r.offer_id), [list[0], list[4], list[2]], 'a given list is ordered the same way');
  } finally { await opt.close(); store.close(); }
});

test('a significant high converter is promoted (score boost, reason recorded) and demoted when it falls back', async () => {
  const { store, path } = await freshStore();
  await commit(store, 'h', Array.from({ length: 8 }, (_, i) => offer('h', i)));
  const list = await ids(store, 'h');
  const opt = await Optimizer.open({ path, random: seededRandom(5) });
  try {
    const served: string[] = [];
    const clicked: string[] = [];
    const conv: Array<{ offerId: string; commission: number }> = [];
    list.forEach((id, i) => {
      for (let k = 0; k < 3000; k++) served.push(id);
      for (let k = 0; k < 150; k++) clicked.push(id);
      for (let k = 0; k < (i === 3 ? 30 : 5); k++) conv.push({ offerId: id, commission: 10 });
    });
    opt.recordImpressions(served);
    await opt.recordClicks(clicked);
    await opt.recordConversions(conv);
    const { decisions } = await opt.optimize();
    assert.deepEqual(decisions.promoted, [list[3]]);
    const [d] = await opt.decisions({ offerId: list[3] });
    assert.match(d.reason, /^high converter: conversion rate 20\.00% vs peers 3\.33%/);
    const [top] = await opt.rankForTop(1);
    assert.equal(top.offer_id, list[3]);
    assert.equal((await opt.controls(list[3]))!.promoted, true);
    const [{ promoted }] = await all<{ promoted: boolean }>(store.conn, 'SELECT promoted FROM offer_scores WHERE offer_id = $o', { o: list[3] });
    assert.equal(promoted, true, 'the boost is in the score right after the pass');

    // Many more clicks without conversions: it falls back to its peers' rate and loses the promotion.
    await opt.recordClicks(Array.from({ length: 900 }, () => list[3]));
    opt.recordImpressions(Array.from({ length: 9000 }, () => list[3]));
    const later = await opt.optimize();
    assert.deepEqual(later.decisions.demoted, [list[3]]);
    assert.match((await opt.decisions({ offerId: list[3] }))[0].reason, /^no longer a high converter/);
  } finally { await opt.close(); store.close(); }
});
