// Starting and stopping the API as a server: stores of the data directory (DuckDB file, ClickHouse from
// CLICKHOUSE_URL or the local server), config, listen, then load the read model in the background (/readyz says
// when it is done), and a graceful shutdown that finishes in-flight requests and flushes pending clicks.
import type { ClickHouseClient } from '@clickhouse/client';
import { existsSync } from 'node:fs';
import type { EventBus } from '../engine/events/bus.ts';
import { clickhouseClient, clickhouseSettings } from '../engine/history/clickhouse/client.ts';
import { createLogger } from '../engine/log/logger.ts';
import { Redactor } from '../engine/log/redact.ts';
import { dataDir as defaultDataDir, duckdbPath } from '../engine/util/data-dir.ts';
import { buildApi, type Api } from './app.ts';
import { loadApiConfig, type ApiConfig } from './config.ts';
import { optimizerRanker, type ApiRanker } from './ranking.ts';
import { LocalEventBus } from '../engine/events/bus.ts';
import { startFeedHost, type FeedHost, type FeedHostOptions } from '../engine/host/feed-host.ts';
import { SandboxFleet } from '../engine/host/sandbox-fleet.ts';
import type { NetworkPolicy } from '../engine/wizard/ssrf.ts';

export interface ServeOptions {
  host?: string;
  port?: number;
  configFile?: string;
  dataDir?: string;
  /** Config values that win over file and environment (tests, bench). */
  overrides?: Partial<ApiConfig>;
  bus?: EventBus;
  ranker?: ApiRanker;
  /**
   * Run the feed in this process too: scheduler, health monitor, enrichment and optimizer, and the admin API and
   * web app. `sandboxes` points every connector that has a sandbox at it (`offerfeed up`).
   */
  feed?: Omit<FeedHostOptions, 'storePath' | 'clickhouse' | 'bus' | 'logger' | 'redactor' | 'sandboxes'> & { sandboxes?: boolean; wizardPolicy?: NetworkPolicy };
}

export interface RunningApi {
  url: string;
  api: Api;
  host?: FeedHost;
  /** Resolves when the read model is loaded. */
  loaded: Promise<void>;
  close(): Promise<void>;
}

export async function startApiServer(o: ServeOptions = {}): Promise<RunningApi> {
  const redactor = new Redactor();
  const config = loadApiConfig({ file: o.configFile, overrides: { ...o.overrides, host: o.host ?? o.overrides?.host, port: o.port ?? o.overrides?.port }, redactor });
  const logger = createLogger({ redactor, level: config.logLevel });
  const dir = o.dataDir ?? defaultDataDir();
  const path = duckdbPath(dir);
  if (!existsSync(path)) throw new Error(`no serving store at ${path}: run \`offerfeed migrate up\` (or \`offerfeed up\`) first`);
  const chSettings = await clickhouseSettings(dir);
  let ch: ClickHouseClient | undefined;
  if (chSettings) ch = clickhouseClient(chSettings);
  else logger.warn('no ClickHouse configured (CLICKHOUSE_URL or `offerfeed clickhouse start`): clicks and conversions stay in DuckDB until one is');
  let host: FeedHost | undefined;
  let bus = o.bus;
  if (o.feed) {
    bus ??= new LocalEventBus((err, topic) => logger.error({ err: redactor.redactError(err), topic }, 'event subscriber failed'));
    const { sandboxes, wizardPolicy: _, ...feed } = o.feed;
    host = await startFeedHost({
      ...feed, storePath: path, clickhouse: ch, bus, logger, redactor,
      sandboxes: sandboxes ? await SandboxFleet.start(undefined, (m) => logger.info(m)) : undefined,
    });
  }
  const services = host?.services;
  const api = await buildApi({
    config, storePath: path, logger, redactor, bus, ranker: o.ranker ?? (services ? optimizerRanker(services.optimizer) : undefined),
    clickhouse: ch && chSettings ? { client: ch, target: { database: chSettings.database, cluster: chSettings.cluster } } : undefined,
    admin: host ? { host, wizardPolicy: o.feed?.wizardPolicy } : undefined,
  });
  api.app.addHook('onClose', async () => {
    await host?.close();
    if (host && !o.bus) await bus?.close();
    await ch?.close();
  });
  const url = await api.app.listen({ host: config.host, port: config.port });
  logger.info({ url }, 'OfferFeed API listening');
  const loaded = api.start().catch((e) => {
    logger.error({ err: redactor.redactError(e) }, 'loading the read model failed; /readyz stays unready');
    throw e;
  });
  loaded.catch(() => undefined);
  return { url, api, host, loaded, close: () => api.app.close() };
}

/** Stops on SIGINT/SIGTERM: no new connections, in-flight requests finish (up to the configured timeout). */
export function closeOnSignals(running: RunningApi, timeoutS: number, log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    log(`${signal}: shutting down (up to ${timeoutS}s for in-flight requests)`);
    const timer = setTimeout(() => { log('shutdown timed out; exiting'); process.exit(1); }, timeoutS * 1000);
    timer.unref();
    running.close().then(() => { clearTimeout(timer); process.exit(0); }, (e: Error) => { log(`shutdown failed: ${e.message}`); process.exit(1); });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
