-- title: Canary prompt agreement
-- answers: When two prompt versions classify the same records, how often do they agree?
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
  records
FROM gold_drift
WHERE metric IN ('canary_themes_agreement', 'canary_sentiment_agreement')
ORDER BY week_start, series
