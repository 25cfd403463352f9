import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { decodeBody, DecodeError, type DecoderSpec } from './index.ts';
import { claimedCompression, sniffCompression } from './bytes.ts';
import { chunked, documentValue, gz, makeZip, records, rejects, whole } from './testkit.ts';

const NDJSON = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: i })).join('\n') + '\n';

test('compression: magic bytes and hints', () => {
  assert.equal(sniffCompression(gz('x')), 'gzip');
  assert.equal(sniffCompression(makeZip([{ name: 'a', data: 'x' }])), 'zip');
  assert.equal(sniffCompression(makeZip([])), 'zip');
  assert.equal(sniffCompression(Buffer.from('PK is not enough')), 'none');
  assert.equal(sniffCompression(Buffer.from('{}')), 'none');
  assert.equal(claimedCompression({ contentEncoding: 'gzip' }), 'gzip');
  assert.equal(claimedCompression({ contentType: 'application/x-gzip' }), 'gzip');
  assert.equal(claimedCompression({ contentType: 'application/zip; name=a.zip' }), 'zip');
  assert.equal(claimedCompression({ url: 'https://cdn.example.com/feeds/offers.csv.gz?token=abc' }), 'gzip');
  assert.equal(claimedCompression({ url: 'https://cdn.example.com/feeds/offers.ZIP' }), 'zip');
  assert.equal(claimedCompression({ contentType: 'text/csv', url: '/feed.csv' }), undefined);
});

test('gzip: detected from magic bytes without any header, multi-member streams are read whole', async () => {
  const multi = Buffer.concat([gzipSync(NDJSON.slice(0, 101)), gzipSync(NDJSON.slice(101))]);
  const d = await decodeBody(chunked(multi, { max: 17 }), { format: 'ndjson' });
  assert.equal(d.info?.compression, 'gzip');
  assert.equal((await records(d)).length, 50);
});

test('gzip: Content-Encoding claimed but the client already inflated the body → read as plain', async () => {
  const d = await decodeBody(whole('{"ok":true}'), { format: 'json' }, { contentEncoding: 'gzip' });
  assert.deepEqual(documentValue(d), { ok: true });
  assert.equal(d.info?.compression, 'none');
});

test('gzip: compression "gzip" forced on plain bytes is a DecodeError', async () => {
  const err = await rejects(() => decodeBody(whole('{"ok":true}'), { format: 'json', compression: 'gzip' }), DecodeError);
  assert.equal(err.format, 'gzip');
});

test('gzip: compression "none" leaves gzip bytes alone (and the text then fails to parse)', async () => {
  await rejects(() => decodeBody(whole(gz('{"a":1}')), { format: 'json', compression: 'none' }), DecodeError);
});

test('gzip: truncated streams surface as DecodeError, never as silently shorter output', async () => {
  const big = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: i, pad: 'x'.repeat(i % 50) })).join('\n') + '\n';
  const full = gz(big);
  for (const cut of [full.length - 4, Math.floor(full.length / 2), 15]) {
    const truncated = full.subarray(0, cut);
    const seen: number[] = [];
    const err = await rejects(async () => {
      const d = await decodeBody(chunked(truncated, { min: 100, max: 4000 }), { format: 'ndjson' });
      if (d.kind === 'records') for await (const b of d.batches) seen.push(b.length);
    }, DecodeError);
    assert.equal(err.format, 'gzip', err.message);
    assert.match(err.message, /unexpected end of file/);
    assert.ok(seen.every((n) => n === 1000), 'only full batches may precede the error');
  }
  for (const spec of [{ format: 'json' }, { format: 'csv' }, { format: 'xml' }, { format: 'xml', xml: { record_tag: 'a' } }] as DecoderSpec[]) {
    const body = spec.format === 'csv' ? 'a,b\n1,2\n3,4\n' : spec.format === 'json' ? '{"a":[1,2,3]}' : '<r><a>1</a><a>2</a></r>';
    const t = gz(body);
    const err = await rejects(async () => {
      const d = await decodeBody(chunked(t.subarray(0, t.length - 6)), spec);
      if (d.kind === 'records') await records(d);
    }, DecodeError);
    assert.equal(err.format, 'gzip', `${spec.format}: ${err.message}`);
  }
});

function zipTempDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('offerfeed-zip-'));
}

test('zip: default entry skips directories and __MACOSX, zip_entry selects by regex', async () => {
  const before = zipTempDirs();
  const zip = makeZip([
    { name: 'export/' },
    { name: '__MACOSX/export/._offers.csv', data: 'junk' },
    { name: 'export/offers.csv', data: 'id\n1\n2\n' },
    { name: 'export/coupons.csv', data: 'code\nSAVE10\n', store: true },
  ]);
  const first = await decodeBody(chunked(zip, { min: 10, max: 64 }), { format: 'csv' });
  assert.equal(first.info?.zipEntry, 'export/offers.csv');
  assert.deepEqual(await records(first), [{ id: '1' }, { id: '2' }]);
  const picked = await decodeBody(whole(zip), { format: 'csv', zip_entry: 'coupons\\.csv$' });
  assert.deepEqual(await records(picked), [{ code: 'SAVE10' }]);
  assert.deepEqual(zipTempDirs(), before, 'temp files are removed');
});

test('zip: no matching entry, empty archive, corrupt archive and a zip label on non-zip bytes are DecodeErrors', async () => {
  const before = zipTempDirs();
  const zip = makeZip([{ name: 'a.txt', data: 'x' }]);
  const none = await rejects(() => decodeBody(whole(zip), { format: 'csv', zip_entry: '\\.csv$' }), DecodeError);
  assert.equal(none.format, 'zip');
  assert.match(none.message, /no entry matches.*"a\.txt"/);
  await rejects(() => decodeBody(whole(makeZip([])), { format: 'csv' }), DecodeError);
  const cut = await rejects(() => decodeBody(whole(zip.subarray(0, zip.length - 10)), { format: 'csv' }), DecodeError);
  assert.equal(cut.format, 'zip');
  const label = await rejects(() => decodeBody(whole('<html>error</html>'), { format: 'csv' }, { contentType: 'application/zip' }), DecodeError);
  assert.equal(label.format, 'zip');
  assert.deepEqual(zipTempDirs(), before, 'temp files are removed after failures too');
});

test('zip: a corrupt entry (bad CRC) fails', async () => {
  const zip = makeZip([{ name: 'a.csv', data: 'id\n1\n2\n3\n', store: true }]);
  const bad = Buffer.from(zip);
  bad[30 + 'a.csv'.length + 3] ^= 0xff; // flip a byte of the stored data
  const err = await rejects(async () => records(await decodeBody(whole(bad), { format: 'csv' })), DecodeError);
  assert.equal(err.format, 'zip');
});

test('stopping early releases the body and the zip temp file', async () => {
  let closed = false;
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < 100000; i++) yield Buffer.from(JSON.stringify({ i }) + '\n');
    } finally {
      closed = true;
    }
  }
  const d = await decodeBody(body(), { format: 'ndjson' });
  if (d.kind === 'records') for await (const b of d.batches) if (b.length > 0) break;
  assert.equal(closed, true);

  closed = false;
  async function* gzBody(): AsyncGenerator<Uint8Array> {
    try {
      yield* chunked(gz(NDJSON.repeat(200)), { min: 64, max: 256 });
    } finally {
      closed = true;
    }
  }
  const g = await decodeBody(gzBody(), { format: 'ndjson' });
  if (g.kind === 'records') for await (const b of g.batches) if (b.length > 0) break;
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, true);

  const before = zipTempDirs();
  const z = await decodeBody(whole(makeZip([{ name: 'a.ndjson', data: NDJSON.repeat(100) }])), { format: 'ndjson' });
  if (z.kind === 'records') for await (const b of z.batches) if (b.length > 0) break;
  assert.deepEqual(zipTempDirs(), before);
});

test('record batches can be iterated only once', async () => {
  const d = await decodeBody(whole(NDJSON), { format: 'ndjson' });
  assert.equal((await records(d)).length, 50);
  if (d.kind === 'records') assert.throws(() => d.batches[Symbol.asyncIterator](), /only be iterated once/);
});

test('invalid specs fail before reading and close the body', async () => {
  let closed = false;
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      yield Buffer.from('{}');
    } finally {
      closed = true;
    }
  }
  const it = body();
  await rejects(() => decodeBody(it, { format: 'yaml' as 'json' }), DecodeError);
  await rejects(() => decodeBody(whole('{}'), { format: 'json', compression: 'brotli' as 'gzip' }), DecodeError);
  await rejects(() => decodeBody(whole('{}'), { format: 'json', encoding: 'nope' }), DecodeError);
  await rejects(() => decodeBody(whole('a\n'), { format: 'csv', zip_entry: '(', compression: 'zip' }), DecodeError);
  await rejects(() => decodeBody(whole('a\n'), { format: 'csv', csv: { delimiter: '"' } }), DecodeError);
  await rejects(() => decodeBody(whole('a\n'), { format: 'csv', csv: { skip_lines: -1 } }), DecodeError);
  await rejects(() => decodeBody(whole('<a/>'), { format: 'xml', xml: { record_tag: 'a b' } }), DecodeError);
  assert.equal(closed, false, 'generator never started, nothing to close');
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

test('a body rejected after its first bytes were read is closed', async () => {
  let closed = false;
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      yield Buffer.from('<html>');
      yield Buffer.from('error page</html>');
    } finally {
      closed = true;
    }
  }
  await rejects(() => decodeBody(body(), { format: 'csv' }, { url: 'https://x.example/feed.zip' }), DecodeError);
  assert.equal(closed, true);
});
