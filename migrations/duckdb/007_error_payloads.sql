-- Failure diagnostics kept next to a failed run, written only by engine/store/serving-store.ts.
--
-- error_payloads: the response body of a page that could not be decoded (malformed or truncated JSON, XML, CSV,
-- a broken gzip stream), so an admin sees what the network actually sent. Only the first bytes are kept (the
-- engine caps them at 64 KiB), secrets are removed by the run's redactor before the row is written, and only a
-- run that failed keeps them. `encoding` is 'text' (UTF-8, decompressed when the body was gzip) or 'base64'
-- (binary that is neither).
CREATE TABLE error_payloads (
  run_id        VARCHAR NOT NULL,
  connector     VARCHAR NOT NULL,
  stream        VARCHAR,
  partition     VARCHAR,
  page          INTEGER,
  url           VARCHAR NOT NULL,                -- credentials in the query already masked
  attempt       INTEGER NOT NULL,
  status        INTEGER,
  content_type  VARCHAR,
  error         VARCHAR NOT NULL,
  bytes         BIGINT NOT NULL,                 -- bytes received on the wire for this attempt
  kept_bytes    INTEGER NOT NULL,                -- bytes of the payload kept below (before encoding)
  truncated     BOOLEAN NOT NULL,                -- true when the body was longer than what is kept
  encoding      VARCHAR NOT NULL,                -- text | base64
  decompressed  BOOLEAN NOT NULL DEFAULT false,  -- the kept text is the gunzipped start of the body
  payload       VARCHAR NOT NULL,
  created_at    TIMESTAMP NOT NULL
);

-- Connectors whose credentials the network refused for good (OAuth invalid_grant / invalid_client): the
-- scheduler does not run them until the credentials change (`offerfeed secrets set`, or a new value in the
-- environment, told apart by `fingerprint`, a salted HMAC of the secret settings, never the values) or a run
-- succeeds.
CREATE TABLE connector_reauth (
  connector   VARCHAR PRIMARY KEY,
  reason      VARCHAR NOT NULL,
  run_id      VARCHAR,
  fingerprint VARCHAR,
  since       TIMESTAMP NOT NULL
);
