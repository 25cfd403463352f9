-- Day by day per network: impressions → clicks → conversions and commission, for the last N days.
-- Parameters: {days:UInt32}.
SELECT
  day,
  network,
  sum(imp_n) AS impressions,
  sum(clk_n) AS clicks,
  sum(cnv_n) AS conversions,
  round(sum(com), 2) AS commission,
  round(if(sum(imp_n) > 0, sum(clk_n) / sum(imp_n), 0), 4) AS ctr
FROM (
  SELECT toDate(bucket) AS day, network, impressions AS imp_n, 0 AS clk_n, 0 AS cnv_n, 0.0 AS com
  FROM offerfeed.impressions
  WHERE bucket >= now() - toIntervalDay({days:UInt32})
  UNION ALL
  SELECT toDate(clicked_at), network, 0, 1, 0, 0.0
  FROM offerfeed.clicks
  WHERE clicked_at >= now64(3) - toIntervalDay({days:UInt32})
  UNION ALL
  SELECT toDate(converted_at), network, 0, 0, 1, coalesce(commission, 0)
  FROM offerfeed.conversions FINAL
  WHERE status NOT IN ('rejected', 'reversed', 'declined', 'cancelled')
    AND converted_at >= now64(3) - toIntervalDay({days:UInt32})
)
GROUP BY day, network
ORDER BY day, network;
