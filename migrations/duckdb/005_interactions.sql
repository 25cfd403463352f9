-- What the public API records about visitors: clicks on /go links, conversion postbacks, consent records, and
-- erasures still to finish in ClickHouse. Written only by engine/store/interaction-store.ts. ClickHouse holds the
-- analytics copy (offerfeed.clicks, offerfeed.conversions); these rows serve what must be exact and immediate:
-- linking a conversion to its click, counting a replayed postback once, and answering a user's export or erasure.
-- `exported` marks rows already copied to ClickHouse.
CREATE SEQUENCE IF NOT EXISTS interaction_seq START 1;

CREATE TABLE clicks (
  seq        BIGINT NOT NULL DEFAULT nextval('interaction_seq'),
  click_id   VARCHAR PRIMARY KEY,
  offer_id   VARCHAR NOT NULL,
  network    VARCHAR NOT NULL,
  user_id    VARCHAR,                 -- pseudonymous first-party cookie id; NULL without consent
  consent    VARCHAR[] NOT NULL,      -- the purposes consented to at the time of the click
  referrer   VARCHAR,                 -- origin and path only, never the query
  country    VARCHAR,
  clicked_at TIMESTAMP NOT NULL,
  exported   BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE conversions (
  seq            BIGINT NOT NULL DEFAULT nextval('interaction_seq'),
  network        VARCHAR NOT NULL,
  transaction_id VARCHAR NOT NULL,
  click_id       VARCHAR,
  offer_id       VARCHAR,
  user_id        VARCHAR,
  amount         DOUBLE,
  commission     DOUBLE,
  currency       VARCHAR,
  status         VARCHAR NOT NULL,
  converted_at   TIMESTAMP NOT NULL,
  received_at    TIMESTAMP NOT NULL,
  payload_hash   VARCHAR NOT NULL,    -- a replayed postback has the same hash and changes nothing
  exported       BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (network, transaction_id)
);

-- Consent given through the API, per pseudonymous user: part of what an export returns.
CREATE TABLE consents (
  user_id     VARCHAR NOT NULL,
  purposes    VARCHAR[] NOT NULL,
  source      VARCHAR NOT NULL,       -- api | click
  recorded_at TIMESTAMP NOT NULL
);

-- An erasure done in DuckDB whose ClickHouse part is still to run (ClickHouse was unreachable); retried until
-- done, then removed.
CREATE TABLE privacy_erasures (
  user_id      VARCHAR PRIMARY KEY,
  requested_at TIMESTAMP NOT NULL,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   VARCHAR
);
