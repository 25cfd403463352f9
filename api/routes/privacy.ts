// Privacy: record consent, export everything stored about the calling user, erase it. The user is identified
// by the pseudonymous first-party cookie /go sets (only with consent); without it nothing is stored about them.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ClickRecord, ConversionRecord } from '../../engine/store/interaction-store.ts';
import { CONSENT_COOKIE, PURPOSES, USER_COOKIE, consentView, type Consent } from '../public.ts';
import { userId } from './go.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const CLICK = {
  type: 'object',
  properties: {
    click_id: { type: 'string' }, offer_id: { type: 'string' }, network: { type: 'string' }, user_id: { type: ['string', 'null'] },
    consent: { type: 'array', items: { type: 'string' } }, referrer: { type: ['string', 'null'] }, country: { type: ['string', 'null'] }, clicked_at: { type: 'string' },
  },
} as const;
const CONVERSION = {
  type: 'object',
  properties: {
    network: { type: 'string' }, transaction_id: { type: 'string' }, click_id: { type: ['string', 'null'] }, offer_id: { type: ['string', 'null'] },
    user_id: { type: ['string', 'null'] }, amount: { type: ['number', 'null'] }, commission: { type: ['number', 'null'] }, currency: { type: ['string', 'null'] },
    status: { type: 'string' }, converted_at: { type: 'string' }, received_at: { type: 'string' },
  },
} as const;

const callerId = (req: FastifyRequest): string | undefined => {
  const v = req.cookies?.[USER_COOKIE];
  return v && UUID.test(v) ? v : undefined;
};

export default async function privacyRoutes(app: FastifyInstance): Promise<void> {
  const s = app.services;
  app.addSchema(ERASURE_SCHEMA);

  app.post('/api/privacy/consent', {
    schema: {
      tags: ['privacy'], summary: 'Record the visitor\'s consent (sets the offerfeed_consent cookie)',
      description: 'Purposes: affiliate (tracking links and attribution of your clicks), analytics (click statistics). An empty list withdraws consent.',
      body: { type: 'object', required: ['purposes'], additionalProperties: false, properties: { purposes: { type: 'array', maxItems: 10, uniqueItems: true, items: { type: 'string', enum: [...PURPOSES] } } } },
      response: { 200: { type: 'object', properties: { purposes: { type: 'array', items: { type: 'string' } } } }, 400: { $ref: 'Error#' }, 415: { $ref: 'Error#' }, 429: { $ref: 'Error#' }, 500: { $ref: 'Error#' } },
    },
  }, async (req, reply) => {
    const purposes = (req.body as { purposes: string[] }).purposes;
    const consent: Consent = { purposes, affiliate: purposes.includes('affiliate'), identify: purposes.length > 0, source: 'header' };
    req.consent = consent;
    req.view = consentView(consent, s.config.consentMode);
    const previous = callerId(req);
    const uid = userId(req, reply, s.config.userCookieDays);
    // A withdrawal is recorded against the id it withdraws from.
    if (uid ?? previous) await s.interactions.recordConsent((uid ?? previous)!, purposes, 'api');
    reply.setCookie(CONSENT_COOKIE, purposes.join(','), { path: '/', sameSite: 'lax', secure: req.protocol === 'https', maxAge: s.config.userCookieDays * 86_400 });
    return { purposes };
  });

  app.get('/api/privacy/export', {
    schema: {
      tags: ['privacy'], summary: 'Everything stored about the calling user (clicks, conversions, consents)',
      response: {
        200: {
          type: 'object', required: ['user_id', 'clicks', 'conversions', 'consents'],
          properties: {
            user_id: { type: ['string', 'null'] },
            clicks: { type: 'array', items: CLICK },
            conversions: { type: 'array', items: CONVERSION },
            consents: { type: 'array', items: { type: 'object', properties: { purposes: { type: 'array', items: { type: 'string' } }, source: { type: 'string' }, recorded_at: { type: 'string' } } } },
          },
        },
        429: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 503: { $ref: 'Error#' },
      },
    },
  }, async (req, reply) => {
    const uid = callerId(req);
    reply.header('cache-control', 'no-store');
    if (!uid) return { user_id: null, clicks: [], conversions: [], consents: [] };
    const local = await s.interactions.userData(uid);
    let remote: { clicks: ClickRecord[]; conversions: ConversionRecord[] } = { clicks: [], conversions: [] };
    if (s.history) {
      try { remote = await s.history.userData(uid); } catch (e) {
        req.log.warn({ err: s.redactor.redactError(e) }, 'privacy export: ClickHouse unavailable');
        return reply.status(503).send({ error: 'unavailable', message: 'the analytics store is unavailable; try again shortly', request_id: req.id });
      }
    }
    // ClickHouse has what was exported (also clicks DuckDB no longer keeps); DuckDB what is not exported yet.
    const clicks = new Map<string, ClickRecord>();
    for (const c of [...remote.clicks, ...local.clicks]) clicks.set(c.click_id, { ...c, user_id: c.user_id || null });
    const conversions = new Map<string, ConversionRecord>();
    for (const c of [...remote.conversions, ...local.conversions]) conversions.set(`${c.network}\u0000${c.transaction_id}`, c);
    return {
      user_id: uid,
      clicks: [...clicks.values()].sort((a, b) => a.clicked_at.localeCompare(b.clicked_at)),
      conversions: [...conversions.values()].sort((a, b) => a.converted_at.localeCompare(b.converted_at)),
      consents: local.consents,
    };
  });

  app.delete('/api/privacy/data', {
    schema: {
      tags: ['privacy'], summary: 'Erase everything stored about the calling user, in both stores',
      description: 'Clicks and consents are deleted; conversions stay as anonymous records (user and click id removed); quarantined ' +
        'records that carry one of the caller\'s ids are deleted. ClickHouse rows are rewritten, not hidden, and the erasure stays open until ' +
        'ClickHouse has also removed the data parts that held them. 202 when ClickHouse is unreachable or slow: the erasure completes as soon ' +
        'as it can. Repeating the request is harmless.',
      response: {
        200: { $ref: 'Erasure#' }, 202: { $ref: 'Erasure#' }, 429: { $ref: 'Error#' }, 500: { $ref: 'Error#' },
      },
    },
  }, async (req, reply) => {
    const uid = callerId(req);
    reply.header('cache-control', 'no-store');
    if (!uid) return { erased: false, clickhouse: 'nothing to erase', duckdb: { clicks: 0, conversions: 0, consents: 0, quarantine: 0 } };
    const r = await s.exporter.erase(uid);
    reply.clearCookie(USER_COOKIE, { path: '/' });
    return reply.status(r.clickhouse === 'pending' ? 202 : 200).send({ erased: true, ...r });
  });
}

export const ERASURE_SCHEMA = {
  $id: 'Erasure',
  type: 'object',
  required: ['erased', 'clickhouse', 'duckdb'],
  properties: {
    erased: { type: 'boolean', description: 'false when the caller has no user id (nothing is stored about them)' },
    clickhouse: {
      type: 'string', enum: ['erased', 'pending', 'not configured', 'nothing to erase'],
      description: 'erased: rows rewritten (the parts that held them are removed by ClickHouse\'s cleanup); pending: retried until ClickHouse answers',
    },
    duckdb: {
      type: 'object', description: 'Rows erased from the serving store: deleted (clicks, consents, quarantined records) or anonymized (conversions)',
      properties: { clicks: { type: 'integer' }, conversions: { type: 'integer' }, consents: { type: 'integer' }, quarantine: { type: 'integer' } },
    },
  },
} as const;
