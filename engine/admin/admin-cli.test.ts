import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../spec/registry.ts';
import { migrateUp } from '../store/migrate.ts';
import { AdminStore } from '../store/admin-store.ts';
import { closeDuckDB } from '../store/duckdb.ts';
import { AdminAuth } from './auth.ts';

// The admin commands on a bare commander program, as `offerfeed` registers them.
const ENTRY = `const { Command } = await import('commander'); const { registerAdminCommands } = await import('./engine/cli/admin-commands.ts');
const p = new Command(); p.name('offerfeed').exitOverride(); registerAdminCommands(p);
try { await p.parseAsync(process.argv.slice(1), { from: 'user' }); } catch (e) { process.stderr.write('offerfeed: ' + e.message + '\\n'); process.exitCode = 1; }`;

function cli(dataDir: string, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ENTRY, ...args],
      { cwd: projectRoot, env: { ...process.env, OFFERFEED_DATA_DIR: dataDir, USER: 'ops' } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin!.end(stdin ?? '');
  });
}

test('offerfeed admin: users from stdin, tokens printed once, everything audited', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'offerfeed-admin-cli-'));
  const path = join(dir, 'offerfeed.duckdb');
  try {
    await migrateUp({ dataDir: dir, duckdbPath: path, clickhouse: null, feedTest: false });
    await closeDuckDB(path);
    const add = await cli(dir, ['admin', 'user', 'add', 'alice', '--role', 'admin'], 'a long passphrase\n');
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /created admin user alice/);
    assert.ok(!add.stdout.includes('a long passphrase') && !add.stderr.includes('a long passphrase'));
    const weak = await cli(dir, ['admin', 'user', 'add', 'bob', '--role', 'viewer'], 'short\n');
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /at least 10 characters/);
    const bad = await cli(dir, ['admin', 'token', 'create', 'x', '--role', 'root']);
    assert.notEqual(bad.code, 0);
    const tok = await cli(dir, ['admin', 'token', 'create', 'dashboard', '--role', 'viewer']);
    assert.equal(tok.code, 0, tok.stderr);
    const token = tok.stdout.trim();
    assert.match(token, /^oft_[\w-]{43}$/);
    assert.match(tok.stderr, /not shown again/);
    const list = await cli(dir, ['admin', 'token', 'list', '--json']);
    assert.ok(!list.stdout.includes(token.slice(4)));
    const pause = await cli(dir, ['admin', 'pause', 'awin', '--reason', 'contract renegotiation']);
    assert.equal(pause.code, 0, pause.stderr);
    const sched = await cli(dir, ['admin', 'schedule', 'awin', '--interval', '5s']);
    assert.equal(sched.code, 1);
    assert.match(sched.stderr, /shorter than the minimum/);

    const admin = await AdminStore.open(path);
    try {
      const auth = new AdminAuth(admin);
      const p = await auth.authenticate(token);
      assert.deepEqual([p?.user, p?.role], ['dashboard', 'viewer']);
      assert.ok(await auth.login('alice', 'a long passphrase'));
      const audit = await auth.listAudit();
      assert.deepEqual(audit.map((e) => [e.actor, e.action, e.target, e.result]), [
        ['cli:ops', 'pause', 'awin', 'ok'], ['cli:ops', 'token.manage', 'dashboard', 'ok'], ['cli:ops', 'user.manage', 'bob', 'error'], ['cli:ops', 'user.manage', 'alice', 'ok'],
      ]);
      assert.equal((await admin.connectorSettings('awin'))[0].paused, true);
    } finally { admin.close(); await closeDuckDB(path); }
  } finally { await rm(dir, { recursive: true, force: true }); }
});
