-- title: One insight's evidence
-- answers: Which masked quotes, with record ids, did Gold keep as the evidence of one insight?
-- parameter: insight_key STRING
SELECT
  item.record_id AS record_id,
  item.quote AS quote,
  item.sentiment AS sentiment,
  CAST(item.created_at AS DATE) AS created_date
FROM (
  SELECT explode(evidence) AS item
  FROM gold_insights
  WHERE insight_key = :insight_key
) quotes
ORDER BY created_date DESC, record_id
