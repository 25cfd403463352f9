// The serving API as a Fastify app. Plugins load in a fixed order — external (security, CORS, rate limit,
// cookies, OpenAPI), app (error handling, consent, metrics), routes — and everything the routes use is built
// here from the stores, so tests, the bench and `offerfeed serve` get the same app.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { LocalEventBus, type EventBus } from '../engine/events/bus.ts';
import { createLogger } from '../engine/log/logger.ts';
import { Redactor } from '../engine/log/redact.ts';
import { InteractionExporter } from '../engine/store/interaction-exporter.ts';
import { InteractionHistory, type ClickHouseTarget } from '../engine/store/interaction-history.ts';
import { InteractionStore } from '../engine/store/interaction-store.ts';
import { defaultMigrationsDir, loadMigrations, reconcile, type AppliedMigration, type StoreName } from '../engine/store/migrate.ts';
import { OfferQueries } from '../engine/store/offer-queries.ts';
import type { ApiConfig } from './config.ts';
import type { ApiRanker } from './ranking.ts';
import { ApiMetrics } from './metrics.ts';
import { ChangeFeed } from './read-model/change-feed.ts';
import { OfferIndex } from './read-model/offer-index.ts';
import type { ApiServices, Readiness, ReadinessCheck } from './services.ts';
import externalPlugins from './plugins/external.ts';
import appPlugin from './plugins/app.ts';
import healthRoutes from './routes/health.ts';
import offerRoutes from './routes/offers.ts';
import networkRoutes, { networksLoader } from './routes/networks.ts';
import goRoutes from './routes/go.ts';
import postbackRoutes from './routes/postbacks.ts';
import privacyRoutes from './routes/privacy.ts';
import graphqlPlugin from './graphql/plugin.ts';
import adminPlugin from './admin/plugin.ts';
import adminUiRoutes from './admin/ui-routes.ts';
import { SampleCache } from './admin/samples.ts';
import { AdminQueries } from '../engine/store/admin-queries.ts';
import type { FeedHost } from '../engine/host/feed-host.ts';
import type { NetworkPolicy } from '../engine/wizard/ssrf.ts';

export interface BuildOptions {
  config: ApiConfig;
  /** The serving store's DuckDB file (opened in this process: the API gets connections of its own on it). */
  storePath: string;
  clickhouse?: { client: ClickHouseClient; target: ClickHouseTarget };
  /** Shared with whatever runs syncs in this process (pass `announceCommits(bus)` as their onCommitted). */
  bus?: EventBus;
  logger?: Logger;
  redactor?: Redactor;
  migrationsDir?: string;
  /** The optimizer (optimizerRanker): ranks /top and learns from what is served, clicked and converted. */
  ranker?: ApiRanker;
  /** Mounts the admin API and web app (the process then runs the feed: see engine/host/feed-host.ts). */
  admin?: { host: FeedHost; wizardPolicy?: NetworkPolicy };
}

export interface Api {
  app: FastifyInstance;
  services: ApiServices;
  /** Loads the read model and starts the background work (change polling, export to ClickHouse). */
  start(): Promise<void>;
}

export async function buildApi(o: BuildOptions): Promise<Api> {
  const config = o.config;
  const redactor = o.redactor ?? new Redactor();
  for (const p of Object.values(config.postbacks)) redactor.add(p.secret);
  const logger = o.logger ?? createLogger({ redactor, level: config.logLevel });
  const queries = await OfferQueries.open(o.storePath);
  const interactions = await InteractionStore.open(o.storePath);
  const history = o.clickhouse ? new InteractionHistory(o.clickhouse.client, o.clickhouse.target) : undefined;
  const ownBus = !o.bus;
  const bus = o.bus ?? new LocalEventBus((err, topic) => logger.error({ err: redactor.redactError(err), topic }, 'event subscriber failed'));
  const index = new OfferIndex();
  const feed = new ChangeFeed(queries, index, bus, { pollMs: config.pollMs, logger: logger.child({ component: 'read-model' }) });
  const exporter = new InteractionExporter(interactions, history, {
    intervalMs: config.exportIntervalMs, clickRetentionDays: config.clickRetentionDays,
    onError: (err, what) => logger.warn({ err: redactor.redactError(err), what }, 'interaction export: will retry'),
  });
  const metrics = new ApiMetrics({ size: () => index.size, ready: () => feed.ready, vocabulary: () => index.search.vocabulary });
  const migrationsDir = o.migrationsDir ?? defaultMigrationsDir();
  const admin = o.admin && {
    host: o.admin.host, queries: await AdminQueries.open(o.storePath), samples: new SampleCache(), wizardPolicy: o.admin.wizardPolicy,
    clickhouse: o.clickhouse?.client, secureCookie: (config.publicUrl ?? '').startsWith('https:'),
  };

  const services: ApiServices = {
    config, index, feed, queries, interactions, exporter, history, bus, metrics, redactor,
    clickBase: (config.publicUrl ?? '').replace(/\/+$/, ''),
    ranker: o.ranker,
    admin,
    networks: networksLoader(queries, index),
    readiness: cachedReadiness(async () => {
      const checks: Record<string, ReadinessCheck> = {};
      checks.read_model = feed.ready ? { ok: true, detail: `${index.size} public offers` } : { ok: false, detail: 'loading' };
      checks.duckdb = await migrationCheck('duckdb', migrationsDir, async () => { await queries.ping(); return queries.appliedMigrations(); });
      if (history) {
        checks.clickhouse = await migrationCheck('clickhouse', migrationsDir, async () => {
          if (!(await history.ping())) throw new Error('not reachable');
          return history.appliedMigrations();
        });
      }
      return { ready: Object.values(checks).every((c) => c.ok), checks };
    }),
  };

  const app = (Fastify({
    loggerInstance: logger,
    // Per-request log lines are off by default: at thousands of requests a second they would cost more than the
    // requests; the metrics cover traffic, the error handler logs failures.
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    bodyLimit: config.bodyLimit,
    // A hop count is valid at runtime (proxy-addr), though Fastify's types only list the other forms.
    trustProxy: config.trustProxy as boolean | string,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance);
  app.decorate('services', services);
  await app.register(externalPlugins, { config });
  await app.register(appPlugin);
  await app.register(healthRoutes);
  await app.register(offerRoutes);
  await app.register(networkRoutes);
  await app.register(goRoutes);
  await app.register(postbackRoutes);
  await app.register(privacyRoutes);
  await app.register(graphqlPlugin);
  if (admin) await app.register(adminPlugin, { context: admin, ui: adminUiRoutes });

  // Requests in flight when the shutdown starts keep their keep-alive connection once answered; reaping idle
  // connections until the server is closed keeps a shutdown from waiting out the keep-alive timeout.
  let reaper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    reaper = setInterval(() => app.server.closeIdleConnections(), 50);
    reaper.unref();
  });
  let started = false;
  app.addHook('onClose', async () => {
    clearInterval(reaper);
    await feed.stop();
    if (started) await exporter.stop();
    await queries.close();
    await interactions.close();
    await admin?.queries.close();
    if (ownBus) await bus.close();
  });

  return {
    app,
    services,
    start: async () => {
      await feed.start();
      exporter.start();
      started = true;
    },
  };
}

async function migrationCheck(store: StoreName, dir: string, applied: () => Promise<AppliedMigration[]>): Promise<ReadinessCheck> {
  try {
    const r = reconcile(store, loadMigrations(store, dir), await applied(), dir);
    if (r.problems.length) return { ok: false, detail: `migration problems: ${r.problems.length} (run \`offerfeed migrate status\`)` };
    if (r.pending.length) return { ok: false, detail: `${r.pending.length} pending migration(s): run \`offerfeed migrate up\`` };
    return { ok: true, detail: `schema version ${r.version}` };
  } catch (e) {
    return { ok: false, detail: `unreachable: ${(e as Error).message.split('\n')[0].slice(0, 200)}` };
  }
}

/** Readiness probes come often; the stores are asked at most once a second. */
function cachedReadiness(check: () => Promise<Readiness>): () => Promise<Readiness> {
  let last: { at: number; value: Promise<Readiness> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > 1000) last = { at: Date.now(), value: check() };
    return last.value;
  };
}
