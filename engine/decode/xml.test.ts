import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, DecodeError, type DecoderSpec } from './index.ts';
import { chunked, documentValue, gz, makeZip, prng, records, rejects, whole } from './testkit.ts';

const FEED = `<?xml version="1.0" encoding="UTF-8"?>
<!-- nightly export -->
<feed version="2">
  <offers>
    <offer id="00123" type="coupon">
      <title>Tom &amp; Jerry&#39;s &#x263A; &lt;deal&gt; &quot;now&quot;</title>
      <code><![CDATA[<SAVE&10>]]></code>
      <price currency="EUR">0012.50</price>
      <category>Home</category>
    </offer>
  </offers>
</feed>`;

test('xml document: arrays option, attributes, text key, entities, CDATA, numbers kept as strings', async () => {
  const d = await decodeBody(chunked(FEED, { max: 5 }), { format: 'xml', xml: { arrays: ['offer', 'category'] } });
  assert.deepEqual(documentValue(d), {
    feed: {
      '@_version': '2',
      offers: {
        offer: [
          {
            '@_id': '00123',
            '@_type': 'coupon',
            title: 'Tom & Jerry\'s \u263a <deal> "now"',
            code: '<SAVE&10>',
            price: { '#text': '0012.50', '@_currency': 'EUR' },
            category: ['Home'],
          },
        ],
      },
    },
  });
});

test('xml document: custom attribute prefix and text key; dotted array paths', async () => {
  const d = await decodeBody(whole(FEED), { format: 'xml', xml: { attribute_prefix: '', text_key: 'value', arrays: ['feed.offers.offer'] } });
  const feed = (documentValue(d) as { feed: { offers: { offer: Record<string, unknown>[] } } }).feed;
  assert.ok(Array.isArray(feed.offers.offer));
  assert.deepEqual(feed.offers.offer[0].price, { value: '0012.50', currency: 'EUR' });
  assert.equal(feed.offers.offer[0].category, 'Home');
});

test('xml document: gzip, zip and latin1 via the XML declaration', async () => {
  const spec: DecoderSpec = { format: 'xml', xml: { arrays: ['offer'] } };
  const plain = documentValue(await decodeBody(whole(FEED), spec));
  assert.deepEqual(documentValue(await decodeBody(chunked(gz(FEED), { max: 11 }), spec)), plain);
  assert.deepEqual(documentValue(await decodeBody(whole(makeZip([{ name: 'feed.xml', data: FEED }])), spec)), plain);
  const latin = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<r><n>Caf\xe9 \xbd</n></r>', 'latin1');
  assert.deepEqual(documentValue(await decodeBody(whole(latin), { format: 'xml' })), { r: { n: 'Café ½' } });
});

test('xml: entity expansion bombs and external entities are rejected; a plain DOCTYPE is fine', async () => {
  const bomb = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz><item>&lol3;</item></lolz>`;
  const xxe = '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo><item>&xxe;</item></foo>';
  // A comment before the DOCTYPE must not let the declarations slip past the prolog check.
  const hidden = '<!-- <a> --><!DOCTYPE r [<!ENTITY x "y">]><r><item>&x;</item></r>';
  for (const body of [bomb, xxe, hidden]) {
    for (const spec of [{ format: 'xml' }, { format: 'xml', xml: { record_tag: 'item' } }] as DecoderSpec[]) {
      const err = await rejects(async () => {
        const d = await decodeBody(chunked(body, { max: 13 }), spec);
        if (d.kind === 'records') await records(d);
      }, DecodeError);
      assert.equal(err.format, 'xml');
      assert.match(err.message, /declares entities/);
    }
  }
  const bombErr = await rejects(() => decodeBody(whole(bomb), { format: 'xml' }), DecodeError);
  assert.equal(bombErr.position?.line, 3);

  const dtd = '<?xml version="1.0"?><!DOCTYPE feed SYSTEM "http://example.invalid/feed.dtd"><feed><item>a &amp; b</item></feed>';
  assert.deepEqual(documentValue(await decodeBody(whole(dtd), { format: 'xml' })), { feed: { item: 'a & b' } });
  assert.deepEqual(await records(await decodeBody(chunked(dtd), { format: 'xml', xml: { record_tag: 'item' } })), [{ '#text': 'a & b' }]);
});

test('xml document: malformed markup reports line and column; truncation and empty bodies fail', async () => {
  const bad = '<feed>\n  <offer>\n    <title>x</titel>\n  </offer>\n</feed>';
  const err = await rejects(() => decodeBody(whole(bad), { format: 'xml' }), DecodeError);
  assert.equal(err.format, 'xml');
  assert.equal(err.position?.line, 3);
  assert.equal(typeof err.position?.column, 'number');
  await rejects(() => decodeBody(whole(FEED.slice(0, FEED.indexOf('</offers>'))), { format: 'xml' }), DecodeError);
  await rejects(() => decodeBody(whole('  '), { format: 'xml' }), DecodeError);
});

/** A feed exercising what the record splitter must get right. */
function recordFeed(n: number, seed: number): string {
  const rnd = prng(seed);
  const parts = ['<?xml version="1.0"?>\n<?feed-meta generated="now"?>\n<feed xmlns:g="http://base.google.com/ns/1.0">\n<!-- <item> in a comment is not a record -->\n<items count="' + n + '">\n'];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const id = String(i).padStart(6, '0');
    if (r < 0.1) parts.push(`<item id="${id}" note="a > b &amp; c" empty="yes"/>\n`);
    else if (r < 0.2) parts.push(`<item\n  id='${id}'\n><title><![CDATA[ends with </item> and ]] ]]></title><g:price>0${i}.00</g:price></item>\n`);
    else if (r < 0.3) parts.push(`<item id="${id}"><title>Outer</title><item id="inner-${id}"><title>Inner</title></item><!-- </item> --></item>\n`);
    else if (r < 0.4) parts.push(`<item id="${id}"><?pi </item>?><title>caf&#233; &#x1F600; &lt;b&gt;</title><tags><tag>a</tag><tag>b</tag></tags></item>\n`);
    else parts.push(`<item id="${id}"><title>Product ${i}</title><category>Cat ${i % 7}</category><link>https://example.com/p?id=${i}&amp;ref=feed</link></item>\n`);
  }
  parts.push('</items>\n</feed>\n');
  return parts.join('');
}

test('xml record_tag: streamed records equal the whole-document parse, whatever the chunk boundaries', async () => {
  const xml = { arrays: ['item', 'tag'] };
  for (const [n, seed, max] of [[300, 1, 7], [300, 2, 3], [2500, 3, 4096]] as const) {
    const body = recordFeed(n, seed);
    const whole_ = documentValue(await decodeBody(whole(body), { format: 'xml', xml })) as { feed: { items: { item: unknown[] } } };
    const expected = whole_.feed.items.item;
    assert.equal(expected.length, n);
    const d = await decodeBody(chunked(body, { seed, min: 1, max }), { format: 'xml', xml: { ...xml, record_tag: 'item' } });
    assert.equal(d.kind, 'records');
    const got = await records(d);
    assert.equal(got.length, n);
    assert.deepEqual(got, expected);
  }
});

test('xml record_tag: records come in batches of at most 1000, and through gzip and zip', async () => {
  const body = recordFeed(2500, 9);
  const spec: DecoderSpec = { format: 'xml', xml: { record_tag: 'item' } };
  const sizes: number[] = [];
  const d = await decodeBody(chunked(gz(body), { min: 100, max: 5000 }), spec);
  if (d.kind === 'records') for await (const b of d.batches) sizes.push(b.length);
  assert.deepEqual(sizes, [1000, 1000, 500]);
  const z = await records(await decodeBody(whole(makeZip([{ name: 'a/feed.xml', data: body }])), spec));
  assert.equal(z.length, 2500);
});

test('xml record_tag: single-record values, text-only and self-closing records are objects', async () => {
  const body = '<r><item>plain</item><item/><item a="1"/><item><x>1</x></item></r>';
  assert.deepEqual(await records(await decodeBody(whole(body), { format: 'xml', xml: { record_tag: 'item' } })), [
    { '#text': 'plain' },
    {},
    { '@_a': '1' },
    { x: '1' },
  ]);
  // The record tag may also be the root element, or carry a namespace prefix.
  assert.deepEqual(await records(await decodeBody(whole('<item><x>1</x></item>'), { format: 'xml', xml: { record_tag: 'item' } })), [{ x: '1' }]);
  const ns = '<rss><channel><g:item><g:id>7</g:id></g:item></channel></rss>';
  assert.deepEqual(await records(await decodeBody(whole(ns), { format: 'xml', xml: { record_tag: 'g:item' } })), [{ 'g:id': '7' }]);
});

test('xml record_tag: a malformed record reports its record number and its line in the whole document', async () => {
  const lines = ['<feed>', '<items>'];
  for (let i = 1; i <= 20; i++) lines.push(i === 13 ? `<item><price>1</prise></item>` : `<item><price>${i}</price></item>`);
  lines.push('</items>', '</feed>');
  const err = await rejects(async () => records(await decodeBody(chunked(lines.join('\n'), { max: 9 }), { format: 'xml', xml: { record_tag: 'item' } })), DecodeError);
  assert.equal(err.position?.record, 13);
  assert.equal(err.position?.line, 15);
});

test('xml record_tag: truncated bodies fail, mid-record and between records', async () => {
  const body = recordFeed(50, 4);
  const spec: DecoderSpec = { format: 'xml', xml: { record_tag: 'item' } };
  const midRecord = body.slice(0, body.indexOf('<item', body.length / 2) + 12);
  const e1 = await rejects(async () => records(await decodeBody(chunked(midRecord, { max: 50 }), spec)), DecodeError);
  assert.match(e1.message, /truncated/);
  const betweenRecords = body.slice(0, body.lastIndexOf('</item>') + '</item>'.length);
  const e2 = await rejects(async () => records(await decodeBody(chunked(betweenRecords, { max: 50 }), spec)), DecodeError);
  assert.match(e2.message, /<items> is not closed/);
  const insideCdata = body.slice(0, body.indexOf('<![CDATA[') + 12);
  const e3 = await rejects(async () => records(await decodeBody(whole(insideCdata), spec)), DecodeError);
  assert.match(e3.message, /CDATA/);
});

test('xml record_tag: structural errors outside records and a second root are rejected', async () => {
  const spec: DecoderSpec = { format: 'xml', xml: { record_tag: 'item' } };
  await rejects(async () => records(await decodeBody(whole('<a><b><item/></a></b>'), spec)), DecodeError);
  await rejects(async () => records(await decodeBody(whole('<a><item/></a><a/>'), spec)), DecodeError);
  await rejects(async () => records(await decodeBody(whole(''), spec)), DecodeError);
  await rejects(async () => records(await decodeBody(whole('<item/><item/>'), spec)), DecodeError);
  await rejects(async () => records(await decodeBody(whole('<item>1</item>\n<item>2</item>'), spec)), DecodeError);
});
