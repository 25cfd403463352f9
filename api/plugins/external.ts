// Third-party plugins, registered first and always in this order: security headers, CORS, rate limit, cookies,
// then the OpenAPI generator (it must see every route registered after it) and its docs page.
import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { ApiConfig } from '../config.ts';
import { corsAllows } from '../security/origins.ts';
import { refuseNonFiniteNumbers } from '../security/finite-numbers.ts';

export default fp(async function external(app: FastifyInstance, o: { config: ApiConfig }) {
  const c = o.config;
  // Every route registered from here on: numbers in its schema must be finite (see finite-numbers.ts).
  app.addHook('onRoute', refuseNonFiniteNumbers);
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        // The API may be served over plain HTTP (loopback, behind a TLS proxy): the docs' assets must not be upgraded.
        'upgrade-insecure-requests': null,
        // GraphiQL (off unless enabled) loads its page assets from a CDN.
        ...(c.graphql.graphiql ? { 'script-src': ["'self'", "'unsafe-inline'", 'https://unpkg.com'], 'style-src': ["'self'", "'unsafe-inline'", 'https://unpkg.com'] } : {}),
      },
    },
    // The API is read cross-origin by the sites configured in corsOrigins.
    crossOriginResourcePolicy: { policy: c.corsOrigins.length ? 'cross-origin' : 'same-origin' },
  });
  const any = c.corsOrigins.includes('*');
  // A preflight from an origin outside the allow-list is refused outright (403), not answered with a 204 that
  // merely lacks the allow headers: the browser blocks either way, this also tells the page's developer why.
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (req.method !== 'OPTIONS' || !origin || !req.headers['access-control-request-method'] || corsAllows(c, origin)) return;
    return reply.status(403).header('vary', 'Origin').send({ error: 'forbidden', message: 'origin not allowed', request_id: req.id });
  });
  await app.register(cors, {
    // Decided per request, so that an origin outside the list gets no CORS header at all (a static list would
    // still send Allow-Credentials to everyone).
    origin: c.corsOrigins.length === 0 ? false : any ? '*' : (origin: string | undefined, cb: (err: Error | null, allow: string | false) => void) => cb(null, origin !== undefined && corsAllows(c, origin) ? origin : false),
    // Consent and the user id travel as cookies; browsers only send them to an exact allowed origin.
    credentials: !any && c.corsOrigins.length > 0,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['Content-Type', 'X-Offerfeed-Consent'],
    maxAge: 600,
  });
  await app.register(rateLimit, {
    global: true,
    max: c.rateLimit.max,
    timeWindow: c.rateLimit.timeWindowMs,
    // Per client address (behind a proxy, trustProxy makes it the real client's). Clicks and postbacks have
    // limits of their own (route config in api/routes/go.ts and postbacks.ts), counted apart from reads.
    keyGenerator: (req) => req.ip,
  });
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'OfferFeed API',
        version: '1',
        description: 'Public offers of the feed (REST; GraphQL at /graphql), click tracking, conversion postbacks and privacy requests. ' +
          'Consent: send the visitor\'s consented purposes (affiliate, analytics) in the X-Offerfeed-Consent header or the offerfeed_consent cookie.',
      },
      tags: [
        { name: 'offers', description: 'Public offers' },
        { name: 'networks', description: 'Connectors and their health' },
        { name: 'tracking', description: 'Clicks and conversions' },
        { name: 'privacy', description: 'Consent, export and erasure (GDPR)' },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  if (c.docs) {
    await app.register(swaggerUi, {
      routePrefix: '/docs', staticCSP: true, uiConfig: { deepLinking: false },
      transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
    });
  }
});

