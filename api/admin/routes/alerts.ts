// Alerts (open and resolved) with resolve, and the audit log.
import type { FastifyInstance } from 'fastify';
import { publicAlert } from '../../../engine/health/notify.ts';
import type { AdminContext } from '../context.ts';
import { AdminApiError } from '../context.ts';
import { perform } from '../guard.ts';

export default async function alertRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  app.get<{ Querystring: { open?: boolean; connector?: string; limit: number } }>('/alerts', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { open: { type: 'boolean' }, connector: { type: 'string', maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 } } } },
  }, async (req) => perform(ctx, req, 'read', null, async () => (await ctx.host.admin.listAlerts(req.query)).map(publicAlert)));

  app.post<{ Params: { key: string } }>('/alerts/:key/resolve', async (req) => perform(ctx, req, 'alert.resolve', req.params.key, async () => {
    const by = req.principal!.user;
    const resolved = ctx.host.health ? await ctx.host.health.resolve(req.params.key, by) : await ctx.host.admin.resolveAlert(req.params.key, by);
    if (!resolved) throw new AdminApiError(404, `no open alert "${req.params.key}"`, 'not_found');
    return publicAlert(resolved);
  }));

  app.get<{ Querystring: { limit: number; actor?: string; action?: string; target?: string; before?: number } }>('/audit', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 }, actor: { type: 'string', maxLength: 64 }, action: { type: 'string', maxLength: 64 }, target: { type: 'string', maxLength: 200 }, before: { type: 'integer' } },
      },
    },
  }, async (req) => perform(ctx, req, 'audit.read', null, () => ctx.host.admin.listAudit(req.query)));
}
