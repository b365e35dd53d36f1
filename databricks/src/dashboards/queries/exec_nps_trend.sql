-- title: NPS by week
-- answers: Net Promoter Score per week: % promoters (9-10) minus % detractors (0-6), -100..100.
-- partial: the week runs past the reporting date (as_of), so it is not complete yet.
SELECT
  created_week AS week_start,
  COUNT(*) AS respondents,
  SUM(CASE WHEN nps_score >= 9 THEN 1 ELSE 0 END) AS promoters,
  SUM(CASE WHEN nps_score <= 6 THEN 1 ELSE 0 END) AS detractors,
  CAST(
    100 * (SUM(CASE WHEN nps_score >= 9 THEN 1 ELSE 0 END) - SUM(CASE WHEN nps_score <= 6 THEN 1 ELSE 0 END))
    AS DOUBLE
  ) / COUNT(*) AS nps,
  datediff((SELECT COALESCE(MAX(period_end), (SELECT MAX(created_date) FROM silver_feedback)) FROM gold_insights), created_week) < 6 AS partial
FROM silver_feedback
WHERE nps_score IS NOT NULL AND created_week IS NOT NULL
GROUP BY created_week
ORDER BY week_start
