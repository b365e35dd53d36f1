-- title: Last ingest per source
-- answers: Is every source still delivering? When did each last land, and how much in its last 7 days?
WITH per_source AS (
  SELECT
    source,
    MAX(received_at) AS last_received_at,
    MAX(ingest_date) AS last_ingest_date,
    MAX(created_date) AS last_feedback_date,
    COUNT(*) AS records
  FROM silver_feedback
  GROUP BY source
)
SELECT
  p.source,
  p.last_received_at,
  p.last_ingest_date,
  p.last_feedback_date,
  p.records,
  COUNT(f.record_id) AS records_last_7_days
FROM per_source p
LEFT JOIN silver_feedback f
  ON f.source = p.source
  AND f.created_date BETWEEN date_add(p.last_feedback_date, -6) AND p.last_feedback_date
GROUP BY p.source, p.last_received_at, p.last_ingest_date, p.last_feedback_date, p.records
ORDER BY p.last_received_at, p.source
