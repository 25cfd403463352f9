import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Offer } from '../../engine/types/offer.generated.ts';
import { OfferIndex, hasTrackingUrl, verticalsOf, type OfferFilter, type StoredOffer, type ConsentView } from './offer-index.ts';

const idOf = (n: number) => createHash('sha1').update(`t:${n}`).digest('hex').slice(0, 16);

function row(n: number, o: Partial<Offer> & { status?: string; first?: number; changed?: number; group?: string } = {}): StoredOffer {
  const { status = 'active', first = 1000 + n, changed, group, ...fields } = o;
  const offer: Offer = {
    network: n % 2 ? 'alpha' : 'beta', external_id: String(n), kind: 'product', title: `Offer ${n}`,
    url: `https://track.example/${n}`, landing_url: `https://shop.example/${n}`, price: n, ...fields,
  };
  return { id: idOf(n), network: offer.network, status, data: JSON.stringify(offer), group_key: group ?? `g${n}`, first_seen_ms: first, changed_ms: changed ?? first };
}

function allPages(idx: OfferIndex, sort: 'newest' | 'changed', filter: OfferFilter = {}, limit = 3, consent: ConsentView = 'all', group = true): string[] {
  const out: string[] = [];
  let after;
  for (let i = 0; i < 1000; i++) {
    const page = idx.latest(sort, { filter, consent, limit, group, after });
    out.push(...page.slots.map((s) => idx.idOf(s)));
    if (!page.next) return out;
    after = page.next;
  }
  throw new Error('pagination did not end');
}

test('latest: newest first, keyset pages without gaps or repeats, filters', () => {
  const idx = new OfferIndex();
  idx.apply(Array.from({ length: 20 }, (_, n) => row(n, { coupon_code: n % 5 === 0 ? 'SAVE' : undefined, countries: n % 3 ? ['DE'] : ['US'], languages: ['en-GB'] })));
  const ids = allPages(idx, 'newest');
  assert.deepEqual(ids, Array.from({ length: 20 }, (_, n) => idOf(19 - n)));
  assert.deepEqual(allPages(idx, 'newest', { network: ['alpha'] }), [19, 17, 15, 13, 11, 9, 7, 5, 3, 1].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', { has_coupon: true }), [15, 10, 5, 0].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', { min_price: 5, max_price: 7 }), [7, 6, 5].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', { country: ['us'] }), [18, 15, 12, 9, 6, 3, 0].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', { lang: ['en'] }).length, 20, 'lang=en matches en-GB');
  assert.deepEqual(allPages(idx, 'newest', { network: ['nope'] }), []);
});

test('expired and non-active offers are never returned; reactivation brings an offer back in place', () => {
  const idx = new OfferIndex();
  const past = new Date(Date.now() - 1000).toISOString();
  idx.apply([row(1), row(2, { expires_at: past }), row(3, { status: 'hidden' }), row(4, { status: 'inactive' }), row(5)]);
  assert.deepEqual(allPages(idx, 'newest'), [5, 1].map(idOf));
  idx.apply([row(5, { status: 'expired' })]);
  assert.deepEqual(allPages(idx, 'newest'), [1].map(idOf));
  idx.apply([row(4)]);
  assert.deepEqual(allPages(idx, 'newest'), [4, 1].map(idOf), 'reactivated offer sorts by its first_seen');
  assert.equal(idx.slotOf(idOf(3)), undefined);
  assert.equal(idx.size, 3, 'size counts active offers; one of them is past its expiry and filtered when read');
});

test('sort=changed moves updated offers to the front; a cursor taken before the update skips nothing else', () => {
  const idx = new OfferIndex();
  idx.apply(Array.from({ length: 10 }, (_, n) => row(n)));
  const first = idx.latest('changed', { filter: {}, consent: 'all', limit: 4 });
  assert.deepEqual(first.slots.map((s) => idx.idOf(s)), [9, 8, 7, 6].map(idOf));
  idx.apply([row(2, { changed: 5000, title: 'changed' })]);
  const rest = [];
  let after = first.next;
  while (after) {
    const p = idx.latest('changed', { filter: {}, consent: 'all', limit: 4, after });
    rest.push(...p.slots.map((s) => idx.idOf(s)));
    after = p.next;
  }
  assert.deepEqual(rest, [5, 4, 3, 1, 0].map(idOf), 'the moved offer is ahead of the cursor now; no other offer is skipped or repeated');
  assert.deepEqual(allPages(idx, 'changed').slice(0, 2), [2, 9].map(idOf));
});

test('one offer per duplicate group: the first in sort order that matches the filter, stable across pages', () => {
  const idx = new OfferIndex();
  idx.apply([row(1, { group: 'g' }), row(2), row(3, { group: 'g', network: 'gamma' }), row(4), row(5, { group: 'g' })]);
  assert.deepEqual(allPages(idx, 'newest', {}, 1), [5, 4, 2].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', {}, 1, 'all', false), [5, 4, 3, 2, 1].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', { network: ['alpha'] }, 1), [5].map(idOf), 'group member 1 (alpha) is hidden by its newer alpha sibling 5');
  assert.deepEqual(allPages(idx, 'newest', { network: ['gamma'] }, 1), [3].map(idOf), 'filtered to gamma, its member represents the group');
  assert.equal(idx.groupSize(idx.slotOf(idOf(5))!), 3);
});

test('consent views: no-tracking sees only offers whose url is the landing page; landing sees offers with a landing page', () => {
  const idx = new OfferIndex();
  idx.apply([row(1), row(2, { url: 'https://shop.example/2' }), row(3, { landing_url: undefined })]);
  assert.deepEqual(allPages(idx, 'newest', {}, 10, 'all'), [3, 2, 1].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', {}, 10, 'no-tracking'), [2].map(idOf));
  assert.deepEqual(allPages(idx, 'newest', {}, 10, 'landing'), [2, 1].map(idOf));
  assert.equal(hasTrackingUrl({ url: 'https://a.example/x/', landing_url: 'https://A.example/x' }), false);
});

test('verticals are the first level of category paths', () => {
  assert.deepEqual(verticalsOf({ categories: ['Home > Kitchen', 'Home/Garden', ' Travel | Hotels'] } as Offer), ['home', 'travel']);
});

test('top ranks by freshness, discount and payout', () => {
  const idx = new OfferIndex();
  const now = Date.now();
  idx.apply([
    row(1, { first: now, price: 100, sale_price: 50 }),
    row(2, { first: now, price: 100 }),
    row(3, { first: now - 60 * 86_400_000, price: 100, sale_price: 50 }),
    row(4, { first: now, price: 100, payout: { type: 'cps', percent: 25 } }),
  ]);
  assert.deepEqual(idx.top({ filter: {}, consent: 'all', limit: 4, now }).map((x) => idx.idOf(x.slot)), [1, 4, 2, 3].map(idOf));
});

test('random updates, removals and moves: every page walk equals a brute-force sort of the same state', () => {
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  // Tiny thresholds: every plan (ranking candidates, walking per network, intersecting after the budget) runs.
  const idx = new OfferIndex({ extractMax: 40, walkBudget: 25 });
  const state = new Map<number, StoredOffer>();
  let clock = 10_000;
  for (let round = 0; round < 60; round++) {
    const batch: StoredOffer[] = [];
    for (let k = 0; k < 80; k++) {
      const n = rnd(400);
      const prev = state.get(n);
      const status = rnd(5) === 0 ? 'inactive' : 'active';
      const first = prev ? prev.first_seen_ms : clock + rnd(3);
      const r = row(n, { status, first, changed: clock + rnd(50), group: `g${n % 150}`, network: prev ? (JSON.parse(prev.data) as Offer).network : rnd(2) ? 'alpha' : 'beta', kind: rnd(4) ? 'product' : 'coupon', url: rnd(3) ? `https://track.example/${n}` : `https://shop.example/${n}` });
      state.set(n, r);
      batch.push(r);
    }
    clock += 100;
    idx.apply(batch);
    if (round % 10 !== 9) continue;
    for (const sort of ['newest', 'changed'] as const) {
      for (const consent of ['all', 'no-tracking'] as const) {
        for (const filter of [{}, { network: ['alpha'] }, { network: ['alpha', 'beta'] }, { kind: ['product'], network: ['beta'] }] as OfferFilter[]) {
          for (const group of [true, false]) {
            const key = (r: StoredOffer) => (sort === 'newest' ? r.first_seen_ms : r.changed_ms);
            const visible = [...state.values()].filter((r) => {
              const o = JSON.parse(r.data) as Offer;
              return r.status === 'active' && (!filter.network || filter.network.includes(o.network)) && (!filter.kind || filter.kind.includes(o.kind)) && (consent === 'all' || !hasTrackingUrl(o));
            }).sort((a, b) => key(b) - key(a) || (b.id > a.id ? 1 : -1));
            const seen = new Set<string>();
            const expected = visible.filter((r) => !group || (!seen.has(r.group_key) && seen.add(r.group_key))).map((r) => r.id);
            assert.deepEqual(allPages(idx, sort, filter, 7, consent, group), expected, `${sort} ${consent} ${JSON.stringify(filter)} group=${group} round ${round}`);
          }
        }
      }
    }
  }
});

test('planned filters: facets intersected after a fruitless walk give the same pages as a brute-force scan', () => {
  for (const [n, couponBelow] of [[12_000, 6000], [16_000, 10_000]]) {
    const idx = new OfferIndex();
    const rows = Array.from({ length: n }, (_, i) => row(i, { kind: i < couponBelow ? 'coupon' : 'product', countries: [i % 3 ? 'DE' : 'FR'] }));
    idx.apply(rows);
    const filter: OfferFilter = { network: ['alpha'], kind: ['coupon'], country: ['DE'] };
    const expected = rows.filter((r) => {
      const o = JSON.parse(r.data) as Offer;
      return o.network === 'alpha' && o.kind === 'coupon' && o.countries!.includes('DE');
    }).sort((a, b) => b.first_seen_ms - a.first_seen_ms).map((r) => r.id);
    assert.deepEqual(allPages(idx, 'newest', filter, 50), expected, `${n} offers`);
  }
});

test('network filters walk per-network orders: old networks are found at once, several networks merge in order', () => {
  const idx = new OfferIndex();
  // Networks synced one after another: each network's offers share a first-seen time, oldest network first.
  const nets = ['n0', 'n1', 'n2', 'n3'];
  const rows = Array.from({ length: 20_000 }, (_, i) => row(i, { network: nets[Math.floor(i / 5000)], first: 1000 + Math.floor(i / 5000), changed: 1000 + Math.floor(i / 5000), kind: i % 7 ? 'product' : 'coupon' }));
  idx.apply(rows);
  const brute = (f: (o: Offer) => boolean) => rows.filter((r) => f(JSON.parse(r.data) as Offer))
    .sort((a, b) => b.first_seen_ms - a.first_seen_ms || (b.id > a.id ? 1 : -1)).map((r) => r.id);
  const t = performance.now();
  const page = idx.latest('newest', { filter: { network: ['n0'] }, consent: 'all', limit: 20 });
  assert.ok(performance.now() - t < 20, 'no walk through the newer networks');
  assert.deepEqual(page.slots.map((s) => idx.idOf(s)), brute((o) => o.network === 'n0').slice(0, 20));
  assert.deepEqual(allPages(idx, 'newest', { network: ['n0', 'n2'], kind: ['coupon'] }, 97), brute((o) => ['n0', 'n2'].includes(o.network) && o.kind === 'coupon'));
  assert.deepEqual(allPages(idx, 'changed', { network: ['n3', 'n1'] }, 501), brute((o) => ['n3', 'n1'].includes(o.network)));
  idx.apply(rows.slice(0, 100).map((r) => ({ ...r, status: 'inactive' })));
  assert.deepEqual(allPages(idx, 'newest', { network: ['n0'] }, 999), brute((o) => o.network === 'n0' && Number(o.external_id) >= 100));
});
