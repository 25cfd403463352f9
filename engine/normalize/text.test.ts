import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanText } from './text.ts';

test('cleanText trims and collapses whitespace of every kind', () => {
  assert.equal(cleanText('  Hello   world  '), 'Hello world');
  assert.equal(cleanText('line one\r\n\tline two'), 'line one line two');
  assert.equal(cleanText('a\u00a0\u00a0b\u2009c\u3000d\ufeff'), 'a b c d');
  assert.equal(cleanText('Example Shop'), 'Example Shop');
});

test('cleanText decodes named, numeric and multiply-encoded entities', () => {
  assert.equal(cleanText('Tom &amp; Jerry'), 'Tom & Jerry');
  assert.equal(cleanText('Tom &amp;amp; Jerry'), 'Tom & Jerry');
  assert.equal(cleanText('Levi&#8217;s 501&reg;'), 'Levi’s 501®');
  assert.equal(cleanText('Levi&amp;#8217;s'), 'Levi’s');
  assert.equal(cleanText('caf&eacute; &#x2013; &quot;bio&quot;'), 'café – "bio"');
  assert.equal(cleanText('50&nbsp;%&nbsp;off'), '50 % off');
  assert.equal(cleanText('AT&T and R&D'), 'AT&T and R&D');
  // Strict decoding: a bare "&not" inside a query string is not the ¬ sign.
  assert.equal(cleanText('see ?a=1&not=2'), 'see ?a=1&not=2');
});

test('cleanText keeps non-ASCII text and normalizes it to NFC', () => {
  assert.equal(cleanText('Smörgåsbord – 日本語のタイトル 🎉'), 'Smörgåsbord – 日本語のタイトル 🎉');
  assert.equal(cleanText('Cafe\u0301 cre\u0300me'), 'Café crème');
  assert.equal(cleanText('Привет, мир'), 'Привет, мир');
  assert.equal(cleanText('عرض خاص'), 'عرض خاص');
  // Emoji ZWJ sequences survive; zero-width spaces, soft hyphens and control characters do not.
  assert.equal(cleanText('👩\u200d💻 dev'), '👩\u200d💻 dev');
  assert.equal(cleanText('Super\u00admarket\u200b deal\u0007'), 'Supermarket deal');
});

test('cleanText leaves tags alone unless stripTags', () => {
  assert.equal(cleanText('<b>Bold</b> deal'), '<b>Bold</b> deal');
  assert.equal(cleanText('<b>Bold</b> deal', { stripTags: true }), 'Bold deal');
});

test('cleanText stripTags keeps only the text', () => {
  const strip = { stripTags: true };
  assert.equal(cleanText('<p>First&nbsp;para</p><p>Second <i>para</i></p>', strip), 'First para Second para');
  assert.equal(cleanText('Mega<b>Sale</b>! Price: <strong>$5</strong>.', strip), 'MegaSale! Price: $5.');
  assert.equal(cleanText('one<br>two<br/>three<BR />four', strip), 'one two three four');
  assert.equal(cleanText('<ul><li>Fast</li><li>Light</li></ul>', strip), 'Fast Light');
  assert.equal(cleanText('<a href="https://x.example/?a=1&amp;b=2" title="x > y">link</a> text', strip), 'link text');
  assert.equal(cleanText('<div class="d"><!-- hidden --><script>alert("x")</script><style>p{color:red}</style>Shown</div>', strip), 'Shown');
  assert.equal(cleanText('<!DOCTYPE html><html><body>Hi</body></html>', strip), 'Hi');
  // Escaped markup is still markup once decoded.
  assert.equal(cleanText('&lt;p&gt;Great &lt;b&gt;value&lt;/b&gt;&lt;/p&gt;', strip), 'Great value');
  // Comparisons are text, not tags.
  assert.equal(cleanText('Save <50% and 3 < 4 > 2', strip), 'Save <50% and 3 < 4 > 2');
  assert.equal(cleanText('<p> </p><br>', strip), undefined);
});

test('cleanText returns undefined for empty and non-text values, strings for numbers', () => {
  assert.equal(cleanText(''), undefined);
  assert.equal(cleanText('   \n '), undefined);
  assert.equal(cleanText(null), undefined);
  assert.equal(cleanText(undefined), undefined);
  assert.equal(cleanText({ a: 1 }), undefined);
  assert.equal(cleanText(['x']), undefined);
  assert.equal(cleanText(12345), '12345');
  assert.equal(cleanText(Number.NaN), undefined);
  assert.equal(cleanText(true), 'true');
});

test('cleanText stays linear on hostile markup', () => {
  for (const evil of ['<a'.repeat(50000), '<!--'.repeat(50000), '<script>'.repeat(20000), '<a title="'.repeat(20000),
    '&amp;'.repeat(50000), ' \t'.repeat(100000)]) {
    const t0 = performance.now();
    cleanText(evil, { stripTags: true });
    assert.ok(performance.now() - t0 < 1000, `took too long on ${evil.slice(0, 12)}...`);
  }
});
