-- title: Quality-gate failures
-- answers: Which sources had batches quarantined or volume alerts from the ingest quality gate?
SELECT
  source,
  SUM(CASE WHEN kind = 'batch' THEN 1 ELSE 0 END) AS batches_checked,
  SUM(CASE WHEN kind = 'batch' AND NOT passed THEN 1 ELSE 0 END) AS batches_quarantined,
  SUM(CASE WHEN kind = 'volume' AND NOT passed THEN 1 ELSE 0 END) AS volume_alerts,
  SUM(CASE WHEN NOT passed THEN 1 ELSE 0 END) AS failures,
  MAX(CASE WHEN NOT passed THEN created_at END) AS last_failure_at
FROM bronze_quality_events
WHERE source IS NOT NULL
GROUP BY source
ORDER BY failures DESC, source
