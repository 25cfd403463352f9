-- History for analysts: append-only, one row per event. {db}, {on_cluster} and {engine:...} are filled in by the
-- migration runner so the same files target a single server or a cluster (ON CLUSTER, Replicated engines).
CREATE TABLE IF NOT EXISTS {db}.offer_versions {on_cluster} (
  event_id     UInt64,
  event_time   DateTime64(3, 'UTC'),
  run_id       String,
  op           LowCardinality(String),
  offer_id     String,
  network      LowCardinality(String),
  external_id  String,
  version      UInt32,
  status       LowCardinality(String),
  content_hash String,
  kind         LowCardinality(String),
  title        String,
  merchant_name Nullable(String),
  price        Nullable(Float64),
  sale_price   Nullable(Float64),
  currency     LowCardinality(Nullable(String)),
  expires_at   Nullable(DateTime64(3, 'UTC')),
  offer        String
) ENGINE = {engine:MergeTree}
PARTITION BY toYYYYMM(event_time)
ORDER BY (network, external_id, event_time, event_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS {db}.sync_runs {on_cluster} (
  event_id     UInt64,
  run_id       String,
  connector    LowCardinality(String),
  mode         LowCardinality(String),
  status       LowCardinality(String),
  complete     Bool,
  started_at   DateTime64(3, 'UTC'),
  finished_at  Nullable(DateTime64(3, 'UTC')),
  duration_ms  UInt64,
  new          UInt64,
  updated      UInt64,
  unchanged    UInt64,
  deactivated  UInt64,
  expired      UInt64,
  reactivated  UInt64,
  quarantined  UInt64,
  api_calls    UInt64,
  pages        UInt64,
  records      UInt64,
  error        Nullable(String)
) ENGINE = {engine:MergeTree}
PARTITION BY toYYYYMM(started_at)
ORDER BY (connector, started_at, run_id, event_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS {db}.api_calls {on_cluster} (
  event_id    UInt64,
  run_id      String,
  connector   LowCardinality(String),
  stream      LowCardinality(Nullable(String)),
  partition   Nullable(String),
  purpose     LowCardinality(String),
  method      LowCardinality(String),
  url         String,
  status      Nullable(UInt16),
  bytes       UInt64,
  duration_ms UInt32,
  attempt     UInt16,
  outcome     LowCardinality(String),
  error       Nullable(String),
  started_at  DateTime64(3, 'UTC')
) ENGINE = {engine:MergeTree}
PARTITION BY toYYYYMM(started_at)
ORDER BY (connector, started_at, event_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS {db}.clicks {on_cluster} (
  click_id    String,
  offer_id    String,
  network     LowCardinality(String),
  user_id     String,
  consent     Array(LowCardinality(String)),
  referrer    Nullable(String),
  country     LowCardinality(Nullable(String)),
  clicked_at  DateTime64(3, 'UTC')
) ENGINE = {engine:MergeTree}
PARTITION BY toYYYYMM(clicked_at)
ORDER BY (offer_id, clicked_at, click_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;

CREATE TABLE IF NOT EXISTS {db}.conversions {on_cluster} (
  network        LowCardinality(String),
  transaction_id String,
  click_id       Nullable(String),
  offer_id       Nullable(String),
  user_id        Nullable(String),
  amount         Nullable(Float64),
  commission     Nullable(Float64),
  currency       LowCardinality(Nullable(String)),
  status         LowCardinality(String),
  converted_at   DateTime64(3, 'UTC'),
  received_at    DateTime64(3, 'UTC')
) ENGINE = {engine:ReplacingMergeTree(received_at)}
PARTITION BY toYYYYMM(converted_at)
ORDER BY (network, transaction_id)
SETTINGS non_replicated_deduplication_window = 100000, replicated_deduplication_window = 100000, replicated_deduplication_window_seconds = 604800;
