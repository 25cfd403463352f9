// Store administration commands: `migrate up|status|verify`, `backup DIR`, `restore DIR [--force]` and the
// local ClickHouse server (`clickhouse start|stop|status`). Reports go to stdout, progress to stderr.
import { Command, InvalidArgumentError } from 'commander';
import { dataDir } from '../util/data-dir.ts';
import { migrateUp, migrationStatus, safeUrl, verify, type StatusReport } from '../store/migrate.ts';
import { backup, restore } from '../store/backup.ts';
import { formatChecks, formatFeed, formatTable } from '../store/verify.ts';
import { localClickHouseStatus, startLocalClickHouse, stopLocalClickHouse } from '../history/clickhouse/local-server.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
};

const out = (s: string) => process.stdout.write(s);
const progress = (line: string) => process.stderr.write(`${line}\n`);
const json = (v: unknown) => out(`${JSON.stringify(v, null, 2)}\n`);
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

function formatStatus(s: StatusReport): string {
  let text = '';
  for (const st of s.stores) {
    text += `${st.store}: ${st.location}${st.available ? `, schema version ${st.version}, ${st.pending} pending` : ` — ${st.reason ?? 'unavailable'}`}\n`;
    if (st.entries.length) {
      text += formatTable(['version', 'name', 'state', 'applied at', 'ms'], st.entries.map((e) => [
        String(e.version).padStart(3, '0'), e.name, e.state, e.applied_at ?? '-', e.duration_ms === undefined ? '-' : String(e.duration_ms),
      ]));
    }
    for (const p of st.problems) text += `  ! ${p}\n`;
  }
  return text;
}

export function registerStoreCommands(program: Command): void {
  const migrate = program.command('migrate').description('forward-only migrations of the DuckDB serving store and ClickHouse history');

  migrate
    .command('up')
    .description('back up the serving store, apply pending migrations, then verify data and run the feed test')
    .option('--no-feed-test', 'skip the sandbox sync of every connector afterwards')
    .option('--json', 'machine-readable report')
    .action(async (opts: { feedTest: boolean; json?: boolean }) => {
      const r = await migrateUp({ dataDir: dataDir(), feedTest: opts.feedTest, onProgress: progress });
      if (!r.ok) process.exitCode = 1;
      if (opts.json) { json(r); return; }
      for (const s of r.skipped) progress(`${s.store}: skipped (${s.reason})`);
      if (r.backup) out(`pre-migrate backup: ${r.backup}\n`);
      if (r.applied.length) {
        out('applied:\n');
        out(formatTable(['store', 'migration', 'statements', 'ms'], r.applied.map((a) => [a.store, `${String(a.version).padStart(3, '0')}_${a.name}`, String(a.statements), String(a.duration_ms)])));
      } else {
        out('nothing to apply: the schema is current\n');
      }
      out('data tables (before → after):\n');
      out(formatChecks(r.checks));
      if (r.feedTest) {
        out('feed test (sandbox sync of every connector):\n');
        out(formatFeed(r.feed));
      }
      out(`migrate up: ${r.ok ? 'ok' : 'FAILED'} (${r.applied.length} migrations, ${r.duration_ms} ms)\n`);
    });

  migrate
    .command('status')
    .description('applied and pending migrations of each store (exit status 1 when any is pending, edited or missing)')
    .option('--json', 'machine-readable report')
    .action(async (opts: { json?: boolean }) => {
      const s = await migrationStatus({ dataDir: dataDir() });
      if (!s.ok) process.exitCode = 1;
      if (opts.json) { json(s); return; }
      out(formatStatus(s));
    });

  migrate
    .command('verify')
    .description('check the schema is current and unedited, print row counts and checksums of every data table, run the feed test')
    .option('--no-feed-test', 'skip the sandbox sync of every connector')
    .option('--json', 'machine-readable report')
    .action(async (opts: { feedTest: boolean; json?: boolean }) => {
      const r = await verify({ dataDir: dataDir(), feedTest: opts.feedTest });
      if (!r.ok) process.exitCode = 1;
      if (opts.json) { json(r); return; }
      out(formatStatus(r.status));
      out('data tables:\n');
      out(formatChecks(r.checks));
      if (r.feedTest) {
        out('feed test (sandbox sync of every connector):\n');
        out(formatFeed(r.feed));
      }
      out(`migrate verify: ${r.ok ? 'ok' : 'FAILED'}\n`);
    });

  program
    .command('backup <dir>')
    .description('export every serving-store table to Parquet in DIR (new or empty) with a manifest of counts and checksums')
    .action(async (dir: string) => {
      const r = await backup(dir, { dataDir: dataDir() });
      out(formatTable(['table', 'rows', 'checksum', 'file'], r.manifest.tables.map((t) => [t.table, String(t.rows), t.checksum, t.file])));
      out(`backup: ${r.dir} (schema version ${r.manifest.schema_version}, ${r.manifest.tables.length} tables, ${mb(r.bytes)}, ${r.duration_ms} ms)\n`);
    });

  program
    .command('restore <dir>')
    .description('rebuild the serving store from a backup: schema by migrations, data from Parquet, verified against the manifest')
    .option('--force', 'restore over a store that has data (it is moved aside, not deleted)')
    .action(async (dir: string, opts: { force?: boolean }) => {
      const r = await restore(dir, { dataDir: dataDir(), force: opts.force });
      if (r.moved_aside) out(`previous store moved to ${r.moved_aside}\n`);
      for (const t of r.created_from_manifest) progress(`table ${t} is not created by any migration: created from the manifest's column types`);
      out(formatTable(['', 'table', 'rows', 'checksum'], r.tables.map((t) => [t.ok ? 'ok' : 'FAIL', t.table, String(t.rows), t.checksum])));
      out(`restore: ${r.path} at schema version ${r.schema_version}, counts and checksums equal the manifest (${r.duration_ms} ms); ` +
        'run `offerfeed migrate up` to apply any newer migrations\n');
    });

  const ch = program.command('clickhouse').description('the local ClickHouse server of this data directory (from the optional chdb package)');
  const external = () => {
    if (process.env.CLICKHOUSE_URL) progress(`note: CLICKHOUSE_URL is set, so offerfeed uses ${safeUrl(process.env.CLICKHOUSE_URL)}, not this local server`);
  };

  ch.command('start')
    .description('start it in the background on 127.0.0.1 (data under <data dir>/clickhouse) and print its URL')
    .option('--port <n>', 'HTTP port (default: any free port)', port)
    .action(async (opts: { port?: number }) => {
      external();
      const s = await startLocalClickHouse({ dataDir: dataDir(), port: opts.port });
      if (opts.port && s.port !== opts.port) progress(`already running on port ${s.port} (not ${opts.port}); stop it first to change the port`);
      out(`${s.url}\n`);
      progress(`local ClickHouse running (pid ${s.pid}); stop it with \`offerfeed clickhouse stop\``);
    });

  ch.command('stop')
    .description('stop it (waits for a clean shutdown)')
    .action(async () => {
      const stopped = await stopLocalClickHouse(dataDir());
      out(stopped ? 'stopped\n' : 'not running\n');
    });

  ch.command('status')
    .description('print its URL when running; exit status 1 when it is not')
    .action(async () => {
      external();
      const s = await localClickHouseStatus(dataDir());
      if (s.running) {
        out(`${s.url}\n`);
        progress(`local ClickHouse running (pid ${s.pid})`);
      } else {
        progress(`local ClickHouse is not running for ${dataDir()}`);
        process.exitCode = 1;
      }
    });
}
