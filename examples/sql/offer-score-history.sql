-- How did the optimizer's view of one offer change? Every recorded score with its inputs, oldest first
-- (a score is recorded when it moves by the configured epsilon or more).
-- Parameters: {offer_id:String}.
SELECT
  scored_at,
  score_run,
  round(score, 4) AS score,
  impressions,
  clicks,
  conversions,
  round(ctr, 4) AS ctr,
  round(cvr, 4) AS conversion_rate,
  round(epc, 4) AS epc,
  round(freshness, 3) AS freshness,
  round(discount, 3) AS discount,
  round(payout, 3) AS payout,
  promoted
FROM offerfeed.offer_scores
WHERE offer_id = {offer_id:String}
ORDER BY scored_at, event_id;
