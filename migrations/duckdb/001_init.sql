-- Serving store: the current state of every offer, the runs that shaped it, and what must reach ClickHouse.
CREATE SEQUENCE IF NOT EXISTS outbox_seq START 1;

-- The public offer id; engine/store/offer-identity.ts computes the same in TypeScript.
CREATE MACRO offer_id(network, external_id) AS substr(sha1(network || ':' || external_id), 1, 16);

CREATE TABLE offers (
  id               VARCHAR NOT NULL,          -- stable public id derived from (network, external_id)
  network          VARCHAR NOT NULL,
  external_id      VARCHAR NOT NULL,
  kind             VARCHAR NOT NULL,
  title            VARCHAR NOT NULL,
  description      VARCHAR,
  url              VARCHAR NOT NULL,
  landing_url      VARCHAR,
  image_url        VARCHAR,
  merchant_id      VARCHAR,
  merchant_name    VARCHAR,
  price            DOUBLE,
  sale_price       DOUBLE,
  currency         VARCHAR,
  coupon_code      VARCHAR,
  categories       VARCHAR[],
  countries        VARCHAR[],
  languages        VARCHAR[],
  tags             VARCHAR[],
  payout           JSON,
  starts_at        TIMESTAMP,
  expires_at       TIMESTAMP,
  data             JSON NOT NULL,             -- the full canonical offer
  group_key        VARCHAR NOT NULL,          -- links the same offer across networks
  status           VARCHAR NOT NULL,          -- active | inactive | expired | hidden
  status_reason    VARCHAR,
  first_seen_at    TIMESTAMP NOT NULL,
  last_seen_at     TIMESTAMP NOT NULL,
  last_verified_at TIMESTAMP NOT NULL,
  last_changed_at  TIMESTAMP NOT NULL,
  version          INTEGER NOT NULL,
  content_hash     VARCHAR NOT NULL,
  missed_runs      INTEGER NOT NULL DEFAULT 0,
  last_run_id      VARCHAR NOT NULL
);

-- Offers of a run in progress; merged into `offers` in one transaction when the run commits.
CREATE TABLE offer_stage (
  run_id       VARCHAR NOT NULL,
  seq          BIGINT NOT NULL,
  network      VARCHAR NOT NULL,
  external_id  VARCHAR NOT NULL,
  content_hash VARCHAR NOT NULL,
  group_key    VARCHAR NOT NULL,
  data         JSON NOT NULL
);

-- What each run changed, with the state before it: the basis of rollback.
CREATE TABLE offer_changes (
  run_id            VARCHAR NOT NULL,
  offer_id          VARCHAR NOT NULL,
  op                VARCHAR NOT NULL,          -- insert | update | deactivate | expire | reactivate | hide | rollback
  prev_status       VARCHAR,
  prev_status_reason VARCHAR,
  prev_data         JSON,
  prev_content_hash VARCHAR,
  prev_version      INTEGER,
  prev_missed_runs  INTEGER,
  changed_at        TIMESTAMP NOT NULL
);

CREATE TABLE sync_runs (
  id          VARCHAR NOT NULL,
  connector   VARCHAR NOT NULL,
  mode        VARCHAR NOT NULL,                -- full | incremental
  status      VARCHAR NOT NULL,                -- running | succeeded | failed | cancelled | rolled_back
  complete    BOOLEAN NOT NULL DEFAULT false,
  started_at  TIMESTAMP NOT NULL,
  finished_at TIMESTAMP,
  counts      JSON,
  error       VARCHAR,
  warnings    JSON,
  pid         INTEGER
);

CREATE TABLE api_calls (
  run_id      VARCHAR NOT NULL,
  connector   VARCHAR NOT NULL,
  stream      VARCHAR,
  partition   VARCHAR,
  purpose     VARCHAR NOT NULL,
  method      VARCHAR NOT NULL,
  url         VARCHAR NOT NULL,
  status      INTEGER,
  bytes       BIGINT NOT NULL,
  duration_ms INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  outcome     VARCHAR NOT NULL,
  error       VARCHAR,
  started_at  TIMESTAMP NOT NULL
);

CREATE TABLE quarantine (
  run_id      VARCHAR NOT NULL,
  connector   VARCHAR NOT NULL,
  stream      VARCHAR NOT NULL,
  partition   VARCHAR,
  page        INTEGER,
  external_id VARCHAR,
  reasons     JSON NOT NULL,
  record      JSON,
  created_at  TIMESTAMP NOT NULL
);

CREATE TABLE connectors (
  id           VARCHAR NOT NULL,
  name         VARCHAR NOT NULL,
  status       VARCHAR NOT NULL,
  paused       BOOLEAN NOT NULL DEFAULT false,
  spec_version INTEGER NOT NULL,
  updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE connector_specs (
  connector  VARCHAR NOT NULL,
  version    INTEGER NOT NULL,
  hash       VARCHAR NOT NULL,
  spec       VARCHAR NOT NULL,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE connector_state (
  connector  VARCHAR NOT NULL,
  stream     VARCHAR NOT NULL,
  cursor     VARCHAR NOT NULL,
  run_id     VARCHAR NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

-- Run locks survive a crashed holder: a lock whose pid is gone (or too old) is taken over.
CREATE TABLE run_locks (
  connector   VARCHAR NOT NULL,
  run_id      VARCHAR NOT NULL,
  pid         INTEGER NOT NULL,
  host        VARCHAR NOT NULL,
  acquired_at TIMESTAMP NOT NULL
);

CREATE TABLE secrets (
  connector  VARCHAR NOT NULL,
  name       VARCHAR NOT NULL,
  iv         VARCHAR NOT NULL,
  ciphertext VARCHAR NOT NULL,
  tag        VARCHAR NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

-- History events written in the same transaction as the change, flushed to ClickHouse afterwards.
CREATE TABLE outbox (
  id         BIGINT NOT NULL DEFAULT nextval('outbox_seq'),
  kind       VARCHAR NOT NULL,                 -- offer_version | sync_run | api_call
  payload    JSON NOT NULL,
  created_at TIMESTAMP NOT NULL
);
