// The `offerfeed` command line. Logs go to stderr; stdout carries only requested output (NDJSON offers, lists).
import { Command, InvalidArgumentError } from 'commander';
import { relative } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { loadSpecFile, SpecValidationError } from '../spec/loader.ts';
import { connectorsDir, listConnectorIds, specPath } from '../spec/registry.ts';
import { envConfigSource, fileConfigSource, resolveConfig, type ConfigSource } from '../spec/config.ts';
import { Redactor } from '../log/redact.ts';
import { createLogger } from '../log/logger.ts';
import { runConnector } from '../run/runner.ts';
import { NdjsonSink } from '../run/ndjson-sink.ts';
import { createProgress } from './progress.ts';
import { startSandbox } from '../sandbox/server.ts';
import { runContractTest, formatContractReport } from '../sandbox/contract.ts';
import { syncConnector } from '../sync/sync-connector.ts';
import { flushOutbox } from '../history/outbox-flusher.ts';
import { openStores } from './stores.ts';
import { registerUpCommand } from './up.ts';
import { listTemplates, scaffoldConnector } from './scaffold.ts';
import { SecretStore } from '../store/secrets.ts';
import { secretStoreConfigSource } from '../spec/secret-config.ts';
import { registerSecretCommands } from './secret-commands.ts';
import { registerAdminCommands } from './admin-commands.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerStoreCommands } from './store-commands.ts';

const program = new Command();
program.name('offerfeed').description('Declarative affiliate-offer ETL: connectors as YAML, one engine.').showHelpAfterError();

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};
const url = (v: string) => {
  try { return new URL(v).toString(); } catch { throw new InvalidArgumentError(`"${v}" is not an absolute URL`); }
};

program
  .command('sync <id>')
  .description('run a connector: extract, map and validate its offers')
  .option('--dry-run', 'touch no store; write offers to --out')
  .option('--out <file>', 'with --dry-run: NDJSON output file, or - for stdout', '-')
  .option('--base-url <url>', 'replace scheme, host and port of every request (sandbox, proxy, regional host)', url)
  .option('--config <file>', 'JSON file with the connector settings')
  .option('--max-pages <n>', 'stop each partition after N pages (the run is then partial)', positiveInt)
  .option('--stream <name...>', 'run only these streams')
  .option('--full', 'ignore incremental state and fetch everything')
  .option('--quiet', 'no progress display')
  .action(async (id: string, opts) => {
    const redactor = new Redactor();
    const logger = createLogger({ redactor });
    const { spec } = await loadSpecFile(specPath(id));
    const stores = opts.dryRun ? undefined : await openStores();
    const sources: ConfigSource[] = [...(opts.config ? [fileConfigSource(opts.config)] : []), envConfigSource()];
    if (stores && process.env.OFFERFEED_MASTER_KEY) sources.push(secretStoreConfigSource(new SecretStore(stores.store)));
    const config = await resolveConfig(spec, sources, redactor).catch(async (e) => { await stores?.close(); throw e; });
    if (stores) {
      const progress = createProgress(spec.id, process.stderr, opts.quiet);
      try {
        const out = await syncConnector({
          spec, config, redactor, logger, store: stores.store, clickhouse: stores.clickhouse, full: opts.full,
          baseUrlOverride: opts.baseUrl, maxPages: opts.maxPages, streams: opts.stream,
          missedRunsToDeactivate: Number(process.env.OFFERFEED_MISSED_RUNS_TO_DEACTIVATE ?? 1),
          onProgress: (p) => progress.update(p),
        });
        progress.stop();
        const summary = { connector: spec.id, run_id: out.runId, status: out.result.status, complete: out.result.complete, ...out.counts, duration_ms: out.result.duration_ms, history: out.history ? (out.history.error ? `kept ${out.history.remaining} events for replay (${out.history.error})` : `flushed ${out.history.flushed} events`) : 'ClickHouse not configured: events kept in the outbox', error: out.result.error };
        process.stdout.write(`${redactor.redact(JSON.stringify(summary, null, 2))}\n`);
        if (out.result.status !== 'succeeded') process.exitCode = 1;
      } finally {
        await stores.close();
      }
      return;
    }
    const sink = opts.out === '-' ? new NdjsonSink(process.stdout) : NdjsonSink.toFile(opts.out);
    const progress = createProgress(spec.id, process.stderr, opts.quiet || opts.out === '-' && process.stderr.isTTY !== true);
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort(new Error('interrupted')));
    const result = await runConnector({
      spec, config, redactor, logger, sink,
      baseUrlOverride: opts.baseUrl, maxPages: opts.maxPages, streams: opts.stream,
      signal: abort.signal, onProgress: (p) => progress.update(p),
    });
    progress.stop();
    await sink.close();
    const summary = {
      connector: spec.id, status: result.status, complete: result.complete, ...result.counts,
      duplicates: sink.duplicates, duration_ms: result.duration_ms, error: result.error,
    };
    process.stderr.write(`${redactor.redact(JSON.stringify(summary))}\n`);
    if (result.status !== 'succeeded') process.exitCode = 1;
  });

program
  .command('rollback <runId>')
  .description("restore a connector's offers to their state before a run (recorded as new history)")
  .action(async (runId: string) => {
    const stores = await openStores();
    try {
      const { restored } = await stores.store.rollbackRun(runId);
      process.stdout.write(`rolled back ${runId}: ${restored} offers restored\n`);
      if (stores.clickhouse) await flushOutbox(stores.store, stores.clickhouse);
    } finally { await stores.close(); }
  });

program
  .command('history')
  .description('history outbox → ClickHouse')
  .command('flush')
  .description('replay history events waiting in the outbox to ClickHouse')
  .action(async () => {
    const stores = await openStores();
    try {
      if (!stores.clickhouse) throw new Error('no ClickHouse: set CLICKHOUSE_URL or run `offerfeed clickhouse start`');
      const r = await flushOutbox(stores.store, stores.clickhouse);
      process.stdout.write(`${JSON.stringify(r)}\n`);
      if (r.error) process.exitCode = 1;
    } finally { await stores.close(); }
  });

const connectors = program.command('connectors').description('list, validate and test connector specs');

connectors
  .command('list')
  .description('list the connectors and their status')
  .option('--json', 'machine-readable output')
  .action(async (opts) => {
    const rows = [];
    for (const id of listConnectorIds()) {
      try {
        const { spec } = await loadSpecFile(specPath(id));
        rows.push({ id, name: spec.name, kind: spec.kind, status: spec.status ?? 'active', successor: spec.successor, streams: spec.streams.map((s) => s.name) });
      } catch (e) {
        rows.push({ id, status: 'invalid', error: (e as Error).message.split('\n')[0] });
      }
    }
    if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else for (const r of rows) process.stdout.write(`${r.id.padEnd(24)} ${String(r.status).padEnd(9)} ${'name' in r ? r.name : r.error}${'successor' in r && r.successor ? ` (successor: ${r.successor})` : ''}\n`);
  });

connectors
  .command('validate [path]')
  .description('check a spec file, a connector folder, or every connector')
  .action(async (path?: string) => {
    const files = path === undefined
      ? listConnectorIds().map((id) => specPath(id))
      : existsSync(path) && statSync(path).isDirectory() && !existsSync(`${path}/connector.yaml`)
        ? listConnectorIds(path).map((id) => `${path}/${id}/connector.yaml`)
        : [specPath(path)];
    let bad = 0;
    for (const f of files) {
      try {
        await loadSpecFile(f);
        process.stdout.write(`ok      ${relative(process.cwd(), f)}\n`);
      } catch (e) {
        bad++;
        const lines = e instanceof SpecValidationError ? e.errors.map((x) => x.message) : [(e as Error).message];
        process.stdout.write(`invalid ${relative(process.cwd(), f)}\n`);
        for (const l of lines) process.stderr.write(`  ${l}\n`);
      }
    }
    if (files.length === 0) process.stderr.write(`no connectors found in ${connectorsDir()}\n`);
    if (bad) process.exitCode = 1;
  });

connectors
  .command('new <id>')
  .description('create connectors/<id>/ from a template in examples/templates/ (walkthrough: examples/README.md)')
  .requiredOption('--from <template>', 'template to copy (see `offerfeed connectors templates`)')
  .option('--name <name>', 'display name (default: the id in title case)')
  .action(async (id: string, opts: { from: string; name?: string }) => {
    const { dir, files } = await scaffoldConnector(id, opts.from, { name: opts.name });
    const shown = relative(process.cwd(), dir) || dir;
    process.stdout.write(`created ${shown}/ from the ${opts.from} template:\n${files.map((f) => `  ${f}\n`).join('')}`);
    process.stdout.write(`next: edit connector.yaml and sandbox/ there, then\n  offerfeed connectors validate ${id}\n`
      + `  offerfeed connectors test ${id} --update    and review sandbox/expected.ndjson\n`);
  });

connectors
  .command('templates')
  .description('list the templates that `connectors new --from` accepts')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => {
    const list = (await listTemplates()).map(({ dir: _dir, ...t }) => t);
    if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    else for (const t of list) process.stdout.write(`${t.id.padEnd(20)} ${(t.kind ?? '').padEnd(10)} ${t.name}\n`);
  });

connectors
  .command('test <id>')
  .description("run a connector against its sandbox and compare with the sandbox's expected offers")
  .option('--update', 'write the offers produced as the new expected.ndjson')
  .option('--no-faults', 'skip the second pass with injected throttling and failures')
  .action(async (id: string, opts) => {
    const report = await runContractTest(id, { update: opts.update, faults: opts.faults });
    process.stdout.write(formatContractReport(report));
    if (!report.ok) process.exitCode = 1;
  });

program
  .command('sandbox <id>')
  .description("serve a connector's sandbox (sample responses, auth checks) on 127.0.0.1")
  .option('--port <n>', 'port (default: any free port)', positiveInt)
  .option('--faults', 'throttle (429) and fail (503) once per page before answering')
  .action(async (id: string, opts) => {
    const sb = await startSandbox(id, { port: opts.port, faults: opts.faults ? 'once-per-page' : undefined });
    process.stdout.write(`sandbox for ${id} listening on ${sb.url}\n`);
    process.stdout.write(`try: offerfeed sync ${id} --dry-run --out - --base-url ${sb.url} --config ${relative(process.cwd(), sb.configFile)}\n`);
    const stop = () => { void sb.close().then(() => process.exit(0)); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

registerUpCommand(program);
registerStoreCommands(program);
registerSecretCommands(program);
registerAdminCommands(program);
registerServeCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = e as Error;
  if (err instanceof SpecValidationError) for (const x of err.errors) process.stderr.write(`${x.message}\n`);
  else process.stderr.write(`offerfeed: ${err.message}\n`);
  process.exitCode = 1;
}
