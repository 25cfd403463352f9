// What the routes work with, decorated on the Fastify instance as `app.services`.
import type { EventBus } from '../engine/events/bus.ts';
import type { Redactor } from '../engine/log/redact.ts';
import type { InteractionExporter } from '../engine/store/interaction-exporter.ts';
import type { InteractionHistory } from '../engine/store/interaction-history.ts';
import type { InteractionStore } from '../engine/store/interaction-store.ts';
import type { OfferQueries } from '../engine/store/offer-queries.ts';
import type { AdminContext } from './admin/context.ts';
import type { ApiConfig } from './config.ts';
import type { ApiMetrics } from './metrics.ts';
import type { ApiRanker } from './ranking.ts';
import type { Consent } from './public.ts';
import type { NetworkHealth } from './routes/networks.ts';
import type { ChangeFeed } from './read-model/change-feed.ts';
import type { ConsentView, OfferIndex } from './read-model/offer-index.ts';

export interface ReadinessCheck { ok: boolean; detail?: string }
export interface Readiness { ready: boolean; checks: Record<string, ReadinessCheck> }

export interface ApiServices {
  config: ApiConfig;
  index: OfferIndex;
  feed: ChangeFeed;
  queries: OfferQueries;
  interactions: InteractionStore;
  exporter: InteractionExporter;
  history?: InteractionHistory;
  bus: EventBus;
  metrics: ApiMetrics;
  redactor: Redactor;
  /** Prefix of click URLs: the configured public URL, or '' for relative links. */
  clickBase: string;
  /** The optimizer, when one runs in this process (else /top ranks by freshness, discount and payout). */
  ranker?: ApiRanker;
  /** The admin API's context, when this process runs the feed (scheduler, health, wizard). */
  admin?: AdminContext;
  /** Connector health and counts (cached for a few seconds). */
  networks(): Promise<NetworkHealth[]>;
  readiness(): Promise<Readiness>;
}

declare module 'fastify' {
  interface FastifyInstance { services: ApiServices }
  interface FastifyRequest {
    consent: Consent;
    view: ConsentView;
  }
}
