// `offerfeed up`: the whole stack on embedded defaults — migrate both stores (starting a local ClickHouse when
// no CLICKHOUSE_URL is set), then sync every connector that has a sandbox from that sandbox.
import type { Command } from 'commander';
import { dataDir, duckdbPath } from '../util/data-dir.ts';
import { migrateUp } from '../store/migrate.ts';
import { clickhouseSettings, type ClickHouseSettings } from '../history/clickhouse/client.ts';
import { startLocalClickHouse, libchdbPath } from '../history/clickhouse/local-server.ts';
import { listConnectorIds } from '../spec/registry.ts';
import { loadSandbox, serveSandbox } from '../sandbox/server.ts';
import { resolveConfig } from '../spec/config.ts';
import { Redactor } from '../log/redact.ts';
import { createLogger } from '../log/logger.ts';
import { syncConnector } from '../sync/sync-connector.ts';
import { openStores } from './stores.ts';

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

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('migrate, start a local ClickHouse, and sync every example feed from its sandbox')
    .option('--only <id...>', 'sync only these connectors')
    .action(async (opts: { only?: string[] }) => {
      const log = (s: string) => process.stderr.write(`${s}\n`);
      const dir = dataDir();
      const ch = await ensureClickHouse(dir, log);
      await migrateUp({ dataDir: dir, duckdbPath: duckdbPath(dir), clickhouse: ch ?? null });
      log(`serving store: ${duckdbPath(dir)} (migrated)`);
      const stores = await openStores();
      const rows: Array<Record<string, unknown>> = [];
      try {
        for (const id of listConnectorIds()) {
          if (opts.only && !opts.only.includes(id)) continue;
          const sb = await loadSandbox(id).catch(() => undefined);
          if (!sb) { log(`${id}: no sandbox, skipped`); continue; }
          const server = await serveSandbox(sb.spec, sb.dir, sb.definition, sb.config, sb.configFile);
          const redactor = new Redactor();
          try {
            const config = await resolveConfig(sb.spec, [{ name: 'sandbox', get: async () => sb.config }], redactor);
            const out = await syncConnector({
              spec: sb.spec, config, redactor, logger: createLogger({ redactor, level: process.env.OFFERFEED_LOG_LEVEL ?? 'warn' }),
              store: stores.store, clickhouse: stores.clickhouse, baseUrlOverride: server.url,
            });
            rows.push({ connector: id, status: out.result.status, new: out.counts.new, updated: out.counts.updated, unchanged: out.counts.unchanged, quarantined: out.counts.quarantined, ms: out.result.duration_ms });
          } finally {
            await server.close();
          }
        }
        console.table(rows);
        const counts = await stores.store.offerStatusCounts();
        log(`offers in the serving store: ${JSON.stringify(counts)}; history events waiting for ClickHouse: ${await stores.store.outboxSize()}`);
        if (rows.some((r) => r.status !== 'succeeded')) process.exitCode = 1;
      } finally {
        await stores.close();
      }
    });
}
