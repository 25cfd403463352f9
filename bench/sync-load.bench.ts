// Reads while a big sync commits (issue 10: "the API keeps answering reads within its benchmark targets while a
// 1M-offer sync commits"). The serving store is seeded with the API bench's synthetic feed (BENCH_LOAD_SEED
// offers, default BENCH_SYNC_N), then one process runs what `offerfeed serve` runs: the API on that store and a
// sync (the sync bench's network, BENCH_SYNC_N new offers from bench/feed-server.ts) that announces its commit to
// the API's read model over the event bus; the DuckDB file has one writer process, so both share it. autocannon,
// in this process, sends /api/offers/latest (filters) and /api/offers/search at BENCH_LOAD_RATE requests/s
// (default 1,000: the API bench's target rate; 80 % latest, 20 % search) over 4 connections each, before, during
// and after the sync. Every response is put into the phase it was sent in: idle, run (fetch, map, stage), commit
// (the one DuckDB transaction), read model (the API applying the run's changes) and after. Printed per phase and
// endpoint: requests, p50/p99/max latency, the longest gap between two responses (a stalled event loop shows
// there, where a paced client would otherwise just wait), errors and non-2xx; then the sync's offers/s.
// Targets (from `npm run bench -- api`): p99 ≤ 15 ms for latest, ≤ 50 ms for search, at ≥ 1,000 requests/s.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { closeDuckDB } from '../engine/store/duckdb.ts';
import { migrateUp } from '../engine/store/migrate.ts';
import { feedModel, latestPaths, loadFeed, searchPaths } from './api.bench.ts';
import { mib, report } from './support.ts';

const SERVER_FLAG = '--sync-load-server';

type ChildEvent =
  | { event: 'ready'; url: string; loadMs: number; rss: number }
  | { event: 'sync-start'; at: number }
  | { event: 'commit-start'; at: number }
  | { event: 'commit-end'; at: number }
  | { event: 'sync-end'; at: number; ms: number; offers: number; status: string; error?: string; counts: Record<string, number>; peakRss: number }
  | { event: 'applied'; at: number; size: number; rss: number };

const PHASES = ['idle', 'run (fetch, map, stage)', 'commit', 'read model update', 'after'] as const;
type Phase = (typeof PHASES)[number];

interface Sample { latencies: number[]; responseTimes: number[]; errors: number; non2xx: number }

/** Per phase and endpoint: latency of every response (by the time its request was sent) and the gaps between responses. */
class PhaseRecorder {
  readonly marks: Partial<Record<Phase, number>> = {};
  readonly samples = new Map<string, Sample>();

  phaseAt(t: number): Phase {
    let phase: Phase = 'idle';
    for (const p of PHASES) if (this.marks[p] !== undefined && t >= this.marks[p]!) phase = p;
    return phase;
  }

  private sample(phase: Phase, endpoint: string): Sample {
    const key = `${phase}\0${endpoint}`;
    let s = this.samples.get(key);
    if (!s) this.samples.set(key, (s = { latencies: [], responseTimes: [], errors: 0, non2xx: 0 }));
    return s;
  }

  response(endpoint: string, status: number, ms: number): void {
    const now = Date.now();
    const s = this.sample(this.phaseAt(now - ms), endpoint);
    s.latencies.push(ms);
    s.responseTimes.push(now);
    if (status < 200 || status > 299) s.non2xx++;
  }

  error(endpoint: string): void {
    this.sample(this.phaseAt(Date.now()), endpoint).errors++;
  }

  duration(phase: Phase, end: number): number {
    const i = PHASES.indexOf(phase);
    const start = this.marks[phase];
    if (start === undefined) return 0;
    const next = PHASES.slice(i + 1).map((p) => this.marks[p]).find((t) => t !== undefined) ?? end;
    return Math.max(0, next - start);
  }
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
const fmt = (ms: number) => (Number.isNaN(ms) ? '-' : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`);

function cannon(url: string, endpoint: string, pool: string[], rate: number, rec: PhaseRecorder): autocannon.Instance {
  let next = 0;
  const instance = autocannon({
    url, connections: 4, overallRate: rate, duration: 24 * 3600, timeout: 30,
    headers: { 'x-offerfeed-consent': 'affiliate' },
    requests: [{ method: 'GET', setupRequest: (req: autocannon.Request) => ({ ...req, path: pool[next++ % pool.length] }) }],
  }, (err) => { if (err) rec.error(endpoint); });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => rec.response(endpoint, status, ms));
  instance.on('reqError', () => rec.error(endpoint));
  return instance;
}

function startServerProcess(dir: string, feedUrl: string): { child: ChildProcess; events: AsyncIterableIterator<ChildEvent>; send: (cmd: string) => void } {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, SERVER_FLAG, dir, feedUrl], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OFFERFEED_LOG_LEVEL: 'warn' },
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  async function* events(): AsyncGenerator<ChildEvent> {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`the sync-load server exited (${child.exitCode ?? child.signalCode})`);
      if (value.startsWith('{')) yield JSON.parse(value) as ChildEvent;
    }
  }
  return { child, events: events(), send: (cmd) => child.stdin!.write(`${cmd}\n`) };
}

async function expect<E extends ChildEvent['event']>(events: AsyncIterableIterator<ChildEvent>, name: E): Promise<Extract<ChildEvent, { event: E }>> {
  const { value } = await events.next();
  if (value.event !== name) throw new Error(`expected ${name} from the sync-load server, got ${JSON.stringify(value)}`);
  return value as Extract<ChildEvent, { event: E }>;
}

export async function syncLoadBench(n = Number(process.env.BENCH_SYNC_N ?? 1_000_000)): Promise<void> {
  const seedN = Number(process.env.BENCH_LOAD_SEED ?? n);
  const rate = Number(process.env.BENCH_LOAD_RATE ?? 1000);
  const idleS = Number(process.env.BENCH_LOAD_IDLE_S ?? 10);
  const afterS = Number(process.env.BENCH_LOAD_AFTER_S ?? 5);
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-syncload-'));
  const path = join(dir, 'offerfeed.duckdb');
  const feed = spawn(process.execPath, ['--import', 'tsx', new URL('./feed-server.ts', import.meta.url).pathname], { env: { ...process.env, FEED_SIZE: String(n) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let server: ReturnType<typeof startServerProcess> | undefined;
  const cannons: autocannon.Instance[] = [];
  try {
    const [port] = (await once(feed.stdout!, 'data')).map((b: Buffer) => b.toString().trim());
    await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: null, feedTest: false });
    await closeDuckDB(path);
    const seedMs = await loadFeed(path, seedN);
    server = startServerProcess(dir, `http://127.0.0.1:${port}`);
    const ready = await expect(server.events, 'ready');
    console.log(`\n${seedN} offers seeded in ${(seedMs / 1000).toFixed(1)} s; API read model loaded in ${(ready.loadMs / 1000).toFixed(1)} s (server RSS ${mib(ready.rss)})`);

    const rec = new PhaseRecorder();
    let seed = 11;
    const r = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const m = feedModel();
    rec.marks.idle = Date.now();
    cannons.push(cannon(ready.url, 'latest', latestPaths(m, r), Math.round(rate * 0.8), rec));
    cannons.push(cannon(ready.url, 'search', searchPaths(m, r), Math.max(1, Math.round(rate * 0.2)), rec));
    await new Promise((res) => setTimeout(res, idleS * 1000));

    server.send('sync');
    rec.marks['run (fetch, map, stage)'] = (await expect(server.events, 'sync-start')).at;
    rec.marks.commit = (await expect(server.events, 'commit-start')).at;
    const commitEnd = (await expect(server.events, 'commit-end')).at;
    rec.marks['read model update'] = commitEnd;
    const done = await expect(server.events, 'sync-end');
    const applied = await expect(server.events, 'applied');
    rec.marks.after = applied.at;
    await new Promise((res) => setTimeout(res, afterS * 1000));
    const end = Date.now();
    for (const c of cannons) c.stop();
    if (done.status !== 'succeeded') throw new Error(`the sync failed: ${done.error}`);

    const targets: Record<string, number> = { latest: 15, search: 50 };
    const rows: Array<Record<string, string | number>> = [];
    for (const phase of PHASES) {
      for (const endpoint of ['latest', 'search']) {
        const s = rec.samples.get(`${phase}\0${endpoint}`);
        const seconds = rec.duration(phase, end) / 1000;
        if (!s || !seconds) continue;
        const sorted = [...s.latencies].sort((a, b) => a - b);
        let gap = 0;
        for (let i = 1; i < s.responseTimes.length; i++) gap = Math.max(gap, s.responseTimes[i] - s.responseTimes[i - 1]);
        rows.push({
          phase, endpoint, seconds: seconds.toFixed(1), requests: sorted.length, 'req/s': Math.round(sorted.length / seconds),
          p50: fmt(quantile(sorted, 0.5)), p99: fmt(quantile(sorted, 0.99)), max: fmt(sorted[sorted.length - 1]), 'longest gap': `${gap} ms`,
          'errors/non-2xx': `${s.errors}/${s.non2xx}`, 'p99 target': `≤ ${targets[endpoint]} ms`,
        });
      }
    }
    report(`reads at ${rate} req/s while a sync of ${n} new offers commits into the DuckDB file the API serves (${seedN} offers before; 4 connections per endpoint)`, rows);
    const commitMs = commitEnd - rec.marks.commit!;
    console.log(`sync: ${done.offers} offers in ${(done.ms / 1000).toFixed(1)} s = ${Math.round(done.offers / (done.ms / 1000))} offers/s ` +
      `(commit ${(commitMs / 1000).toFixed(1)} s; new ${done.counts.new}, updated ${done.counts.updated}, unchanged ${done.counts.unchanged}); ` +
      `read model updated ${((applied.at - commitEnd) / 1000).toFixed(1)} s after the commit, ${applied.size} offers served; ` +
      `server peak RSS during the sync ${mib(done.peakRss)}, after ${mib(applied.rss)}`);
  } finally {
    for (const c of cannons) c.stop();
    if (server && server.child.exitCode === null) { server.child.kill('SIGTERM'); await once(server.child, 'exit'); }
    feed.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

// The serving process: the API and the sync in one process on one DuckDB file, as `offerfeed serve` runs them.
if (process.argv.includes(SERVER_FLAG)) {
  const [dir, feedUrl] = process.argv.slice(process.argv.indexOf(SERVER_FLAG) + 1);
  const { Writable } = await import('node:stream');
  const { startApiServer } = await import('../api/server.ts');
  const { announceCommits, LocalEventBus } = await import('../engine/events/bus.ts');
  const { createLogger } = await import('../engine/log/logger.ts');
  const { Redactor } = await import('../engine/log/redact.ts');
  const { ServingStore } = await import('../engine/store/serving-store.ts');
  const { syncConnector } = await import('../engine/sync/sync-connector.ts');
  const { duckdbPath } = await import('../engine/util/data-dir.ts');
  const { SPEC } = await import('./sync.bench.ts');
  const { MAPPING, PeakRss } = await import('./support.ts');
  const send = (e: ChildEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);
  const bus = new LocalEventBus();
  const t = performance.now();
  const running = await startApiServer({
    dataDir: dir, port: 0, bus,
    // One client address sends everything here: the per-client limit would measure the limiter. Commits reach the
    // read model over the bus, as from the scheduler in `serve`.
    overrides: { rateLimit: { max: 1e9, timeWindowMs: 60_000 }, logLevel: 'warn', pollMs: 60_000 },
  });
  await running.loaded;
  send({ event: 'ready', url: running.url, loadMs: performance.now() - t, rss: process.memoryUsage().rss });
  const store = await ServingStore.open(duckdbPath(dir));
  const commitRun = store.commitRun.bind(store);
  store.commitRun = async (...args: Parameters<typeof commitRun>) => {
    send({ event: 'commit-start', at: Date.now() });
    try { return await commitRun(...args); } finally { send({ event: 'commit-end', at: Date.now() }); }
  };
  const logger = createLogger({ redactor: new Redactor(), level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
  process.once('SIGTERM', () => { void running.close().then(() => process.exit(0)); });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'sync') continue;
    const rss = new PeakRss();
    send({ event: 'sync-start', at: Date.now() });
    const started = performance.now();
    const out = await syncConnector({ spec: SPEC(MAPPING), config: {}, redactor: new Redactor(), logger, store, baseUrlOverride: feedUrl, onCommitted: announceCommits(bus) });
    send({ event: 'sync-end', at: Date.now(), ms: performance.now() - started, offers: out.result.counts.offers, status: out.result.status, error: out.result.error, counts: out.counts as unknown as Record<string, number>, peakRss: rss.stop() });
    // The commit was announced on the bus before syncConnector returned: the read model has queued it.
    await running.api.services.feed.idle();
    send({ event: 'applied', at: Date.now(), size: running.api.services.index.size, rss: process.memoryUsage().rss });
  }
}
