-- title: Top insights
-- answers: Which theme x product x segment combinations matter most right now (gold_insights priority)?
SELECT
  rank,
  insight_id,
  theme,
  product,
  segment,
  CONCAT(theme, ' · ', product, ' · ', segment) AS insight,
  volume,
  previous_volume,
  velocity,
  negative_share,
  severity,
  priority,
  suggested_owner
FROM gold_insights
WHERE rank <= 10
ORDER BY rank
