-- Offers per network per day: for each of the last 30 days, how many offers of each network were live at the
-- end of that day (the latest recorded state of the offer up to that day is active).
SELECT
  day,
  network,
  countIf(state = 'active') AS live_offers,
  count() AS known_offers
FROM (
  SELECT
    d.day AS day,
    v.network AS network,
    v.external_id AS external_id,
    argMax(v.status, (v.event_time, v.event_id)) AS state
  FROM offerfeed.offer_versions AS v
  CROSS JOIN (SELECT toDate(now()) - number AS day FROM numbers(30)) AS d
  WHERE toDate(v.event_time) <= d.day
  GROUP BY day, network, external_id
)
GROUP BY day, network
ORDER BY day, network;
