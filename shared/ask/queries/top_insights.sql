-- title: Top insights in a window
-- answers: Which theme x product x segment insights rank highest in the last days of Gold, optionally for one product or segment?
-- parameter: window_days INT
-- parameter: product STRING
-- parameter: segment STRING
WITH latest AS (
  SELECT MAX(window_end) AS window_end FROM gold_insights
)
SELECT
  i.rank,
  i.insight_key,
  i.theme,
  i.product,
  i.segment,
  i.window_start,
  i.window_end,
  i.volume,
  i.previous_volume,
  i.velocity,
  i.negative_share,
  i.severity,
  i.severity_score,
  i.urgency_high,
  i.confidence,
  i.priority,
  i.suggested_owner
FROM gold_insights i
CROSS JOIN latest l
WHERE i.window_end > date_add(l.window_end, -:window_days)
  AND (:product IS NULL OR i.product = :product)
  AND (:segment IS NULL OR i.segment = :segment)
ORDER BY i.priority DESC, i.rank, i.insight_key
