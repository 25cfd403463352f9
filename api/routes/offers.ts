// REST reads of the public offers, served from the in-memory read model: latest (keyset-paginated, one per
// duplicate group), ranked full-text search, top by score, one offer. Only active, unexpired offers are public,
// and a visitor without affiliate consent never gets a tracking URL.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { filterFrom, decodeCursor, encodeCursor, publicFromSlot, publicJsonFromSlot } from '../public.ts';
import { foldText } from '../read-model/tokenizer.ts';
import { publicOfferJsonSchema } from '../offer-schema.ts';
import type { ConsentView, OfferFilter } from '../read-model/offer-index.ts';
import type { ApiServices } from '../services.ts';

const list = (what: string) => ({ type: 'string', maxLength: 500, description: `${what}; several comma-separated match any` });

export const FILTER_PROPERTIES = {
  network: list('Connector id(s)'),
  kind: list('product, coupon, deal, program'),
  merchant: list('Merchant name or merchant id (case-insensitive)'),
  country: list('ISO 3166-1 alpha-2 country the offer is valid in'),
  lang: list('Language (BCP 47; en matches en-GB)'),
  vertical: list('Top-level category (Home > Kitchen is in vertical "home")'),
  min_price: { type: 'number', minimum: 0, description: 'Lowest effective price (sale price, else price)' },
  max_price: { type: 'number', minimum: 0, description: 'Highest effective price' },
  has_coupon: { type: 'boolean', description: 'Only offers with (true) or without (false) a coupon code' },
  group: { type: 'boolean', default: true, description: 'One offer per duplicate group (false: every network\'s copy)' },
} as const;

const page = (max: number, dflt: number) => ({
  limit: { type: 'integer', minimum: 1, maximum: max, default: dflt },
  cursor: { type: 'string', maxLength: 512, description: 'next_cursor of the previous page' },
});

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 429: { $ref: 'Error#' }, 500: { $ref: 'Error#' } };

function listResponse(item: object) {
  return {
    type: 'object',
    required: ['items', 'next_cursor'],
    properties: { items: { type: 'array', items: item }, next_cursor: { type: ['string', 'null'], description: 'Cursor of the next page; null on the last page' } },
  };
}

const searchItem = (() => {
  const base = publicOfferJsonSchema();
  return {
    type: 'object', additionalProperties: false, required: base.required,
    properties: {
      ...base.properties,
      score: { type: 'number', description: 'Relevance (higher is better)' },
      matched_words: { type: 'integer', description: 'Query words the offer matched' },
      highlight: { type: 'object', properties: { title: { type: 'string', description: 'Title, HTML-escaped, with matches in <mark>' } } },
    },
  };
})();

const topItem = (() => {
  const base = publicOfferJsonSchema();
  return { type: 'object', additionalProperties: false, required: base.required, properties: { ...base.properties, score: { type: 'number', description: 'Ranking score' } } };
})();

type Query = Record<string, unknown> & { limit: number; cursor?: string; group?: boolean };

export default async function offerRoutes(app: FastifyInstance): Promise<void> {
  const s = app.services;
  const pub = (req: FastifyRequest, slot: number) => publicFromSlot(s.index, slot, req.view, s.clickBase);
  const pubJson = (req: FastifyRequest, slot: number, extra?: string) => publicJsonFromSlot(s.index, slot, req.view, s.clickBase, extra);
  // Lists are written as JSON text from the stored offers (see publicJsonFromSlot); the schemas still document them.
  const sendList = (reply: FastifyReply, items: string[], next: string | null) =>
    reply.type('application/json; charset=utf-8').send(`{"items":[${items.join(',')}],"next_cursor":${next === null ? 'null' : `"${next}"`}}`);
  const notReady = (reply: FastifyReply) => reply.status(503).send({ error: 'unavailable', message: 'the offer index is still loading', request_id: reply.request.id });

  app.get('/api/offers/latest', {
    schema: {
      tags: ['offers'], summary: 'Newest public offers first',
      description: 'Keyset pagination on (first_seen_at, id) — or (last_changed_at, id) with sort=changed — so pages stay stable while syncs run.',
      querystring: { type: 'object', properties: { ...FILTER_PROPERTIES, sort: { type: 'string', enum: ['newest', 'changed'], default: 'newest' }, ...page(100, 20) } },
      response: { 200: listResponse({ $ref: 'Offer#' }), 503: { $ref: 'Error#' }, ...errors },
    },
  }, async (req, reply) => {
    if (!s.feed.ready) return notReady(reply);
    const q = req.query as Query & { sort: 'newest' | 'changed' };
    const res = s.index.latest(q.sort, { filter: filterFrom(q), consent: req.view, limit: q.limit, group: q.group, after: decodeCursor(q.sort, q.cursor) });
    s.ranker?.served(res.slots.map((slot) => s.index.idOf(slot)), 'latest');
    return sendList(reply, res.slots.map((slot) => pubJson(req, slot)), res.next ? encodeCursor(q.sort, res.next) : null);
  });

  app.get('/api/offers/search', {
    schema: {
      tags: ['offers'], summary: 'Ranked full-text search',
      description: 'Over title, description, merchant, brand, categories, tags and coupon code; typo-tolerant, prefix match on the last word, any language. ' +
        'Ranked by the number of query words matched, then relevance (BM25F).',
      querystring: {
        type: 'object', required: ['q'],
        properties: { q: { type: 'string', minLength: 1, maxLength: 200 }, highlight: { type: 'boolean', default: false }, ...FILTER_PROPERTIES, ...page(100, 20) },
      },
      response: { 200: listResponse(searchItem), 503: { $ref: 'Error#' }, ...errors },
    },
  }, async (req, reply) => {
    if (!s.feed.ready) return notReady(reply);
    const q = req.query as Query & { q: string; highlight: boolean };
    const res = s.index.searchOffers(q.q, { filter: filterFrom(q), consent: req.view, limit: q.limit, group: q.group, after: decodeCursor('search', q.cursor) });
    s.ranker?.served(res.slots.map((slot) => s.index.idOf(slot)), 'search');
    const items = res.slots.map((slot, i) => {
      const r = res.scores![i];
      const title = q.highlight ? (JSON.parse(s.index.dataOf(slot)!) as { title: string }).title : '';
      const hl = q.highlight ? `"highlight":{"title":${JSON.stringify(highlight(title, res.matchedTerms))}},` : '';
      return pubJson(req, slot, `"score":${r.score},"matched_words":${r.matched},${hl}`);
    });
    return sendList(reply, items, res.next ? encodeCursor('search', res.next) : null);
  });

  app.get('/api/offers/top', {
    schema: {
      tags: ['offers'], summary: 'Best offers by ranking score',
      description: 'The optimizer\'s score when one is running; otherwise freshness, discount and payout.',
      querystring: { type: 'object', properties: { ...FILTER_PROPERTIES, limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 } } },
      response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: topItem } } }, 503: { $ref: 'Error#' }, ...errors },
    },
  }, async (req, reply) => {
    if (!s.feed.ready) return notReady(reply);
    const q = req.query as Query;
    const best = await topOffers(s, filterFrom(q), req.view, q.limit, q.group !== false, (e) => req.log.warn({ err: s.redactor.redactError(e) }, 'optimizer ranking failed; ranked by freshness, discount and payout'));
    s.ranker?.served(best.map((b) => s.index.idOf(b.slot)), 'top');
    return { items: best.map((b) => ({ ...pub(req, b.slot), score: b.score })) };
  });

  app.get('/api/offers/:id', {
    schema: {
      tags: ['offers'], summary: 'One public offer',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } },
      response: { 200: { $ref: 'Offer#' }, 503: { $ref: 'Error#' }, ...errors },
    },
  }, async (req, reply) => {
    if (!s.feed.ready) return notReady(reply);
    const slot = s.index.slotOf((req.params as { id: string }).id);
    if (slot === undefined || !s.index.visible(slot, req.view)) return reply.status(404).send({ error: 'not_found', message: 'no such public offer', request_id: req.id });
    return pub(req, slot);
  });
}

/**
 * The best offers for /top: the optimizer's ranking when one runs (kept to offers public and visible to the caller
 * and matching the filter as the API defines it, topped up from the API's own ranking), else the API's ranking
 * by freshness, discount and payout.
 */
export async function topOffers(s: ApiServices, filter: OfferFilter, view: ConsentView, limit: number, group: boolean, onError: (e: unknown) => void): Promise<Array<{ slot: number; score: number }>> {
  const own = () => s.index.top({ filter, consent: view, limit, group });
  if (!s.ranker) return own();
  let ranked: Array<{ id: string; score: number }> | undefined;
  try {
    // Vertical means something else to the optimizer (a taxonomy id): it filters here, on the API's terms.
    ranked = await s.ranker.top(limit * 5 + 10, { ...filter, vertical: undefined });
  } catch (e) {
    onError(e);
  }
  if (!ranked) return own();
  const pred = s.index.compile(filter, view, Date.now());
  if (!pred) return [];
  const out: Array<{ slot: number; score: number }> = [];
  const groups = new Set<string | undefined>();
  const take = (slot: number, score: number) => {
    if (out.length >= limit || out.some((x) => x.slot === slot)) return;
    const g = s.index.groupKeyOf(slot);
    if (group && g !== undefined) { if (groups.has(g)) return; groups.add(g); }
    out.push({ slot, score });
  };
  for (const r of ranked) {
    const slot = s.index.slotOf(r.id);
    if (slot !== undefined && pred(slot)) take(slot, r.score);
  }
  if (out.length < limit) for (const b of s.index.top({ filter, consent: view, limit: limit * 2, group })) take(b.slot, b.score);
  return out;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The title with words that match a query term wrapped in <mark> (HTML-escaped). */
export function highlight(title: string, terms: string[]): string {
  if (!terms.length) return escapeHtml(title);
  const wanted = new Set(terms);
  return title.split(/([\p{L}\p{M}\p{N}]+)/u).map((part, i) => {
    const esc = escapeHtml(part);
    return i % 2 === 1 && wanted.has(foldText(part)) ? `<mark>${esc}</mark>` : esc;
  }).join('');
}
