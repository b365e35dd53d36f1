-- title: Negative-review rate by week
-- answers: Is the share of negative feedback going up or down? Reviews alone, and all channels together.
-- partial: the week runs past the reporting date (as_of), so it is not complete yet.
SELECT
  week_start,
  'reviews' AS series,
  SUM(negative_records) / NULLIF(SUM(records), 0) AS negative_rate,
  SUM(records) AS records,
  datediff((SELECT COALESCE(MAX(period_end), (SELECT MAX(created_date) FROM silver_feedback)) FROM gold_insights), week_start) < 6 AS partial
FROM gold_negative_share
WHERE dimension = 'channel' AND dimension_value = 'review'
GROUP BY week_start
UNION ALL
SELECT
  week_start,
  'all channels' AS series,
  SUM(negative_records) / NULLIF(SUM(records), 0) AS negative_rate,
  SUM(records) AS records,
  datediff((SELECT COALESCE(MAX(period_end), (SELECT MAX(created_date) FROM silver_feedback)) FROM gold_insights), week_start) < 6 AS partial
FROM gold_negative_share
WHERE dimension = 'channel'
GROUP BY week_start
ORDER BY week_start, series
