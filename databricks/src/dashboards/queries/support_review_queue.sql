-- title: Review queue
-- answers: How many classifications wait for a human reviewer, per source, and since when?
SELECT
  COALESCE(f.source, 'unknown') AS source,
  COUNT(*) AS waiting,
  MIN(c.classified_at) AS oldest_waiting_since
FROM silver_classifications c
LEFT JOIN silver_feedback f ON f.record_id = c.record_id
WHERE c.needs_review
GROUP BY COALESCE(f.source, 'unknown')
ORDER BY waiting DESC, source
