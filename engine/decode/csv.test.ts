import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, DecodeError } from './index.ts';
import { chunked, gz, makeZip, records, rejects, whole } from './testkit.ts';

const CSV = 'id,title,price,description\r\n00123,"Lamp, brass",19.90,"Line one\nline two with ""quotes"""\r\n00124,Chair,5,5" wide\r\n\r\n';
const EXPECTED = [
  { id: '00123', title: 'Lamp, brass', price: '19.90', description: 'Line one\nline two with "quotes"' },
  { id: '00124', title: 'Chair', price: '5', description: '5" wide' },
];

test('csv: header row, quoted fields with delimiters and newlines, stray quotes, values stay strings', async () => {
  for (let seed = 1; seed <= 8; seed++) {
    assert.deepEqual(await records(await decodeBody(chunked(CSV, { seed, max: 4 }), { format: 'csv' })), EXPECTED);
  }
});

test('csv: gzip and zip bodies', async () => {
  assert.deepEqual(await records(await decodeBody(chunked(gz(CSV), { max: 9 }), { format: 'csv' })), EXPECTED);
  const zip = makeZip([{ name: 'readme.txt', data: 'hello' }, { name: 'feed/products.csv', data: CSV }]);
  const d = await decodeBody(chunked(zip, { min: 20, max: 90 }), { format: 'csv', zip_entry: '\\.csv$' });
  assert.deepEqual(await records(d), EXPECTED);
  assert.equal(d.info?.zipEntry, 'feed/products.csv');
});

test('csv: BOM is stripped from the first header name', async () => {
  const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('sku;name\n1;A\n')]);
  assert.deepEqual(await records(await decodeBody(chunked(body, { max: 2 }), { format: 'csv', csv: { delimiter: ';' } })), [{ sku: '1', name: 'A' }]);
});

test('csv: latin1 body via the encoding option or the Content-Type charset', async () => {
  const body = Buffer.from('name,price\nCaf\xe9 cr\xe8me,3\xa0\x80\n', 'latin1');
  const out = await records(await decodeBody(chunked(body), { format: 'csv', encoding: 'latin1' }));
  assert.deepEqual(out, [{ name: 'Café crème', price: '3\u00a0€' }]);
  const viaHeader = await decodeBody(chunked(body), { format: 'csv' }, { contentType: 'text/csv; charset="iso-8859-1"' });
  assert.equal(viaHeader.info?.encoding, 'windows-1252');
  assert.deepEqual(await records(viaHeader), out);
});

test('csv: given column names, with and without a header row, and skip_lines', async () => {
  const withHeader = 'a,b\n1,2\n';
  assert.deepEqual(await records(await decodeBody(whole(withHeader), { format: 'csv', csv: { columns: ['x', 'y'], header: true } })), [{ x: '1', y: '2' }]);
  assert.deepEqual(await records(await decodeBody(whole('1,2\n3,4\n'), { format: 'csv', csv: { columns: ['x', 'y'] } })), [
    { x: '1', y: '2' },
    { x: '3', y: '4' },
  ]);
  assert.deepEqual(await records(await decodeBody(whole('1,2\n'), { format: 'csv', csv: { header: false } })), [{ 0: '1', 1: '2' }]);
  const preamble = 'Report generated 2026-01-01\nFilter: all\nid,n\n7,8\n';
  assert.deepEqual(await records(await decodeBody(whole(preamble), { format: 'csv', csv: { skip_lines: 2 } })), [{ id: '7', n: '8' }]);
});

test('tsv: tab delimiter by default, quotes are literal characters', async () => {
  const body = 'id\ttitle\tnote\n1\t"Best" offer\t12" pizza\n2\tTwo\t\n';
  const out = await records(await decodeBody(chunked(body, { max: 3 }), { format: 'tsv' }));
  assert.deepEqual(out, [
    { id: '1', title: '"Best" offer', note: '12" pizza' },
    { id: '2', title: 'Two', note: '' },
  ]);
  const quoted = await records(await decodeBody(whole('a\tb\n"x\ty"\tz\n'), { format: 'tsv', csv: { quote: '"' } }));
  assert.deepEqual(quoted, [{ a: 'x\ty', b: 'z' }]);
});

test('csv: a row with the wrong number of fields fails with its line; relax_column_count accepts it', async () => {
  const body = 'a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n';
  const err = await rejects(async () => records(await decodeBody(chunked(body), { format: 'csv' })), DecodeError);
  assert.equal(err.format, 'csv');
  assert.equal(err.position?.line, 4);
  assert.equal(err.position?.record, 3);
  const relaxed = await records(await decodeBody(whole(body), { format: 'csv', csv: { relax_column_count: true } }));
  assert.equal(relaxed.length, 4);
  assert.deepEqual(relaxed[2], { a: '7', b: '8' });
});

test('csv: text after a closing quote is kept verbatim (relaxed quotes); errors never quote the data', async () => {
  const lenient = await records(await decodeBody(whole('a,b\n3,"4"x\n'), { format: 'csv' }));
  assert.deepEqual(lenient, [{ a: '3', b: '"4"x' }]);
  const err = await rejects(async () => records(await decodeBody(whole('a,b\n1,2\n3,secret,9\n'), { format: 'csv' })), DecodeError);
  assert.equal(err.position?.line, 3);
  assert.doesNotMatch(err.message, /secret/);
});

test('csv: a body cut inside a quoted field fails instead of yielding a partial row', async () => {
  const body = 'a,b\n1,2\n3,"unfinished\n';
  const err = await rejects(async () => records(await decodeBody(chunked(body), { format: 'csv' })), DecodeError);
  assert.match(err.message, /not closed/);
  assert.equal(err.position?.line, 3);
});

test('csv: empty body and header-only body are zero records', async () => {
  assert.deepEqual(await records(await decodeBody(whole(''), { format: 'csv' })), []);
  assert.deepEqual(await records(await decodeBody(whole('a,b\n'), { format: 'csv' })), []);
});
