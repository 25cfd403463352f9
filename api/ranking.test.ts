// The API with the real optimizer plugged in: /top ranked by it (within the API's filter and consent rules),
// impressions, clicks and conversions reported to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Optimizer } from '../engine/optimize/optimizer.ts';
import { optimizerRanker } from './ranking.ts';
import { item, startApiStack, waitFor } from '../test/support/api-stack.ts';

test('the optimizer ranks /top and learns impressions, clicks and conversions from the API', async () => {
  let optimizer: Optimizer | undefined;
  const s = await startApiStack({
    clickhouse: false,
    config: { postbacks: { alpha: { secret: 'alpha-shared-secret-0123456789', auth: 'token' } }, clickIdParams: { alpha: 'subid' } },
    ranker: async (path) => optimizerRanker((optimizer = await Optimizer.open({ path }))),
  });
  try {
    await s.sync('alpha', [item('a1'), item('a2', { url: 'https://shop.example/p/a2' }), item('a3')]);
    await new Promise((r) => setImmediate(r));
    await s.api.services.feed.idle();
    const aff = { 'x-offerfeed-consent': 'affiliate' };
    const top = await (await fetch(`${s.url}/api/offers/top?limit=3`, { headers: aff })).json() as any;
    assert.equal(top.items.length, 3);
    const anon = await (await fetch(`${s.url}/api/offers/top?limit=3`)).json() as any;
    assert.deepEqual(anon.items.map((o: any) => o.external_id), ['a2'], 'the optimizer\'s ranking still obeys consent');
    await fetch(`${s.url}/api/offers/latest`, { headers: aff });
    const id = String((await s.store.findOffer('alpha', 'a1'))!.id);
    const click = await fetch(`${s.url}/go/${id}`, { headers: aff, redirect: 'manual' });
    const clickId = new URL(click.headers.get('location')!).searchParams.get('subid');
    const pb = await fetch(`${s.url}/api/postbacks/alpha?transaction_id=T1&click_id=${clickId}&commission=4&token=alpha-shared-secret-0123456789`);
    assert.equal((await pb.json() as any).status, 'recorded');
    await fetch(`${s.url}/api/postbacks/alpha?transaction_id=T1&click_id=${clickId}&commission=4&token=alpha-shared-secret-0123456789`);
    await optimizer!.flushImpressions();
    const stats = await waitFor(async () => {
      const st = await optimizer!.store.stats(id);
      return st && st.clicks === 1 && st.conversions === 1 ? st : undefined;
    }, 5000, 'click and conversion reported');
    assert.ok(stats.impressions >= 2, 'served by /top and /latest');
    assert.equal(stats.revenue, 4);
  } finally {
    await s.close();
    await optimizer?.close();
  }
});
