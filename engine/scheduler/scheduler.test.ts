import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { freshStore } from '../../test/support/store.ts';
import { startServer, json, type TestServer } from '../../test/support/http-server.ts';
import { parseSpec } from '../spec/loader.ts';
import { createLogger } from '../log/logger.ts';
import { AdminStore } from '../store/admin-store.ts';
import { all } from '../store/duckdb.ts';
import { emitterPublisher } from './events.ts';
import { AlreadyRunningError, Scheduler, type RunSummary, type SchedulerOptions } from './scheduler.ts';
import { ScheduleError } from './schedule.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function specText(base: string, schedule: string, id = 'ticker'): string {
  return `dsl: 1
id: ${id}
name: Ticker
kind: feed
base_url: ${base}
schedule: ${schedule}
retry: { attempts: 1 }
streams:
  - name: offers
    kind: product
    request: { path: /offers }
    records: items
    map: '{ "external_id": id, "title": name, "url": link }'
`;
}

interface Upstream { server: TestServer; inFlight: number; maxInFlight: number; delayMs: number; fail: boolean }

async function upstream(delayMs = 0): Promise<Upstream> {
  const u = { inFlight: 0, maxInFlight: 0, delayMs, fail: false } as Upstream;
  u.server = await startServer(async (_req, res) => {
    u.inFlight++;
    u.maxInFlight = Math.max(u.maxInFlight, u.inFlight);
    try {
      await sleep(u.delayMs);
      if (u.fail) return json(res, 500, { error: 'upstream broken' });
      json(res, 200, { items: [{ id: 'a1', name: 'First', link: 'https://shop.example/a1' }, { id: 'a2', name: 'Second', link: 'https://shop.example/a2' }] });
    } finally { u.inFlight--; }
  });
  return u;
}

async function setup(specs: Record<string, string>, extra: Partial<SchedulerOptions> = {}) {
  const { store, dir, path } = await freshStore();
  const admin = await AdminStore.open(path);
  const events = emitterPublisher();
  const seen: Array<{ topic: string; payload: any; at: number }> = [];
  events.emitter.on('*', (e: { topic: string; payload: unknown }) => seen.push({ ...e, at: performance.now() }));
  const scheduler = new Scheduler({
    storePath: path, admin, events,
    logger: (r) => createLogger({ redactor: r, level: 'silent' }),
    connectorIds: () => Object.keys(specs),
    loadSpec: async (id) => parseSpec(specs[id]),
    minIntervalMs: 50, jitterMs: 0, progressEveryMs: 0,
    ...extra,
  });
  return {
    store, admin, scheduler, events, seen,
    topic: (t: string, connector?: string) => seen.filter((e) => e.topic === t && (!connector || e.payload.connector === connector)),
    async close() {
      await scheduler.stop({ abortRunning: true });
      admin.close();
      store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('scheduler fires on time, start to start, and never overlaps a connector with itself', async () => {
  const up = await upstream(60);
  const t = await setup({ ticker: specText(up.server.url, '{ interval: 400ms }') });
  try {
    await t.scheduler.start();
    await sleep(1900);
    await t.scheduler.stop();
    const starts = t.topic('sync.started').map((e) => e.at);
    assert.ok(starts.length >= 4 && starts.length <= 6, `expected about 5 runs in 1.9 s, got ${starts.length}`);
    for (let i = 1; i < starts.length; i++) {
      const gap = starts[i] - starts[i - 1];
      assert.ok(gap >= 370 && gap <= 650, `run ${i} started ${Math.round(gap)} ms after the previous one, expected ~400 ms`);
    }
    const finished = t.topic('sync.finished').map((e) => e.payload as RunSummary);
    assert.ok(finished.every((f) => f.status === 'succeeded'), JSON.stringify(finished.map((f) => f.error)));
    assert.equal(up.maxInFlight, 1);
    assert.equal(t.topic('offers.committed').length, finished.length, 'every committed run is announced on the bus');
    const [{ n }] = await all<{ n: number }>(t.store.conn, `SELECT count(*)::INTEGER AS n FROM offers WHERE network = 'ticker' AND status = 'active'`);
    assert.equal(n, 2);
  } finally {
    await t.close();
    await up.server.close();
  }
});

test('a slow run is never overlapped: ticks during it are skipped, manual runs refused, other processes locked out', async () => {
  const up = await upstream(700);
  const t = await setup({ slow: specText(up.server.url, '{ interval: 150ms }', 'slow') });
  try {
    await t.scheduler.start();
    await sleep(150);
    assert.equal(t.scheduler.connectorStatus('slow')?.state, 'running');
    await assert.rejects(t.scheduler.runNow('slow'), AlreadyRunningError);
    // A second scheduler (another worker on the same store) is stopped by the store's run lock.
    const other = new Scheduler({
      storePath: t.store.path, admin: t.admin, logger: (r) => createLogger({ redactor: r, level: 'silent' }),
      connectorIds: () => ['slow'], loadSpec: async () => parseSpec(specText(up.server.url, '{ interval: 150ms }', 'slow')), minIntervalMs: 50,
    });
    const second = await (await other.runNow('slow')).done;
    assert.equal(second.status, 'skipped');
    assert.match(second.error ?? '', /already running/);
    await other.stop();
    await sleep(1600);
    await t.scheduler.stop();
    assert.equal(up.maxInFlight, 1, 'two requests of one connector were in flight at once');
    const runs = await all<{ s: string; f: string }>(t.store.conn, `SELECT started_at::VARCHAR AS s, finished_at::VARCHAR AS f FROM sync_runs WHERE connector = 'slow' ORDER BY started_at`);
    assert.ok(runs.length >= 2);
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i].s >= runs[i - 1].f, `run ${i} started before run ${i - 1} finished`);
  } finally {
    await t.close();
    await up.server.close();
  }
});

test('the circuit breaker opens after repeated failures, waits out the cool-down, and closes after a good trial run', async () => {
  const up = await upstream(0);
  up.fail = true;
  const t = await setup({ flaky: specText(up.server.url, '{ interval: 1h }', 'flaky') }, {
    breaker: { failures: 3, cooldownMs: 700 }, backoff: { baseMs: 40, maxMs: 200 },
  });
  try {
    await t.scheduler.start();
    // Failure 1 at once, then backoff retries after 40 ms and 80 ms: the third failure opens the breaker.
    await waitFor(() => t.topic('scheduler.breaker').some((e) => e.payload.state === 'open'), 3000);
    const openedAt = performance.now();
    await waitFor(() => t.scheduler.connectorStatus('flaky')!.state === 'breaker_open', 1000);
    assert.equal(t.topic('sync.finished').length, 3);
    const st = t.scheduler.connectorStatus('flaky')!;
    assert.equal(st.state, 'breaker_open');
    assert.equal(st.breaker.consecutive_failures, 3);
    assert.equal(st.next_reason, 'breaker_trial');
    // Nothing runs during the cool-down.
    await sleep(450);
    assert.equal(t.topic('sync.started').length, 3);
    up.fail = false;
    await waitFor(() => t.topic('scheduler.breaker').some((e) => e.payload.state === 'closed'), 3000);
    const trial = t.topic('sync.started')[3];
    assert.ok(trial.at - openedAt >= 650, `trial run came ${Math.round(trial.at - openedAt)} ms after opening, before the 700 ms cool-down`);
    assert.deepEqual(t.topic('scheduler.breaker').map((e) => e.payload.state), ['open', 'half_open', 'closed']);
    const after = t.scheduler.connectorStatus('flaky')!;
    assert.equal(after.breaker.state, 'closed');
    assert.equal(after.breaker.consecutive_failures, 0);
    assert.equal(after.next_reason, 'schedule');
    // The breaker state is persisted for the next start.
    const saved = await t.admin.schedulerState('flaky');
    assert.equal(saved?.breaker, 'closed');
    assert.equal(saved?.breaker_openings, 1);
  } finally {
    await t.close();
    await up.server.close();
  }
});

test('a failed trial run re-opens the breaker; a manual run closes it', async () => {
  const up = await upstream(0);
  up.fail = true;
  const t = await setup({ flaky: specText(up.server.url, '{ interval: 1h }', 'flaky') }, { breaker: { failures: 1, cooldownMs: 300 } });
  try {
    await t.scheduler.start();
    await waitFor(() => t.topic('scheduler.breaker').filter((e) => e.payload.state === 'open').length >= 2, 3000);
    await waitFor(() => t.scheduler.connectorStatus('flaky')!.state === 'breaker_open', 1000);
    assert.deepEqual(t.topic('scheduler.breaker').map((e) => e.payload.state), ['open', 'half_open', 'open']);
    up.fail = false;
    const run = await (await t.scheduler.runNow('flaky', { actor: 'alice' })).done;
    assert.equal(run.status, 'succeeded');
    assert.equal(run.actor, 'alice');
    assert.equal(t.scheduler.connectorStatus('flaky')!.breaker.state, 'closed');
  } finally {
    await t.close();
    await up.server.close();
  }
});

test('pause, resume, schedule overrides and on-demand full runs', async () => {
  const up = await upstream(0);
  const t = await setup({ ticker: specText(up.server.url, '{ interval: 1h }') });
  try {
    await t.scheduler.start();
    await waitFor(() => t.topic('sync.finished').length === 1, 3000);
    assert.equal(t.scheduler.connectorStatus('ticker')!.schedule?.source, 'spec');
    await t.scheduler.pause('ticker', { by: 'alice', reason: 'maintenance' });
    await t.scheduler.setSchedule('ticker', { interval: '100ms' }, { by: 'alice' });
    const paused = t.scheduler.connectorStatus('ticker')!;
    assert.equal(paused.state, 'paused');
    assert.equal(paused.next_run_at, null);
    assert.equal(paused.schedule?.source, 'override');
    await sleep(350);
    assert.equal(t.topic('sync.started').length, 1, 'a paused connector ran on schedule');
    // An explicit run still works while paused.
    const manual = await (await t.scheduler.runNow('ticker', { full: true })).done;
    assert.equal(manual.status, 'succeeded');
    assert.equal(manual.full, true);
    assert.equal(manual.trigger, 'manual');
    assert.ok(manual.runId && manual.counts);
    await t.scheduler.resume('ticker', { by: 'alice' });
    await sleep(450);
    assert.ok(t.topic('sync.started').length >= 4, 'resumed connector did not run on its 100 ms override');
    await assert.rejects(t.scheduler.setSchedule('ticker', { cron: 'not a cron' }, { by: 'alice' }), ScheduleError);
    await assert.rejects(t.scheduler.setSchedule('ticker', { interval: '10ms' }, { by: 'alice' }), /shorter than the minimum/);
    await t.scheduler.setSchedule('ticker', null, { by: 'alice' });
    assert.equal(t.scheduler.connectorStatus('ticker')!.schedule?.source, 'spec');
    const [settings] = await t.admin.connectorSettings('ticker');
    assert.equal(settings.paused, false);
    assert.equal(settings.updated_by, 'alice');
  } finally {
    await t.close();
    await up.server.close();
  }
});

test('cron schedules fire at their second; connectors missing settings are not scheduled', async () => {
  const up = await upstream(0);
  const unconfigured = specText(up.server.url, '{ interval: 1h }', 'needskey').replace('retry:', `config:
  type: object
  required: [api_key]
  properties:
    api_key: { type: string, x-secret: true }
auth: { type: bearer, token: "{{ $config.api_key }}" }
retry:`);
  const t = await setup({ ticker: specText(up.server.url, '{ cron: "* * * * * *" }'), needskey: unconfigured }, { minIntervalMs: 1000 });
  try {
    await t.scheduler.start();
    await sleep(2300);
    await t.scheduler.stop();
    const starts = t.topic('sync.started', 'ticker');
    assert.ok(starts.length >= 2 && starts.length <= 3, `got ${starts.length} cron runs`);
    for (const s of starts) {
      // In the second the pattern names (the run's start is recorded after its spec and settings are loaded,
      // which a busy machine delays by a few hundred ms), never a second late.
      const ms = new Date(s.payload.started_at).getMilliseconds();
      assert.ok(ms < 600, `a cron run started ${ms} ms past the second`);
    }
    const st = t.scheduler.connectorStatus('needskey')!;
    assert.equal(st.state, 'unconfigured');
    assert.match(st.problem ?? '', /missing setting "api_key"/);
    assert.equal(t.topic('sync.started', 'needskey').length, 0);
    await assert.rejects(t.scheduler.runNow('needskey'), /missing setting/);
  } finally {
    await t.close();
    await up.server.close();
  }
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}
