// Impressions, scores and decisions reach ClickHouse exactly once (a flush that died after inserting is replayed
// without doubles), the optimizer can rebuild its counters from the API's clicks and conversions there, and the
// analyst queries in examples/sql answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { requireClickHouse } from '../../test/support/clickhouse.ts';
import { clickhouseClient } from '../history/clickhouse/client.ts';
import { flushOutbox } from '../history/outbox-flusher.ts';
import { migrateUp } from '../store/migrate.ts';
import { all } from '../store/duckdb.ts';
import { ServingStore } from '../store/serving-store.ts';
import type { Offer } from '../types/offer.generated.ts';
import type { RunResult } from '../run/runner.ts';
import { flushAnalytics } from './analytics-flusher.ts';
import { Optimizer } from './optimizer.ts';
import { seededRandom } from './stats.ts';

const result = (n: number): RunResult => ({ status: 'succeeded', complete: true, streams: {}, counts: { pages: 1, records: n, offers: n, quarantined: 0, filtered: 0, api_calls: 0 }, started_at: new Date().toISOString(), finished_at: new Date().toISOString(), duration_ms: 1, warnings: [] });

async function rows<T>(ch: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await ch.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}

test('analytics in ClickHouse: impressions, scores and decisions exactly once; rebuild from clicks and conversions; example queries', async (t) => {
  const url = requireClickHouse(t);
  if (!url) return;
  const database = `offerfeed_opt_${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-opt-ch-'));
  const path = join(dir, 'offerfeed.duckdb');
  await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: { url, database }, feedTest: false });
  const ch = clickhouseClient({ url, database });
  const store = await ServingStore.open(path);
  const opt = await Optimizer.open({ path, clickhouse: ch, random: seededRandom(11) });
  // The examples name the default database; this test has its own.
  const example = async (name: string) => (await readFile(new URL(`../../examples/sql/${name}`, import.meta.url), 'utf8')).replace(/\bofferfeed\./g, `${database}.`);
  try {
    const offers: Offer[] = Array.from({ length: 6 }, (_, i) => ({ network: 'acme', external_id: String(i), kind: 'product', title: `Gadget ${i}`, url: `https://acme.example/${i}`, price: 100, currency: 'EUR', payout: { type: 'cpa', amount: 5 } }));
    const runId = await store.beginRun('acme', 'full');
    await store.stageOffers(runId, offers, 0);
    await store.commitRun(runId, 'acme', result(offers.length), { apiCalls: [], quarantine: [] }, { missedRunsToDeactivate: 1 });
    assert.equal((await flushOutbox(store, ch)).error, undefined);
    const ids = (await all<{ id: string }>(store.conn, 'SELECT id FROM offers ORDER BY external_id')).map((r) => r.id);

    // Served: 1500 impressions each; offer 5 is never clicked (a clear underperformer).
    for (const id of ids) opt.recordImpressions(Array.from({ length: 1500 }, () => id), { surface: 'top' });
    // The API's own records of clicks and conversions, as it writes them to ClickHouse.
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    const clicks = ids.slice(0, 5).flatMap((id, i) => Array.from({ length: 60 + i * 10 }, (_, k) => ({ click_id: `${id}-${k}`, offer_id: id, network: 'acme', user_id: `u${k}`, consent: ['affiliate'], referrer: null, country: 'DE', clicked_at: now })));
    await ch.insert({ table: 'clicks', values: clicks, format: 'JSONEachRow' });
    const conversions = [
      ...Array.from({ length: 12 }, (_, k) => ({ network: 'acme', transaction_id: `t${k}`, click_id: `${ids[4]}-${k}`, offer_id: ids[4], user_id: `u${k}`, amount: 100, commission: 5, currency: 'EUR', status: 'approved', converted_at: now, received_at: now })),
      { network: 'acme', transaction_id: 'x1', click_id: null, offer_id: ids[0], user_id: null, amount: 100, commission: 5, currency: 'EUR', status: 'rejected', converted_at: now, received_at: now },
    ];
    await ch.insert({ table: 'conversions', values: conversions, format: 'JSONEachRow' });
    // A replayed postback: the same transaction again, counted once (FINAL).
    await ch.insert({ table: 'conversions', values: [conversions[0]], format: 'JSONEachRow' });

    assert.equal(await opt.flushImpressions(), 9000);
    assert.equal(await opt.rebuildStatsFromClickHouse(), 5, 'offers with clicks or conversions');
    assert.deepEqual(await opt.store.stats(ids[4]), { impressions: 1500, clicks: 100, conversions: 12, revenue: 60 });
    assert.deepEqual(await opt.store.stats(ids[0]), { impressions: 1500, clicks: 60, conversions: 0, revenue: 0 }, 'a rejected conversion counts for nothing');

    // A flush that dies after ClickHouse took the rows…
    const dying = new Proxy(ch, {
      get(target, prop) {
        if (prop === 'insert') return async (...args: Parameters<ClickHouseClient['insert']>) => { await target.insert(...args); throw new Error('connection lost after insert'); };
        return Reflect.get(target, prop);
      },
    });
    assert.match((await flushAnalytics(opt.store, dying)).error ?? '', /connection lost/);
    // …is replayed with the same tokens by the next optimizer pass.
    const { decisions, analytics } = await opt.optimize();
    assert.deepEqual(decisions.hidden, [ids[5]]);
    assert.deepEqual(decisions.promoted, [ids[4]]);
    assert.equal(analytics?.error, undefined);
    assert.equal(analytics?.remaining, 0);
    assert.equal((await flushOutbox(store, ch)).error, undefined);

    const [imp] = await rows<{ n: string; total: string }>(ch, `SELECT count() AS n, sum(impressions) AS total FROM ${database}.impressions`);
    assert.deepEqual([Number(imp.n), Number(imp.total)], [6, 9000], 'one row per offer, surface and minute; nothing doubled');
    const [sc] = await rows<{ n: string; offers: string }>(ch, `SELECT count() AS n, uniqExact(offer_id) AS offers FROM ${database}.offer_scores`);
    assert.ok(Number(sc.n) >= 6 && Number(sc.offers) === 6);
    const decisionRows = await rows<{ action: string; actor: string; reason: string }>(ch, `SELECT action, actor, reason FROM ${database}.offer_decisions ORDER BY event_id`);
    assert.deepEqual(decisionRows.map((d) => `${d.action}:${d.actor}`), ['hide:optimizer', 'promote:optimizer']);
    assert.match(decisionRows[0].reason, /^underperforming: CTR 0\.00% vs peers/);

    const funnel = await rows<{ offer_id: string; impressions: string; clicks: string; conversions: string; commission: number; epc: number }>(ch, await example('offer-funnel.sql'), { days: 7 });
    assert.equal(funnel.length, 6);
    assert.deepEqual([funnel[0].offer_id, Number(funnel[0].impressions), Number(funnel[0].clicks), Number(funnel[0].conversions), funnel[0].commission, funnel[0].epc], [ids[4], 1500, 100, 12, 60, 0.6]);
    const daily = await rows<{ network: string; impressions: string; clicks: string; conversions: string }>(ch, await example('network-funnel-daily.sql'), { days: 7 });
    assert.deepEqual(daily.map((d) => [d.network, Number(d.impressions), Number(d.clicks), Number(d.conversions)]), [['acme', 9000, 400, 12]]);
    const history = await rows<{ score: number; promoted: boolean }>(ch, await example('offer-score-history.sql'), { offer_id: ids[4] });
    assert.ok(history.length >= 1);
    assert.equal(history[history.length - 1].promoted, true, 'the rescore after the promotion is recorded');
    const log = await rows<{ action: string; title: string; reason: string }>(ch, await example('optimizer-decisions.sql'), { days: 30 });
    assert.deepEqual(log.map((l) => [l.action, l.title]), [['promote', 'Gadget 4'], ['hide', 'Gadget 5']]);
  } finally {
    await opt.close();
    store.close();
    await ch.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` }).catch(() => undefined);
    await ch.close();
  }
});
