import { createGzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { decodeBody } from './index.ts';
const N = Number(process.argv[3] ?? 500000);
const fmt = process.argv[2] ?? 'csv';
function* lines() {
  if (fmt === 'csv') yield 'id,title,price,currency,url,description\n';
  if (fmt === 'xml') yield '<?xml version="1.0"?>\n<feed><products>\n';
  let buf = '';
  for (let i = 0; i < N; i++) {
    if (fmt === 'csv') buf += `${i},"Product ${i}, deluxe",${(i % 1000) / 10},EUR,https://example.com/p/${i},"A fine product number ${i} with ""quotes"""\n`;
    else if (fmt === 'ndjson') buf += JSON.stringify({ id: String(i), title: `Product ${i}, deluxe`, price: (i % 1000) / 10, currency: 'EUR', url: `https://example.com/p/${i}`, description: `A fine product number ${i} with "quotes"` }) + '\n';
    else buf += `<product id="${i}"><title>Product ${i}, deluxe</title><price currency="EUR">${(i % 1000) / 10}</price><url>https://example.com/p/${i}</url><description><![CDATA[A fine product number ${i} with "quotes"]]></description></product>\n`;
    if (buf.length > 65536) { yield buf; buf = ''; }
  }
  if (fmt === 'xml') buf += '</products></feed>\n';
  yield buf;
}
const gzipped = process.argv[4] === 'gz';
const src = gzipped ? Readable.from(lines()).pipe(createGzip({ level: 1 })) : Readable.from((function* () { for (const l of lines()) yield Buffer.from(l); })());
const t0 = performance.now();
const d = await decodeBody(src as AsyncIterable<Uint8Array>, { format: fmt as 'csv', xml: { record_tag: 'product' } });
let n = 0; let maxHeap = 0;
if (d.kind === 'records') for await (const b of d.batches) { n += b.length; if (n % 50000 < 1000) maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed); }
const s = (performance.now() - t0) / 1000;
console.log(`${fmt}${gzipped ? '+gzip' : ''}: ${n} rows in ${s.toFixed(2)}s = ${Math.round(n / s)} rows/s; max heap ${(maxHeap / 1048576).toFixed(0)} MB; rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`);
