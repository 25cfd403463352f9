-- The outbox batch being sent to ClickHouse: recorded before sending, so a flush retried after a failure resends
-- exactly the same events under the same deduplication token, whatever was added to the outbox since.
CREATE TABLE outbox_inflight (
  first_id   BIGINT NOT NULL,
  last_id    BIGINT NOT NULL,
  started_at TIMESTAMP NOT NULL
);
