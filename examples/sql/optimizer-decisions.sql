-- What did the optimizer and the admins decide, and why? Hides, unhides, promotions, demotions, pins and unpins
-- of the last N days, newest first, with the offer's title from its latest recorded version.
-- Parameters: {days:UInt32}.
SELECT
  d.decided_at AS decided_at,
  d.action AS action,
  d.actor AS actor,
  d.network AS network,
  d.offer_id AS offer_id,
  v.title AS title,
  d.reason AS reason
FROM offerfeed.offer_decisions AS d
LEFT JOIN (
  SELECT offer_id, argMax(title, event_time) AS title
  FROM offerfeed.offer_versions
  GROUP BY offer_id
) AS v ON v.offer_id = d.offer_id
WHERE d.decided_at >= now64(3) - toIntervalDay({days:UInt32})
ORDER BY d.decided_at DESC, d.event_id DESC;
