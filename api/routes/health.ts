// Liveness, readiness (stores reachable, migrations current, read model loaded) and Prometheus metrics.
// Never rate-limited: orchestrators and scrapers call them often, from one address.
import type { FastifyInstance } from 'fastify';

const READINESS = {
  type: 'object',
  required: ['ready', 'checks'],
  properties: {
    ready: { type: 'boolean' },
    checks: { type: 'object', additionalProperties: { type: 'object', properties: { ok: { type: 'boolean' }, detail: { type: 'string' } } } },
  },
} as const;

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', {
    config: { rateLimit: false },
    schema: { tags: ['operations'], summary: 'Liveness: the process serves requests', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    config: { rateLimit: false },
    schema: { tags: ['operations'], summary: 'Readiness: stores reachable, migrations current, read model loaded', response: { 200: READINESS, 503: READINESS } },
  }, async (_req, reply) => {
    const r = await app.services.readiness();
    return reply.status(r.ready ? 200 : 503).send(r);
  });

  app.get('/metrics', {
    config: { rateLimit: false },
    schema: { tags: ['operations'], summary: 'Prometheus metrics', response: { 200: { type: 'string' } } },
  }, async (_req, reply) => {
    const { registry } = app.services.metrics;
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });
}
