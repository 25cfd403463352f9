-- Optimizer analytics: what the API served (impressions per offer, surface and minute), every score the optimizer
-- computed, and every ranking decision with its reason. Filled from the serving store's analytics outbox with
-- insert deduplication tokens, so a replayed flush adds nothing twice.
CREATE TABLE IF NOT EXISTS {db}.impressions {on_cluster} (
  event_id    UInt64,
  bucket      DateTime('UTC'),
  offer_id    String,
  network     LowCardinality(String),
  surface     LowCardinality(String),
  impressions UInt64
) ENGINE = {engine:MergeTree}
PARTITION BY toYYYYMM(bucket)
ORDER BY (offer_id, bucket, surface, event_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS {db}.offer_scores {on_cluster} (
  event_id    UInt64,
  scored_at   DateTime64(3, 'UTC'),
  score_run   String,
  offer_id    String,
  network     LowCardinality(String),
  impressions UInt64,
  clicks      UInt64,
  conversions UInt64,
  revenue     Float64,
  ctr         Float64,
  cvr         Float64,
  epc         Float64,
  freshness   Float64,
  discount    Float64,
  payout      Float64,
  score       Float64,
  promoted    Bool
) ENGINE = {engine:MergeTree}
PARTITION BY toYYYYMM(scored_at)
ORDER BY (offer_id, scored_at, event_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS {db}.offer_decisions {on_cluster} (
  event_id   UInt64,
  decided_at DateTime64(3, 'UTC'),
  offer_id   String,
  network    LowCardinality(String),
  action     LowCardinality(String),
  reason     String,
  actor      String,
  details    String
) ENGINE = {engine:MergeTree}
PARTITION BY toYYYYMM(decided_at)
ORDER BY (offer_id, decided_at, event_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;
