// Networks: each connector's health (scheduler state, last success, staleness, error rate, throttling, offers),
// its runs, one run's API-call log and quarantined records; and the admin actions on them: sync now, full
// re-sync, pause/resume, schedule override, rollback of the latest run. Every action goes through
// AdminAuth.perform, so it is authorized and audited.
import type { FastifyInstance } from 'fastify';
import type { ConnectorStatus } from '../../../engine/scheduler/scheduler.ts';
import type { AdminContext } from '../context.ts';
import { AdminApiError } from '../context.ts';
import { perform } from '../guard.ts';
import { publicAlert } from '../../../engine/health/notify.ts';
import { TOPICS, type RunCommitted } from '../../../engine/events/bus.ts';
import { flushOutbox } from '../../../engine/history/outbox-flusher.ts';

const DAY = 86_400_000;
const ID = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,63}$' } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: ID } } as const;
const runParams = { type: 'object', required: ['runId'], properties: { runId: { type: 'string', maxLength: 100 } } } as const;
const page = { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } } } as const;

export default async function networkRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  const { host, queries } = ctx;

  /** Scheduler status joined with run statistics, last success and offer counts, for one or every connector. */
  async function statuses(only?: string) {
    const [health, stats, counts] = await Promise.all([host.admin.runHealth(), queries.runStats(new Date(Date.now() - DAY)), queries.statusCounts()]);
    const last = new Map(health.map((h) => [h.connector, h]));
    const list = only ? [host.scheduler.connectorStatus(only)].filter((s): s is ConnectorStatus => !!s) : host.scheduler.status();
    return list.map((s) => {
      const h = last.get(s.connector);
      const st = stats.get(s.connector) ?? { runs: 0, failed: 0, throttled: 0 };
      const c = counts.networks.get(s.connector) ?? { active: 0, expired: 0, inactive: 0, hidden: 0 };
      const since = h?.last_success_at ?? null;
      return {
        network: s.connector, name: s.name ?? s.connector, state: s.state, problem: s.problem ?? null, schedule: s.schedule,
        next_run_at: s.next_run_at, next_reason: s.next_reason, paused: s.paused, paused_reason: s.paused_reason, job: s.job ?? null,
        breaker: { state: s.breaker.state, consecutive_failures: s.breaker.consecutive_failures, retry_at: s.breaker.retry_at, openings: s.breaker.openings },
        last_success_at: since, last_status: s.last_status, last_error: s.last_error,
        staleness_s: since ? Math.round((Date.now() - Date.parse(since)) / 1000) : null,
        runs_24h: st.runs, failed_24h: st.failed, error_rate_24h: st.runs ? st.failed / st.runs : 0, throttled_24h: st.throttled,
        offers: { live: c.active, expired: c.expired, inactive: c.inactive, hidden: c.hidden },
      };
    });
  }

  async function statusOf(id: string) {
    const [s] = await statuses(id);
    if (!s) throw new AdminApiError(404, `unknown connector "${id}"`, 'not_found');
    return s;
  }

  app.get('/networks', async (req) => perform(ctx, req, 'read', null, () => statuses()));

  app.get<{ Params: { id: string } }>('/networks/:id', { schema: { params: idParams } }, async (req) => perform(ctx, req, 'read', req.params.id, async () => ({
    status: await statusOf(req.params.id),
    runs: await queries.runs(req.params.id, 50),
    alerts: (await host.admin.listAlerts({ connector: req.params.id, limit: 50 })).map(publicAlert),
  })));

  app.get<{ Params: { runId: string } }>('/runs/:runId', { schema: { params: runParams } }, async (req) => perform(ctx, req, 'read', req.params.runId, async () => {
    const run = await queries.run(req.params.runId);
    if (!run) throw new AdminApiError(404, `no run "${req.params.runId}"`, 'not_found');
    const latest = await queries.latestCommittedRun(run.connector);
    return { ...run, network: run.connector, can_rollback: latest === run.id };
  }));

  app.get<{ Params: { runId: string }; Querystring: { limit: number; offset: number } }>('/runs/:runId/calls', { schema: { params: runParams, querystring: page } }, async (req) =>
    perform(ctx, req, 'read', req.params.runId, () => queries.apiCalls(req.params.runId, req.query.limit, req.query.offset)));

  app.get<{ Params: { runId: string }; Querystring: { limit: number; offset: number } }>('/runs/:runId/quarantine', { schema: { params: runParams, querystring: page } }, async (req) =>
    perform(ctx, req, 'read', req.params.runId, () => queries.quarantine(req.params.runId, req.query.limit, req.query.offset)));

  // What the network sent on the pages that broke a failed run (first 64 KiB each, secrets removed).
  app.get<{ Params: { runId: string } }>('/runs/:runId/payloads', { schema: { params: runParams } }, async (req) =>
    perform(ctx, req, 'read', req.params.runId, async () => ({ items: await host.store.errorPayloads(req.params.runId) })));

  // ---- actions ----

  app.post<{ Params: { id: string }; Body: { full?: boolean } | undefined }>('/networks/:id/sync', {
    schema: { params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { full: { type: 'boolean' } } } },
  }, async (req, reply) => {
    const full = req.body?.full === true;
    const handle = await perform(ctx, req, full ? 'resync' : 'sync', req.params.id, () => host.scheduler.runNow(req.params.id, { full, actor: req.principal!.user }), { full });
    handle.done.catch(() => undefined);
    return reply.status(202).send({ jobId: handle.jobId, network: req.params.id, full });
  });

  app.post<{ Params: { id: string } }>('/networks/:id/cancel', { schema: { params: idParams } }, async (req) =>
    perform(ctx, req, 'cancel', req.params.id, async () => {
      if (!host.scheduler.cancel(req.params.id, `cancelled by ${req.principal!.user}`)) throw new AdminApiError(409, `${req.params.id} has no queued or running run`, 'conflict');
      return { cancelled: true };
    }));

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>('/networks/:id/pause', {
    schema: { params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } } },
  }, async (req) => perform(ctx, req, 'pause', req.params.id, async () => {
    await host.scheduler.pause(req.params.id, { by: req.principal!.user, reason: req.body?.reason });
    return statusOf(req.params.id);
  }, { reason: req.body?.reason }));

  app.post<{ Params: { id: string } }>('/networks/:id/resume', { schema: { params: idParams } }, async (req) => perform(ctx, req, 'resume', req.params.id, async () => {
    await host.scheduler.resume(req.params.id, { by: req.principal!.user });
    return statusOf(req.params.id);
  }));

  app.put<{ Params: { id: string }; Body: { cron?: string; interval?: string } }>('/networks/:id/schedule', {
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, properties: { cron: { type: 'string', maxLength: 100 }, interval: { type: 'string', maxLength: 20 } } } },
  }, async (req) => perform(ctx, req, 'schedule.change', req.params.id, async () => {
    const b = req.body ?? {};
    await host.scheduler.setSchedule(req.params.id, b.cron || b.interval ? { cron: b.cron, interval: b.interval } : null, { by: req.principal!.user });
    return statusOf(req.params.id);
  }, { ...req.body }));

  app.post<{ Params: { runId: string } }>('/runs/:runId/rollback', { schema: { params: runParams } }, async (req) => perform(ctx, req, 'rollback', req.params.runId, async () => {
    const run = await queries.run(req.params.runId);
    if (!run) throw new AdminApiError(404, `no run "${req.params.runId}"`, 'not_found');
    const latest = await queries.latestCommittedRun(run.connector);
    if (latest !== run.id) throw new AdminApiError(409, `only the latest committed run of ${run.connector} can be rolled back (that is ${latest ?? 'none'})`, 'conflict');
    if (host.scheduler.connectorStatus(run.connector)?.job) throw new AdminApiError(409, `${run.connector} is syncing; roll back when the run has finished`, 'conflict');
    const { restored } = await host.store.rollbackRun(run.id);
    const rollbackRunId = `rollback-${run.id}`;
    host.bus.publish(TOPICS.runCommitted, { runId: rollbackRunId, at: new Date().toISOString() } satisfies RunCommitted);
    const history = ctx.clickhouse ? await flushOutbox(host.store, ctx.clickhouse) : undefined;
    return { runId: rollbackRunId, restored, history };
  }));
}
