-- title: Theme volume around the release date
-- answers: Did the five biggest themes of the 28 days around the release move when it shipped?
-- parameter: release_date DATE
-- Days -14..-1 are before the release, 0..13 after (gold_theme_volume, daily grain, zero-filled).
WITH marker AS (
  SELECT CAST(:release_date AS DATE) AS release_date
),
days AS (
  SELECT
    v.period_start AS day,
    v.theme,
    v.records,
    datediff(v.period_start, m.release_date) AS days_from_release
  FROM gold_theme_volume v
  CROSS JOIN marker m
  WHERE v.grain = 'day'
    AND v.period_start BETWEEN date_add(m.release_date, -14) AND date_add(m.release_date, 13)
),
theme_totals AS (
  SELECT theme, SUM(records) AS theme_records
  FROM days
  GROUP BY theme
),
top_themes AS (
  SELECT theme
  FROM theme_totals
  WHERE theme_records > 0
  ORDER BY theme_records DESC, theme
  LIMIT 5
)
SELECT
  d.day,
  d.theme,
  d.records,
  d.days_from_release,
  CASE WHEN d.days_from_release < 0 THEN 'before' ELSE 'after' END AS period
FROM days d
JOIN top_themes t ON t.theme = d.theme
ORDER BY d.day, d.theme
