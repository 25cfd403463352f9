import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeCountry } from './country.ts';

test('normalizeCountry reads alpha-2, alpha-3 and numeric codes in any case', () => {
  const cases: [unknown, string][] = [
    ['US', 'US'], ['us', 'US'], [' de ', 'DE'], ['USA', 'US'], ['deu', 'DE'], ['GBR', 'GB'], ['fra', 'FR'],
    ['840', 'US'], [840, 'US'], ['076', 'BR'], [76, 'BR'],
  ];
  for (const [input, code] of cases) assert.equal(normalizeCountry(input), code, String(input));
});

test('normalizeCountry reads English names and common aliases', () => {
  const cases: [string, string][] = [
    ['United States', 'US'], ['united states of america', 'US'], ['U.S.A.', 'US'], ['America', 'US'],
    ['UK', 'GB'], ['uk', 'GB'], ['United Kingdom', 'GB'], ['Great Britain', 'GB'], ['England', 'GB'],
    ['Germany', 'DE'], ['GERMANY', 'DE'], ['France', 'FR'], ['the Netherlands', 'NL'], ['Netherlands', 'NL'],
    ['Holland', 'NL'], ['South Korea', 'KR'], ['Korea, Republic of', 'KR'], ['Russia', 'RU'],
    ['Russian Federation', 'RU'], ['Czech Republic', 'CZ'], ['Czechia', 'CZ'], ['Viet Nam', 'VN'], ['Vietnam', 'VN'],
    ['Côte d’Ivoire', 'CI'], ["Cote d'Ivoire", 'CI'], ['Ivory Coast', 'CI'], ['Bosnia & Herzegovina', 'BA'],
    ['Trinidad and Tobago', 'TT'], ['St. Lucia', 'LC'], ['Saint Lucia', 'LC'], ['UAE', 'AE'],
    ['United Arab Emirates', 'AE'], ['Hong Kong', 'HK'], ['Taiwan', 'TW'], ['Turkey', 'TR'], ['Türkiye', 'TR'],
    ['New Zealand', 'NZ'], ['Åland Islands', 'AX'], ['Aland Islands', 'AX'],
  ];
  for (const [input, code] of cases) assert.equal(normalizeCountry(input), code, input);
});

test('normalizeCountry reads names in the languages of European feeds and locale tags', () => {
  const cases: [string, string][] = [
    ['Deutschland', 'DE'], ['Österreich', 'AT'], ['Schweiz', 'CH'], ['Suisse', 'CH'], ['Allemagne', 'DE'],
    ['España', 'ES'], ['Espana', 'ES'], ['Italia', 'IT'], ['Nederland', 'NL'], ['Brasil', 'BR'],
    ['Royaume-Uni', 'GB'], ['en_US', 'US'], ['pt-BR', 'BR'], ['de-at', 'AT'],
  ];
  for (const [input, code] of cases) assert.equal(normalizeCountry(input), code, input);
});

test('normalizeCountry returns undefined for unknown values', () => {
  for (const v of ['XX', 'ZZ', 'EU', 'Worldwide', 'Global', 'Atlantis', 'en', '', '   ', 'XYZ', '999', 0, 1.5,
    null, undefined, {}, ['US']]) {
    assert.equal(normalizeCountry(v), undefined, String(v));
  }
});
