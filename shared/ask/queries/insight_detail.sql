-- title: One insight, with its routed ticket
-- answers: What are the facts of one insight (gold_insights) and where was it routed, to whom, in which status (gold_outcomes)?
-- parameter: insight_key STRING
SELECT
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
  i.rank,
  i.suggested_owner,
  o.owner,
  o.destination,
  o.external_id,
  o.external_url,
  o.status,
  o.routed_at,
  o.triaged_at,
  o.resolved_at
FROM gold_insights i
LEFT JOIN gold_outcomes o ON o.insight_key = i.insight_key
WHERE i.insight_key = :insight_key
