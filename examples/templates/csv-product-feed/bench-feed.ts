// Benchmark of the csv-product-feed template: generates a large gzip feed (or takes one), serves it from a
// local HTTP server, runs this folder's connector.yaml over it through the real engine (download → gunzip →
// CSV → map → normalize → validate) into a counting sink, and reports rows per second and memory.
//
//   node --import tsx examples/templates/csv-product-feed/bench-feed.ts --rows 2000000
//   node --import tsx examples/templates/csv-product-feed/bench-feed.ts --file /data/feed.csv.gz --json
//
// Run it as its own process: under `node --test` the runner's async-context tracking hooks every promise,
// and the promise-heavy JSONata evaluation then runs several times slower than in production.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadSpecFile } from '../../../engine/spec/loader.ts';
import { resolveConfig } from '../../../engine/spec/config.ts';
import { Redactor } from '../../../engine/log/redact.ts';
import { createLogger } from '../../../engine/log/logger.ts';
import { runConnector, type OfferSink } from '../../../engine/run/runner.ts';
import { generateFeed } from './generate-feed.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

export interface BenchOptions {
  /** Rows to generate (ignored with `file`). */
  rows?: number;
  /** An existing feed file to serve instead of generating one. */
  file?: string;
  seed?: number;
  level?: number;
}

export interface BenchResult {
  status: string;
  error?: string;
  rows_generated?: number;
  offers: number;
  quarantined: number;
  /** Sum of the numbers in external ids "SKU-<n>": n(n+1)/2 when every generated row arrived exactly once. */
  id_sum: number;
  requests: number;
  file_mib: number;
  generate_s?: number;
  run_s: number;
  rows_per_s: number;
  rss_before_mib: number;
  rss_peak_mib: number;
  rss_growth_mib: number;
}

const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;

export async function benchFeed(opts: BenchOptions = {}): Promise<BenchResult> {
  const work = opts.file ? undefined : await mkdtemp(join(tmpdir(), 'offerfeed-bench-feed-'));
  try {
    let file = opts.file;
    let generated: Awaited<ReturnType<typeof generateFeed>> | undefined;
    if (!file) {
      file = join(work!, 'products.csv.gz');
      generated = await generateFeed(file, { rows: opts.rows ?? 2_000_000, seed: opts.seed, level: opts.level ?? 1 });
    }
    const feed = file;
    const size = (await stat(feed)).size;
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(size) });
      createReadStream(feed).pipe(res);
    });
    // Node closes an idle kept-alive socket 5 s after the response is written, while loopback buffers may
    // still hold many seconds of rows the engine has not parsed yet; a local server must wait longer.
    server.keepAliveTimeout = 10 * 60_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { spec } = await loadSpecFile(join(here, 'connector.yaml'));
      // The sandbox's settings, less the tracking-URL column, which generated feeds do not have.
      const { url_column: _unused, ...settings } = JSON.parse(await readFile(join(here, 'sandbox', 'config.json'), 'utf8'));
      const redactor = new Redactor();
      const config = await resolveConfig(spec, [{ name: 'sandbox', get: async () => settings }], redactor);
      let offers = 0;
      let quarantined = 0;
      let idSum = 0;
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sample = () => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss); };
      const sink: OfferSink = {
        async offers(batch) {
          offers += batch.length;
          for (const o of batch) if (o.external_id.startsWith('SKU-')) idSum += Number(o.external_id.slice(4));
          sample();
        },
        async quarantine(items) { quarantined += items.length; },
      };
      const timer = setInterval(sample, 25);
      const started = performance.now();
      const result = await runConnector({
        spec, config, redactor, sink, logger: createLogger({ redactor, level: 'silent' }),
        baseUrlOverride: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      });
      const runS = (performance.now() - started) / 1000;
      clearInterval(timer);
      sample();
      return {
        status: result.status, error: result.error, rows_generated: generated?.rows, offers, quarantined, id_sum: idSum, requests,
        file_mib: mib(size), generate_s: generated ? generated.ms / 1000 : undefined,
        run_s: Math.round(runS * 10) / 10, rows_per_s: Math.round((offers + quarantined) / runS),
        rss_before_mib: mib(rssBefore), rss_peak_mib: mib(rssPeak), rss_growth_mib: mib(rssPeak - rssBefore),
      };
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): BenchOptions & { json: boolean } {
  const usage = 'usage: bench-feed.ts [--rows N | --file FEED.csv.gz] [--seed N] [--level 1-9] [--json]';
  const out: BenchOptions & { json: boolean } = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer\n${usage}`);
      return v;
    };
    if (a === '--rows') out.rows = num();
    else if (a === '--seed') out.seed = num();
    else if (a === '--level') out.level = Math.min(9, Math.max(1, num()));
    else if (a === '--file') out.file = argv[++i];
    else if (a === '--json') out.json = true;
    else throw new Error(`unknown argument ${a}\n${usage}`);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { json, ...opts } = parseArgs(process.argv.slice(2));
    const r = await benchFeed(opts);
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      process.stdout.write(`${r.status}${r.error ? `: ${r.error}` : ''}\n`
        + `${r.offers} offers, ${r.quarantined} quarantined from a ${r.file_mib} MiB file in ${r.run_s} s: ${r.rows_per_s} rows/s\n`
        + `RSS ${r.rss_before_mib} MiB before, ${r.rss_peak_mib} MiB at peak (+${r.rss_growth_mib} MiB)\n`);
    }
    if (r.status !== 'succeeded') process.exitCode = 1;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
