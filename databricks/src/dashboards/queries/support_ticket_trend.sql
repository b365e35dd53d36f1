-- title: Weekly tickets of the top five drivers
-- answers: How did the biggest ticket drivers move week by week?
-- partial: the week runs past the reporting date (as_of), so it is not complete yet.
WITH top_drivers AS (
  SELECT theme FROM gold_ticket_drivers WHERE rank <= 5 AND tickets > 0
)
SELECT
  t.created_week AS week_start,
  t.theme,
  COUNT(DISTINCT t.record_id) AS tickets,
  datediff((SELECT COALESCE(MAX(period_end), (SELECT MAX(created_date) FROM silver_feedback)) FROM gold_insights), t.created_week) < 6 AS partial
FROM silver_record_themes t
JOIN top_drivers d ON d.theme = t.theme
WHERE t.channel = 'ticket' AND t.created_week IS NOT NULL
GROUP BY t.created_week, t.theme
ORDER BY week_start, t.theme
