import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, DecodeError } from './index.ts';
import { locateJsonSyntaxError } from './json.ts';
import { chunked, documentValue, gz, makeZip, prng, records, rejects, whole } from './testkit.ts';

const doc = { data: { offers: [{ id: '00123', title: 'Crème brûlée 😀', price: 12.5 }, { id: '2', tags: [] }] }, next: null };

test('json: plain, gzip and zip bodies decode to the same document', async () => {
  const text = JSON.stringify(doc, null, 2);
  assert.deepEqual(documentValue(await decodeBody(chunked(text), { format: 'json' })), doc);
  assert.deepEqual(documentValue(await decodeBody(chunked(gz(text), { max: 5 }), { format: 'json' })), doc);
  const zip = makeZip([{ name: 'export/', data: '' }, { name: 'export/offers.json', data: text }]);
  const d = await decodeBody(chunked(zip, { min: 50, max: 300 }), { format: 'json' });
  assert.deepEqual(documentValue(d), doc);
  assert.equal(d.info?.compression, 'zip');
  assert.equal(d.info?.zipEntry, 'export/offers.json');
});

test('json: multi-byte characters split across chunks and a UTF-8 BOM', async () => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(doc))]);
  for (let seed = 1; seed <= 5; seed++) {
    assert.deepEqual(documentValue(await decodeBody(chunked(bytes, { seed, max: 3 }), { format: 'json' })), doc);
  }
});

test('json: latin1 / windows-1252 body via the encoding option; a charset label does not apply to JSON', async () => {
  const bytes = Buffer.from('{"name":"Caf\xe9 \x80 5"}', 'latin1');
  const expected = { name: 'Café € 5' }; // 0x80 is the euro sign in windows-1252, which WHATWG uses for "latin1"
  assert.deepEqual(documentValue(await decodeBody(whole(bytes), { format: 'json', encoding: 'latin1' })), expected);
  assert.deepEqual(documentValue(await decodeBody(whole(bytes), { format: 'json', encoding: 'windows-1252' })), expected);
  // JSON is UTF-8 by definition: a charset label on the response does not override that.
  const utf8 = Buffer.from('{"name":"Café €"}');
  const labelled = await decodeBody(whole(utf8), { format: 'json' }, { contentType: 'application/json; charset=ISO-8859-1' });
  assert.deepEqual(documentValue(labelled), { name: 'Café €' });
  assert.equal(labelled.info?.encoding, 'utf-8');
  await rejects(() => decodeBody(whole(bytes), { format: 'json', encoding: 'klingon' }), DecodeError);
});

test('json: syntax errors carry line and column, without quoting the body', async () => {
  const text = '{\n  "a": 1,\n  "secret": "tok_123" x\n}';
  const err = await rejects(() => decodeBody(chunked(text), { format: 'json' }), DecodeError);
  assert.equal(err.format, 'json');
  assert.deepEqual({ line: err.position?.line, column: err.position?.column }, { line: 3, column: 23 });
  assert.match(err.message, /expected ',' or '}'/);
  assert.doesNotMatch(err.message, /tok_123/);

  const trunc = await rejects(() => decodeBody(whole('{"a": [1, 2'), { format: 'json' }), DecodeError);
  assert.match(trunc.message, /unexpected end of input/);
  assert.deepEqual({ line: trunc.position?.line, column: trunc.position?.column }, { line: 1, column: 12 });

  const empty = await rejects(() => decodeBody(whole(''), { format: 'json' }), DecodeError);
  assert.match(empty.message, /empty body/);
});

test('json: the error locator agrees with JSON.parse on valid and broken texts', () => {
  const rnd = prng(42);
  const samples = [
    '{}', '[]', '0', '-0.5e+10', '"a\\u00e9\\n"', 'true', 'null', '{"a":[1,{"b":false}],"c":"d"}', ' [ 1 , 2 ] ',
    JSON.stringify(doc), '[' + '['.repeat(5000) + ']'.repeat(5000) + ']',
  ];
  for (const s of samples) assert.equal(locateJsonSyntaxError(s), undefined, s.slice(0, 40));
  const alphabet = '{}[],:"\\ 0-1.eEtrufalsn\nx';
  for (let k = 0; k < 3000; k++) {
    const base = samples[Math.floor(rnd() * (samples.length - 1))];
    const pos = Math.floor(rnd() * (base.length + 1));
    const ch = alphabet[Math.floor(rnd() * alphabet.length)];
    const mutated = rnd() < 0.5 ? base.slice(0, pos) + ch + base.slice(pos) : base.slice(0, pos) + base.slice(pos + 1);
    let valid = true;
    try {
      JSON.parse(mutated);
    } catch {
      valid = false;
    }
    const found = locateJsonSyntaxError(mutated);
    assert.equal(found === undefined, valid, `${JSON.stringify(mutated)} → ${JSON.stringify(found)}`);
    if (found) assert.ok(found.offset >= 0 && found.offset <= mutated.length);
  }
});

test('ndjson: streams batches of at most 1000, skips blank lines, handles CRLF and a missing final newline', async () => {
  const lines: string[] = [];
  for (let i = 0; i < 2500; i++) lines.push(JSON.stringify({ id: String(i).padStart(5, '0'), n: i }));
  const text = lines.join('\r\n').replace(/\r\n(?=\{"id":"00010")/, '\r\n\r\n   \n');
  assert.ok(text.includes('\r\n\r\n   \n{"id":"00010"'));
  const d = await decodeBody(chunked(text, { min: 1, max: 200 }), { format: 'ndjson' });
  assert.equal(d.kind, 'records');
  const sizes: number[] = [];
  const all: Record<string, unknown>[] = [];
  if (d.kind === 'records') {
    for await (const b of d.batches) {
      sizes.push(b.length);
      all.push(...b);
    }
  }
  assert.deepEqual(sizes, [1000, 1000, 500]);
  assert.equal(all.length, 2500);
  assert.deepEqual(all[0], { id: '00000', n: 0 });
  assert.deepEqual(all[2499], { id: '02499', n: 2499 });

  const zipped = await decodeBody(chunked(gz(text), { max: 100 }), { format: 'ndjson' });
  assert.equal((await records(zipped)).length, 2500);
});

test('ndjson: a bad line names its line number; non-object lines are rejected', async () => {
  const text = '{"a":1}\n\n{"a":2}\n{"a":3,}\n{"a":4}\n';
  const err = await rejects(async () => records(await decodeBody(chunked(text), { format: 'ndjson' })), DecodeError);
  assert.equal(err.format, 'ndjson');
  assert.equal(err.position?.line, 4);
  assert.equal(err.position?.column, 8);
  assert.equal(err.position?.record, 3);

  const arr = await rejects(async () => records(await decodeBody(whole('{"a":1}\n[1,2]\n'), { format: 'ndjson' })), DecodeError);
  assert.equal(arr.position?.line, 2);
  assert.match(arr.message, /an array, expected a JSON object/);
});

test('ndjson: a body cut mid-record fails instead of dropping the partial record', async () => {
  const text = '{"a":1}\n{"a":2}\n{"a":';
  const err = await rejects(async () => records(await decodeBody(chunked(text), { format: 'ndjson' })), DecodeError);
  assert.equal(err.position?.line, 3);
  assert.match(err.message, /unexpected end of input/);
});

test('ndjson: an empty body is zero records', async () => {
  assert.deepEqual(await records(await decodeBody(whole(''), { format: 'ndjson' })), []);
  assert.deepEqual(await records(await decodeBody(whole('\n\n'), { format: 'ndjson' })), []);
});
