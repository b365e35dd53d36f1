-- title: Weekly trend of one theme
-- answers: How many records mentioned the theme each week, how negative were they, and how fast is it moving?
-- parameter: theme STRING
-- parameter: weeks INT
WITH latest AS (
  SELECT MAX(period_start) AS last_week
  FROM gold_theme_volume
  WHERE grain = 'week' AND theme = :theme
)
SELECT
  v.period_start AS week_start,
  v.records,
  v.negative_records,
  v.negative_share,
  v.records_week_before,
  v.wow_delta,
  v.velocity
FROM gold_theme_volume v
CROSS JOIN latest l
WHERE v.grain = 'week'
  AND v.theme = :theme
  AND v.period_start > date_add(l.last_week, -7 * :weeks)
ORDER BY week_start
