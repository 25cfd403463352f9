// Self-healing's eyes: a daily self-test of every feed (its sandbox contract test, plus a one-page live probe
// when the connector is configured), and a frequent check of the run history (no successful run for more than
// 24 h = stale; N failed runs since the last success = failing). Each problem raises one alert (deduplicated
// by key until resolved), notified once to webhooks and e-mail, shown until it resolves — automatically when
// the feed recovers, or by an admin.
import { Cron } from 'croner';
import type { ConnectorSpec } from '../types/connector.generated.ts';
import type { Logger } from '../log/logger.ts';
import { createLogger } from '../log/logger.ts';
import { Redactor } from '../log/redact.ts';
import { loadSpecFile } from '../spec/loader.ts';
import { listConnectorIds, specPath } from '../spec/registry.ts';
import { envConfigSource, resolveConfig, type ConfigSource } from '../spec/config.ts';
import { secretStoreConfigSource } from '../spec/secret-config.ts';
import { SecretStore } from '../store/secrets.ts';
import { ServingStore } from '../store/serving-store.ts';
import type { AdminStore, AlertRow, HealthCheckRow } from '../store/admin-store.ts';
import { runConnector, type RunOptions } from '../run/runner.ts';
import { MemorySink } from '../run/ndjson-sink.ts';
import { runContractTest, type ContractReport } from '../sandbox/contract.ts';
import { safePublish, type EventPublisher } from '../scheduler/events.ts';
import { AlertNotifier, notifierFromSettings, publicAlert, type Delivery } from './notify.ts';

export type ProblemKind = 'stale' | 'failing' | 'contract' | 'probe';

export interface HealthOptions {
  storePath: string;
  admin: AdminStore;
  events?: EventPublisher;
  logger?: Logger;
  /** Where alerts go (default: environment settings plus the admins' alert channels, re-read at each notification). */
  notifier?: AlertNotifier;
  connectorIds?: () => string[];
  loadSpec?: (id: string) => Promise<ConnectorSpec>;
  configSources?: (spec: ConnectorSpec, secrets: SecretStore) => ConfigSource[];
  /** No successful run for this long makes a feed stale (default 24 h). */
  staleAfterMs?: number;
  /** Failed runs since the last success that make a feed failing (default 3). */
  failuresToAlert?: number;
  /** When the daily self-test runs (cron, default 04:00 UTC). */
  selfTestCron?: string;
  /** How often the run history is checked (default 5 min). */
  checkEveryMs?: number;
  timezone?: string;
  /** The contract test (default: the sandbox contract test with its fault pass). */
  contractTest?: (id: string) => Promise<ContractReport>;
  /** Live probe: when settings are configured (default), always, or never. */
  probe?: 'configured' | 'always' | 'never';
  probeTimeoutMs?: number;
  /** Extra run options for the probe (a base-URL override in tests). */
  probeRunOptions?: (id: string) => Partial<Pick<RunOptions, 'baseUrlOverride' | 'pacingOverride' | 'retryOverride'>>;
  /** Also notify when an alert resolves (default true). */
  notifyResolved?: boolean;
  now?: () => Date;
}

export interface SelfTestResult {
  connector: string;
  contract: { ok: boolean; duration_ms: number; problems: string[] };
  probe: { ok: boolean; skipped: boolean; reason?: string; duration_ms: number; offers?: number; pages?: number; error?: string };
}

export interface CheckResult { raised: AlertRow[]; resolved: AlertRow[]; open: number }

export interface ConnectorHealth {
  connector: string;
  last_success_at: string | null;
  last_status: string | null;
  last_error: string | null;
  failures_since_success: number;
  stale: boolean;
  alerts: AlertRow[];
  checks: HealthCheckRow[];
}

const HOUR = 3_600_000;

export class HealthMonitor {
  private cron?: Cron;
  private interval?: NodeJS.Timeout;
  private configStore?: ServingStore;
  private readonly o: HealthOptions & Required<Pick<HealthOptions, 'staleAfterMs' | 'failuresToAlert' | 'selfTestCron' | 'checkEveryMs' | 'timezone' | 'probe' | 'probeTimeoutMs' | 'notifyResolved'>>;
  private readonly now: () => Date;
  private readonly log: Logger;
  private selfTesting?: Promise<SelfTestResult[]>;

  constructor(opts: HealthOptions) {
    this.o = {
      staleAfterMs: 24 * HOUR, failuresToAlert: 3, selfTestCron: '0 4 * * *', checkEveryMs: 5 * 60_000, timezone: 'UTC',
      probe: 'configured', probeTimeoutMs: 60_000, notifyResolved: true, ...opts,
    };
    this.now = opts.now ?? (() => new Date());
    // createLogger needs a redactor (pino breaks on an undefined hooks option).
    this.log = opts.logger ?? createLogger({ redactor: new Redactor() });
  }

  start(): void {
    this.cron = new Cron(this.o.selfTestCron, { timezone: this.o.timezone, protect: true }, async () => {
      await this.selfTest().catch((e) => this.log.error({ err: e }, 'daily self-test failed'));
    });
    this.interval = setInterval(() => { void this.check().catch((e) => this.log.error({ err: e }, 'health check failed')); }, this.o.checkEveryMs);
    this.interval.unref();
    void this.check().catch((e) => this.log.error({ err: e }, 'health check failed'));
  }

  async stop(): Promise<void> {
    this.cron?.stop();
    clearInterval(this.interval);
    await this.selfTesting?.catch(() => undefined);
    this.configStore?.close();
    this.configStore = undefined;
  }

  /** When the next daily self-test runs. */
  nextSelfTestAt(): string | null {
    return (this.cron ?? new Cron(this.o.selfTestCron, { timezone: this.o.timezone })).nextRun()?.toISOString() ?? null;
  }

  private ids(): string[] {
    return this.o.connectorIds ? this.o.connectorIds() : listConnectorIds();
  }

  private async spec(id: string): Promise<ConnectorSpec> {
    return this.o.loadSpec ? this.o.loadSpec(id) : (await loadSpecFile(specPath(id))).spec;
  }

  // ---- run history: stale and failing ------------------------------------------------------------------------

  /** Evaluates staleness and failures of every connector (or one); raises and resolves alerts. */
  async check(only?: string): Promise<CheckResult> {
    const now = this.now();
    const ids = only ? [only] : this.ids();
    const runs = new Map((await this.o.admin.runHealth()).map((r) => [r.connector, r]));
    const settings = new Map((await this.o.admin.connectorSettings()).map((s) => [s.connector, s]));
    const out: CheckResult = { raised: [], resolved: [], open: 0 };
    const known = new Set(this.ids());
    // Open alerts of connectors that no longer exist end with them.
    if (!only) {
      for (const a of await this.o.admin.listAlerts({ open: true })) {
        if (a.connector && !known.has(a.connector)) await this.resolveKey(a.key, 'system: the connector was removed', out);
      }
    }
    for (const id of ids) {
      let spec: ConnectorSpec | undefined;
      try { spec = await this.spec(id); } catch { spec = undefined; }
      const r = runs.get(id);
      const quiet = settings.get(id)?.paused ? 'paused' : spec?.status === 'retired' ? 'retired' : undefined;
      if (quiet) {
        await this.resolveKey(`${id}:stale`, `system: connector ${quiet}`, out);
        await this.resolveKey(`${id}:failing`, `system: connector ${quiet}`, out);
        continue;
      }
      // A feed that never ran is not stale: it has not started yet. One that ran and stopped succeeding is.
      const since = r?.last_success_at ?? r?.first_run_at ?? null;
      const age = since ? now.getTime() - Date.parse(since) : 0;
      if (since && age > this.o.staleAfterMs) {
        const hours = Math.floor(age / HOUR);
        const message = r?.last_success_at ? `no successful run for ${hours} h (last success ${r.last_success_at})` : `no successful run since the first attempt ${hours} h ago`;
        await this.raise({ key: `${id}:stale`, connector: id, kind: 'stale', severity: 'critical', message, details: { last_success_at: r?.last_success_at ?? null, last_status: r?.last_status ?? null, last_error: r?.last_error ?? null, stale_after_hours: this.o.staleAfterMs / HOUR } }, out);
      } else await this.resolveKey(`${id}:stale`, 'system: recovered', out);
      if (r && r.failures_since_success >= this.o.failuresToAlert) {
        await this.raise({ key: `${id}:failing`, connector: id, kind: 'failing', severity: 'warning', message: `${r.failures_since_success} failed runs since the last success: ${r.last_error ?? 'unknown error'}`.slice(0, 500), details: { failures: r.failures_since_success, last_error: r.last_error, last_success_at: r.last_success_at } }, out);
      } else await this.resolveKey(`${id}:failing`, 'system: recovered', out);
    }
    out.open = (await this.o.admin.listAlerts({ open: true })).length;
    return out;
  }

  // ---- daily self-test ---------------------------------------------------------------------------------------

  /** Contract test and live probe of every connector (or the given ones), one connector at a time. */
  selfTest(ids?: string[]): Promise<SelfTestResult[]> {
    if (this.selfTesting) return this.selfTesting;
    this.selfTesting = (async () => {
      const out: SelfTestResult[] = [];
      for (const id of ids ?? this.ids()) out.push(await this.selfTestOne(id));
      safePublish(this.o.events, 'health.selftest', { results: out.map((r) => ({ connector: r.connector, contract: r.contract.ok, probe: r.probe.skipped ? 'skipped' : r.probe.ok })) });
      return out;
    })().finally(() => { this.selfTesting = undefined; });
    return this.selfTesting;
  }

  private async selfTestOne(id: string): Promise<SelfTestResult> {
    const res: SelfTestResult = { connector: id, contract: { ok: false, duration_ms: 0, problems: [] }, probe: { ok: true, skipped: true, duration_ms: 0 } };
    const scratch: CheckResult = { raised: [], resolved: [], open: 0 };
    let t = Date.now();
    try {
      const report = await (this.o.contractTest ?? ((x: string) => runContractTest(x)))(id);
      res.contract = { ok: report.ok, duration_ms: Date.now() - t, problems: report.passes.flatMap((p) => p.problems.map((x) => `${p.name}: ${x}`)).slice(0, 20) };
    } catch (e) {
      res.contract = { ok: false, duration_ms: Date.now() - t, problems: [(e as Error).message.split('\n')[0]] };
    }
    await this.o.admin.insertHealthCheck({ connector: id, kind: 'contract', ok: res.contract.ok, skipped: false, duration_ms: res.contract.duration_ms, details: { problems: res.contract.problems } }, this.now());
    if (res.contract.ok) await this.resolveKey(`${id}:contract`, 'system: contract test passes again', scratch);
    else await this.raise({ key: `${id}:contract`, connector: id, kind: 'contract', severity: 'warning', message: `contract test fails: ${res.contract.problems[0] ?? 'unknown problem'}`.slice(0, 500), details: { problems: res.contract.problems } }, scratch);

    t = Date.now();
    res.probe = await this.probe(id);
    res.probe.duration_ms = Date.now() - t;
    await this.o.admin.insertHealthCheck({ connector: id, kind: 'probe', ok: res.probe.ok, skipped: res.probe.skipped, duration_ms: res.probe.duration_ms, details: { reason: res.probe.reason, offers: res.probe.offers, pages: res.probe.pages, error: res.probe.error } }, this.now());
    if (res.probe.ok || res.probe.skipped) await this.resolveKey(`${id}:probe`, res.probe.skipped ? 'system: probe no longer applies' : 'system: live probe passes again', scratch);
    else await this.raise({ key: `${id}:probe`, connector: id, kind: 'probe', severity: 'critical', message: `live probe fails: ${res.probe.error ?? 'unknown error'}`.slice(0, 500), details: { error: res.probe.error } }, scratch);
    return res;
  }

  /** One page per stream against the real API, nothing stored: do the credentials and the endpoint still work? */
  private async probe(id: string): Promise<SelfTestResult['probe']> {
    const skip = (reason: string) => ({ ok: true, skipped: true, reason, duration_ms: 0 });
    if (this.o.probe === 'never') return skip('probes are disabled');
    let spec: ConnectorSpec;
    try { spec = await this.spec(id); } catch (e) { return { ok: false, skipped: false, duration_ms: 0, error: `spec: ${(e as Error).message.split('\n')[0]}` }; }
    if (spec.status === 'retired') return skip('the platform is retired');
    this.configStore ??= await ServingStore.open(this.o.storePath);
    const secrets = new SecretStore(this.configStore);
    const sources = this.o.configSources ? this.o.configSources(spec, secrets) : [envConfigSource(), secretStoreConfigSource(secrets)];
    const redactor = new Redactor();
    if (this.o.probe === 'configured') {
      const props = Object.keys(spec.config?.properties ?? {});
      let given: string[] = [];
      try { for (const s of sources) given.push(...Object.keys(await s.get(spec))); } catch (e) { return { ok: false, skipped: false, duration_ms: 0, error: redactor.redact((e as Error).message) }; }
      given = given.filter((k) => props.includes(k));
      if (!given.length) return skip('no settings configured');
    }
    let config;
    try { config = await resolveConfig(spec, sources, redactor); } catch (e) { return { ok: false, skipped: false, duration_ms: 0, error: redactor.redact((e as Error).message) }; }
    const sink = new MemorySink();
    const result = await runConnector({
      spec, config, redactor, sink, logger: createLogger({ redactor, level: process.env.OFFERFEED_LOG_LEVEL ?? 'silent' }),
      maxPages: 1, signal: AbortSignal.timeout(this.o.probeTimeoutMs), ...this.o.probeRunOptions?.(id),
    });
    return result.status === 'succeeded'
      ? { ok: true, skipped: false, duration_ms: 0, offers: sink.items.length, pages: result.counts.pages }
      : { ok: false, skipped: false, duration_ms: 0, pages: result.counts.pages, error: redactor.redact(result.error ?? result.status) };
  }

  // ---- alerts --------------------------------------------------------------------------------------------------

  private async raise(a: { key: string; connector: string; kind: ProblemKind; severity: 'warning' | 'critical'; message: string; details?: unknown }, out: CheckResult): Promise<void> {
    const { alert, created } = await this.o.admin.raiseAlert(a, this.now());
    if (!created) return;
    out.raised.push(alert);
    this.log.warn({ connector: a.connector, alert: a.key, message: a.message }, 'alert raised');
    safePublish(this.o.events, 'health.alert', publicAlert(alert));
    await this.o.admin.setAlertNotified(alert.id, 'notify_result', await this.deliver('alert.raised', alert), this.now());
  }

  private async resolveKey(key: string, by: string, out: CheckResult): Promise<void> {
    const alert = await this.o.admin.resolveAlert(key, by, this.now());
    if (!alert) return;
    out.resolved.push(alert);
    this.log.info({ alert: key, by }, 'alert resolved');
    safePublish(this.o.events, 'health.resolved', publicAlert(alert));
    if (this.o.notifyResolved) await this.o.admin.setAlertNotified(alert.id, 'resolved_notify_result', await this.deliver('alert.resolved', alert), this.now());
  }

  /** Closes an open alert by hand (the admin fixed it, or accepts it); it is raised again if the problem persists. */
  async resolve(idOrKey: number | string, by: string): Promise<AlertRow | undefined> {
    const open = await this.o.admin.listAlerts({ open: true });
    const a = open.find((x) => x.id === idOrKey || x.key === idOrKey);
    if (!a) return undefined;
    const out: CheckResult = { raised: [], resolved: [], open: 0 };
    await this.resolveKey(a.key, by, out);
    return out.resolved[0];
  }

  private async deliver(type: 'alert.raised' | 'alert.resolved', alert: AlertRow): Promise<Delivery[]> {
    let notifier = this.o.notifier;
    let own = false;
    try {
      if (!notifier) {
        this.configStore ??= await ServingStore.open(this.o.storePath);
        notifier = await notifierFromSettings(this.o.admin, new SecretStore(this.configStore));
        own = true;
      }
      const deliveries = await notifier.notify({ type, alert: publicAlert(alert), dashboard_url: notifier.config.dashboardUrl, sent_at: this.now().toISOString() });
      for (const d of deliveries) if (!d.ok) this.log.error({ alert: alert.key, channel: d.channel, target: d.target, error: d.error }, 'alert delivery failed');
      return deliveries;
    } catch (e) {
      this.log.error({ alert: alert.key, err: e }, 'alert delivery failed');
      return [{ channel: 'webhook', target: '(configuration)', ok: false, attempts: 0, error: (e as Error).message }];
    } finally {
      if (own) notifier?.close();
    }
  }

  // ---- dashboard ---------------------------------------------------------------------------------------------

  /** Per connector: last success, staleness, failures, open alerts and latest self-test results. */
  async health(): Promise<ConnectorHealth[]> {
    const now = this.now().getTime();
    const runs = new Map((await this.o.admin.runHealth()).map((r) => [r.connector, r]));
    const alerts = await this.o.admin.listAlerts({ open: true });
    const checks = await this.o.admin.latestHealthChecks();
    return this.ids().map((id) => {
      const r = runs.get(id);
      const since = r?.last_success_at ?? r?.first_run_at;
      return {
        connector: id, last_success_at: r?.last_success_at ?? null, last_status: r?.last_status ?? null, last_error: r?.last_error ?? null,
        failures_since_success: r?.failures_since_success ?? 0, stale: !!since && now - Date.parse(since) > this.o.staleAfterMs,
        alerts: alerts.filter((a) => a.connector === id), checks: checks.filter((c) => c.connector === id),
      };
    });
  }
}
