// The dashboard's overview: offer counts by status in total and per network, each network's last run, errors of
// the last 24 h, open alerts; and the two charts' data (offers over time, run durations).
import type { FastifyInstance } from 'fastify';
import type { AdminContext } from '../context.ts';
import { perform } from '../guard.ts';
import { publicAlert } from '../../../engine/health/notify.ts';

const DAY = 86_400_000;
const daysParam = { type: 'object', additionalProperties: false, properties: { days: { type: 'integer', minimum: 1, maximum: 365, default: 30 } } } as const;

export default async function overviewRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  app.get('/overview', async (req) => perform(ctx, req, 'read', null, async () => {
    const { queries, host } = ctx;
    const since = new Date(Date.now() - DAY);
    const [counts, errors, runs, alerts] = await Promise.all([
      queries.statusCounts(), queries.errorsSince(since), queries.runsSince(new Date(Date.now() - 365 * DAY), 5000), host.admin.listAlerts({ open: true }),
    ]);
    const status = new Map(host.scheduler.status().map((s) => [s.connector, s]));
    const ids = [...new Set([...status.keys(), ...counts.networks.keys()])].sort();
    const lastRun = new Map<string, (typeof runs)[number]>();
    for (const r of runs) lastRun.set(r.connector, r);
    const latest = runs.filter((r) => r.finished_at).at(-1);
    return {
      totals: { live: counts.totals.active, expired: counts.totals.expired, inactive: counts.totals.inactive, hidden: counts.totals.hidden },
      networks: ids.map((id) => {
        const c = counts.networks.get(id) ?? { active: 0, expired: 0, inactive: 0, hidden: 0 };
        const r = lastRun.get(id);
        return {
          network: id, name: status.get(id)?.name ?? id, live: c.active, expired: c.expired, inactive: c.inactive, hidden: c.hidden,
          last_run: r ? { id: r.id, status: r.status, mode: r.mode, started_at: r.started_at, finished_at: r.finished_at ?? null, duration_ms: r.duration_ms ?? null } : null,
        };
      }),
      errors_24h: errors.failed_runs + errors.failed_calls,
      last_sync: latest ? { id: latest.id, network: latest.connector, status: latest.status, finished_at: latest.finished_at } : null,
      alerts: alerts.map(publicAlert),
    };
  }));

  app.get<{ Querystring: { days: number } }>('/charts/offers', { schema: { querystring: daysParam } }, async (req) =>
    perform(ctx, req, 'read', null, () => ctx.queries.offersOverTime(req.query.days)));

  app.get<{ Querystring: { days: number } }>('/charts/runs', { schema: { querystring: daysParam } }, async (req) => perform(ctx, req, 'read', null, async () => ({
    runs: (await ctx.queries.runsSince(new Date(Date.now() - req.query.days * DAY))).map((r) => ({
      id: r.id, network: r.connector, status: r.status, started_at: r.started_at, duration_ms: r.duration_ms ?? null,
    })),
  })));
}
