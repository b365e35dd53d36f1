-- title: Drift flags
-- answers: Has the feedback or the classifier shifted? The latest week of each drift metric against its limit.
-- Limits: mix shifts are total variation distances (0..1) from the week before; review_rate is the
-- share of classifications waiting for a reviewer; canary agreement compares two prompt versions.
-- partial: the week runs past the reporting date (as_of), so it is not complete yet.
WITH limits AS (
  SELECT * FROM (VALUES
    ('theme_mix_tvd', 'theme mix shift', 0.25, 'above'),
    ('sentiment_mix_tvd', 'sentiment mix shift', 0.2, 'above'),
    ('language_mix_tvd', 'language mix shift', 0.2, 'above'),
    ('review_rate', 'review rate', 0.5, 'above'),
    ('canary_themes_agreement', 'canary agreement on themes', 0.8, 'below'),
    ('canary_sentiment_agreement', 'canary agreement on sentiment', 0.8, 'below')
  ) AS t(metric, label, threshold, direction)
),
latest AS (
  SELECT d.metric, d.dimension, d.week_start, d.value, d.records
  FROM gold_drift d
  JOIN limits l ON l.metric = d.metric
  QUALIFY ROW_NUMBER() OVER (PARTITION BY d.metric, d.dimension ORDER BY d.week_start DESC) = 1
)
SELECT
  l.label AS signal,
  x.dimension,
  x.week_start,
  x.value,
  CAST(l.threshold AS DOUBLE) AS threshold,
  l.direction,
  x.records,
  datediff((SELECT COALESCE(MAX(period_end), (SELECT MAX(created_date) FROM silver_feedback)) FROM gold_insights), x.week_start) < 6 AS partial,
  CASE
    WHEN l.direction = 'above' THEN x.value >= l.threshold
    ELSE x.value < l.threshold
  END AS flagged
FROM latest x
JOIN limits l ON l.metric = x.metric
ORDER BY flagged DESC, l.label, x.dimension
