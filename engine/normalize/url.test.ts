import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absoluteUrl } from './url.ts';

test('absoluteUrl keeps clean absolute URLs as given', () => {
  for (const u of ['https://example.com/a?b=1&c=2#frag', 'http://shop.example.co.uk:8080/p/123',
    'https://click.example.net/track?id=5&u=https%3A%2F%2Fshop.example.com%2Fp', 'https://example.com']) {
    assert.equal(absoluteUrl(u), u);
  }
});

test('absoluteUrl trims, upgrades protocol-relative URLs and resolves against base', () => {
  assert.equal(absoluteUrl('  https://example.com/x \n'), 'https://example.com/x');
  assert.equal(absoluteUrl('//cdn.example.com/img.jpg'), 'https://cdn.example.com/img.jpg');
  assert.equal(absoluteUrl('/p/123', 'https://shop.example.com/x/'), 'https://shop.example.com/p/123');
  assert.equal(absoluteUrl('p/123?a=1', 'https://shop.example.com/x/'), 'https://shop.example.com/x/p/123?a=1');
  assert.equal(absoluteUrl('../img/1.png', 'https://shop.example.com/a/b/c'), 'https://shop.example.com/a/img/1.png');
  assert.equal(absoluteUrl('www.example.com/deal'), 'https://www.example.com/deal');
  assert.equal(absoluteUrl('https://other.example.org/x', 'https://shop.example.com/'), 'https://other.example.org/x');
});

test('absoluteUrl canonicalizes what the URL parser must', () => {
  assert.equal(absoluteUrl('HTTPS://Example.COM/a b'), 'https://example.com/a%20b');
  assert.equal(absoluteUrl('https://bücher.example/straße'), 'https://xn--bcher-kva.example/stra%C3%9Fe');
  assert.equal(absoluteUrl('https://example.com/a\n/b\t'), 'https://example.com/a/b');
  // Double-escaped XML feeds.
  assert.equal(absoluteUrl('https://x.example/?a=1&amp;b=2'), 'https://x.example/?a=1&b=2');
});

test('absoluteUrl rejects script and embedding schemes', () => {
  for (const u of ['javascript:alert(1)', ' JavaScript:alert(1)', 'java\tscript:alert(1)', 'data:image/png;base64,AAAA',
    'vbscript:msgbox(1)', 'file:///etc/passwd']) {
    assert.equal(absoluteUrl(u), undefined, u);
    assert.equal(absoluteUrl(u, 'https://shop.example.com/'), undefined, u);
  }
});

test('absoluteUrl returns undefined when no http(s) URL can be made', () => {
  for (const [u, base] of [['/relative', undefined], ['mailto:a@example.com', undefined], ['ftp://example.com/f', undefined],
    ['http://', undefined], ['', undefined], ['   ', undefined], ['/x', 'not a base']] as [string, string | undefined][]) {
    assert.equal(absoluteUrl(u, base), undefined, u);
  }
  assert.equal(absoluteUrl(42), undefined);
  assert.equal(absoluteUrl(null), undefined);
  assert.equal(absoluteUrl({ href: 'https://x.example' }), undefined);
});
