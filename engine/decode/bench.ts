/**
 * Decoder throughput: rows/s for csv, ndjson and xml (record_tag), plain and gzip, from bodies generated
 * in memory beforehand so only decoding is timed.
 *   node --import tsx engine/decode/bench.ts [rows=500000]
 */
import { gzipSync } from 'node:zlib';
import { decodeBody, type DecoderSpec } from './index.ts';

const rows = Number(process.argv[2] ?? 500_000);
const CHUNK = 64 * 1024;

function build(format: 'csv' | 'ndjson' | 'xml'): Buffer {
  const parts: string[] = [];
  if (format === 'csv') parts.push('id,title,price,currency,url,description\n');
  if (format === 'xml') parts.push('<?xml version="1.0"?>\n<feed><products>\n');
  for (let i = 0; i < rows; i++) {
    const title = `Product ${i}, deluxe`;
    const url = `https://shop.example.com/p/${i}?ref=feed`;
    const desc = `A fine product number ${i} with "quotes"`;
    const price = ((i % 1000) / 10).toFixed(2);
    if (format === 'csv') parts.push(`${i},"${title}",${price},EUR,${url},"${desc.replaceAll('"', '""')}"\n`);
    else if (format === 'ndjson') parts.push(JSON.stringify({ id: String(i), title, price, currency: 'EUR', url, description: desc }) + '\n');
    else parts.push(`<product id="${i}"><title>${title}</title><price currency="EUR">${price}</price><url>${url.replace('&', '&amp;')}</url><description><![CDATA[${desc}]]></description></product>\n`);
  }
  if (format === 'xml') parts.push('</products></feed>\n');
  return Buffer.from(parts.join(''));
}

async function* body(data: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += CHUNK) yield data.subarray(i, i + CHUNK);
}

async function run(label: string, data: Buffer, spec: DecoderSpec): Promise<void> {
  const t0 = performance.now();
  const d = await decodeBody(body(data), spec);
  let n = 0;
  if (d.kind === 'records') for await (const batch of d.batches) n += batch.length;
  const s = (performance.now() - t0) / 1000;
  const mb = data.length / 1024 / 1024;
  console.log(`${label.padEnd(12)} ${String(n).padStart(8)} rows  ${s.toFixed(2).padStart(6)} s  ${String(Math.round(n / s)).padStart(9)} rows/s  (${mb.toFixed(0)} MiB body)`);
}

for (const format of ['csv', 'ndjson', 'xml'] as const) {
  const plain = build(format);
  const spec: DecoderSpec = format === 'xml' ? { format, xml: { record_tag: 'product' } } : { format };
  await run(format, plain, spec);
  await run(`${format}+gzip`, gzipSync(plain, { level: 6 }), spec);
}
