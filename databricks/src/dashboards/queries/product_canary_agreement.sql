-- title: Canary prompt agreement
-- answers: When two prompt versions classify the same records, how often do they agree?
-- partial: the week runs past the reporting date (as_of), so it is not complete yet.
SELECT
  week_start,
  dimension AS prompt_versions,
  CASE metric
    WHEN 'canary_themes_agreement' THEN 'themes'
    ELSE 'sentiment'
  END AS compared,
  CONCAT(dimension, ' · ', CASE metric WHEN 'canary_themes_agreement' THEN 'themes' ELSE 'sentiment' END)
    AS series,
  value AS agreement,
  records,
  datediff((SELECT COALESCE(MAX(period_end), (SELECT MAX(created_date) FROM silver_feedback)) FROM gold_insights), week_start) < 6 AS partial
FROM gold_drift
WHERE metric IN ('canary_themes_agreement', 'canary_sentiment_agreement')
ORDER BY week_start, series
