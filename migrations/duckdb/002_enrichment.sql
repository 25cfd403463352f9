-- Enrichment: what the engine derives about an offer after its run committed (languages, countries, taxonomy
-- categories, emotion tags, copy, translations). Kept apart from `offers` so a sync never overwrites it and it
-- never changes an offer's content hash; written only by engine/store/enrichment-store.ts.

-- One job per committed run (id = run id) or per manual re-enrichment; its own status, counts and AI cost.
CREATE TABLE enrichment_jobs (
  id             VARCHAR PRIMARY KEY,
  run_id         VARCHAR,
  source         VARCHAR NOT NULL,            -- run | manual
  status         VARCHAR NOT NULL,            -- queued | running | succeeded | partial | failed
  offers         INTEGER NOT NULL DEFAULT 0,  -- offers the job looked at
  enriched       INTEGER NOT NULL DEFAULT 0,
  cached         INTEGER NOT NULL DEFAULT 0,  -- unchanged content: skipped
  failed         INTEGER NOT NULL DEFAULT 0,
  ai_requests    INTEGER NOT NULL DEFAULT 0,
  ai_cache_hits  INTEGER NOT NULL DEFAULT 0,
  tokens_in      BIGINT NOT NULL DEFAULT 0,
  tokens_out     BIGINT NOT NULL DEFAULT 0,
  cost           DOUBLE NOT NULL DEFAULT 0,
  cost_currency  VARCHAR,
  reviews_queued INTEGER NOT NULL DEFAULT 0,
  error          VARCHAR,
  queued_at      TIMESTAMP NOT NULL,
  started_at     TIMESTAMP,
  finished_at    TIMESTAMP,
  duration_ms    INTEGER,
  pid            INTEGER
);

CREATE TABLE enrichment_errors (
  job_id     VARCHAR NOT NULL,
  offer_id   VARCHAR,
  stage      VARCHAR NOT NULL,                -- rules | ai | store
  message    VARCHAR NOT NULL,
  created_at TIMESTAMP NOT NULL
);

-- The current enrichment of each offer; content_hash + signature say what it was computed from.
CREATE TABLE offer_enrichment (
  offer_id            VARCHAR PRIMARY KEY,
  content_hash        VARCHAR NOT NULL,
  signature           VARCHAR NOT NULL,       -- rules version + AI settings: a change re-enriches on demand
  languages           VARCHAR[] NOT NULL,
  language_detected   VARCHAR,
  language_confidence DOUBLE,
  countries           VARCHAR[] NOT NULL,
  country_sources     JSON,
  categories          VARCHAR[] NOT NULL,     -- taxonomy ids, most specific first
  category_paths      VARCHAR[] NOT NULL,
  tags                VARCHAR[] NOT NULL,     -- time-independent tags; expiry urgency is added when read
  tag_evidence        JSON,
  copy                JSON NOT NULL,          -- published copy: summary, urgency_line, cta, language, source, machine_generated
  copy_source         VARCHAR NOT NULL,       -- rules | ai | human
  job_id              VARCHAR NOT NULL,
  enriched_at         TIMESTAMP NOT NULL
);

-- Published (approved or human-edited) translations; pending ones wait in enrichment_reviews.
CREATE TABLE offer_translations (
  offer_id          VARCHAR NOT NULL,
  lang              VARCHAR NOT NULL,
  content_hash      VARCHAR NOT NULL,
  title             VARCHAR NOT NULL,
  summary           VARCHAR,
  source            VARCHAR NOT NULL,         -- ai | human
  machine_generated BOOLEAN NOT NULL,
  review_id         BIGINT,
  updated_at        TIMESTAMP NOT NULL,
  PRIMARY KEY (offer_id, lang)
);

-- AI output by content hash + prompt version + model + languages: the same request is never paid twice.
CREATE TABLE ai_copy_cache (
  key            VARCHAR PRIMARY KEY,
  content_hash   VARCHAR NOT NULL,
  prompt_version VARCHAR NOT NULL,
  model          VARCHAR NOT NULL,
  output         JSON NOT NULL,
  created_at     TIMESTAMP NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS enrichment_review_seq START 1;

-- Machine-written translations and low-confidence copy wait here for a person: approve, edit or reject.
CREATE TABLE enrichment_reviews (
  id           BIGINT PRIMARY KEY DEFAULT nextval('enrichment_review_seq'),
  offer_id     VARCHAR NOT NULL,
  content_hash VARCHAR NOT NULL,
  kind         VARCHAR NOT NULL,              -- copy | translation
  lang         VARCHAR NOT NULL,
  proposed     JSON NOT NULL,
  confidence   DOUBLE,
  reason       VARCHAR NOT NULL,              -- why it waits for review
  model        VARCHAR,
  job_id       VARCHAR,
  status       VARCHAR NOT NULL,              -- pending | approved | edited | rejected | superseded
  final        JSON,
  decided_by   VARCHAR,
  decided_at   TIMESTAMP,
  note         VARCHAR,
  created_at   TIMESTAMP NOT NULL
);
