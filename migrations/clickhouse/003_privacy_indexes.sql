-- Data-skipping indexes on the pseudonymous user id, so a GDPR export or erasure of one user reads (and rewrites)
-- only the granules that hold that user's clicks and conversions instead of whole tables.
ALTER TABLE {db}.clicks {on_cluster} ADD INDEX IF NOT EXISTS clicks_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE {db}.conversions {on_cluster} ADD INDEX IF NOT EXISTS conversions_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4;
