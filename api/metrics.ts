// Prometheus metrics of one API instance (own registry: several instances in one process never clash).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ApiMetrics {
  readonly registry = new Registry();
  readonly http = new Histogram({
    name: 'offerfeed_api_request_duration_seconds', help: 'API request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly clicks = new Counter({ name: 'offerfeed_api_clicks_total', help: 'Clicks recorded by /go', labelNames: ['network'] as const, registers: [this.registry] });
  readonly conversions = new Counter({ name: 'offerfeed_api_conversions_total', help: 'Conversion postbacks by outcome', labelNames: ['network', 'outcome'] as const, registers: [this.registry] });
  readonly postbacksRejected = new Counter({ name: 'offerfeed_api_postbacks_rejected_total', help: 'Postbacks rejected', labelNames: ['network', 'reason'] as const, registers: [this.registry] });
  readonly subscriptions = new Gauge({ name: 'offerfeed_api_graphql_ws_connections', help: 'Open GraphQL websocket connections', registers: [this.registry] });
  readonly changeEvents = new Counter({ name: 'offerfeed_api_offer_change_events_total', help: 'Offer change events applied to the read model', labelNames: ['op'] as const, registers: [this.registry] });

  constructor(readModel: { size: () => number; ready: () => boolean; vocabulary: () => number }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'offerfeed_api_' });
    new Gauge({ name: 'offerfeed_api_public_offers', help: 'Public offers in the read model', registers: [this.registry], collect() { this.set(readModel.size()); } });
    new Gauge({ name: 'offerfeed_api_read_model_ready', help: '1 once the read model is loaded', registers: [this.registry], collect() { this.set(readModel.ready() ? 1 : 0); } });
    new Gauge({ name: 'offerfeed_api_search_vocabulary', help: 'Distinct terms in the search index', registers: [this.registry], collect() { this.set(readModel.vocabulary()); } });
  }
}
