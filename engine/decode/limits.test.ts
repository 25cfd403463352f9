import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createDeflateRaw, createGzip, crc32 } from 'node:zlib';
import { BodyTooLargeError, DecodeError, decodeBody, type DecoderSpec } from './index.ts';
import { makeZip, records, rejects } from './testkit.ts';

const MiB = 1024 * 1024;

/** Compresses `total` zero bytes fed 1 MiB at a time, so the test itself never holds them. */
async function compressZeros(total: number, make: () => NodeJS.ReadWriteStream): Promise<{ data: Buffer; crc: number }> {
  const z = make();
  const out: Buffer[] = [];
  z.on('data', (d: Buffer) => out.push(d));
  const done = new Promise((resolve, reject) => {
    z.on('end', resolve);
    z.on('error', reject);
  });
  const block = Buffer.alloc(MiB);
  let crc = 0;
  for (let written = 0; written < total; written += MiB) {
    crc = crc32(block, crc);
    if (!z.write(block)) await new Promise((r) => z.once('drain', r));
  }
  z.end();
  await done;
  return { data: Buffer.concat(out), crc };
}

async function* slices(data: Buffer, size: number, counter?: { bytes: number }): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    const c = data.subarray(i, i + size);
    if (counter) counter.bytes += c.length;
    yield c;
  }
}

async function drain(spec: DecoderSpec, body: AsyncIterable<Uint8Array>): Promise<void> {
  const d = await decodeBody(body, spec);
  if (d.kind === 'records') for await (const _ of d.batches) void _;
}

test('raw cap: reading stops at max_bytes, before the rest of the body is pulled', async () => {
  const body = Buffer.alloc(5 * MiB, '{}\n');
  const counter = { bytes: 0 };
  const err = await rejects(() => drain({ format: 'ndjson', max_bytes: MiB }, slices(body, 64 * 1024, counter)), BodyTooLargeError);
  assert.equal(err.stage, 'raw');
  assert.equal(err.limit, MiB);
  assert.ok(counter.bytes <= MiB + 64 * 1024, `pulled ${counter.bytes} bytes`);
  const doc = await rejects(() => drain({ format: 'json', max_bytes: 1000 }, slices(Buffer.alloc(5000, ' '), 100)), BodyTooLargeError);
  assert.equal(doc.stage, 'raw');
});

test('raw cap applies to compressed bytes', async () => {
  const { data } = await compressZeros(8 * MiB, () => createGzip({ level: 1 }));
  const err = await rejects(() => drain({ format: 'csv', max_bytes: 1000 }, slices(data, 256)), BodyTooLargeError);
  assert.equal(err.stage, 'raw');
});

test('gzip bomb: 200 MiB of zeros stops at a 10 MiB decompressed cap, quickly and in little memory', async () => {
  const { data } = await compressZeros(200 * MiB, () => createGzip({ level: 9 }));
  assert.ok(data.length < 1 * MiB, `bomb is ${data.length} bytes compressed`);
  for (const format of ['ndjson', 'csv', 'json', 'xml'] as const) {
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    let peak = rss0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const err = await rejects(
      () => drain({ format, max_decompressed_bytes: 10 * MiB, xml: { record_tag: 'r' } }, slices(data, 16 * 1024)),
      BodyTooLargeError,
    );
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    const ms = performance.now() - t0;
    assert.equal(err.stage, 'decompressed');
    assert.equal(err.limit, 10 * MiB);
    assert.ok(ms < 3000, `${format}: took ${ms.toFixed(0)} ms`);
    assert.ok(peak - rss0 < 150 * MiB, `${format}: rss grew ${((peak - rss0) / MiB).toFixed(0)} MiB`);
    console.log(`# gzip bomb (${format}): stopped after ${ms.toFixed(0)} ms, rss +${((peak - rss0) / MiB).toFixed(0)} MiB`);
  }
});

test('zip bomb: an entry declaring more than the cap is refused before inflating; a lying size is caught while inflating', async () => {
  const total = 200 * MiB;
  const { data, crc } = await compressZeros(total, () => createDeflateRaw({ level: 9 }));
  const honest = zipWithDeflated('zeros.csv', data, total, crc);
  const t0 = performance.now();
  const err = await rejects(() => drain({ format: 'csv', max_decompressed_bytes: 10 * MiB }, slices(honest, 64 * 1024)), BodyTooLargeError);
  assert.equal(err.stage, 'decompressed');
  assert.ok(performance.now() - t0 < 2000);

  // Declares 1 KiB: yauzl stops once the inflated data outgrows the declared size.
  const lying = zipWithDeflated('zeros.csv', data, 1024, crc);
  const lie = await rejects(() => drain({ format: 'csv', max_decompressed_bytes: 10 * MiB }, slices(lying, 64 * 1024)), DecodeError);
  assert.equal(lie.format, 'zip');
  assert.match(lie.message, /too many bytes/);
});

/** A one-entry zip around an already deflated body (makeZip would need the raw bytes in memory). */
function zipWithDeflated(name: string, deflated: Buffer, size: number, crc: number): Buffer {
  const template = makeZip([{ name, data: 'x' }]);
  // Rebuild with the real body: patch sizes/CRC in the template's headers around a new body.
  const nameLen = Buffer.byteLength(name);
  const local = Buffer.from(template.subarray(0, 30 + nameLen));
  const oldBodyLen = template.readUInt32LE(18);
  const central = Buffer.from(template.subarray(30 + nameLen + oldBodyLen));
  for (const [buf, crcAt, csAt, usAt] of [[local, 14, 18, 22], [central, 16, 20, 24]] as const) {
    buf.writeUInt32LE(crc >>> 0, crcAt);
    buf.writeUInt32LE(deflated.length, csAt);
    buf.writeUInt32LE(size, usAt);
  }
  const eocdAt = central.length - 22;
  central.writeUInt32LE(30 + nameLen + deflated.length, eocdAt + 16);
  return Buffer.concat([local, deflated, central]);
}

/** Generates a CSV feed through gzip on the fly, so neither side ever holds it whole. */
function gzipCsvFeed(rows: number): AsyncIterable<Uint8Array> {
  function* text(): Generator<string> {
    yield 'id,title,price,currency,url,description\n';
    let buf = '';
    for (let i = 0; i < rows; i++) {
      buf += `${i},"Product ${i}, deluxe edition",${(i % 1000) / 10},EUR,https://shop.example.com/p/${i}?ref=feed,"A fine product number ${i}, with ""quotes"" and padding ${'x'.repeat(i % 80)}"\n`;
      if (buf.length > 65536) {
        yield buf;
        buf = '';
      }
    }
    yield buf;
  }
  return Readable.from(text()).pipe(createGzip({ level: 1 }));
}

test('streaming: 500k gzip CSV rows decode in near-constant memory', async () => {
  const rows = 500_000;
  const d = await decodeBody(gzipCsvFeed(rows), { format: 'csv' });
  assert.equal(d.kind, 'records');
  const heap0 = process.memoryUsage().heapUsed;
  let peak = heap0;
  let n = 0;
  let last: Record<string, unknown> | undefined;
  const t0 = performance.now();
  if (d.kind === 'records') {
    for await (const batch of d.batches) {
      assert.ok(batch.length <= 1000);
      n += batch.length;
      last = batch[batch.length - 1];
      if ((n / 1000) % 10 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  assert.equal(n, rows);
  assert.equal(last?.id, String(rows - 1));
  // ~110 MB of text and 500k record objects would need several hundred MB if anything were retained.
  const grown = (peak - heap0) / MiB;
  assert.ok(grown < 100, `heap grew ${grown.toFixed(0)} MiB`);
  console.log(`# csv+gzip: ${n} rows in ${secs.toFixed(2)} s (${Math.round(n / secs)} rows/s), heap growth ${grown.toFixed(0)} MiB`);
});

test('streaming: a large XML feed with record_tag decodes in near-constant memory', async () => {
  const items = 100_000;
  function* text(): Generator<string> {
    yield '<?xml version="1.0"?>\n<feed><products>\n';
    let buf = '';
    for (let i = 0; i < items; i++) {
      buf += `<product id="${i}"><title>Product ${i} &amp; more</title><price currency="EUR">${i % 500}.99</price><description><![CDATA[<p>Text ${'y'.repeat(i % 200)}</p>]]></description></product>\n`;
      if (buf.length > 65536) {
        yield buf;
        buf = '';
      }
    }
    yield buf + '</products></feed>\n';
  }
  const d = await decodeBody(Readable.from(text()).pipe(createGzip({ level: 1 })), { format: 'xml', xml: { record_tag: 'product' } });
  const heap0 = process.memoryUsage().heapUsed;
  let peak = heap0;
  let n = 0;
  if (d.kind === 'records') {
    for await (const batch of d.batches) {
      n += batch.length;
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
  }
  assert.equal(n, items);
  assert.ok((peak - heap0) / MiB < 100, `heap grew ${((peak - heap0) / MiB).toFixed(0)} MiB`);
});

test('records helper sanity: small feeds still decode with caps set', async () => {
  const d = await decodeBody(slices(Buffer.from('a\n1\n'), 1), { format: 'csv', max_bytes: 4, max_decompressed_bytes: 4 });
  assert.deepEqual(await records(d), [{ a: '1' }]);
});
