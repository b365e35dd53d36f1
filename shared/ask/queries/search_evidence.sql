-- title: Evidence search
-- answers: Which masked evidence quotes contain the words asked for, with their record ids, newest first?
-- parameter: query STRING
-- parameter: theme STRING
-- parameter: sentiment STRING
-- parameter: product STRING
SELECT
  record_id,
  theme,
  theme_sentiment AS sentiment,
  product,
  customer_segment AS segment,
  channel,
  CAST(created_at AS DATE) AS created_date,
  evidence AS quote
FROM silver_record_themes
WHERE evidence IS NOT NULL
  AND instr(lower(evidence), lower(:query)) > 0
  AND (:theme IS NULL OR theme = :theme)
  AND (:sentiment IS NULL OR theme_sentiment = :sentiment)
  AND (:product IS NULL OR product = :product)
ORDER BY created_at DESC, record_id, theme
