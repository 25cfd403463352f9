// GET /go/:offerId — the link visitors follow. Records the click (offer, pseudonymous user id when consent allows
// one, consent, referrer origin and path, country), then redirects to the offer's stored URL: its tracking URL
// with affiliate consent (plus our click id in the network's sub-id parameter, so postbacks can name the click),
// its landing page without. The target is only ever built from a stored offer URL.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Offer } from '../../engine/types/offer.generated.ts';
import { DEFAULT_CLICK_LIMIT } from '../config.ts';
import { USER_COOKIE } from '../public.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The visitor's pseudonymous id: the cookie's when consent allows one (a new one if missing), else none. */
export function userId(req: FastifyRequest, reply: FastifyReply, days: number): string | null {
  const existing = req.cookies?.[USER_COOKIE];
  if (!req.consent.identify) {
    // Consent withdrawn: the id is no longer used, and the browser forgets it.
    if (existing) reply.clearCookie(USER_COOKIE, { path: '/' });
    return null;
  }
  if (existing && UUID.test(existing)) return existing;
  const id = randomUUID();
  reply.setCookie(USER_COOKIE, id, { path: '/', httpOnly: true, sameSite: 'lax', secure: req.protocol === 'https', maxAge: days * 86_400 });
  return id;
}

export function referrerOf(req: FastifyRequest): string | null {
  const r = req.headers.referer;
  if (!r) return null;
  try {
    const u = new URL(r);
    return /^https?:$/.test(u.protocol) ? `${u.origin}${u.pathname}`.slice(0, 500) : null;
  } catch {
    return null;
  }
}

export default async function goRoutes(app: FastifyInstance): Promise<void> {
  const s = app.services;
  const limit = s.config.rateLimit.clicks ?? DEFAULT_CLICK_LIMIT;
  app.get('/go/:offerId', {
    // Clicks have their own per-client limit: they write to both stores and feed the optimizer.
    config: { rateLimit: { max: limit.max, timeWindow: limit.timeWindowMs } },
    schema: {
      tags: ['tracking'], summary: 'Record a click and redirect to the offer',
      description: 'With affiliate consent: to the tracking URL; without: to the landing page (403 when the offer has none).',
      params: { type: 'object', required: ['offerId'], properties: { offerId: { type: 'string', pattern: '^[0-9a-f]{16}$' } } },
      response: {
        302: { description: 'Redirect to the offer', type: 'null' },
        403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 429: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 503: { $ref: 'Error#' },
      },
    },
  }, async (req, reply) => {
    if (!s.feed.ready) return reply.status(503).send({ error: 'unavailable', message: 'the offer index is still loading', request_id: req.id });
    const slot = s.index.slotOf((req.params as { offerId: string }).offerId);
    if (slot === undefined || !s.index.visible(slot, 'all')) return reply.status(404).send({ error: 'not_found', message: 'no such active offer', request_id: req.id });
    const offer = JSON.parse(s.index.dataOf(slot)!) as Offer;
    const tracking = s.index.hasTracking(slot);
    const clickId = randomUUID();
    let target: string | undefined;
    if (req.consent.affiliate) target = tracking ? withClickId(offer.url, s.config.clickIdParams[offer.network], clickId) : offer.url;
    else target = tracking ? offer.landing_url : offer.url;
    if (!target || !isHttpUrl(target)) return reply.status(403).send({ error: 'forbidden', message: 'this offer can only be opened with affiliate consent', request_id: req.id });
    const country = s.config.countryHeader ? String(req.headers[s.config.countryHeader.toLowerCase()] ?? '') : '';
    await s.interactions.recordClick({
      click_id: clickId, offer_id: s.index.idOf(slot), network: offer.network, user_id: userId(req, reply, s.config.userCookieDays),
      consent: req.consent.purposes, referrer: referrerOf(req), country: /^[A-Za-z]{2}$/.test(country) ? country.toUpperCase() : null,
      clicked_at: new Date().toISOString(),
    });
    s.exporter.nudge();
    s.metrics.clicks.inc({ network: offer.network });
    s.ranker?.clicked(s.index.idOf(slot)).catch((e) => req.log.warn({ err: s.redactor.redactError(e) }, 'optimizer did not take the click'));
    return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(target, 302);
  });
}

function isHttpUrl(u: string): boolean {
  try { return /^https?:$/.test(new URL(u).protocol); } catch { return false; }
}

/** The stored URL with our click id in the network's sub-id parameter (origin and path untouched). */
function withClickId(url: string, param: string | undefined, clickId: string): string {
  if (!param) return url;
  try {
    const u = new URL(url);
    u.searchParams.set(param, clickId);
    return u.toString();
  } catch {
    return url;
  }
}
