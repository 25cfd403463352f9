// Writes a large, realistic Google Merchant Center-style product feed as gzip CSV, for benchmarks and the
// large-file test of the csv-product-feed template. Rows are produced and compressed a chunk at a time with
// backpressure, so memory stays flat whatever the row count. Output is deterministic for a given seed.
//
//   node --import tsx examples/templates/csv-product-feed/generate-feed.ts /tmp/feed.csv.gz --rows 5000000
//
// Every row is a valid offer (ids SKU-1 … SKU-<rows>, unique), so a run over the file must yield exactly
// `rows` offers; the awkward shapes real feeds have (quoted commas and quotes, line breaks inside cells,
// HTML, non-ASCII text, thousands separators, empty optional cells) are mixed in at fixed rates.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pathToFileURL } from 'node:url';

export const FEED_COLUMNS = [
  'id', 'title', 'description', 'link', 'image_link', 'price', 'sale_price', 'sale_price_effective_date', 'brand',
  'gtin', 'mpn', 'availability', 'condition', 'google_product_category', 'product_type', 'item_group_id',
] as const;

export interface GenerateOptions {
  rows: number;
  /** PRNG seed; the same seed gives the same file. */
  seed?: number;
  /** gzip level 1-9 (default 6); 1 makes multi-GB files quicker to write. */
  level?: number;
  /** Rows per write; bounds memory. */
  chunkRows?: number;
}

export interface GenerateResult { rows: number; bytes: number; compressedBytes: number; ms: number }

const ADJECTIVES = ['Ultralight', 'Classic', 'Pro', 'Compact', 'Deluxe', 'Rugged', 'Smart', 'Eco', 'Vintage', 'Premium', 'Mini', 'Max'];
const NOUNS = ['Backpack', 'Tent', 'Stove', 'Headlamp', 'Mug', 'Kettle', 'Jacket', 'Sleeping Bag', 'Water Filter', 'Trekking Poles', 'Chair', 'Lantern'];
const BRANDS = ['Ridgeline', 'NordPeak', 'Café Outdoor', 'Bergwärts', 'Sakura Gear', 'TrailCo', 'Acme & Sons', 'Polar'];
const COLOURS = ['green', 'slate', 'orange', 'navy', 'sand', 'crème', '深緑'];
const AVAILABILITY = ['in_stock', 'in_stock', 'in_stock', 'out_of_stock', 'preorder', 'backorder', 'in stock', 'out of stock'];
const CONDITION = ['new', 'new', 'new', 'refurbished', 'used', ''];
const GPC = ['1013', 'Sporting Goods > Outdoor Recreation > Camping & Hiking > Tents', '2271',
  'Home & Garden > Kitchen & Dining > Cookware & Bakeware', '', 'Apparel & Accessories > Clothing > Outerwear'];
const PRODUCT_TYPES = ['Camping > Tents > Backpacking', 'Camping > Cooking', 'Clothing > Jackets', 'Lighting', 'Furniture > Outdoor'];
const CURRENCIES = ['USD', 'USD', 'USD', 'EUR', 'GBP', 'CAD'];

/** mulberry32: tiny, fast, good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** EAN-13 with a correct check digit, from a 12-digit body. */
function ean13(body: number): string {
  const digits = String(body).padStart(12, '0');
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(digits[i]) * (i % 2 === 0 ? 1 : 3);
  return digits + String((10 - (sum % 10)) % 10);
}

function cell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function money(amount: number, currency: string, thousands: boolean): string {
  const fixed = amount.toFixed(2);
  if (!thousands || amount < 1000) return `${fixed} ${currency}`;
  const [int, dec] = fixed.split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${dec} ${currency}`;
}

export function feedRow(n: number, rnd: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
  const noun = pick(NOUNS);
  const colour = pick(COLOURS);
  let title = `${pick(ADJECTIVES)} ${noun} ${n % 7 === 0 ? `"${pick(ADJECTIVES)}"` : ''} ${colour}`.replace(/\s+/g, ' ').trim();
  if (n % 11 === 0) title += ', 2-pack';
  const brand = pick(BRANDS);
  let description = `${brand} ${noun.toLowerCase()} in ${colour}. Weighs ${(rnd() * 3).toFixed(2)} kg, packs to ${Math.round(10 + rnd() * 40)} cm. `
    + 'Tested through three seasons; repairs and spare parts available for ten years.';
  if (n % 5 === 0) description = `<p>${description}</p><ul><li>Recycled fabric</li><li>Lifetime warranty &amp; free returns</li></ul>`;
  if (n % 13 === 0) description += '\nCare: hand wash only.\nMade in EU.';
  const currency = pick(CURRENCIES);
  const price = Math.round((5 + rnd() * (n % 17 === 0 ? 3000 : 400)) * 100) / 100;
  const onSale = rnd() < 0.3;
  const sale = onSale ? Math.round(price * (0.5 + rnd() * 0.45) * 100) / 100 : 0;
  const window = onSale && n % 10 === 0 ? '2025-01-01T00:00-0800/2099-12-31T23:59-0800' : '';
  const slug = `${noun.toLowerCase().replace(/\s+/g, '-')}-${n}`;
  const gpc = pick(GPC);
  const fields = [
    `SKU-${n}`,
    title,
    description,
    `https://shop.example.com/p/${slug}${n % 9 === 0 ? '?variant=2' : ''}`,
    n % 23 === 0 ? '' : `https://cdn.example.com/img/${slug}.jpg`,
    money(price, currency, true),
    onSale ? money(sale, currency, false) : '',
    window,
    brand,
    n % 19 === 0 ? '' : ean13(400638100000 + n),
    `${brand.slice(0, 2).toUpperCase()}-${n}`,
    pick(AVAILABILITY),
    pick(CONDITION),
    gpc,
    pick(PRODUCT_TYPES),
    n % 4 === 0 ? `GRP-${Math.floor(n / 4)}` : '',
  ];
  return fields.map(cell).join(',');
}

export async function generateFeed(path: string, opts: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  const rows = Math.max(0, Math.floor(opts.rows));
  const chunkRows = opts.chunkRows ?? 2000;
  const rnd = prng(opts.seed ?? 1);
  const out = createWriteStream(path);
  const gz = createGzip({ level: opts.level ?? 6 });
  let compressedBytes = 0;
  gz.on('data', (c: Buffer) => { compressedBytes += c.length; });
  gz.pipe(out);
  let bytes = 0;
  const write = async (text: string) => {
    const buf = Buffer.from(text, 'utf8');
    bytes += buf.length;
    if (!gz.write(buf)) await once(gz, 'drain');
  };
  await write(`${FEED_COLUMNS.join(',')}\r\n`);
  for (let n = 1; n <= rows; ) {
    const lines: string[] = [];
    for (const end = Math.min(rows, n + chunkRows - 1); n <= end; n++) lines.push(feedRow(n, rnd));
    await write(`${lines.join('\r\n')}\r\n`);
  }
  gz.end();
  await finished(out);
  return { rows, bytes, compressedBytes, ms: Math.round(performance.now() - started) };
}

function parseArgs(argv: string[]): { path: string; opts: GenerateOptions } {
  const usage = 'usage: generate-feed.ts OUT.csv.gz [--rows N] [--seed N] [--level 1-9]';
  const positional: string[] = [];
  const opts: GenerateOptions = { rows: 2_000_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer\n${usage}`);
      return v;
    };
    if (a === '--rows') opts.rows = num();
    else if (a === '--seed') opts.seed = num();
    else if (a === '--level') opts.level = Math.min(9, Math.max(1, num()));
    else if (a === '-h' || a === '--help') { process.stdout.write(`${usage}\n`); process.exit(0); }
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n${usage}`);
    else positional.push(a);
  }
  if (positional.length !== 1) throw new Error(usage);
  return { path: positional[0], opts };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { path, opts } = parseArgs(process.argv.slice(2));
    const r = await generateFeed(path, opts);
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    process.stderr.write(`wrote ${r.rows} rows to ${path}: ${mb(r.bytes)} MiB CSV, ${mb(r.compressedBytes)} MiB gzip, ${(r.ms / 1000).toFixed(1)} s\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
