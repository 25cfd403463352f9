-- GDPR erasures match rows by the SHA-256 (lower-case hex) of the user and click ids, so the ids never appear in a
-- mutation's text (system.mutations and the mutation files kept on disk). These data-skipping indexes let the
-- erasure's mutation read only the granules that can hold those keys.
ALTER TABLE {db}.clicks {on_cluster} ADD INDEX IF NOT EXISTS clicks_user_key lower(hex(SHA256(user_id))) TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE {db}.clicks {on_cluster} ADD INDEX IF NOT EXISTS clicks_click_key lower(hex(SHA256(click_id))) TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE {db}.conversions {on_cluster} ADD INDEX IF NOT EXISTS conversions_user_key lower(hex(SHA256(user_id))) TYPE bloom_filter(0.01) GRANULARITY 4;

ALTER TABLE {db}.conversions {on_cluster} ADD INDEX IF NOT EXISTS conversions_click_key lower(hex(SHA256(click_id))) TYPE bloom_filter(0.01) GRANULARITY 4;
