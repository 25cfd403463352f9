// `offerfeed serve` as a process: starts on the data directory's stores, answers, and shuts down gracefully on
// SIGTERM (exit status 0) with an in-flight request still answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { migrateUp } from '../engine/store/migrate.ts';
import { closeDuckDB } from '../engine/store/duckdb.ts';
import { projectRoot } from '../engine/spec/registry.ts';

const CLI = `import { Command } from 'commander';
import { registerServeCommand } from './engine/cli/serve-command.ts';
const program = new Command();
registerServeCommand(program);
await program.parseAsync(process.argv);`;

test('serve starts on the data directory, serves, and stops gracefully on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-serve-'));
  try {
    await migrateUp({ dataDir: dir, duckdbPath: join(dir, 'offerfeed.duckdb'), clickhouse: null, feedTest: false });
    // The file is the server's now: one process holds a DuckDB file.
    await closeDuckDB(join(dir, 'offerfeed.duckdb'));
    const env: NodeJS.ProcessEnv = { ...process.env, OFFERFEED_DATA_DIR: dir, OFFERFEED_LOG_LEVEL: 'warn' };
    delete env.CLICKHOUSE_URL;
    delete env.OFFERFEED_DUCKDB_PATH;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CLI, 'x', 'serve', '--port', '0'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += String(d); });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += String(d);
        const m = /OfferFeed API on (http:\/\/[^\s]+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal((await fetch(`${url}/api/offers/latest`)).status, 200);
    const inFlight = fetch(`${url}/api/networks`);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal((await inFlight).status, 200, 'the request in flight at SIGTERM is answered');
    assert.equal(code, 0, stderr);
    assert.match(stderr, /SIGTERM: shutting down/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
