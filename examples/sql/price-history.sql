-- How did the price of one offer change over the last 30 days?
-- Parameters: {network:String}, {external_id:String}. One row per recorded change, oldest first.
SELECT
  event_time,
  op,
  version,
  price,
  sale_price,
  currency,
  status
FROM offerfeed.offer_versions
WHERE network = {network:String}
  AND external_id = {external_id:String}
  AND event_time >= now64(3) - INTERVAL 30 DAY
ORDER BY event_time, event_id;
