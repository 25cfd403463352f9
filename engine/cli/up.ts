// `offerfeed up`: the whole stack on embedded defaults — migrate both stores (starting a local ClickHouse when no
// CLICKHOUSE_URL is set), serve the API and the admin UI with the feed running in the same process, and sync every
// connector that has a sandbox from that sandbox. The first time, an admin user is created and its password printed
// once (or taken from OFFERFEED_ADMIN_PASSWORD).
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { dataDir, duckdbPath } from '../util/data-dir.ts';
import { migrateUp } from '../store/migrate.ts';
import { clickhouseSettings, type ClickHouseSettings } from '../history/clickhouse/client.ts';
import { startLocalClickHouse, libchdbPath } from '../history/clickhouse/local-server.ts';
import type { FeedHost } from '../host/feed-host.ts';
import { serve } from './serve-command.ts';

export async function ensureClickHouse(dir: string, log: (s: string) => void): Promise<ClickHouseSettings | undefined> {
  const existing = await clickhouseSettings(dir);
  if (existing) return existing;
  if (!libchdbPath()) {
    log('ClickHouse: no CLICKHOUSE_URL and the optional @chdb package is not installed; history stays in the outbox until one is configured');
    return undefined;
  }
  const server = await startLocalClickHouse({ dataDir: dir });
  log(`ClickHouse: local server at ${server.url} (data in ${dir}/clickhouse)`);
  return clickhouseSettings(dir);
}

/** The first admin of a fresh data directory: named `admin`, with OFFERFEED_ADMIN_PASSWORD or a random password shown once. */
async function bootstrapAdmin(host: FeedHost, log: (s: string) => void): Promise<void> {
  if ((await host.admin.countAdmins()) > 0) return;
  const given = process.env.OFFERFEED_ADMIN_PASSWORD;
  const password = given ?? randomBytes(12).toString('base64url');
  await host.auth.createUser('admin', password, 'admin');
  await host.auth.audit({ user: 'cli:up', via: 'cli', role: 'admin' }, 'user.manage', 'admin', 'ok', { created: 'admin', role: 'admin' });
  log(given ? 'Admin user "admin" created with the password from OFFERFEED_ADMIN_PASSWORD'
    : `Admin user "admin" created; password (shown once, change it with \`offerfeed admin user passwd admin\`): ${password}`);
}

/** Runs every sandboxed connector once (as many at a time as the scheduler allows) and reports each outcome. */
async function syncSandboxes(host: FeedHost, only: string[] | undefined): Promise<Array<Record<string, unknown>>> {
  const ids = (host.sandboxes?.ids() ?? []).filter((id) => !only || only.includes(id));
  const runs = await Promise.all(ids.map(async (id) => {
    const r = await (await host.scheduler.runNow(id, { actor: 'cli:up' })).done;
    return { connector: id, status: r.status, new: r.counts?.new ?? 0, updated: r.counts?.updated ?? 0, unchanged: r.counts?.unchanged ?? 0, quarantined: r.counts?.quarantined ?? 0, ms: r.duration_ms, error: r.error ?? '' };
  }));
  return runs;
}

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a TCP port (0-65535)');
  return n;
};

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('migrate, start a local ClickHouse, serve the API and admin UI, and sync every example feed from its sandbox')
    .option('--only <id...>', 'sync only these connectors at start')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', 'port (default 8080)', port)
    .option('--no-serve', 'stop after the first sync instead of serving')
    .action(async (opts: { only?: string[]; host?: string; port?: number; serve: boolean }) => {
      const log = (s: string) => process.stderr.write(`${s}\n`);
      const dir = dataDir();
      const ch = await ensureClickHouse(dir, log);
      await migrateUp({ dataDir: dir, duckdbPath: duckdbPath(dir), clickhouse: ch ?? null });
      log(`serving store: ${duckdbPath(dir)} (migrated)`);
      // Scheduled runs start once the first sync is done, so the two never race for a connector.
      const running = await serve({ host: opts.host, port: opts.serve ? opts.port : (opts.port ?? 0), sandboxes: true, schedule: false }, log);
      const host = running.host!;
      await bootstrapAdmin(host, log);
      const rows = await syncSandboxes(host, opts.only);
      if (opts.serve) await host.scheduler.start();
      console.table(rows);
      const counts = await host.store.offerStatusCounts();
      log(`offers in the serving store: ${JSON.stringify(counts)}; history events waiting for ClickHouse: ${await host.store.outboxSize()}`);
      const failed = rows.some((r) => r.status !== 'succeeded');
      if (!opts.serve) {
        await running.close();
        process.exitCode = failed ? 1 : 0;
        return;
      }
      log(`Serving on ${running.url} (admin UI ${running.url}/admin/offers-feed); Ctrl-C to stop.`);
    });
}
