// GraphQL at /graphql (Mercurius): the same read model and consent rules as REST, Relay-style connections, and
// subscriptions over websocket fed by the change feed: every committed run's offer changes are published
// to the subscribers whose filter and consent they match.
import mercurius from 'mercurius';
import { NoSchemaIntrospectionCustomRule, GraphQLError, GraphQLScalarType, type ValidationRule } from 'graphql';
import type { FastifyInstance } from 'fastify';
import type { Offer } from '../../engine/types/offer.generated.ts';
import type { SyncRunRow } from '../../engine/store/offer-queries.ts';
import { consentView, decodeCursor, encodeCursor, matchesFilter, publicFromSlot, publicOffer, readConsent } from '../public.ts';
import type { OfferChangeEvent } from '../read-model/change-feed.ts';
import type { ConsentView, OfferFilter, PageCursor } from '../read-model/offer-index.ts';
import { costLimitRule, MAX_PAGE } from './cost.ts';
import { checkSource, DEFAULT_DOCUMENT_LIMITS, documentProblem, GraphQLRequestError, vetDocument, type DocumentLimits } from './limits.ts';
import { websocketAllows } from '../security/origins.ts';
import { topOffers } from '../routes/offers.ts';
import { graphqlSchema } from './schema.ts';

interface Ctx { view: ConsentView }

interface GqlFilter { network?: string[]; kind?: string[]; merchant?: string[]; country?: string[]; lang?: string[]; vertical?: string[]; minPrice?: number; maxPrice?: number; hasCoupon?: boolean }

const TOPIC_CHANGE = 'OFFER_CHANGED';
const TOPIC_RUN = 'SYNC_RUN_FINISHED';

const filterOf = (f: GqlFilter | null | undefined): OfferFilter => ({
  network: f?.network ?? undefined, kind: f?.kind ?? undefined, merchant: f?.merchant ?? undefined, country: f?.country ?? undefined,
  lang: f?.lang ?? undefined, vertical: f?.vertical ?? undefined, min_price: f?.minPrice ?? undefined, max_price: f?.maxPrice ?? undefined,
  has_coupon: f?.hasCoupon ?? undefined,
});

/** Errors meant for the client; anything else is reported as "internal error". */
class UserError extends GraphQLError {
  constructor(message: string, code = 'BAD_USER_INPUT') { super(message, { extensions: { code } }); }
}

/** Longest search accepted (as REST's q) and the bounds of a filter's lists: a 60 kB search string or a list of
 * thousands of networks would cost the index more than any page is worth. */
const MAX_SEARCH = 200;
const MAX_FILTER_VALUES = 50;
const MAX_FILTER_VALUE_LENGTH = 200;

function checkInput(a: { filter?: GqlFilter | null; search?: string | null }): void {
  if (typeof a.search === 'string' && a.search.length > MAX_SEARCH) throw new UserError(`search is at most ${MAX_SEARCH} characters`);
  for (const [k, v] of Object.entries(a.filter ?? {})) {
    if (!Array.isArray(v)) continue;
    if (v.length > MAX_FILTER_VALUES) throw new UserError(`filter.${k} lists at most ${MAX_FILTER_VALUES} values`);
    if (v.some((x) => typeof x === 'string' && x.length > MAX_FILTER_VALUE_LENGTH)) throw new UserError(`filter.${k} values are at most ${MAX_FILTER_VALUE_LENGTH} characters`);
  }
}

function pageSize(first: number | null | undefined, dflt: number): number {
  const n = first ?? dflt;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw new UserError(`first must be between 1 and ${MAX_PAGE}`);
  return n;
}

function cursorOf(kind: string, s: string | null | undefined): PageCursor | undefined {
  try { return decodeCursor(kind, s ?? undefined); } catch (e) { throw new UserError((e as Error).message); }
}

const runNode = (r: SyncRunRow) => ({ ...r, finished_at: r.finished_at ?? null, duration_ms: r.duration_ms ?? null, counts: r.counts ?? null });

export default async function graphqlPlugin(app: FastifyInstance): Promise<void> {
  const s = app.services;
  const cfg = s.config;
  const idx = s.index;
  const ready = () => { if (!s.feed.ready) throw new UserError('the offer index is still loading', 'UNAVAILABLE'); };
  const node = (slot: number, ctx: Ctx) => publicFromSlot(idx, slot, ctx.view, s.clickBase);

  const resolvers = {
    JSON: new GraphQLScalarType({ name: 'JSON', serialize: (v) => v, parseValue: (v) => v }),
    Query: {
      offers: (_: unknown, a: { filter?: GqlFilter; search?: string; sort?: string; first?: number; after?: string; group?: boolean }, ctx: Ctx) => {
        ready();
        checkInput(a);
        const first = pageSize(a.first, 20);
        const search = a.search?.trim();
        const sort = a.sort ?? (search ? 'RELEVANCE' : 'NEWEST');
        const base = { filter: filterOf(a.filter), consent: ctx.view, limit: first, group: a.group ?? true };
        if (sort === 'RELEVANCE' || search) {
          if (!search) throw new UserError('sort RELEVANCE needs a search');
          if (sort !== 'RELEVANCE') throw new UserError('results of a search are sorted by relevance');
          const res = idx.searchOffers(search, { ...base, after: cursorOf('search', a.after) });
          s.ranker?.served(res.slots.map((slot) => idx.idOf(slot)), 'graphql');
          const edges = res.slots.map((slot, i) => {
            const r = res.scores![i];
            return { cursor: encodeCursor('search', { k: r.score, i: idx.idOf(slot), m: r.matched }), node: node(slot, ctx), score: r.score };
          });
          return { edges, pageInfo: { hasNextPage: Boolean(res.next), endCursor: edges.at(-1)?.cursor ?? null } };
        }
        const kind = sort === 'CHANGED' ? 'changed' : 'newest';
        const res = idx.latest(kind, { ...base, after: cursorOf(kind, a.after) });
        s.ranker?.served(res.slots.map((slot) => idx.idOf(slot)), 'graphql');
        const edges = res.slots.map((slot) => ({
          cursor: encodeCursor(kind, { k: kind === 'newest' ? idx.firstSeenOf(slot) : idx.changedOf(slot), i: idx.idOf(slot) }), node: node(slot, ctx), score: null,
        }));
        return { edges, pageInfo: { hasNextPage: Boolean(res.next), endCursor: edges.at(-1)?.cursor ?? null } };
      },
      offer: (_: unknown, a: { id: string }, ctx: Ctx) => {
        ready();
        const slot = idx.slotOf(a.id);
        return slot !== undefined && idx.visible(slot, ctx.view) ? node(slot, ctx) : null;
      },
      topOffers: async (_: unknown, a: { filter?: GqlFilter; first?: number }, ctx: Ctx & { reply?: { log: { warn: (o: object, m: string) => void } } }) => {
        ready();
        checkInput(a);
        const best = await topOffers(s, filterOf(a.filter), ctx.view, pageSize(a.first, 10), true, (e) => ctx.reply?.log.warn({ err: s.redactor.redactError(e) }, 'optimizer ranking failed'));
        s.ranker?.served(best.map((b) => idx.idOf(b.slot)), 'graphql');
        return best.map((b) => ({ cursor: encodeCursor('top', { k: b.score, i: idx.idOf(b.slot) }), node: node(b.slot, ctx), score: b.score }));
      },
      networks: async () => (await s.networks()).map((n) => ({ ...n, last_run: n.last_run ? runNode(n.last_run) : null })),
      syncRuns: async (_: unknown, a: { connector?: string; first?: number; after?: string }) => {
        if (a.connector && a.connector.length > MAX_FILTER_VALUE_LENGTH) throw new UserError(`connector is at most ${MAX_FILTER_VALUE_LENGTH} characters`);
        const first = pageSize(a.first, 20);
        const after = cursorOf('runs', a.after);
        const rows = await s.queries.syncRuns({ connector: a.connector ?? undefined, limit: first + 1, before: after ? { started_at: new Date(after.k).toISOString(), id: after.i } : undefined });
        const edges = rows.slice(0, first).map((r) => ({ cursor: encodeCursor('runs', { k: Date.parse(r.started_at), i: r.id }), node: runNode(r) }));
        return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
      },
    },
    Subscription: {
      offerChanged: {
        subscribe: mercurius.withFilter(
          ((_root: unknown, _args: unknown, { pubsub }: { pubsub: { subscribe: (t: string) => unknown } }) => pubsub.subscribe(TOPIC_CHANGE)) as never,
          ((payload: { event: OfferChangeEvent }, args: { filter?: GqlFilter; ops?: string[] }, ctx: Ctx) => {
            const e = payload.event;
            if (args.ops?.length && !args.ops.includes(e.op.toUpperCase())) return false;
            if (!matchesFilter(e.offer, filterOf(args.filter))) return false;
            return eventOffer(e, ctx.view, s.clickBase) !== undefined;
          }) as never,
        ),
        resolve: (payload: { event: OfferChangeEvent }, _args: unknown, ctx: Ctx) => {
          const e = payload.event;
          return { op: e.op.toUpperCase(), visible: e.visible, run_id: e.run_id, offer: eventOffer(e, ctx.view, s.clickBase) };
        },
      },
      syncRunFinished: {
        subscribe: mercurius.withFilter(
          ((_root: unknown, _args: unknown, { pubsub }: { pubsub: { subscribe: (t: string) => unknown } }) => pubsub.subscribe(TOPIC_RUN)) as never,
          ((payload: { run: SyncRunRow }, args: { connector?: string }) => !args.connector || payload.run.connector === args.connector) as never,
        ),
        resolve: (payload: { run: SyncRunRow }) => runNode(payload.run),
      },
    },
  };

  const rules: ValidationRule[] = [costLimitRule(cfg.graphql.maxCost)];
  if (!cfg.graphql.introspection) rules.push(NoSchemaIntrospectionCustomRule);
  const limits: DocumentLimits = {
    ...DEFAULT_DOCUMENT_LIMITS, maxAliases: cfg.graphql.maxAliases ?? DEFAULT_DOCUMENT_LIMITS.maxAliases, maxLength: cfg.bodyLimit,
  };
  const wsView = (headers: Record<string, string | string[] | undefined>): ConsentView => consentView(readConsent(headers), cfg.consentMode);

  // Mercurius takes a `query` that is not a string as a ready-made AST and validates and runs it as it is: a
  // malformed one fails inside GraphQL (an internal error), a crafted one skips the parser's limits.
  app.addHook('preHandler', async (req, reply) => {
    const body = req.body as { query?: unknown } | undefined;
    if (req.method === 'POST' && body && typeof body === 'object' && !Array.isArray(body) && body.query !== undefined && typeof body.query !== 'string') {
      return reply.status(400).send({ data: null, errors: [{ message: 'the query must be a GraphQL document (a string)' }] });
    }
  });

  await app.register(mercurius, {
    schema: graphqlSchema(),
    resolvers: resolvers as never,
    path: '/graphql',
    graphiql: cfg.graphql.graphiql,
    queryDepth: cfg.graphql.maxDepth,
    validationRules: rules,
    graphql: { parseOptions: { maxTokens: limits.maxTokens } },
    jit: 1,
    context: (req) => ({ view: req.view }),
    additionalRouteOptions: { schema: { hide: true } } as never,
    errorFormatter: (execution, context) => {
      const errors = execution.errors.map((e) => {
        const err = e as GraphQLError;
        // Client errors: GraphQL's own (syntax, validation, our UserError) and Mercurius' request errors (the
        // validation failure wraps its list in `errors`). Anything else a resolver threw is internal.
        const oe = err.originalError as (Error & { code?: unknown; statusCode?: number; errors?: unknown }) | undefined;
        const client = !oe || oe instanceof GraphQLError || Array.isArray(oe.errors)
          || (typeof oe.code === 'string' && oe.code.startsWith('MER_ERR_') && (oe.statusCode ?? 400) < 500)
          || (typeof oe.statusCode === 'number' && oe.statusCode >= 400 && oe.statusCode < 500);
        const internal = !client;
        if (internal) (context as { reply?: { log: { error: (o: object, m: string) => void } } }).reply?.log.error({ err: s.redactor.redactError(oe) }, 'GraphQL resolver failed');
        return internal ? new GraphQLError('internal error', { path: err.path, extensions: { code: 'INTERNAL' } }) : err;
      });
      const res = mercurius.defaultErrorFormatter({ ...execution, errors }, context);
      // A request that failed before execution (too large, unparsable, over a limit, invalid) is answered with its
      // 4xx status, 400 unless it names another: Mercurius would answer 200 when several validation errors came
      // together. Execution errors (they have a path) keep GraphQL's 200 with partial data.
      const requestError = !execution.data && errors.every((e) => !e.path && e.extensions?.code !== 'INTERNAL');
      if (requestError) {
        const status = execution.errors.map((e) => (e as { statusCode?: number }).statusCode ?? (e.originalError as { statusCode?: number } | undefined)?.statusCode)
          .find((c) => typeof c === 'number' && c >= 400 && c < 500);
        return { ...res, statusCode: status ?? 400 };
      }
      return res;
    },
    subscription: {
      context: (_socket, request) => ({ view: wsView(request.headers) }),
      // Consent may also come in connection_init ({ "consent": "affiliate,analytics" }): browsers cannot set headers on websockets.
      onConnect: (data: { payload?: { consent?: unknown } }) => {
        s.metrics.subscriptions.inc();
        const c = data.payload?.consent;
        return typeof c === 'string' ? { view: wsView({ 'x-offerfeed-consent': c }) } : true;
      },
      onDisconnect: () => { s.metrics.subscriptions.dec(); },
      verifyClient: (info, next) => {
        // Browsers send Origin: only allowed origins may open a subscription (non-browser clients send none).
        const allowed = websocketAllows(cfg, info.origin, info.req.headers.host);
        next(allowed, allowed ? undefined : 403, allowed ? undefined : 'origin not allowed');
      },
      keepAlive: 30_000,
    },
  });

  // The HTTP path: the source is checked before Mercurius parses it (size, nesting, no JSON-encoded AST), the
  // parsed document's shape before GraphQL validates it (aliases and fields, fragments expanded).
  app.graphql.addHook('preParsing', async (_schema, source) => { checkSource(source, limits); });
  app.graphql.addHook('preValidation', async (_schema, document) => {
    const problem = documentProblem(document, limits);
    if (problem) throw new GraphQLRequestError(problem);
  });
  // The websocket path: Mercurius executes subscriptions without validating them (no introspection rule, no cost
  // limit, no check of the document against the schema); every subscription is vetted here as a query would be,
  // its size held to the body limit (Mercurius' websocket accepts messages of up to 1 MiB).
  app.graphql.addHook('preSubscriptionParsing', async (schema, source) => { vetDocument(schema, source, limits, rules); });

  s.feed.onChanges((events) => {
    for (const event of events) {
      s.metrics.changeEvents.inc({ op: event.op });
      app.graphql.pubsub.publish({ topic: TOPIC_CHANGE, payload: { event } });
    }
  });
  s.feed.onRunFinished((run) => app.graphql.pubsub.publish({ topic: TOPIC_RUN, payload: { run } }));
}

function eventOffer(e: OfferChangeEvent, view: ConsentView, clickBase: string): Record<string, unknown> | undefined {
  return publicOffer(e.offer as Offer, { id: e.id, status: e.status, first_seen_ms: e.first_seen_ms, changed_ms: e.changed_ms, group_key: e.group_key }, view, clickBase);
}
