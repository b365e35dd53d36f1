-- title: Negative-review rate by week
-- answers: Is the share of negative feedback going up or down? Reviews alone, and all channels together.
SELECT
  week_start,
  'reviews' AS series,
  SUM(negative_records) / NULLIF(SUM(records), 0) AS negative_rate,
  SUM(records) AS records
FROM gold_negative_share
WHERE dimension = 'channel' AND dimension_value = 'review'
GROUP BY week_start
UNION ALL
SELECT
  week_start,
  'all channels' AS series,
  SUM(negative_records) / NULLIF(SUM(records), 0) AS negative_rate,
  SUM(records) AS records
FROM gold_negative_share
WHERE dimension = 'channel'
GROUP BY week_start
ORDER BY week_start, series
