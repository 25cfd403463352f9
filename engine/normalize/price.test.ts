import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrice, parsePercent } from './price.ts';
import { normalizeCurrency, isCurrencyCode } from './currency.ts';

test('parsePrice reads the brief examples', () => {
  assert.deepEqual(parsePrice('$1,299.00'), { amount: 1299, currency: 'USD' });
  assert.deepEqual(parsePrice('1.299,00 €'), { amount: 1299, currency: 'EUR' });
  assert.deepEqual(parsePrice('12,5'), { amount: 12.5 });
  assert.deepEqual(parsePrice(19.99), { amount: 19.99 });
  assert.deepEqual(parsePrice('USD 10'), { amount: 10, currency: 'USD' });
  assert.deepEqual(parsePrice('£5'), { amount: 5, currency: 'GBP' });
  assert.deepEqual(parsePrice('¥1,000'), { amount: 1000, currency: 'JPY' });
  assert.deepEqual(parsePrice('Free'), {});
  assert.deepEqual(parsePrice(''), {});
  assert.deepEqual(parsePrice(-5), { amount: -5 });
  assert.deepEqual(parsePrice('-5.50'), { amount: -5.5 });
});

test('parsePrice handles the grouping and decimal marks of many locales', () => {
  const cases: [string, number, string?][] = [
    ['1 299,00 €', 1299, 'EUR'], // French, plain space
    ['1\u00a0299,00\u00a0€', 1299, 'EUR'], // French, NBSP as browsers copy it
    ['1\u202f299,99 €', 1299.99, 'EUR'], // narrow NBSP (CLDR fr)
    ["CHF 1'299.50", 1299.5, 'CHF'], // Swiss
    ['1’299.50 CHF', 1299.5, 'CHF'],
    ['€ 12,-', 12, 'EUR'], // German whole-euro notation
    ['12,– €', 12, 'EUR'],
    ['R$ 49,90', 49.9, 'BRL'],
    ['₹ 1,23,456.00', 123456, 'INR'], // Indian lakh grouping
    ['3 999 Kč', 3999, 'CZK'],
    ['zł 12,99', 12.99, 'PLN'],
    ['1.000.000', 1000000],
    ['1,000,000', 1000000],
    ['1.000.000,5', 1000000.5],
    ['0.125', 0.125],
    ['1234.567', 1234.567],
    ['1.299', 1299],
    ['1,299', 1299],
    ['12.50USD', 12.5, 'USD'],
    ['US$ 5', 5, 'USD'],
    ['CA$19.99', 19.99, 'CAD'],
    ['A$ 20', 20, 'AUD'],
    ['19.99 eur', 19.99, 'EUR'],
    ['EUR: 12', 12, 'EUR'],
    ['12.99 EUR incl. VAT', 12.99, 'EUR'],
    ['from $9.99', 9.99, 'USD'],
    ['  $ 7  ', 7, 'USD'],
    ['₩15,000', 15000, 'KRW'],
    ['¥ 3,980', 3980, 'JPY'],
    ['3980円', 3980, 'JPY'],
    ['-$12.00', -12, 'USD'],
    ['$-12.00', -12, 'USD'],
    ['\u221212,00 €', -12, 'EUR'],
    ['0', 0],
    ['kr 100', 100], // ambiguous krona/krone: no currency guessed
  ];
  for (const [input, amount, currency] of cases) {
    assert.deepEqual(parsePrice(input), currency === undefined ? { amount } : { amount, currency }, input);
  }
});

test('parsePrice reads money objects returned by APIs', () => {
  assert.deepEqual(parsePrice({ value: '12.99', currency: 'usd' }), { amount: 12.99, currency: 'USD' });
  assert.deepEqual(parsePrice({ Amount: 5, Currency: 'EUR' }), { amount: 5, currency: 'EUR' });
  assert.deepEqual(parsePrice({ amount: '€7,50' }), { amount: 7.5, currency: 'EUR' });
  assert.deepEqual(parsePrice({ currencyCode: 'GBP', value: 3 }), { amount: 3, currency: 'GBP' });
  assert.deepEqual(parsePrice({ foo: 1 }), {});
});

test('parsePrice returns {} for no price and for what is not one price', () => {
  for (const v of ['N/A', 'none', '-', 'abc', 'Save 20%', '20% off', '10-20', '$10 - $20', '2 for $5', null, undefined,
    Number.NaN, Number.POSITIVE_INFINITY, true, [12], 'call for price']) {
    assert.deepEqual(parsePrice(v), {}, String(v));
  }
});

test('parsePercent reads numbers and percent strings', () => {
  assert.equal(parsePercent(7.5), 7.5);
  assert.equal(parsePercent('7.5%'), 7.5);
  assert.equal(parsePercent('7,5 %'), 7.5);
  assert.equal(parsePercent(' 10 '), 10);
  assert.equal(parsePercent('-3%'), -3);
  assert.ok(Number.isNaN(parsePercent('ten')));
  assert.ok(Number.isNaN(parsePercent('%')));
  assert.ok(Number.isNaN(parsePercent('5-10%')));
  assert.ok(Number.isNaN(parsePercent(null)));
});

test('normalizeCurrency accepts codes, symbols and names', () => {
  const cases: [unknown, string][] = [
    ['USD', 'USD'], ['usd', 'USD'], [' eur ', 'EUR'], ['$', 'USD'], ['€', 'EUR'], ['£', 'GBP'], ['¥', 'JPY'],
    ['₹', 'INR'], ['US$', 'USD'], ['euro', 'EUR'], ['Euro', 'EUR'], ['euros', 'EUR'], ['US Dollar', 'USD'],
    ['Pound Sterling', 'GBP'], ['Swiss Franc', 'CHF'], ['R$', 'BRL'], ['C$', 'CAD'], ['zł', 'PLN'], ['₽', 'RUB'],
    ['RMB', 'CNY'], ['jpy', 'JPY'], ['Yen', 'JPY'],
  ];
  for (const [input, code] of cases) assert.equal(normalizeCurrency(input), code, String(input));
});

test('normalizeCurrency returns undefined for unknown values', () => {
  for (const v of ['XYZ', 'dollars please', '', '  ', 'kr', 'R', 42, null, undefined, {}]) {
    assert.equal(normalizeCurrency(v), undefined, String(v));
  }
  assert.equal(isCurrencyCode('EUR'), true);
  assert.equal(isCurrencyCode('eur'), false);
});
