// GET /api/networks: each connector's health and offer counts. Public, so it says how a feed is doing but never
// why a run failed (error texts stay in the admin API).
import type { FastifyInstance } from 'fastify';
import { listConnectorIds } from '../../engine/spec/registry.ts';
import type { NetworkRow, SyncRunRow } from '../../engine/store/offer-queries.ts';
import type { OfferIndex } from '../read-model/offer-index.ts';

/** A successful run older than this makes a feed stale. */
const STALE_AFTER_MS = 48 * 3_600_000;
const CACHE_MS = 5000;

export const SYNC_RUN_SCHEMA = {
  type: 'object',
  required: ['id', 'connector', 'mode', 'status', 'complete', 'started_at'],
  properties: {
    id: { type: 'string' }, connector: { type: 'string' }, mode: { type: 'string' }, status: { type: 'string' }, complete: { type: 'boolean' },
    started_at: { type: 'string' }, finished_at: { type: ['string', 'null'] }, duration_ms: { type: ['number', 'null'] },
    counts: { type: ['object', 'null'], additionalProperties: { type: 'number' } },
  },
} as const;

const NETWORK_SCHEMA = {
  type: 'object',
  required: ['id', 'health', 'paused', 'offers'],
  properties: {
    id: { type: 'string' },
    name: { type: ['string', 'null'] },
    status: { type: ['string', 'null'], description: 'Connector status from its spec (active, retired, …)' },
    health: { type: 'string', enum: ['ok', 'stale', 'failing', 'syncing', 'paused', 'retired', 'never_synced'] },
    paused: { type: 'boolean' },
    last_run: { anyOf: [SYNC_RUN_SCHEMA, { type: 'null' }] },
    last_success_at: { type: ['string', 'null'] },
    offers: {
      type: 'object',
      properties: { public: { type: 'integer' }, active: { type: 'integer' }, inactive: { type: 'integer' }, expired: { type: 'integer' }, hidden: { type: 'integer' } },
    },
  },
} as const;

export interface NetworkHealth {
  id: string; name?: string; status?: string; health: string; paused: boolean; last_run?: SyncRunRow; last_success_at?: string;
  offers: Record<string, number>;
}

export function networkHealth(rows: NetworkRow[], index: OfferIndex, now = Date.now()): NetworkHealth[] {
  const known = new Map(rows.map((r) => [r.id, r]));
  for (const id of listConnectorIds()) if (!known.has(id)) known.set(id, { id, paused: false, offers: {} });
  const pub = index.publicByNetwork();
  return [...known.values()].sort((a, b) => a.id.localeCompare(b.id)).map((r) => {
    let health: string;
    if (r.status && r.status !== 'active') health = 'retired';
    else if (r.paused) health = 'paused';
    else if (!r.last_run) health = 'never_synced';
    else if (r.last_run.status === 'running') health = 'syncing';
    else if (r.last_run.status === 'failed' || r.last_run.status === 'cancelled') health = 'failing';
    else if (!r.last_success_at || now - Date.parse(r.last_success_at) > STALE_AFTER_MS) health = 'stale';
    else health = 'ok';
    return {
      id: r.id, name: r.name, status: r.status, health, paused: r.paused, last_run: r.last_run, last_success_at: r.last_success_at,
      offers: { public: pub.get(r.id) ?? 0, active: r.offers.active ?? 0, inactive: r.offers.inactive ?? 0, expired: r.offers.expired ?? 0, hidden: r.offers.hidden ?? 0 },
    };
  });
}

/** A cached loader (a few seconds): the per-status counts scan the offers table. */
export function networksLoader(queries: { networks(): Promise<NetworkRow[]> }, index: OfferIndex): () => Promise<NetworkHealth[]> {
  let cache: { at: number; value: Promise<NetworkHealth[]> } | undefined;
  return () => {
    if (!cache || Date.now() - cache.at > CACHE_MS) {
      const value = queries.networks().then((rows) => networkHealth(rows, index));
      value.catch(() => { cache = undefined; });
      cache = { at: Date.now(), value };
    }
    return cache.value;
  };
}

export default async function networkRoutes(app: FastifyInstance): Promise<void> {
  app.get('/api/networks', {
    schema: {
      tags: ['networks'], summary: 'Connectors: health and offer counts',
      response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: NETWORK_SCHEMA } } }, 429: { $ref: 'Error#' }, 500: { $ref: 'Error#' } },
    },
  }, async () => ({ items: await app.services.networks() }));
}
