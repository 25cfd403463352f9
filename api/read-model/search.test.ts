import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Offer } from '../../engine/types/offer.generated.ts';
import { OfferIndex, type StoredOffer } from './offer-index.ts';
import { boundedDistance, foldText, tokenize } from './tokenizer.ts';

test('tokenizer: case and Latin diacritics folded, other scripts kept, CJK and Thai segmented into words', () => {
  assert.deepEqual(tokenize('Crème BRÛLÉE — Größe 2'), ['creme', 'brulee', 'grosse', '2']);
  assert.deepEqual(tokenize('Ελληνικά ΚΑΦΈ'), ['ελληνικα', 'καφε']);
  assert.equal(foldText('Çà'), 'ca');
  assert.deepEqual(tokenize('हिन्दी किताब'), ['हिन्दी', 'किताब'], 'Devanagari vowel signs are not stripped');
  const ja = tokenize('電気ケトルを買う');
  assert.ok(ja.includes('ケトル') && ja.length >= 3, `Japanese segmented: ${ja.join('|')}`);
  const zh = tokenize('无线蓝牙耳机');
  assert.ok(zh.length >= 2 && zh.join('') === '无线蓝牙耳机', `Chinese segmented: ${zh.join('|')}`);
  assert.ok(tokenize('หูฟังไร้สาย').length >= 2, 'Thai segmented');
});

test('bounded Damerau-Levenshtein distance', () => {
  assert.equal(boundedDistance('kettle', 'kettle', 1), 0);
  assert.equal(boundedDistance('ketle', 'kettle', 1), 1);
  assert.equal(boundedDistance('kettel', 'kettle', 1), 1, 'a transposition is one edit');
  assert.equal(boundedDistance('kettle', 'bottle', 1), 2, 'over the bound: bound + 1');
  assert.equal(boundedDistance('ab', 'abcd', 1), 2);
});

const LABELLED: Array<[number, Partial<Offer>]> = [
  [1, { title: 'Stainless Steel Electric Kettle 1.7L', merchant_name: 'KitchenPro', categories: ['Home > Kitchen'], languages: ['en'] }],
  [2, { title: 'Glass Kettle with blue LED light', merchant_name: 'HomeGoods', categories: ['Home > Kitchen'], languages: ['en'] }],
  [3, { title: 'Cast iron kettlebell 16 kg', merchant_name: 'FitShop', categories: ['Sports > Fitness'], languages: ['en'] }],
  [4, { title: 'Wasserkocher Edelstahl 1,7 Liter', description: 'Schnell, leise und sicher', merchant_name: 'Küchenwelt', languages: ['de'] }],
  [5, { title: 'Bouilloire électrique inox 1,7 L', merchant_name: 'Maison & Cuisine', languages: ['fr'] }],
  [6, { title: '電気ケトル 1.0L ステンレス', merchant_name: '楽天ショップ', languages: ['ja'] }],
  [7, { title: '无线蓝牙耳机 降噪', merchant_name: '京东', languages: ['zh'] }],
  [8, { title: 'Wireless Bluetooth Headphones, Noise Cancelling', merchant_name: 'SoundCo', categories: ['Electronics > Audio'], languages: ['en'] }],
  [9, { title: 'Waterproof Bluetooth Speaker', merchant_name: 'SoundCo', categories: ['Electronics > Audio'], languages: ['en'] }],
  [10, { title: 'Running Shoes for Men', merchant_name: 'RunFast', categories: ['Apparel > Shoes'], languages: ['en'] }],
  [11, { title: 'Laufschuhe Herren leicht', merchant_name: 'Sport Schuster', languages: ['de'] }],
  [12, { title: 'Chaussures de course homme', merchant_name: 'Décathlon', languages: ['fr'] }],
  [13, { title: 'Zapatillas de running para hombre', merchant_name: 'Corredor', languages: ['es'] }],
  [14, { title: 'NordVPN two-year plan', description: 'Private VPN with 6000 servers', kind: 'coupon', coupon_code: 'NORD70', merchant_name: 'NordVPN', languages: ['en'] }],
  [15, { title: 'Hotel deal Berlin Mitte, 3 nights', merchant_name: 'Booking Partner', categories: ['Travel > Hotels'], kind: 'deal', languages: ['en'] }],
  [16, { title: 'Kettle descaler tablets', description: 'Removes limescale from any kettle', merchant_name: 'CleanIt', categories: ['Home > Cleaning'], languages: ['en'] }],
  [17, { title: 'Smartphone case', description: 'Also fits a kettle? No. A phone.', merchant_name: 'CaseCo', languages: ['en'] }],
];

/** Query → offers that are right answers; the first result must be one of them. */
const JUDGEMENTS: Array<[string, number[]]> = [
  ['kettle', [1, 2, 16]],
  ['electric kettle', [1]],
  ['ketle', [1, 2, 16]],
  ['kettel', [1, 2, 16]],
  ['glass kettle', [2]],
  ['kettlebell', [3]],
  ['wasserkocher', [4]],
  ['wasserkoher', [4]],
  ['bouilloire electrique', [5]],
  ['BOUILLOIRE', [5]],
  ['ケトル', [6]],
  ['耳机', [7]],
  ['bluetooth headphones', [8]],
  ['wireless headphon', [8]],
  ['bluetooth speaker', [9]],
  ['laufschuhe', [11]],
  ['chaussures course', [12]],
  ['zapatillas running', [13]],
  ['running shoes', [10]],
  ['vpn', [14]],
  ['nord70', [14]],
  ['hotel berlin', [15]],
  ['descaler', [16]],
  ['soundco', [8, 9]],
];

function labelledIndex(): OfferIndex {
  const idx = new OfferIndex();
  idx.apply(LABELLED.map(([n, o]) => {
    const offer: Offer = { network: 'net', external_id: String(n), kind: 'product', title: '', url: `https://shop.example/${n}`, ...o } as Offer;
    return { id: `id${String(n).padStart(14, '0')}`, network: 'net', status: 'active', data: JSON.stringify(offer), group_key: `g${n}`, first_seen_ms: n, changed_ms: n } satisfies StoredOffer;
  }));
  return idx;
}

const ext = (idx: OfferIndex, slot: number) => Number((JSON.parse(idx.dataOf(slot)!) as Offer).external_id);

test('search relevance on a labelled multilingual set: the top result is right for every query (typos and prefixes included)', () => {
  const idx = labelledIndex();
  let reciprocal = 0;
  const misses: string[] = [];
  for (const [q, relevant] of JUDGEMENTS) {
    const res = idx.searchOffers(q, { filter: {}, consent: 'all', limit: 5 });
    const ids = res.slots.map((s) => ext(idx, s));
    const rank = ids.findIndex((x) => relevant.includes(x));
    reciprocal += rank < 0 ? 0 : 1 / (rank + 1);
    if (rank !== 0) misses.push(`${q} → ${ids.join(',')}`);
  }
  assert.deepEqual(misses, [], 'top result wrong for some queries');
  assert.equal(reciprocal / JUDGEMENTS.length, 1);
});

test('search ranks offers matching more query words first, title matches above description mentions, exact above prefix', () => {
  const idx = labelledIndex();
  const kettle = idx.searchOffers('kettle', { filter: {}, consent: 'all', limit: 10 }).slots.map((s) => ext(idx, s));
  const last = (xs: number[]) => Math.max(...xs.map((x) => kettle.indexOf(x)));
  assert.ok(last([1, 2, 16]) < kettle.indexOf(17), `title matches before a description-only mention: ${kettle}`);
  assert.ok(last([1, 2, 16]) < kettle.indexOf(3), `exact word before a word that only starts with it (kettlebell): ${kettle}`);
  const bt = idx.searchOffers('bluetooth headphones', { filter: {}, consent: 'all', limit: 10 });
  assert.equal(ext(idx, bt.slots[0]), 8);
  assert.equal(bt.scores![0].matched, 2);
  assert.ok(bt.slots.slice(1).map((s) => ext(idx, s)).includes(9), 'one-word matches follow');
  assert.deepEqual([...bt.matchedTerms].sort(), ['bluetooth', 'headphones']);
});

test('search applies filters and consent, and pages by keyset without repeats', () => {
  const idx = new OfferIndex();
  idx.apply(Array.from({ length: 60 }, (_, n) => {
    const offer = { network: n % 2 ? 'a' : 'b', external_id: String(n), kind: 'product', title: `Kettle model ${n} ${'steel '.repeat(n % 4)}`, url: n % 3 ? `https://t.example/${n}` : `https://s.example/${n}`, landing_url: `https://s.example/${n}` };
    return { id: `k${String(n).padStart(15, '0')}`, network: offer.network, status: 'active', data: JSON.stringify(offer), group_key: `g${n}`, first_seen_ms: n, changed_ms: n };
  }));
  const seen: string[] = [];
  let after;
  do {
    const p = idx.searchOffers('kettle', { filter: {}, consent: 'all', limit: 7, after });
    seen.push(...p.slots.map((s) => idx.idOf(s)));
    after = p.next;
  } while (after);
  assert.equal(seen.length, 60);
  assert.equal(new Set(seen).size, 60);
  const onlyA = idx.searchOffers('kettle', { filter: { network: ['a'] }, consent: 'all', limit: 100 });
  assert.equal(onlyA.slots.length, 30);
  const noTracking = idx.searchOffers('kettle', { filter: {}, consent: 'no-tracking', limit: 100 });
  assert.equal(noTracking.slots.length, 20);
});

test('an updated offer is found by its new words only; a removed one not at all', () => {
  const idx = labelledIndex();
  const slot = idx.slotOf(`id${'2'.padStart(14, '0')}`)!;
  const changed = { ...(JSON.parse(idx.dataOf(slot)!) as Offer), title: 'Ceramic teapot' };
  idx.apply([{ id: idx.idOf(slot), network: 'net', status: 'active', data: JSON.stringify(changed), group_key: 'g2', first_seen_ms: 2, changed_ms: 100 }]);
  assert.ok(!idx.searchOffers('glass', { filter: {}, consent: 'all', limit: 10 }).slots.includes(slot));
  assert.deepEqual(idx.searchOffers('teapot', { filter: {}, consent: 'all', limit: 10 }).slots, [slot]);
  idx.apply([{ id: idx.idOf(slot), network: 'net', status: 'hidden', data: JSON.stringify(changed), group_key: 'g2', first_seen_ms: 2, changed_ms: 100 }]);
  assert.deepEqual(idx.searchOffers('teapot', { filter: {}, consent: 'all', limit: 10 }).slots, []);
});

test('duplicate groups: search returns the best-ranked member only', () => {
  const idx = new OfferIndex();
  const mk = (n: number, title: string) => ({ id: `d${String(n).padStart(15, '0')}`, network: 'net', status: 'active', data: JSON.stringify({ network: 'net', external_id: String(n), kind: 'product', title, url: `https://s.example/${n}` }), group_key: 'same', first_seen_ms: n, changed_ms: n });
  idx.apply([mk(1, 'Red kettle'), mk(2, 'Red kettle red kettle deluxe'), mk(3, 'Blue mug')]);
  const grouped = idx.searchOffers('red kettle', { filter: {}, consent: 'all', limit: 10 });
  assert.equal(grouped.slots.length, 1);
  const all = idx.searchOffers('red kettle', { filter: {}, consent: 'all', limit: 10, group: false });
  assert.equal(all.slots.length, 2);
  assert.equal(grouped.slots[0], all.slots[0]);
});

test('early-terminating paths for common words return exactly what ranking every posting returns, page by page', () => {
  let seed = 11;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const nouns = ['kettle', 'lamp', 'chair', 'desk'];
  const adjs = ['red', 'steel', 'small', 'modern', 'cheap'];
  const idx = new OfferIndex();
  idx.apply(Array.from({ length: 9000 }, (_, n) => {
    const title = `${adjs[rnd(5)]} ${nouns[rnd(4)]} ${rnd(3) ? adjs[rnd(5)] : ''} model${rnd(50)}`;
    const offer = { network: 'net', external_id: String(n), kind: 'product', title, description: rnd(4) ? `a ${nouns[rnd(4)]} for home` : undefined, url: `https://s.example/${n}` };
    return { id: `e${String(n).padStart(15, '0')}`, network: 'net', status: 'active', data: JSON.stringify(offer), group_key: `g${n % 8500}`, first_seen_ms: n, changed_ms: n };
  }));
  const walk = (q: string, exhaustive: boolean, filter = {}) => {
    const out: string[] = [];
    let after;
    for (let i = 0; i < 40; i++) {
      const p = idx.searchOffers(q, { filter, consent: 'all', limit: 25, after, exhaustive });
      out.push(...p.slots.map((s, k) => `${idx.idOf(s)}:${p.scores![k].matched}:${p.scores![k].score}`));
      if (!p.next) break;
      after = p.next;
    }
    return out;
  };
  for (const q of ['kettle', 'red kettle', 'steel lamp modern', 'small', 'cheap desk', 'lamp chair']) {
    const early = walk(q, false);
    assert.ok(early.length > 0, q);
    assert.deepEqual(early, walk(q, true).slice(0, early.length), q);
  }
});
