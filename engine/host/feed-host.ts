// Everything a process that runs the feed keeps going in the background, built once and shared by the API and the
// admin API: the scheduler (syncs on schedule and on demand), the health monitor (staleness, failures, the daily
// self-test, alerts), enrichment and the optimizer (after every commit), admin users/tokens/audit and the secret
// store. The DuckDB file has one writer process, so this runs in the process that serves (`offerfeed serve`,
// `offerfeed up`); every part announces what it does on the event bus.
import type { ClickHouseClient } from '@clickhouse/client';
import type { EventBus } from '../events/bus.ts';
import type { Logger } from '../log/logger.ts';
import { createLogger } from '../log/logger.ts';
import type { Redactor } from '../log/redact.ts';
import { AdminAuth } from '../admin/auth.ts';
import { AdminStore } from '../store/admin-store.ts';
import { SecretStore } from '../store/secrets.ts';
import { ServingStore } from '../store/serving-store.ts';
import { envConfigSource } from '../spec/config.ts';
import { secretStoreConfigSource } from '../spec/secret-config.ts';
import { Scheduler, type SchedulerOptions } from '../scheduler/scheduler.ts';
import { HealthMonitor, type HealthOptions } from '../health/monitor.ts';
import { startEngineServices, type EngineServices, type EngineServicesOptions } from '../optimize/services.ts';
import type { SandboxFleet } from './sandbox-fleet.ts';

export interface FeedHostOptions {
  /** The serving store's DuckDB file (migrated). */
  storePath: string;
  clickhouse?: ClickHouseClient;
  bus: EventBus;
  logger: Logger;
  redactor: Redactor;
  /** Run the connectors that have a sandbox against it (with its invented settings) instead of their real API. */
  sandboxes?: SandboxFleet;
  /** Start the scheduler's timers (default true); on-demand runs work either way. */
  schedule?: boolean;
  /** Extra scheduler settings (tests: short intervals, connector lists, pacing). */
  scheduler?: Partial<SchedulerOptions>;
  /** Health monitor settings, or false for none. */
  health?: Partial<HealthOptions> | false;
  /** Enrichment and optimizer settings, or false to run without them. */
  services?: Partial<EngineServicesOptions> | false;
}

export interface FeedHost {
  store: ServingStore;
  admin: AdminStore;
  auth: AdminAuth;
  secrets: SecretStore;
  scheduler: Scheduler;
  health?: HealthMonitor;
  services?: EngineServices;
  sandboxes?: SandboxFleet;
  bus: EventBus;
  redactor: Redactor;
  logger: Logger;
  close(): Promise<void>;
}

export async function startFeedHost(o: FeedHostOptions): Promise<FeedHost> {
  const store = await ServingStore.open(o.storePath);
  const admin = await AdminStore.open(o.storePath);
  const secrets = new SecretStore(store);
  const auth = new AdminAuth(admin, { redactor: o.redactor });
  const logger = o.logger;
  const services = o.services === false ? undefined : await startEngineServices({
    path: o.storePath, clickhouse: o.clickhouse, logger: logger.child({ component: 'enrich-optimize' }), ...o.services,
  });
  const sources = (spec: Parameters<NonNullable<SchedulerOptions['configSources']>>[0], s: SecretStore) =>
    o.sandboxes ? o.sandboxes.configSources(spec, [envConfigSource(), secretStoreConfigSource(s)]) : [envConfigSource(), secretStoreConfigSource(s)];
  let health: HealthMonitor | undefined;
  const scheduler = new Scheduler({
    storePath: o.storePath, admin, clickhouse: o.clickhouse, events: o.bus,
    logger: (redactor) => createLogger({ redactor, level: logger.level }).child({ component: 'sync' }),
    configSources: sources,
    runOptions: (id) => {
      const url = o.sandboxes?.url(id);
      return url ? { baseUrlOverride: url } : {};
    },
    onCommitted: services?.onCommitted,
    onRunFinished: async (summary) => { await health?.check(summary.connector); },
    ...o.scheduler,
  });
  if (o.health !== false) {
    health = new HealthMonitor({
      storePath: o.storePath, admin, events: o.bus, logger: logger.child({ component: 'health' }), configSources: sources,
      probeRunOptions: (id) => {
        const url = o.sandboxes?.url(id);
        return url ? { baseUrlOverride: url } : {};
      },
      ...o.health,
    });
  }
  if (o.schedule === false) await scheduler.refresh();
  else await scheduler.start();
  health?.start();
  let closed = false;
  return {
    store, admin, auth, secrets, scheduler, health, services, sandboxes: o.sandboxes, bus: o.bus, redactor: o.redactor, logger,
    async close() {
      if (closed) return;
      closed = true;
      await health?.stop();
      await scheduler.stop({ abortRunning: true });
      await services?.close();
      await o.sandboxes?.close();
      admin.close();
      store.close();
    },
  };
}
