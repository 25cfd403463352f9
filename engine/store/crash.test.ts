// A sync process killed with SIGKILL during the merge leaves the serving store holding all of that run or
// none of it; the next run takes over the dead run's lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { freshStore } from '../../test/support/store.ts';
import { all } from './duckdb.ts';
import { ServingStore } from './serving-store.ts';
import { closeDuckDB } from './duckdb.ts';

const CHILD = new URL('../../test/support/bulk-commit-child.ts', import.meta.url).pathname;
const N = 25_000;

function runChild(path: string, label: string, killAfterMergeMs?: number): Promise<{ killed: boolean; done: boolean; mergeMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, label, String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let mergeStart = 0;
    let mergeMs = 0;
    child.stdout.on('data', (d) => {
      out += d;
      if (!mergeStart && out.includes('MERGING')) {
        mergeStart = performance.now();
        if (killAfterMergeMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMergeMs);
      }
      if (out.includes('DONE')) mergeMs = performance.now() - mergeStart;
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child failed (${code}): ${err}`));
      else resolve({ killed: signal === 'SIGKILL', done: out.includes('DONE'), mergeMs });
    });
  });
}

async function titles(path: string): Promise<Record<string, number>> {
  const store = await ServingStore.open(path);
  try {
    const rows = await all<{ label: string; n: number }>(store.conn, `SELECT split_part(title, ' ', 1) AS label, count(*)::INTEGER AS n FROM offers GROUP BY 1`);
    return Object.fromEntries(rows.map((r) => [r.label, r.n]));
  } finally {
    store.close();
    await closeDuckDB(path);
  }
}

test('SIGKILL during the merge: all of the run or none of it, again and again', async (t) => {
  const { store, path } = await freshStore();
  store.close();
  await closeDuckDB(path);
  await runChild(path, 'base');
  // A merge that updates every offer, timed, sets the kill points.
  const { mergeMs } = await runChild(path, 'r0');
  assert.deepEqual(await titles(path), { r0: N });
  let previous = 'r0';
  const outcomes: string[] = [];
  // Kill points spread over the measured merge, up to just after it should have finished.
  const delays = [0, 0.3, 0.6, 0.85, 0.95, 1.0, 1.1].map((f) => Math.round(f * mergeMs));
  for (let round = 1; round <= delays.length; round++) {
    const label = `r${round}`;
    const { killed, done } = await runChild(path, label, delays[round - 1]);
    const state = await titles(path);
    const labels = Object.keys(state);
    assert.equal(labels.length, 1, `round ${round}: a half-applied run (${JSON.stringify(state)})`);
    assert.equal(state[labels[0]], N);
    assert.ok(labels[0] === previous || labels[0] === label, `round ${round}: unexpected ${labels[0]}`);
    if (!killed) assert.ok(done);
    outcomes.push(`${killed ? 'killed' : 'finished'}:${labels[0] === label ? 'all' : 'none'}`);
    previous = labels[0];
  }
  t.diagnostic(`rounds: ${outcomes.join(', ')}`);
  // The dead runs' locks do not block the next run.
  await runChild(path, 'final');
  assert.deepEqual(await titles(path), { final: N });
});

test('a second process on a serving store in use fails fast with an actionable error', async () => {
  const { store, path } = await freshStore();
  try {
    const started = performance.now();
    const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', `import('${new URL('./serving-store.ts', import.meta.url).pathname}').then(m => m.ServingStore.open(${JSON.stringify(path)})).then(() => process.exit(0), (e) => { console.error(e.name + ': ' + e.message); process.exit(3); })`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(out.code, 3);
    assert.match(out.stderr, /StoreLockedError: the serving store .* is in use by another process .*Stop the other offerfeed process or set OFFERFEED_DATA_DIR/);
    assert.ok(performance.now() - started < 10_000);
  } finally {
    store.close();
    await closeDuckDB(path);
  }
});
