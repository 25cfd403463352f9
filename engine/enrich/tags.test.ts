// Rule-based enrichment against a hand-labelled set of offers in English, German, French and Spanish (plus
// Italian and Dutch for language detection): precision and recall per emotion, language and category accuracy,
// and the throughput of the whole rule pipeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Offer } from '../types/offer.generated.ts';
import { analyzeOffer } from './analyze.ts';
import { ruleCopy } from './copy.ts';
import { offerCountries } from './countries.ts';
import { HELD_OUT, LABELLED } from './fixtures/labelled-offers.ts';
import { compileRules, DEFAULT_RULES_PATH, EMOTIONS, loadRules, RulesError } from './rules.ts';
import { dynamicTags, tagOffer, tagsAt } from './tags.ts';
import { compileKeywords, normalizeText } from './text.ts';

const rules = loadRules();
const TAGGED_LANGS = ['en', 'de', 'fr', 'es'];

test('labelled offers: emotion tags reach precision and recall ≥ 0.85 in every language set', (t) => {
  const stats = Object.fromEntries(EMOTIONS.map((e) => [e, { tp: 0, fp: 0, fn: 0 }]));
  const perLang: Record<string, { tp: number; fp: number; fn: number }> = {};
  const misses: string[] = [];
  for (const l of LABELLED.filter((x) => TAGGED_LANGS.includes(x.lang))) {
    const r = analyzeOffer(l.offer, rules);
    const pl = (perLang[l.lang] ??= { tp: 0, fp: 0, fn: 0 });
    for (const e of EMOTIONS) {
      const predicted = r.tags.includes(e);
      const actual = l.emotions.includes(e);
      if (predicted && actual) { stats[e].tp++; pl.tp++; } else if (predicted) { stats[e].fp++; pl.fp++; misses.push(`FP ${e}: ${l.offer.title}`); } else if (actual) { stats[e].fn++; pl.fn++; misses.push(`FN ${e}: ${l.offer.title}`); }
    }
  }
  const pr = (s: { tp: number; fp: number; fn: number }) => ({ precision: s.tp / Math.max(1, s.tp + s.fp), recall: s.tp / Math.max(1, s.tp + s.fn) });
  for (const e of EMOTIONS) {
    const { precision, recall } = pr(stats[e]);
    t.diagnostic(`${e}: precision ${precision.toFixed(2)} recall ${recall.toFixed(2)} (tp ${stats[e].tp}, fp ${stats[e].fp}, fn ${stats[e].fn})`);
    assert.ok(precision >= 0.85, `${e} precision ${precision.toFixed(2)}`);
    assert.ok(recall >= 0.85, `${e} recall ${recall.toFixed(2)}`);
  }
  for (const [lang, s] of Object.entries(perLang)) {
    const { precision, recall } = pr(s);
    t.diagnostic(`${lang}: precision ${precision.toFixed(2)} recall ${recall.toFixed(2)}`);
    assert.ok(precision >= 0.8 && recall >= 0.8, `${lang}: ${precision.toFixed(2)} / ${recall.toFixed(2)}`);
  }
  for (const m of misses) t.diagnostic(m);
});

test('labelled offers: language detection and taxonomy categories', (t) => {
  let lang = 0;
  let exact = 0;
  let onLineage = 0;
  const tagged = LABELLED.filter((x) => TAGGED_LANGS.includes(x.lang));
  for (const l of LABELLED) {
    const r = analyzeOffer(l.offer, rules);
    if (r.language_detected === l.lang) lang++;
    else t.diagnostic(`language: expected ${l.lang}, got ${r.language_detected ?? 'none'}: ${l.offer.title}`);
    if (!TAGGED_LANGS.includes(l.lang)) continue;
    const ids = r.categories.map((c) => c.id);
    if (ids[0] === l.category) exact++;
    if (l.category === null ? ids.length === 0 : ids.includes(l.category)) onLineage++;
    else t.diagnostic(`category: expected ${l.category}, got ${r.categories[0]?.path ?? 'none'}: ${l.offer.title}`);
  }
  t.diagnostic(`language accuracy ${(lang / LABELLED.length).toFixed(2)} (${lang}/${LABELLED.length}); category exact ${(exact / tagged.length).toFixed(2)}, on the predicted lineage ${(onLineage / tagged.length).toFixed(2)}`);
  assert.ok(lang / LABELLED.length >= 0.9);
  assert.ok(onLineage / tagged.length >= 0.85);
});

test('held-out offers (never used to tune the rules): precision and recall reported, micro-averaged floors', (t) => {
  const s = Object.fromEntries(EMOTIONS.map((e) => [e, { tp: 0, fp: 0, fn: 0 }]));
  let categories = 0;
  for (const l of HELD_OUT) {
    const r = analyzeOffer(l.offer, rules);
    for (const e of EMOTIONS) {
      const p = r.tags.includes(e);
      const a = l.emotions.includes(e);
      if (p && a) s[e].tp++; else if (p) { s[e].fp++; t.diagnostic(`FP ${e}: ${l.offer.title}`); } else if (a) { s[e].fn++; t.diagnostic(`FN ${e}: ${l.offer.title}`); }
    }
    if (l.category && r.categories.some((c) => c.id === l.category)) categories++;
  }
  const sum = (k: 'tp' | 'fp' | 'fn') => EMOTIONS.reduce((n, e) => n + s[e][k], 0);
  for (const e of EMOTIONS) t.diagnostic(`${e}: precision ${(s[e].tp / Math.max(1, s[e].tp + s[e].fp)).toFixed(2)} recall ${(s[e].tp / Math.max(1, s[e].tp + s[e].fn)).toFixed(2)}`);
  const precision = sum('tp') / Math.max(1, sum('tp') + sum('fp'));
  const recall = sum('tp') / Math.max(1, sum('tp') + sum('fn'));
  t.diagnostic(`held out, micro-averaged: precision ${precision.toFixed(2)} recall ${recall.toFixed(2)}; categories ${categories}/${HELD_OUT.length}`);
  assert.ok(precision >= 0.8, `precision ${precision.toFixed(2)}`);
  assert.ok(recall >= 0.6, `recall ${recall.toFixed(2)}`);
  assert.ok(categories / HELD_OUT.length >= 0.7);
});

test('keywords: whole words, wildcards for compounds, numbers, minus percentages, accents and ß', () => {
  const m = compileKeywords(['*schuhe', 'only # left', 'minus #%', 'rucksendung kostenlos', 'grosse']);
  assert.equal(m.match(normalizeText('Neue Laufschuhe im Angebot')), 'laufschuhe');
  assert.equal(m.match(normalizeText('Schuhregal')), undefined, 'the wildcard stands for a prefix only');
  assert.equal(m.match(normalizeText('Only 3 left in stock')), 'only 3 left');
  assert.equal(m.match(normalizeText('Tout à -30 % !')), 'minus 30%');
  assert.equal(m.match(normalizeText('Rücksendung kostenlos')), 'rucksendung kostenlos');
  assert.equal(m.match(normalizeText('Größe M')), 'grosse');
  assert.equal(m.match(normalizeText('30% off')), undefined, 'a percentage without minus is not "minus #%"');
  assert.equal(compileKeywords(['sale']).match(normalizeText('wholesale prices')), undefined, 'no match inside a word');
});

test('tags: field rules (availability, exclusive flag, rating, merchant standing), discount steps and expiry urgency', () => {
  const base: Offer = { network: 'n', external_id: '1', kind: 'product', title: 'Plain kettle', url: 'https://x.example/1' };
  assert.deepEqual(tagOffer(base, rules).tags, []);
  assert.ok(tagOffer({ ...base, availability: 'limited' }, rules).tags.includes('urgency:limited-stock'));
  assert.ok(tagOffer({ ...base, exclusive: true }, rules).tags.includes('exclusivity:exclusive'));
  assert.ok(tagOffer({ ...base, rating: 4.8, review_count: 200 }, rules).tags.includes('trust:top-rated'));
  assert.ok(!tagOffer({ ...base, rating: 4.8, review_count: 3 }, rules).tags.includes('trust'), 'a rating from three reviews is no standing');
  assert.ok(tagOffer(base, rules, { merchant: { days: 400, offers: 120 } }).tags.includes('trust:established-merchant'));
  assert.ok(!tagOffer(base, rules, { merchant: { days: 20, offers: 120 } }).tags.includes('trust'));
  const steps = (price: number, sale: number) => tagOffer({ ...base, price, sale_price: sale }, rules).tags.filter((x) => x.startsWith('value:'));
  assert.deepEqual(steps(100, 40), ['value:huge-discount']);
  assert.deepEqual(steps(100, 70), ['value:big-discount']);
  assert.deepEqual(steps(100, 88), ['value:discount']);
  assert.deepEqual(steps(100, 97), []);
  const r = tagOffer({ ...base, title: 'Kettle: 60% off' }, rules);
  assert.equal(r.discountPercent, 60, 'a percentage in the text sizes the discount when prices do not');
  assert.ok(r.tags.includes('value:huge-discount'));
  const now = new Date('2026-03-01T12:00:00Z');
  assert.deepEqual(dynamicTags('2026-03-02T12:00:00Z', rules, now), ['urgency', 'urgency:ending-soon']);
  assert.deepEqual(dynamicTags('2026-03-10T12:00:00Z', rules, now), []);
  assert.deepEqual(dynamicTags('2026-02-28T12:00:00Z', rules, now), [], 'past expiry is not urgency');
  assert.deepEqual(tagsAt(['value', 'value:discount'], '2026-03-01 20:00:00', rules, now), ['urgency', 'urgency:ending-soon', 'value', 'value:discount']);
});

test('countries: connector (partition) first, then the domain, the currency, the currency with the language', () => {
  const o = (p: Partial<Offer>): Offer => ({ network: 'n', external_id: '1', kind: 'deal', title: 't', url: 'https://shop.example.com/x', ...p });
  assert.deepEqual(offerCountries(o({ countries: ['de', 'AT'], landing_url: 'https://www.shop.de/x' }), 'de', rules).countries, ['DE', 'AT']);
  assert.deepEqual(offerCountries(o({ countries: ['DE'], landing_url: 'https://www.shop.de/x' }), 'de', rules).sources, { DE: ['connector', 'domain'] });
  assert.deepEqual(offerCountries(o({ landing_url: 'https://www.amazon.co.uk/dp/1' }), 'en', rules), { countries: ['GB'], sources: { GB: ['domain'] } });
  assert.deepEqual(offerCountries(o({ currency: 'CHF' }), 'de', rules).countries, ['CH', 'LI']);
  assert.deepEqual(offerCountries(o({ currency: 'EUR' }), 'fr', rules).countries, ['FR', 'BE', 'LU']);
  assert.deepEqual(offerCountries(o({ currency: 'EUR' }), undefined, rules).countries, [], 'the euro alone names no country');
  assert.deepEqual(offerCountries(o({ url: 'https://shop.io/x' }), 'en', rules).countries, [], 'a generic TLD names no country');
});

test('rule copy: per language, with prices, discount, coupon code, expiry and the kind\'s call-to-action', () => {
  const offer: Offer = { network: 'n', external_id: '1', kind: 'product', title: 'Dyson V15', url: 'https://x.example', merchant_name: 'Otto', price: 649, sale_price: 499, currency: 'EUR', expires_at: '2026-03-14T23:59:59Z' };
  const de = ruleCopy(offer, rules, { language: 'de', tags: [], discountPercent: 23 });
  // Intl puts a no-break space between amount and currency sign.
  assert.equal(de.summary.replace(/\u00a0/g, ' '), 'Dyson V15 von Otto: jetzt 499,00 € statt 649,00 € (23% Rabatt).');
  assert.equal(de.urgency_line, 'Endet am 14. März 2026.');
  assert.equal(de.cta, 'Jetzt kaufen');
  assert.equal(de.machine_generated, true);
  assert.equal(de.source, 'rules');
  const coupon = ruleCopy({ ...offer, kind: 'coupon', coupon_code: 'SPRING10', expires_at: undefined }, rules, { language: 'es', tags: ['urgency', 'urgency:today-only'] });
  assert.deepEqual([coupon.summary, coupon.urgency_line, coupon.cta], ['Ahorra en Otto con el código SPRING10.', 'Solo hoy.', 'Ver código']);
  assert.equal(ruleCopy(offer, rules, { language: 'pl', tags: [] }).language, 'en', 'languages without templates fall back to English');
});

test('rules file: the shipped file is valid; a typo is an error naming where it is', () => {
  assert.ok(rules.tagRules.length >= 10 && rules.categoryRules.length >= 40);
  const text = readFileSync(DEFAULT_RULES_PATH, 'utf8');
  assert.throws(() => compileRules(text.replace('ending_soon_hours: 48', 'ending_soon_hour: 48'), 'r.yaml'), (e: Error) => e instanceof RulesError && /r\.yaml: \/tags\/urgency/.test(e.message));
  assert.throws(() => compileRules(text.replace('- id: "505771"', '- id: "999999999"'), 'r.yaml'), /categories rule 999999999 names no node/);
  assert.throws(() => compileRules(text.replace('- tag: urgency:today-only', '- tag: value:today-only'), 'r.yaml'), /must be named urgency:/);
  assert.notEqual(compileRules(text.replace('min_score: 1', 'min_score: 2')).hash, rules.hash, 'an edit changes the signature');
});

test('throughput of the rule pipeline (languages, countries, categories, tags, copy)', (t) => {
  const offers = Array.from({ length: 3000 }, (_, i) => ({ ...LABELLED[i % LABELLED.length].offer, external_id: String(i) }));
  for (const o of offers.slice(0, 200)) analyzeOffer(o, rules);
  const started = performance.now();
  for (const o of offers) analyzeOffer(o, rules);
  const perSecond = offers.length / ((performance.now() - started) / 1000);
  t.diagnostic(`rule-based enrichment: ${Math.round(perSecond)} offers/s on one core`);
  assert.ok(perSecond > 300, `${Math.round(perSecond)} offers/s`);
});
