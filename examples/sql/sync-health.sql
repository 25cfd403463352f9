-- Sync runs per connector over the last 7 days: outcomes, volume and API usage.
SELECT
  connector,
  count() AS runs,
  countIf(status = 'succeeded') AS succeeded,
  countIf(status = 'failed') AS failed,
  sum(new) AS new_offers,
  sum(updated) AS updated_offers,
  sum(api_calls) AS api_calls,
  round(avg(duration_ms)) AS avg_duration_ms
FROM offerfeed.sync_runs
WHERE started_at >= now64(3) - INTERVAL 7 DAY
GROUP BY connector
ORDER BY connector;
