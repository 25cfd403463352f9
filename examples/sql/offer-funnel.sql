-- Which offers sell? Impressions (offers the API served), clicks, conversions, CTR, conversion rate and EPC per
-- offer over the last N days, best earners first.
-- Parameters: {days:UInt32}. Conversions are read FINAL (a postback replayed counts once); rejected or
-- reversed ones count for nothing.
WITH
  imp AS (
    SELECT offer_id, any(network) AS network, sum(impressions) AS impressions
    FROM offerfeed.impressions
    WHERE bucket >= now() - toIntervalDay({days:UInt32})
    GROUP BY offer_id
  ),
  clk AS (
    SELECT offer_id, count() AS clicks
    FROM offerfeed.clicks
    WHERE clicked_at >= now64(3) - toIntervalDay({days:UInt32})
    GROUP BY offer_id
  ),
  cnv AS (
    SELECT assumeNotNull(offer_id) AS offer_id, count() AS conversions, sum(coalesce(commission, 0)) AS commission
    FROM offerfeed.conversions FINAL
    WHERE offer_id IS NOT NULL
      AND status NOT IN ('rejected', 'reversed', 'declined', 'cancelled')
      AND converted_at >= now64(3) - toIntervalDay({days:UInt32})
    GROUP BY offer_id
  )
SELECT
  imp.offer_id AS offer_id,
  imp.network AS network,
  imp.impressions AS impressions,
  coalesce(clk.clicks, 0) AS clicks,
  coalesce(cnv.conversions, 0) AS conversions,
  round(coalesce(cnv.commission, 0), 2) AS commission,
  round(if(imp.impressions > 0, coalesce(clk.clicks, 0) / imp.impressions, 0), 4) AS ctr,
  round(if(coalesce(clk.clicks, 0) > 0, coalesce(cnv.conversions, 0) / clk.clicks, 0), 4) AS conversion_rate,
  round(if(coalesce(clk.clicks, 0) > 0, coalesce(cnv.commission, 0) / clk.clicks, 0), 4) AS epc
FROM imp
LEFT JOIN clk ON clk.offer_id = imp.offer_id
LEFT JOIN cnv ON cnv.offer_id = imp.offer_id
ORDER BY commission DESC, clicks DESC, offer_id;
