import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { normalizeOffer, type NormalizeContext } from './index.ts';

// The canonical schema itself decides what "validates" means in these tests.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(new URL('../../schema/offer.schema.json', import.meta.url), 'utf8')));

function assertValid(offer: Record<string, unknown>): void {
  assert.ok(validate(offer), JSON.stringify(validate.errors, null, 1));
}

// Instance paths (and missing/extra keys) the schema rejects.
function invalidFields(offer: Record<string, unknown>): string[] {
  if (validate(offer)) return [];
  return [...new Set((validate.errors ?? []).map((e) => {
    const p = e.params as { missingProperty?: string; additionalProperty?: string };
    return e.instancePath || `/${p.missingProperty ?? p.additionalProperty}`;
  }))].sort();
}

const cj: NormalizeContext = { network: 'cj', defaultKind: 'product', defaultCurrency: 'USD' };

test('a typical product record from a JSON API becomes a valid canonical offer', () => {
  const raw = {
    network: 'whatever-the-mapping-said',
    external_id: 1234567890,
    kind: 'Product',
    title: '  Apple iPhone 15 Pro &amp;amp; MagSafe Case – 128&nbsp;GB <b>NEW</b> ',
    description: '<p>The <b>best</b> iPhone&#8217;s ever.</p>\n<ul><li>A17 Pro</li><li>Titanium</li></ul>',
    url: 'https://www.anrdoezrs.net/click-123-456?url=https%3A%2F%2Fshop.example.com%2Fp%2F1',
    landing_url: 'https://shop.example.com/p/1',
    image_url: '//cdn.example.com/img/1.jpg',
    merchant_id: 987654,
    merchant_name: 'Example&nbsp;Shop',
    price: '$1,299.00',
    sale_price: '1199.99',
    currency: 'usd',
    categories: 'Electronics > Phones > Smartphones',
    countries: ['us', 'Canada'],
    languages: 'en_US',
    expires_at: '2025-12-31 23:59:59',
  };
  const out = normalizeOffer(raw, cj);
  assert.deepEqual(out, {
    network: 'cj',
    external_id: '1234567890',
    kind: 'product',
    title: 'Apple iPhone 15 Pro & MagSafe Case – 128 GB NEW',
    description: 'The best iPhone’s ever. A17 Pro Titanium',
    url: 'https://www.anrdoezrs.net/click-123-456?url=https%3A%2F%2Fshop.example.com%2Fp%2F1',
    landing_url: 'https://shop.example.com/p/1',
    image_url: 'https://cdn.example.com/img/1.jpg',
    merchant_id: '987654',
    merchant_name: 'Example Shop',
    price: 1299,
    currency: 'USD',
    categories: ['Electronics > Phones > Smartphones'],
    countries: ['US', 'CA'],
    languages: ['en-US'],
    expires_at: '2025-12-31T23:59:59.000Z',
    sale_price: 1199.99,
  });
  assertValid(out);
});

test('a voucher row from a European CSV feed becomes a valid coupon', () => {
  const raw = {
    external_id: ' 000451 ',
    title: 'Jusqu&#39;à 20&nbsp;% de réduction sur les vêtements d&#8217;été',
    description: '<p>Code valable sur tout le site.</p><p>Hors promotions.</p>',
    coupon_code: ' SUMMER20 ',
    landing_url: '/fr/soldes',
    merchant_name: 'Boutique Élégance',
    countries: 'FR, BE; CH|Worldwide',
    languages: ['Français', 'fr-fr', 'FR'],
    starts_at: '01.06.2025',
    expires_at: 'Mon, 30 Jun 2025 23:59:59 +0200',
    categories: ['Mode &amp; Accessoires', ['Femme', 'Homme'], '', null, 'Femme'],
    tags: 'soldes',
  };
  const out = normalizeOffer(raw, { network: 'awin', defaultKind: 'coupon', baseUrl: 'https://www.boutique.example.fr' });
  assert.deepEqual(out, {
    network: 'awin',
    external_id: '000451',
    title: 'Jusqu\'à 20 % de réduction sur les vêtements d’été',
    description: 'Code valable sur tout le site. Hors promotions.',
    coupon_code: 'SUMMER20',
    landing_url: 'https://www.boutique.example.fr/fr/soldes',
    merchant_name: 'Boutique Élégance',
    countries: ['FR', 'BE', 'CH'],
    languages: ['fr', 'fr-FR'],
    starts_at: '2025-06-01T00:00:00.000Z',
    expires_at: '2025-06-30T21:59:59.000Z',
    categories: ['Mode & Accessoires', 'Femme', 'Homme'],
    tags: ['soldes'],
    kind: 'coupon',
    url: 'https://www.boutique.example.fr/fr/soldes',
  });
  assertValid(out);
});

test('a program with a percent payout becomes a valid program', () => {
  const out = normalizeOffer({
    external_id: 'prog-77', kind: 'PROGRAM', title: 'Ünïcödé Shop 日本 Partner Program',
    url: 'https://partner.example.com/join', payout: { type: 'CPS', percent: '7.5%', description: 'on <i>net</i> sales' },
    countries: 'DEU', languages: 'german',
  }, { network: 'impact' });
  assert.deepEqual(out, {
    network: 'impact', external_id: 'prog-77', kind: 'program', title: 'Ünïcödé Shop 日本 Partner Program',
    url: 'https://partner.example.com/join', payout: { type: 'cps', percent: 7.5, description: 'on net sales' },
    countries: ['DE'], languages: ['de'],
  });
  assertValid(out);
});

test('price strings fill the currency; explicit currency and ctx default are used in that order', () => {
  const base = { external_id: '1', title: 'x', url: 'https://e.example/1' };
  assert.equal(normalizeOffer({ ...base, price: '1.299,00 €' }, cj).currency, 'EUR');
  assert.equal(normalizeOffer({ ...base, price: '1.299,00 €' }, cj).price, 1299);
  assert.equal(normalizeOffer({ ...base, price: '£5', currency: 'EUR' }, cj).currency, 'EUR');
  assert.equal(normalizeOffer({ ...base, price: 5 }, cj).currency, 'USD');
  assert.equal(normalizeOffer({ ...base, price: 5 }, { network: 'cj', defaultCurrency: '€' }).currency, 'EUR');
  assert.equal(normalizeOffer({ ...base, price: 5 }, { network: 'cj' }).currency, undefined);
  assert.equal(normalizeOffer({ ...base, sale_price: '¥980', price: '¥1,200' }, cj).currency, 'JPY');
  assert.equal(normalizeOffer({ ...base, currency: '$' }, cj).currency, 'USD');
  assert.equal(normalizeOffer({ ...base, price: { value: '12.50', currency: 'GBP' } }, cj).currency, 'GBP');
});

test('sale_price is kept only when below price', () => {
  const base = { external_id: '1', title: 'x', url: 'https://e.example/1' };
  assert.equal(normalizeOffer({ ...base, price: '100', sale_price: '80' }, cj).sale_price, 80);
  assert.equal('sale_price' in normalizeOffer({ ...base, price: '100', sale_price: '100.00' }, cj), false);
  assert.equal('sale_price' in normalizeOffer({ ...base, price: 100, sale_price: 120 }, cj), false);
  // Without a regular price a sale price is all there is.
  assert.equal(normalizeOffer({ ...base, sale_price: '19,99 €' }, cj).sale_price, 19.99);
  assert.equal(normalizeOffer({ ...base, price: 'abc', sale_price: 5 }, cj).sale_price, 5);
  assert.equal('sale_price' in normalizeOffer({ ...base, price: 10, sale_price: 'N/A' }, cj), false);
});

test('url falls back to landing_url, URLs resolve against baseUrl, unsafe schemes are removed', () => {
  const ctx = { network: 'rakuten', baseUrl: 'https://shop.example.com/catalog/' };
  const a = normalizeOffer({ external_id: 1, title: 't', landing_url: 'item/9', image_url: '/img/9.png' }, ctx);
  assert.equal(a.landing_url, 'https://shop.example.com/catalog/item/9');
  assert.equal(a.url, 'https://shop.example.com/catalog/item/9');
  assert.equal(a.image_url, 'https://shop.example.com/img/9.png');
  const b = normalizeOffer({ external_id: 1, title: 't', url: 'javascript:alert(1)', landing_url: 'https://s.example/x', image_url: 'data:image/gif;base64,R0lGOD' }, ctx);
  assert.equal(b.url, 'https://s.example/x');
  assert.equal('image_url' in b, false);
  const c = normalizeOffer({ external_id: 1, title: 't', url: ' https://track.example/c?x=1 ', landing_url: 'https://s.example/x' }, ctx);
  assert.equal(c.url, 'https://track.example/c?x=1');
});

test('categories and tags accept strings and nested arrays, cleaned and deduplicated in order', () => {
  const base = { external_id: '1', title: 'x', url: 'https://e.example/1' };
  const out = normalizeOffer({
    ...base,
    categories: [['Home &amp; Garden', ['Garden > Tools']], ' Home & Garden ', '<b>Sale</b>', '', '   ', 42],
    tags: ['eco', 'Eco', 'eco', null],
  }, cj);
  assert.deepEqual(out.categories, ['Home & Garden', 'Garden > Tools', 'Sale', '42']);
  assert.deepEqual(out.tags, ['eco', 'Eco']);
  assert.deepEqual(normalizeOffer({ ...base, categories: 'A > B > C' }, cj).categories, ['A > B > C']);
  assert.equal('categories' in normalizeOffer({ ...base, categories: ['', ' ', []] }, cj), false);
  assert.equal('tags' in normalizeOffer({ ...base, tags: '' }, cj), false);
});

test('countries and languages are normalized, deduplicated, unknowns dropped', () => {
  const base = { external_id: '1', title: 'x', url: 'https://e.example/1' };
  const out = normalizeOffer({
    ...base,
    countries: ['us', 'United Kingdom', 'Worldwide', 'USA', ['GBR', 'Deutschland']],
    languages: ['EN', 'english', 'en_GB', 'Klingon', 'de-de'],
  }, cj);
  assert.deepEqual(out.countries, ['US', 'GB', 'DE']);
  assert.deepEqual(out.languages, ['en', 'en-GB', 'de-DE']);
  assert.deepEqual(normalizeOffer({ ...base, countries: 'US,GB;DE|fr' }, cj).countries, ['US', 'GB', 'DE', 'FR']);
  assert.equal('countries' in normalizeOffer({ ...base, countries: ['Worldwide', 'EU'] }, cj), false);
  assert.equal('languages' in normalizeOffer({ ...base, languages: [] }, cj), false);
});

test('payout and discount: types lowercased, amounts parsed, percents read, empty ones dropped', () => {
  const base = { external_id: '1', title: 'x', url: 'https://e.example/1' };
  const p = (payout: unknown) => normalizeOffer({ ...base, payout }, cj).payout;
  assert.deepEqual(p({ type: ' CPA ', amount: '$5.00' }), { type: 'cpa', amount: 5, currency: 'USD' });
  assert.deepEqual(p({ type: 'cpl', amount: '4,50', currency: 'eur' }), { type: 'cpl', amount: 4.5, currency: 'EUR' });
  assert.deepEqual(p({ type: 'cps', amount: '7.5%' }), { type: 'cps', percent: 7.5 });
  assert.deepEqual(p({ percent: 12 }), { percent: 12 });
  assert.deepEqual(p({ amount: 2, currency: 'GBP', extra: 'kept' }), { amount: 2, currency: 'GBP', extra: 'kept' });
  assert.deepEqual(p('10%'), { percent: 10 });
  assert.deepEqual(p('€3'), { amount: 3, currency: 'EUR' });
  assert.equal(p({}), undefined);
  assert.equal(p({ type: '', amount: '', percent: null, currency: '' }), undefined);
  assert.equal(p({ amount: 'N/A' }), undefined);
  const d = normalizeOffer({ ...base, kind: 'deal', discount: { percent: '25 %', amount: null } }, cj).discount;
  assert.deepEqual(d, { percent: 25 });
  assertValid(normalizeOffer({ ...base, payout: { type: 'CPS', amount: '1,5%' } }, cj));
});

test('dates in many formats and zones become UTC; "no date" markers are removed', () => {
  const base = { external_id: '1', title: 'x', url: 'https://e.example/1' };
  const d = (v: unknown) => normalizeOffer({ ...base, expires_at: v }, cj).expires_at;
  assert.equal(d(1751327999), '2025-06-30T23:59:59.000Z');
  assert.equal(d('1751327999000'), '2025-06-30T23:59:59.000Z');
  assert.equal(d('2025-06-30T23:59:59-07:00'), '2025-07-01T06:59:59.000Z');
  assert.equal(d('06/30/2025'), '2025-06-30T00:00:00.000Z');
  assert.equal(d('Tue, 01 Jul 2025 09:00:00 GMT'), '2025-07-01T09:00:00.000Z');
  assert.equal(d(new Date(Date.UTC(2025, 5, 30))), '2025-06-30T00:00:00.000Z');
  for (const none of ['0000-00-00 00:00:00', 0, '0', '', 'never', null]) assert.equal(d(none), undefined, String(none));
});

test('empty values are removed; unknown keys pass through except null/undefined', () => {
  const out = normalizeOffer({
    external_id: '1', title: 'x', url: 'https://e.example/1',
    description: '', merchant_name: '   ', coupon_code: null, price: '', image_url: undefined, categories: [],
    brand: '<b></b>', custom_flag: false, custom_empty: '', custom_list: [], custom_null: null, custom_undef: undefined,
    custom_obj: { a: null },
  }, cj);
  assert.deepEqual(out, {
    network: 'cj', external_id: '1', title: 'x', url: 'https://e.example/1', brand: '<b></b>',
    custom_flag: false, custom_empty: '', custom_list: [], custom_obj: { a: null }, kind: 'product', currency: 'USD',
  });
});

test('values that cannot be normalized are left as given for the validator to report', () => {
  const raw = {
    external_id: { id: 1 }, kind: 'Voucher', title: ['Not', 'a', 'string'], url: '/relative/without/base',
    image_url: 'ftp://files.example/img.png', price: 'abc', sale_price: '10-20', currency: 'Moneyz',
    starts_at: 'soon', expires_at: '2025-02-30', payout: { type: 'CPS', amount: 'lots', percent: 'half' },
    rating: 'great', availability: 'maybe',
  };
  const out = normalizeOffer(raw, cj);
  assert.deepEqual(out, {
    network: 'cj', external_id: { id: 1 }, kind: 'voucher', title: ['Not', 'a', 'string'], url: '/relative/without/base',
    image_url: 'ftp://files.example/img.png', price: 'abc', currency: 'Moneyz', starts_at: 'soon', expires_at: '2025-02-30',
    payout: { type: 'cps', amount: 'lots', percent: 'half' }, rating: 'great', availability: 'maybe', sale_price: '10-20',
  });
  assert.deepEqual(invalidFields(out), ['/availability', '/currency', '/expires_at', '/external_id', '/image_url', '/kind',
    '/payout/amount', '/payout/percent', '/price', '/rating', '/sale_price', '/starts_at', '/title', '/url']);
});

test('product extras: availability, condition, rating, review_count, exclusive, attributes', () => {
  const out = normalizeOffer({
    external_id: 'B0C1234567', title: 'Kindle', url: 'https://e.example/k',
    availability: 'https://schema.org/InStock', condition: 'NewCondition', rating: '4,6', review_count: '12,345',
    exclusive: 'Yes', attributes: { color: 'black', weight_g: 158, gift: true, missing: null },
  }, cj);
  assert.equal(out.availability, 'in_stock');
  assert.equal(out.condition, 'new');
  assert.equal(out.rating, 4.6);
  assert.equal(out.review_count, 12345);
  assert.equal(out.exclusive, true);
  assert.deepEqual(out.attributes, { color: 'black', weight_g: 158, gift: true });
  assertValid(out);
  assert.equal(normalizeOffer({ availability: 'Out of Stock' }, cj).availability, 'out_of_stock');
  assert.equal(normalizeOffer({ availability: 'pre-order' }, cj).availability, 'preorder');
  assert.equal(normalizeOffer({ condition: 'Refurbished' }, cj).condition, 'refurbished');
  assert.equal(normalizeOffer({ exclusive: 0 }, cj).exclusive, false);
});

test('network always comes from the context; kind defaults from it only when absent', () => {
  assert.equal(normalizeOffer({ network: 'evil' }, { network: 'awin' }).network, 'awin');
  assert.equal(normalizeOffer({}, { network: 'awin', defaultKind: 'deal' }).kind, 'deal');
  assert.equal(normalizeOffer({ kind: ' Coupon ' }, { network: 'awin', defaultKind: 'deal' }).kind, 'coupon');
  assert.equal(normalizeOffer({ kind: '' }, { network: 'awin', defaultKind: 'deal' }).kind, 'deal');
  assert.equal('kind' in normalizeOffer({}, { network: 'awin' }), false);
});

test('the input is not modified and __proto__ keys cannot reach the output prototype', () => {
  const raw = JSON.parse('{"external_id":5,"title":" t ","countries":"us","payout":{"type":"CPA","__proto__":{"polluted":1}},"__proto__":{"polluted":1}}');
  const copy = structuredClone(raw);
  const out = normalizeOffer(raw, cj);
  assert.deepEqual(raw, copy);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal((out as { polluted?: unknown }).polluted, undefined);
  assert.equal(Object.getPrototypeOf(out.payout), Object.prototype);
  assert.deepEqual(out.payout, { type: 'cpa' });
});

test('throughput stays far above what a sync needs (guard against pathological regressions)', (t) => {
  const recs = Array.from({ length: 500 }, (_, i) => ({
    external_id: 100000 + i, kind: 'Product', title: `Widget ${i} &amp; Co – <b>new</b>`,
    description: `<p>Item ${i}&#8217;s description.</p>\n<ul><li>One</li><li>Two</li></ul>`,
    url: `https://click.example.net/t?id=${i}`, landing_url: `https://shop.example.com/p/${i}`,
    image_url: `//cdn.example.com/${i}.jpg`, merchant_id: 987, merchant_name: 'Example Shop',
    price: `$1,${String(100 + (i % 900)).padStart(3, '0')}.00`, sale_price: `${999 + (i % 50)}.99`, currency: 'usd',
    categories: 'Electronics > Phones', countries: ['US', 'CA'], languages: 'en_US', expires_at: '2025-12-31 23:59:59',
  }));
  for (let i = 0; i < 5000; i++) normalizeOffer(recs[i % 500], cj);
  const n = 30000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) normalizeOffer(recs[i % 500], cj);
  const perSecond = n / ((performance.now() - t0) / 1000);
  t.diagnostic(`normalizeOffer: ${Math.round(perSecond)} records/s`);
  // Measured ~190k/s on the 2-core dev machine; the floor leaves room for a loaded CI box.
  assert.ok(perSecond > 15000, `only ${Math.round(perSecond)} records/s`);
});
