// The admin API under /admin/api (and the admin web app under /admin/offers-feed), mounted when the process runs
// the feed. Every route is authenticated by the guard; every action is authorized and audited by AdminAuth.perform.
// Responses never carry CORS headers: the admin is used from its own origin only.
import type { FastifyInstance } from 'fastify';
import type { AdminContext } from './context.ts';
import { guard } from './guard.ts';
import sessionRoutes from './routes/session.ts';
import overviewRoutes from './routes/overview.ts';
import networkRoutes from './routes/networks.ts';
import offerRoutes from './routes/offers.ts';
import alertRoutes from './routes/alerts.ts';
import reviewRoutes from './routes/review.ts';
import wizardRoutes from './routes/wizard.ts';
import eventRoutes from './routes/events.ts';

export const ADMIN_API_PREFIX = '/admin/api';

export default async function adminPlugin(app: FastifyInstance, o: { context: AdminContext; ui?: (app: FastifyInstance) => Promise<void> }): Promise<void> {
  const ctx = o.context;
  await app.register(async (api) => {
    api.decorateRequest('principal', null);
    api.addHook('onRequest', guard(ctx, new Set([`${ADMIN_API_PREFIX}/login`, `${ADMIN_API_PREFIX}/logout`])));
    api.addHook('onSend', async (_req, reply, payload) => {
      for (const h of Object.keys(reply.getHeaders())) if (h.startsWith('access-control-')) reply.removeHeader(h);
      return payload;
    });
    for (const routes of [sessionRoutes, overviewRoutes, networkRoutes, offerRoutes, alertRoutes, reviewRoutes, wizardRoutes, eventRoutes]) {
      await api.register(async (scope) => routes(scope, ctx));
    }
  }, { prefix: ADMIN_API_PREFIX });
  if (o.ui) await app.register(o.ui);
}
