-- Optimizer: per-offer interaction counters, the latest score of every offer, admin and optimizer controls,
-- the decision log, and an outbox of analytics events for ClickHouse (impressions, scores, decisions).
-- Written only by engine/store/optimizer-store.ts. Clicks and conversions themselves live with the API; these
-- counters are what the optimizer learns from.

CREATE TABLE offer_stats (
  offer_id           VARCHAR PRIMARY KEY,
  impressions        BIGINT NOT NULL DEFAULT 0,
  clicks             BIGINT NOT NULL DEFAULT 0,
  conversions        BIGINT NOT NULL DEFAULT 0,
  revenue            DOUBLE NOT NULL DEFAULT 0,   -- commission earned, in the conversions' currency
  last_impression_at TIMESTAMP,
  last_click_at      TIMESTAMP,
  last_conversion_at TIMESTAMP,
  updated_at         TIMESTAMP NOT NULL
);

-- The latest scoring pass; posterior parameters let the ranker sample without recomputing.
CREATE TABLE offer_scores (
  offer_id   VARCHAR PRIMARY KEY,
  network    VARCHAR NOT NULL,
  score      DOUBLE NOT NULL,
  perf       DOUBLE NOT NULL,
  ctr        DOUBLE NOT NULL,
  cvr        DOUBLE NOT NULL,
  epc        DOUBLE NOT NULL,
  value      DOUBLE NOT NULL,                   -- expected commission per conversion
  ctr_alpha  DOUBLE NOT NULL,
  ctr_beta   DOUBLE NOT NULL,
  cvr_alpha  DOUBLE NOT NULL,
  cvr_beta   DOUBLE NOT NULL,
  freshness  DOUBLE NOT NULL,
  discount   DOUBLE NOT NULL,
  payout     DOUBLE NOT NULL,
  promoted   BOOLEAN NOT NULL,
  score_run  VARCHAR NOT NULL,
  scored_at  TIMESTAMP NOT NULL
);

-- What the optimizer and admins decided about an offer beyond its status.
CREATE TABLE offer_controls (
  offer_id        VARCHAR PRIMARY KEY,
  pinned          BOOLEAN NOT NULL DEFAULT false,
  pin_rank        INTEGER,
  promoted        BOOLEAN NOT NULL DEFAULT false,
  auto_hidden     VARCHAR,                        -- stale | underperforming: hidden by the optimizer
  protected_until TIMESTAMP,                      -- an admin override: no automatic hiding before this
  updated_at      TIMESTAMP NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS offer_decision_seq START 1;

-- Every decision with its reason: hide, unhide, promote, demote, pin, unpin.
CREATE TABLE offer_decisions (
  id         BIGINT NOT NULL DEFAULT nextval('offer_decision_seq'),
  offer_id   VARCHAR NOT NULL,
  network    VARCHAR NOT NULL,
  action     VARCHAR NOT NULL,
  reason     VARCHAR NOT NULL,
  actor      VARCHAR NOT NULL,                    -- optimizer | admin:<who>
  details    JSON,
  decided_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS analytics_outbox_seq START 1;

-- Analytics events waiting for ClickHouse, drained by engine/optimize/analytics-flusher.ts.
CREATE TABLE analytics_outbox (
  id         BIGINT NOT NULL DEFAULT nextval('analytics_outbox_seq'),
  kind       VARCHAR NOT NULL,                    -- impression | offer_score | offer_decision
  payload    JSON NOT NULL,
  created_at TIMESTAMP NOT NULL
);

-- The batch a flush sent to ClickHouse and has not yet seen acknowledged: a retry resends exactly that range
-- with the same deduplication token, however many events arrived meanwhile.
CREATE TABLE analytics_flush_state (
  id       INTEGER PRIMARY KEY,                  -- always 1
  first_id BIGINT NOT NULL,
  last_id  BIGINT NOT NULL
);
