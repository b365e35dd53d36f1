-- title: Reporting window
-- answers: Which days do the window-based numbers cover, and how much feedback is in them?
-- The window is the pipeline's own (insightloop.window_days up to as_of), read from gold_insights.
WITH report_window AS (
  SELECT MAX(period_start) AS window_start, MAX(period_end) AS as_of
  FROM gold_insights
)
SELECT
  w.window_start,
  w.as_of,
  COUNT(DISTINCT f.record_id) AS records_in_window,
  COUNT(DISTINCT f.source) AS sources_in_window
FROM report_window w
LEFT JOIN silver_feedback f
  ON f.created_date BETWEEN w.window_start AND w.as_of
WHERE w.as_of IS NOT NULL
GROUP BY w.window_start, w.as_of
