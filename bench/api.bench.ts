// The serving API under load: N offers (default 1M, BENCH_API_N) bulk-loaded through the serving store's stage
// and commit path, the API started as its own process on that store (as `offerfeed serve` runs), then autocannon
// against /api/offers/latest with filters, /api/offers/search, and the same listing through GraphQL. Each is
// measured twice: flat out with 8 connections (the requests/s the API sustains, and p50/p99 at that load), and
// capped at 1,000 requests/s over 4 connections (p50/p99 at the target rate). Why 4: autocannon paces a capped
// run per connection and per second — each connection sends its share back to back at the start of every
// second — so with many connections the cap measures a burst of all of them at once, not a steady rate.
// Printed beside the targets: p99 ≤ 15 ms for latest (and GraphQL), ≤ 50 ms for search, at ≥ 1,000 requests/s.
// The requests are drawn at random from pools of realistic filters and queries; nothing is cached between
// requests (each is computed from the read model).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { closeDuckDB } from '../engine/store/duckdb.ts';
import { migrateUp } from '../engine/store/migrate.ts';
import { ServingStore } from '../engine/store/serving-store.ts';
import type { RunResult } from '../engine/run/runner.ts';
import type { Offer } from '../engine/types/offer.generated.ts';
import { report } from './support.ts';

const SERVER_FLAG = '--api-bench-server';

// ------------------------------------------------------------------------------------------- synthetic feed

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOUNS = ['kettle', 'headphones', 'laptop', 'smartphone', 'sneakers', 'backpack', 'camera', 'monitor', 'keyboard', 'mouse', 'blender', 'toaster',
  'jacket', 'dress', 'watch', 'sunglasses', 'tent', 'bicycle', 'helmet', 'mattress', 'pillow', 'lamp', 'sofa', 'desk', 'chair', 'drill', 'vacuum',
  'speaker', 'tablet', 'charger', 'router', 'printer', 'perfume', 'shampoo', 'serum', 'moisturizer', 'suitcase', 'stroller', 'puzzle', 'drone',
  'hotel', 'flight', 'vpn', 'hosting', 'course', 'subscription', 'insurance', 'coffee', 'tea', 'wine', 'protein', 'yoga mat', 'dumbbells', 'grill',
  'espresso machine', 'air fryer', 'robot vacuum', 'smartwatch', 'earbuds', 'gaming chair', 'graphics card', 'ssd', 'webcam', 'microphone'];
const FOREIGN = ['Wasserkocher', 'Kopfhörer', 'Laufschuhe', 'Rucksack', 'Kaffeemaschine', 'bouilloire', 'casque', 'chaussures', 'sac à dos', 'cafetière',
  'zapatillas', 'auriculares', 'mochila', 'cafetera', 'hervidor'];
const ADJ = ['wireless', 'stainless', 'portable', 'compact', 'premium', 'ergonomic', 'waterproof', 'lightweight', 'smart', 'professional', 'vintage',
  'organic', 'electric', 'foldable', 'ultra', 'mini', 'pro', 'classic', 'eco', 'noise cancelling', 'bluetooth', 'leather', 'cotton', 'ceramic'];
const VERTICALS = ['Electronics', 'Home & Garden', 'Apparel & Accessories', 'Sports', 'Health & Beauty', 'Travel', 'Software', 'Toys & Games', 'Food & Drink', 'Baby & Toddler'];
const NETWORKS = ['awin', 'cj', 'impact', 'rakuten', 'amazon', 'ebay-partner-network', 'flexoffers', 'partnerstack'];
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL', 'CA', 'AU', 'AT'];
const LANGS: Record<string, string> = { US: 'en', GB: 'en', DE: 'de', FR: 'fr', ES: 'es', IT: 'it', NL: 'nl', CA: 'en', AU: 'en', AT: 'de' };

const syllables = ['ka', 'ro', 'mi', 'ven', 'tor', 'lux', 'zen', 'ix', 'no', 'va', 'sol', 'tek', 'ar', 'bel', 'cor', 'dyn', 'el', 'fi', 'gra', 'hel'];
function word(r: () => number, parts = 2 + Math.floor(r() * 2)): string {
  let w = '';
  for (let i = 0; i < parts; i++) w += syllables[Math.floor(r() * syllables.length)];
  return w;
}

/** Zipf-like pick: small indexes far more often (realistic word and brand frequencies). */
const zipf = <T>(r: () => number, xs: T[], s = 1.6) => xs[Math.min(xs.length - 1, Math.floor(xs.length * Math.pow(r(), s)))];

export interface FeedModel { brands: string[]; tail: string[]; merchants: string[] }

export function feedModel(seed = 1): FeedModel {
  const r = rng(seed);
  const brands = Array.from({ length: 2000 }, () => word(r).replace(/^./, (c) => c.toUpperCase()));
  const tail = Array.from({ length: 60_000 }, () => word(r, 2 + Math.floor(r() * 3)));
  const merchants = Array.from({ length: 5000 }, (_, i) => `${brands[i % brands.length]} ${['Store', 'Shop', 'Outlet', 'Direct', 'Online'][i % 5]}`);
  return { brands, tail, merchants };
}

export function syntheticOffer(i: number, m: FeedModel, r: () => number): Offer {
  const network = NETWORKS[i % NETWORKS.length];
  const country = zipf(r, COUNTRIES, 1.3);
  const foreign = LANGS[country] !== 'en' && r() < 0.5;
  const noun = foreign ? zipf(r, FOREIGN) : zipf(r, NOUNS);
  const brand = zipf(r, m.brands, 2.2);
  const price = Math.round((5 + 995 * Math.pow(r(), 3)) * 100) / 100;
  const tracking = r() < 0.7;
  // One in twenty offers is the same product as one on another network: a duplicate group.
  const product = r() < 0.05 ? i - (i % NETWORKS.length) : i;
  const landing = `https://${m.merchants[product % m.merchants.length].toLowerCase().replace(/\W+/g, '')}.example/p/${product}`;
  const kind = r() < 0.75 ? 'product' : r() < 0.5 ? 'coupon' : 'deal';
  const desc = Array.from({ length: 12 + Math.floor(r() * 30) }, () => zipf(r, m.tail, 2.5)).join(' ');
  return {
    network, external_id: `o${i}`, kind, title: `${brand} ${zipf(r, ADJ)} ${noun} ${word(r, 1).toUpperCase()}${Math.floor(r() * 900 + 100)}`,
    description: `${desc}. ${zipf(r, ADJ)} ${noun} by ${brand}.`,
    url: tracking ? `https://track.${network}.example/c?o=${i}&p=42` : landing, landing_url: landing,
    image_url: `https://img.example/${i}.jpg`, merchant_id: String(product % m.merchants.length), merchant_name: m.merchants[product % m.merchants.length],
    price, sale_price: r() < 0.3 ? Math.round(price * (0.5 + r() * 0.45) * 100) / 100 : undefined, currency: 'EUR',
    coupon_code: kind === 'coupon' ? `SAVE${Math.floor(r() * 90 + 10)}` : undefined,
    categories: [`${zipf(r, VERTICALS, 1.2)} > ${noun}`], countries: [country], languages: [LANGS[country]],
    tags: r() < 0.2 ? ['limited'] : undefined, payout: { type: 'cps', percent: Math.round(r() * 150) / 10 },
    expires_at: r() < 0.1 ? new Date(Date.now() + (1 + r() * 60) * 86_400_000).toISOString() : undefined,
  } as Offer;
}

/** Loads n offers through the store's bulk path: staged per network, one committed run each. */
export async function loadFeed(path: string, n: number): Promise<number> {
  const store = await ServingStore.open(path);
  const m = feedModel();
  const r = rng(42);
  const t = performance.now();
  try {
    for (let k = 0; k < NETWORKS.length; k++) {
      const network = NETWORKS[k];
      const runId = await store.beginRun(network, 'full');
      let seq = 0;
      let batch: Offer[] = [];
      for (let i = k; i < n; i += NETWORKS.length) {
        batch.push(syntheticOffer(i, m, r));
        if (batch.length === 20_000) { await store.stageOffers(runId, batch, seq); seq += batch.length; batch = []; }
      }
      if (batch.length) { await store.stageOffers(runId, batch, seq); seq += batch.length; }
      const result: RunResult = {
        status: 'succeeded', complete: true, streams: {}, counts: { pages: 1, records: seq, offers: seq, quarantined: 0, filtered: 0, api_calls: 0 },
        started_at: new Date().toISOString(), finished_at: new Date().toISOString(), duration_ms: 0, warnings: [],
      };
      await store.commitRun(runId, network, result, { apiCalls: [], quarantine: [] }, { missedRunsToDeactivate: 1 });
    }
  } finally {
    store.close();
    await closeDuckDB(path);
  }
  return performance.now() - t;
}

// ------------------------------------------------------------------------------------------- request pools

export function latestPaths(m: FeedModel, r: () => number): string[] {
  const filters = () => {
    const f: string[] = [];
    if (r() < 0.5) f.push(`country=${zipf(r, COUNTRIES, 1.3)}`);
    if (r() < 0.4) f.push(`lang=${LANGS[zipf(r, COUNTRIES, 1.3)]}`);
    if (r() < 0.3) f.push(`network=${NETWORKS[Math.floor(r() * NETWORKS.length)]}`);
    if (r() < 0.3) f.push(`kind=${['product', 'coupon', 'deal'][Math.floor(r() * 3)]}`);
    if (r() < 0.3) f.push(`vertical=${encodeURIComponent(zipf(r, VERTICALS, 1.2))}`);
    if (r() < 0.3) { const lo = Math.floor(r() * 200); f.push(`min_price=${lo}&max_price=${lo + 50 + Math.floor(r() * 300)}`); }
    if (r() < 0.15) f.push('has_coupon=true');
    if (r() < 0.1) f.push(`merchant=${encodeURIComponent(zipf(r, m.merchants, 2))}`);
    if (r() < 0.1) f.push('sort=changed');
    return f;
  };
  return Array.from({ length: 2000 }, () => `/api/offers/latest?${[...filters(), 'limit=20'].join('&')}`);
}

function typo(w: string, r: () => number): string {
  if (w.length < 5) return w;
  const i = 1 + Math.floor(r() * (w.length - 2));
  return w.slice(0, i) + w[i + 1] + w[i] + w.slice(i + 2);
}

export function searchPaths(m: FeedModel, r: () => number): string[] {
  return Array.from({ length: 2000 }, () => {
    const noun = r() < 0.15 ? zipf(r, FOREIGN) : zipf(r, NOUNS);
    const brand = zipf(r, m.brands, 2.2).toLowerCase();
    const x = r();
    const q = x < 0.3 ? noun : x < 0.5 ? `${brand} ${noun}` : x < 0.65 ? `${zipf(r, ADJ)} ${noun}` : x < 0.8 ? typo(noun, r) : x < 0.9 ? brand : noun.slice(0, Math.max(3, noun.length - 3));
    const f = r() < 0.3 ? `&country=${zipf(r, COUNTRIES, 1.3)}` : r() < 0.2 ? `&max_price=${50 + Math.floor(r() * 500)}` : '';
    return `/api/offers/search?q=${encodeURIComponent(q)}${f}&limit=20`;
  });
}

const GQL = `query($f: OfferFilter) { offers(filter: $f, first: 20) { edges { cursor node { id network title url landing_url price sale_price currency merchant_name kind image_url countries } } pageInfo { hasNextPage endCursor } } }`;

export function graphqlBodies(r: () => number): string[] {
  return Array.from({ length: 2000 }, () => {
    const f: Record<string, unknown> = {};
    if (r() < 0.5) f.country = [zipf(r, COUNTRIES, 1.3)];
    if (r() < 0.3) f.network = [NETWORKS[Math.floor(r() * NETWORKS.length)]];
    if (r() < 0.3) f.kind = [['product', 'coupon', 'deal'][Math.floor(r() * 3)]];
    if (r() < 0.3) { f.minPrice = Math.floor(r() * 200); f.maxPrice = (f.minPrice as number) + 100; }
    return JSON.stringify({ query: GQL, variables: { f } });
  });
}

// ------------------------------------------------------------------------------------------- measuring

interface Scenario { name: string; method: 'GET' | 'POST'; pool: string[]; p99Target: number }

async function cannon(url: string, s: Scenario, opts: { connections: number; rate?: number; seconds: number }) {
  const r = rng(7);
  const pick = () => s.pool[Math.floor(r() * s.pool.length)];
  const result = await autocannon({
    url, connections: opts.connections, duration: opts.seconds, overallRate: opts.rate,
    headers: { 'x-offerfeed-consent': 'affiliate', 'content-type': 'application/json' },
    requests: [{
      method: s.method,
      setupRequest: (req: autocannon.Request) => (s.method === 'GET' ? { ...req, path: pick() } : { ...req, path: '/graphql', body: pick() }),
    }],
  });
  return result;
}

async function startServerProcess(dir: string): Promise<{ child: ChildProcess; url: string; loadMs: number; rss: number; heap: number }> {
  const child = spawn(process.execPath, [...(process.env.BENCH_API_NODE_FLAGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', new URL(import.meta.url).pathname, SERVER_FLAG, dir], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OFFERFEED_LOG_LEVEL: 'warn' } });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += String(d);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, ...(JSON.parse(line) as { url: string; loadMs: number; rss: number; heap: number }) });
    });
    child.once('exit', (code) => reject(new Error(`API server exited ${code}`)));
  });
}

export async function apiBench(n = Number(process.env.BENCH_API_N ?? 1_000_000), seconds = Number(process.env.BENCH_API_SECONDS ?? 10)): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-apibench-'));
  const path = join(dir, 'offerfeed.duckdb');
  let child: ChildProcess | undefined;
  try {
    await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: null, feedTest: false });
    await closeDuckDB(path);
    const loadMs = await loadFeed(path, n);
    const server = await startServerProcess(dir);
    child = server.child;
    const mib = (b: number) => `${Math.round(b / 1048576)} MiB`;
    console.log(`\n${n} offers: bulk load into DuckDB ${(loadMs / 1000).toFixed(1)} s (${Math.round(n / (loadMs / 1000))} offers/s); ` +
      `API read model loaded in ${(server.loadMs / 1000).toFixed(1)} s, server RSS ${mib(server.rss)} (heap ${mib(server.heap)})`);
    const r = rng(3);
    const m = feedModel();
    const scenarios: Scenario[] = [
      { name: 'GET /api/offers/latest (filters)', method: 'GET', pool: latestPaths(m, r), p99Target: 15 },
      { name: 'GET /api/offers/search', method: 'GET', pool: searchPaths(m, r), p99Target: 50 },
      { name: 'POST /graphql offers(filter, first: 20)', method: 'POST', pool: graphqlBodies(r), p99Target: 15 },
    ];
    const rows: Array<Record<string, string | number>> = [];
    for (const s of scenarios) {
      await cannon(server.url, s, { connections: 4, seconds: 2 }); // warm-up (JIT, caches of the runtime)
      const max = await cannon(server.url, s, { connections: 8, seconds });
      const at = await cannon(server.url, s, { connections: 4, rate: 1000, seconds });
      const ok = (x: autocannon.Result) => x.non2xx === 0 && x.errors === 0;
      rows.push({
        endpoint: s.name,
        'max req/s': Math.round(max.requests.average),
        'p50 @max': `${max.latency.p50} ms`, 'p99 @max': `${max.latency.p99} ms`,
        'req/s @1000': Math.round(at.requests.average),
        'p50 @1000': `${at.latency.p50} ms`, 'p99 @1000': `${at.latency.p99} ms`,
        target: `p99 ≤ ${s.p99Target} ms at ≥ 1000 req/s`,
        met: at.latency.p99 <= s.p99Target && at.requests.average >= 990 && max.requests.average >= 1000 && ok(at) && ok(max) ? 'yes' : 'NO',
        'non-2xx/errors': `${max.non2xx + at.non2xx}/${max.errors + at.errors}`,
      });
    }
    report(`API on ${n} offers (autocannon, ${seconds} s per run; flat out with 8 connections, then capped at 1,000 req/s over 4 connections)`, rows);
  } finally {
    if (child && child.exitCode === null) { child.kill('SIGTERM'); await once(child, 'exit'); }
    await rm(dir, { recursive: true, force: true });
  }
}

// The server side, in its own process (the bench's autocannon must not share the API's event loop).
if (process.argv.includes(SERVER_FLAG)) {
  const dir = process.argv[process.argv.indexOf(SERVER_FLAG) + 1];
  const { startApiServer } = await import('../api/server.ts');
  const t = performance.now();
  const running = await startApiServer({
    dataDir: dir, port: 0,
    // One client address sends everything here: the per-client limit would measure the limiter.
    overrides: { rateLimit: { max: 1e9, timeWindowMs: 60_000 }, logLevel: 'warn', pollMs: 60_000 },
  });
  await running.loaded;
  globalThis.gc?.();
  const mem = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ url: running.url, loadMs: performance.now() - t, rss: mem.rss, heap: mem.heapUsed })}\n`);
  process.once('SIGTERM', () => { void running.close().then(() => process.exit(0)); });
}
