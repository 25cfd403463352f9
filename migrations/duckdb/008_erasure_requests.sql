-- verify: rewrites privacy_erasures
-- GDPR erasures still to finish in ClickHouse, tracked by keys (SHA-256, hex) of the erased user id and of the click
-- ids DuckDB still had, never by the ids themselves: once DuckDB's part of an erasure is done, no table holds the
-- user's ids, and ClickHouse is told to erase rows whose ids hash to these keys, so its mutation log holds keys too.
-- An erasure leaves when ClickHouse's rows are rewritten (rewritten_at, with the mutations' versions) and the parts
-- that held the old rows are gone. Written only by engine/store/interaction-store.ts.
CREATE TABLE erasure_requests (
  user_key     VARCHAR PRIMARY KEY,
  click_keys   VARCHAR[] NOT NULL,
  requested_at TIMESTAMP NOT NULL,
  rewritten_at TIMESTAMP,            -- ClickHouse's rows rewritten; waiting for the parts that held them to be removed
  versions     JSON,                 -- per ClickHouse table, replica and partition: the version of the erasing mutation
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   VARCHAR
);

-- Erasures pending from before: same requests, by key. privacy_erasures stays, empty and unused (DuckDB cannot drop
-- a table in the transaction that empties it without the data check counting its rows as lost).
INSERT INTO erasure_requests (user_key, click_keys, requested_at, attempts, last_error)
  SELECT sha256(user_id), [], requested_at, attempts, last_error FROM privacy_erasures;

DELETE FROM privacy_erasures;
