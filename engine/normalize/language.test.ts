import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeLanguage } from './language.ts';

test('normalizeLanguage canonicalizes codes and tags', () => {
  const cases: [string, string][] = [
    ['en_US', 'en-US'], ['EN', 'en'], ['en', 'en'], ['de-de', 'de-DE'], ['DE-DE', 'de-DE'], ['pt_br', 'pt-BR'],
    ['zh-hant-tw', 'zh-Hant-TW'], ['zh_CN', 'zh-CN'], ['sr-latn-rs', 'sr-Latn-RS'], ['es-419', 'es-419'],
    ['eng', 'en'], ['ger', 'de'], ['fra', 'fr'], ['iw', 'he'], ['in', 'id'], ['fil', 'fil'], [' fr-ca ', 'fr-CA'],
  ];
  for (const [input, tag] of cases) assert.equal(normalizeLanguage(input), tag, input);
});

test('normalizeLanguage reads POSIX locales and drops what BCP 47 feeds do not need', () => {
  assert.equal(normalizeLanguage('en_US.UTF-8'), 'en-US');
  assert.equal(normalizeLanguage('de_DE@euro'), 'de-DE');
  assert.equal(normalizeLanguage('en-US-u-ca-gregory'), 'en-US');
  assert.equal(normalizeLanguage('en-US-x-private'), 'en-US');
  assert.equal(normalizeLanguage('en-XX'), 'en'); // unknown region
});

test('normalizeLanguage reads English names and autonyms', () => {
  const cases: [string, string][] = [
    ['english', 'en'], ['English', 'en'], ['GERMAN', 'de'], ['Deutsch', 'de'], ['français', 'fr'], ['francais', 'fr'],
    ['Español', 'es'], ['Spanish', 'es'], ['Japanese', 'ja'], ['日本語', 'ja'], ['русский', 'ru'], ['Dutch', 'nl'],
    ['Norwegian', 'no'], ['Farsi', 'fa'], ['Tagalog', 'fil'], ['Chinese (Simplified)', 'zh-Hans'],
    ['Simplified Chinese', 'zh-Hans'], ['Brazilian Portuguese', 'pt-BR'], ['English (United States)', 'en-US'],
    ['English (UK)', 'en-GB'], ['Deutsch (Schweiz)', 'de-CH'],
  ];
  for (const [input, tag] of cases) assert.equal(normalizeLanguage(input), tag, input);
});

test('normalizeLanguage returns undefined for unknown languages', () => {
  for (const v of ['xx', 'qq', 'und', 'Klingon', 'a', 'en-', '', '   ', 'x-private', 'root', 42, null, undefined, {}]) {
    assert.equal(normalizeLanguage(v), undefined, String(v));
  }
});

test('normalizeLanguage answers repeated values from its cache identically', () => {
  for (let i = 0; i < 3; i++) {
    assert.equal(normalizeLanguage('de_AT'), 'de-AT');
    assert.equal(normalizeLanguage('Klingon'), undefined);
  }
});
