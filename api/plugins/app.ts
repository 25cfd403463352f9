// Application plugin, registered after the external ones and before the routes: the one error handler, the
// not-found handler, the shared response schemas, consent on every request, and request metrics.
import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance } from 'fastify';
import { publicOfferJsonSchema } from '../offer-schema.ts';
import { consentView, readConsent } from '../public.ts';

export const ERROR_SCHEMA = {
  $id: 'Error',
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'Machine-readable code (bad_request, not_found, too_many_requests, internal_error, …).' },
    message: { type: 'string' },
    request_id: { type: 'string' },
  },
} as const;

const CODES: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 406: 'not_acceptable',
  409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 422: 'unprocessable', 429: 'too_many_requests', 503: 'unavailable',
};

export default fp(async function appPlugin(app: FastifyInstance) {
  const { services } = app;
  app.addSchema(ERROR_SCHEMA);
  app.addSchema(publicOfferJsonSchema());

  app.decorateRequest('consent', null as never);
  app.decorateRequest('view', null as never);
  app.addHook('onRequest', async (req) => {
    req.consent = readConsent(req.headers);
    req.view = consentView(req.consent, services.config.consentMode);
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    services.metrics.http.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  // One place decides what an error looks like: client errors say what was wrong with the request; server errors
  // say nothing beyond "internal error" and a request id (the details, secrets redacted, go to the log).
  app.setErrorHandler((err: FastifyError, req, reply) => {
    // Engine errors carry `status` (409 already running, 422 invalid draft, …); Fastify's own carry `statusCode`.
    const given = err.statusCode ?? (err as { status?: unknown }).status;
    const status = typeof given === 'number' && given >= 400 && given < 600 ? given : 500;
    if (status >= 500) {
      req.log.error({ err: services.redactor.redactError(err), route: req.routeOptions.url }, 'request failed');
      const code = status === 503 ? 'unavailable' : 'internal_error';
      return reply.status(status).send({ error: code, message: status === 503 ? 'temporarily unavailable' : 'internal error', request_id: req.id });
    }
    if (status === 429) reply.header('retry-after', reply.getHeader('retry-after') ?? '60');
    const message = err.validation ? `invalid request: ${err.message}` : err.message;
    // An error may name its own code (the admin API's `ssrf`, `map`); extra public fields (a JSONata position) go along.
    const own = err as FastifyError & { publicCode?: string; publicDetails?: Record<string, unknown> };
    return reply.status(status).send({ error: own.publicCode ?? CODES[status] ?? 'bad_request', message: services.redactor.redact(message).slice(0, 500), request_id: req.id, ...own.publicDetails });
  });

  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}`, request_id: req.id }));
});
