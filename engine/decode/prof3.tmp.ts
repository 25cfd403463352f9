import { Readable, pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import { decodeBody } from './index.ts';
const N = 500000;
const chunks: Buffer[] = []; let buf = 'id,title,price,currency,url,description\n';
for (let i = 0; i < N; i++) { buf += `${i},"Product ${i}, deluxe",${(i % 1000) / 10},EUR,https://example.com/p/${i},"A fine product number ${i} with ""quotes"""\n`; if (buf.length > 65536) { chunks.push(Buffer.from(buf)); buf = ''; } }
chunks.push(Buffer.from(buf));
const nd: Buffer[] = []; buf = '';
for (let i = 0; i < N; i++) { buf += JSON.stringify({ id: String(i), title: `Product ${i}, deluxe`, price: (i % 1000) / 10, currency: 'EUR', url: `https://example.com/p/${i}`, description: `A fine product number ${i} with "quotes"` }) + '\n'; if (buf.length > 65536) { nd.push(Buffer.from(buf)); buf = ''; } }
nd.push(Buffer.from(buf));
async function* src(c: Buffer[]) { for (const x of c) yield x; }
for (let r = 0; r < 2; r++) {
let t = performance.now(); let n = 0;
const p = parse({ columns: true, relax_quotes: true, skip_empty_lines: true, bom: true });
pipeline(Readable.from(src(chunks)), p, () => {});
for await (const _ of p) n++;
console.log('raw csv-parse stream (bytes in)', n, Math.round(n / ((performance.now() - t) / 1000)), 'rows/s');
t = performance.now(); n = 0;
let d = await decodeBody(src(chunks), { format: 'csv' });
if (d.kind === 'records') for await (const b of d.batches) n += b.length;
console.log('decodeBody csv', n, Math.round(n / ((performance.now() - t) / 1000)), 'rows/s');
t = performance.now(); n = 0;
d = await decodeBody(src(nd), { format: 'ndjson' });
if (d.kind === 'records') for await (const b of d.batches) n += b.length;
console.log('decodeBody ndjson', n, Math.round(n / ((performance.now() - t) / 1000)), 'rows/s');
}
