-- title: Theme volume before vs after the release
-- answers: Which themes grew or shrank in the 14 days after the release against the 14 days before?
-- parameter: release_date DATE
WITH marker AS (
  SELECT CAST(:release_date AS DATE) AS release_date
),
per_theme AS (
  SELECT
    v.theme,
    SUM(CASE WHEN v.period_start < m.release_date THEN v.records ELSE 0 END) AS records_before,
    SUM(CASE WHEN v.period_start >= m.release_date THEN v.records ELSE 0 END) AS records_after
  FROM gold_theme_volume v
  CROSS JOIN marker m
  WHERE v.grain = 'day'
    AND v.period_start BETWEEN date_add(m.release_date, -14) AND date_add(m.release_date, 13)
  GROUP BY v.theme
)
SELECT
  theme,
  records_before,
  records_after,
  records_after - records_before AS change,
  (records_after - records_before) / NULLIF(records_before, 0) AS relative_change
FROM per_theme
WHERE records_before > 0 OR records_after > 0
ORDER BY ABS(records_after - records_before) DESC, theme
