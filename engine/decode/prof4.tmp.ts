import { Readable, pipeline } from 'node:stream';
import { parse } from 'csv-parse';
for (const size of [1, 2, 4]) {
  const t = performance.now();
  const p = parse({ columns: true, relax_quotes: true, bom: true, max_record_size: 64 * 1024 * 1024, ...(process.argv[3] ? { record_delimiter: ['\r\n', '\n', '\r'] } : {}) });
  async function* src() { for (let i = 0; i < size * 16; i++) yield Buffer.alloc(65536, process.argv[2] ?? 0); }
  pipeline(Readable.from(src()), p, () => {});
  let n = 0; for await (const _ of p) n++;
  console.log(size, 'MiB zeros', (performance.now() - t).toFixed(0), 'ms');
}
