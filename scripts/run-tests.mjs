#!/usr/bin/env node
// Collects every *.test.ts under the source folders and hands them to node's built-in runner
// (node 20 has no glob support in --test), so the summary CI reads is node's own.
// Without CLICKHOUSE_URL it starts one local ClickHouse for the whole run and stops it afterwards.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const roots = ['engine', 'api', 'migrations', 'connectors', 'examples', 'test', 'schema'];
const filter = process.argv.slice(2);
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
}
for (const r of roots) { try { walk(join(root, r)); } catch { /* folder absent */ } }
const selected = filter.length ? files.filter((f) => filter.some((s) => f.includes(s))) : files;
selected.sort();

// Status lines go to stderr so stdout carries only the runner's own report.
const env = { ...process.env, NODE_ENV: 'test' };
const clickhouse = (...args) => spawnSync(process.execPath,
  ['--import', 'tsx', 'engine/history/clickhouse/cli-helper.ts', ...args], { cwd: root, encoding: 'utf8' });
let chDir;
if (!process.env.CLICKHOUSE_URL) {
  chDir = mkdtempSync(join(tmpdir(), 'offerfeed-test-clickhouse-'));
  // --owner-pid: the server also goes away if this script is killed before it can stop it.
  const res = clickhouse('start', chDir, '--owner-pid', String(process.pid));
  if (res.status === 0) {
    env.CLICKHOUSE_URL = JSON.parse(res.stdout).url;
    console.error(`ClickHouse: local server for this test run at ${env.CLICKHOUSE_URL}`);
  } else {
    const why = (res.stderr || res.error?.message || '').trim().split('\n').slice(0, 3).join(' | ');
    console.error(`ClickHouse: could not start a local server (${why}); running tests without CLICKHOUSE_URL`);
    rmSync(chDir, { recursive: true, force: true });
    chDir = undefined;
  }
}

function cleanup() {
  if (!chDir) return;
  const res = clickhouse('stop', chDir);
  if (res.status !== 0) console.error(`ClickHouse: stopping the local server failed: ${(res.stderr || '').trim()}`);
  rmSync(chDir, { recursive: true, force: true });
  chDir = undefined;
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...selected], {
  cwd: root, stdio: 'inherit', env,
});
// The runner gets the signal too (same process group) when it comes from a terminal; forwarding
// covers `kill <pid>` of this script. Cleanup happens once the runner has exited.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('error', (err) => {
  console.error(`cannot run the test runner: ${err.message}`);
  cleanup();
  process.exit(1);
});
child.on('exit', (code, signal) => {
  cleanup();
  process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1));
});
