// Offers as admins see them: every status (not only what the public API serves), searchable and filterable, each
// with its source network, canonical data, change history and the optimizer's decisions; pin/unpin and
// hide/unhide go through the optimizer so its automatic decisions respect them.
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { OFFER_SORTS, OFFER_STATUSES, type AdminOfferRow, type AdminQueries, type OfferFilter } from '../../../engine/store/admin-queries.ts';
import { csvLines } from '../../../engine/util/csv-export.ts';
import type { AdminContext } from '../context.ts';
import { AdminApiError } from '../context.ts';
import { perform } from '../guard.ts';

const keyParams = { type: 'object', required: ['key'], properties: { key: { type: 'string', maxLength: 200 } } } as const;
const reasonBody = { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } } as const;

export const OFFER_LIST_QUERY = {
  type: 'object', additionalProperties: false,
  properties: {
    q: { type: 'string', maxLength: 200 },
    network: { type: 'string', maxLength: 64 },
    status: { type: 'string', enum: [...OFFER_STATUSES] },
    kind: { type: 'string', enum: ['product', 'coupon', 'deal', 'program'] },
    sort: { type: 'string', enum: Object.keys(OFFER_SORTS) },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
  },
} as const;

export default async function offerRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  const { host, queries } = ctx;
  const optimizer = host.services?.optimizer;

  app.get<{ Querystring: OfferFilter }>('/offers', { schema: { querystring: OFFER_LIST_QUERY } }, async (req) => perform(ctx, req, 'read', null, async () => {
    const page = await queries.offers(req.query);
    const pins = optimizer ? await Promise.all(page.items.map((o) => optimizer.controls(o.key))) : [];
    return { total: page.total, items: page.items.map((o, i) => ({ ...o, pinned: pins[i]?.pinned ?? false })) };
  }));

  // The list as CSV (same filters, every page), streamed; cells are formula-escaped: titles come from third parties.
  app.get<{ Querystring: Omit<OfferFilter, 'limit' | 'offset'> }>('/offers.csv', {
    schema: { querystring: { ...OFFER_LIST_QUERY, properties: { q: OFFER_LIST_QUERY.properties.q, network: OFFER_LIST_QUERY.properties.network, status: OFFER_LIST_QUERY.properties.status, kind: OFFER_LIST_QUERY.properties.kind, sort: OFFER_LIST_QUERY.properties.sort } } },
  }, async (req, reply) => perform(ctx, req, 'read', null, async () => {
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="offers.csv"');
    return reply.send(Readable.from(csvLines(CSV_COLUMNS, allOffers(queries, req.query))));
  }));

  app.get<{ Params: { key: string } }>('/offers/:key', { schema: { params: keyParams } }, async (req) => perform(ctx, req, 'read', req.params.key, async () => {
    const found = await queries.offer(req.params.key);
    if (!found) throw new AdminApiError(404, `no offer "${req.params.key}"`, 'not_found');
    const [controls, decisions, enrichment] = await Promise.all([
      optimizer?.controls(req.params.key), optimizer?.decisions({ offerId: req.params.key, limit: 100 }) ?? [],
      host.services?.reader.get([req.params.key]).then((m) => m.get(req.params.key)),
    ]);
    return { offer: { ...found.offer, pinned: controls?.pinned ?? false, promoted: controls?.promoted ?? false }, history: found.history, decisions, enrichment: enrichment ?? null };
  }));

  for (const action of ['pin', 'unpin', 'hide', 'unhide'] as const) {
    app.post<{ Params: { key: string }; Body: { reason?: string } | null }>(`/offers/:key/${action}`, { schema: { params: keyParams, body: reasonBody } }, async (req) => {
      const key = req.params.key;
      return perform(ctx, req, action === 'pin' || action === 'unpin' ? 'offer.pin' : 'offer.hide', key, async () => {
        const found = await queries.offer(key);
        if (!found) throw new AdminApiError(404, `no offer "${key}"`, 'not_found');
        const by = req.principal!.user;
        const reason = req.body?.reason ?? `${action} by ${by}`;
        if (optimizer) await optimizer[action](key, { by, reason });
        else if (action === 'hide' || action === 'unhide') await host.store.setOfferStatus(found.offer.network, found.offer.external_id, action === 'hide' ? 'hidden' : 'active', reason);
        else throw new AdminApiError(409, 'pinning needs the optimizer, which this process does not run', 'conflict');
        const after = (await queries.offer(key))!.offer;
        return { key, status: after.status, status_reason: after.status_reason, pinned: (await optimizer?.controls(key))?.pinned ?? false };
      }, { reason: req.body?.reason });
    });
  }
}

const CSV_COLUMNS: ReadonlyArray<{ header: keyof AdminOfferRow; value: (o: AdminOfferRow) => unknown }> = (
  ['key', 'network', 'external_id', 'kind', 'status', 'title', 'merchant_name', 'price', 'sale_price', 'currency', 'url', 'first_seen', 'last_seen', 'last_changed', 'version', 'tags', 'languages'] as const
).map((header) => ({ header, value: (o: AdminOfferRow) => o[header] }));

async function* allOffers(queries: AdminQueries, f: Omit<OfferFilter, 'limit' | 'offset'>): AsyncGenerator<AdminOfferRow> {
  const limit = 1000;
  for (let offset = 0; ; offset += limit) {
    const page = await queries.offers({ ...f, limit, offset });
    yield* page.items;
    if (page.items.length < limit) return;
  }
}
