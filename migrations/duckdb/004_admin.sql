-- Admin: who may operate the feed (users, API tokens, UI sessions), what they did (audit log), how each
-- connector is scheduled (admin overrides, pause, failure/breaker state), and what is wrong (alerts, self-tests).
-- Written only by engine/store/admin-store.ts. Credentials are stored as hashes, never in clear.
CREATE SEQUENCE IF NOT EXISTS admin_audit_seq START 1;
CREATE SEQUENCE IF NOT EXISTS alerts_seq START 1;

CREATE TABLE admin_users (
  id            VARCHAR PRIMARY KEY,
  name          VARCHAR NOT NULL UNIQUE,
  role          VARCHAR NOT NULL,               -- admin | viewer
  password_hash VARCHAR NOT NULL,               -- scrypt$N$r$p$salt$hash
  disabled      BOOLEAN NOT NULL DEFAULT false,
  failed_logins INTEGER NOT NULL DEFAULT 0,     -- consecutive failures; reset by a successful login
  locked_until  TIMESTAMP,                      -- set after too many failures in a row
  created_at    TIMESTAMP NOT NULL,
  updated_at    TIMESTAMP NOT NULL,
  last_login_at TIMESTAMP
);

-- API tokens: only the SHA-256 of the token is kept; the token itself is shown once, at creation.
CREATE TABLE admin_tokens (
  id           VARCHAR PRIMARY KEY,
  name         VARCHAR NOT NULL,
  role         VARCHAR NOT NULL,
  token_hash   VARCHAR NOT NULL UNIQUE,
  user_id      VARCHAR,                          -- owner, when a user created it for themselves
  created_by   VARCHAR NOT NULL,
  created_at   TIMESTAMP NOT NULL,
  expires_at   TIMESTAMP,
  last_used_at TIMESTAMP,
  revoked_at   TIMESTAMP
);

-- UI login sessions, keyed by the SHA-256 of the session id held in the browser's cookie.
CREATE TABLE admin_sessions (
  id_hash      VARCHAR PRIMARY KEY,
  user_id      VARCHAR NOT NULL,
  created_at   TIMESTAMP NOT NULL,
  expires_at   TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL,
  revoked_at   TIMESTAMP
);

-- Every admin action, allowed or not: who, what, on what, when, with which result.
CREATE TABLE admin_audit (
  id         BIGINT NOT NULL DEFAULT nextval('admin_audit_seq'),
  occurred_at TIMESTAMP NOT NULL,
  actor      VARCHAR NOT NULL,
  actor_kind VARCHAR NOT NULL,                  -- session | token | cli | system
  role       VARCHAR,
  action     VARCHAR NOT NULL,                  -- sync | resync | rollback | pause | resume | spec.change | secret.change | …
  target     VARCHAR,
  result     VARCHAR NOT NULL,                  -- ok | denied | error
  details    JSON
);

-- Admin overrides per connector: schedule (replacing the spec's `schedule`) and pause.
CREATE TABLE connector_settings (
  connector         VARCHAR PRIMARY KEY,
  schedule_cron     VARCHAR,
  schedule_interval VARCHAR,
  paused            BOOLEAN NOT NULL DEFAULT false,
  paused_reason     VARCHAR,
  updated_at        TIMESTAMP NOT NULL,
  updated_by        VARCHAR NOT NULL
);

-- The scheduler's memory across restarts: consecutive failures and the circuit breaker.
CREATE TABLE scheduler_state (
  connector            VARCHAR PRIMARY KEY,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  breaker              VARCHAR NOT NULL DEFAULT 'closed',   -- closed | open | half_open
  breaker_opened_at    TIMESTAMP,
  breaker_retry_at     TIMESTAMP,                          -- when an open breaker lets one trial run through
  breaker_openings     INTEGER NOT NULL DEFAULT 0,
  last_attempt_at      TIMESTAMP,
  last_status          VARCHAR,
  last_error           VARCHAR,
  updated_at           TIMESTAMP NOT NULL
);

-- One row per problem occurrence: a problem (key) has at most one open alert; recovery resolves it.
CREATE TABLE alerts (
  id                 BIGINT NOT NULL DEFAULT nextval('alerts_seq'),
  key                VARCHAR NOT NULL,          -- <connector>:<kind>
  connector          VARCHAR,
  kind               VARCHAR NOT NULL,          -- stale | failing | contract | probe
  severity           VARCHAR NOT NULL,          -- warning | critical
  message            VARCHAR NOT NULL,
  details            JSON,
  first_seen_at      TIMESTAMP NOT NULL,
  last_seen_at       TIMESTAMP NOT NULL,
  resolved_at        TIMESTAMP,
  resolved_by        VARCHAR,                   -- system (recovered) or the admin who closed it
  notified_at        TIMESTAMP,
  notify_result      JSON,
  resolved_notify_result JSON
);

-- Alert destinations added by admins (environment-configured ones live in the environment).
CREATE TABLE alert_channels (
  id         VARCHAR PRIMARY KEY,
  kind       VARCHAR NOT NULL,                  -- webhook | email
  target     VARCHAR NOT NULL,                  -- URL, or comma-separated e-mail addresses
  enabled    BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMP NOT NULL,
  created_by VARCHAR NOT NULL
);

-- Results of the daily self-test: the sandbox contract test and the live probe of each connector.
CREATE TABLE health_checks (
  connector   VARCHAR NOT NULL,
  kind        VARCHAR NOT NULL,                 -- contract | probe
  checked_at  TIMESTAMP NOT NULL,
  ok          BOOLEAN NOT NULL,
  skipped     BOOLEAN NOT NULL DEFAULT false,
  duration_ms INTEGER NOT NULL,
  details     JSON
);
