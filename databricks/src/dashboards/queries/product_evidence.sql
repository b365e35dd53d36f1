-- title: Evidence for the top insights
-- answers: What do customers actually say? Masked quotes with their record ids, for the ten top insights.
SELECT
  rank,
  theme,
  product,
  segment,
  item.quote AS quote,
  item.sentiment AS sentiment,
  item.record_id AS record_id,
  CAST(item.created_at AS DATE) AS created_date
FROM (
  SELECT rank, theme, product, segment, explode(evidence) AS item
  FROM gold_insights
  WHERE rank <= 10
) quotes
ORDER BY rank, created_date DESC, record_id
