-- title: Sentiment by product and feature
-- answers: Which features (themes) of which product do customers feel worst about in the window?
-- Net sentiment = (positive - negative mentions) / mentions, -1..1; pairs with fewer than
-- 3 mentions are left out as noise.
WITH report_window AS (
  SELECT MAX(period_start) AS window_start, MAX(period_end) AS window_end
  FROM gold_insights
),
mentions AS (
  SELECT
    COALESCE(t.product, 'unknown') AS product,
    t.theme,
    t.record_id,
    t.theme_sentiment
  FROM silver_record_themes t
  CROSS JOIN report_window w
  WHERE t.created_date BETWEEN w.window_start AND w.window_end
)
SELECT
  product,
  theme,
  CONCAT(theme, ' · ', product) AS product_theme,
  COUNT(DISTINCT record_id) AS mentions,
  COUNT(DISTINCT CASE WHEN theme_sentiment = 'negative' THEN record_id END) AS negative,
  COUNT(DISTINCT CASE WHEN theme_sentiment = 'positive' THEN record_id END) AS positive,
  COUNT(DISTINCT CASE WHEN theme_sentiment = 'negative' THEN record_id END)
    / COUNT(DISTINCT record_id) AS negative_share,
  (COUNT(DISTINCT CASE WHEN theme_sentiment = 'positive' THEN record_id END)
    - COUNT(DISTINCT CASE WHEN theme_sentiment = 'negative' THEN record_id END))
    / COUNT(DISTINCT record_id) AS net_sentiment
FROM mentions
GROUP BY product, theme
HAVING COUNT(DISTINCT record_id) >= 3
ORDER BY mentions DESC, net_sentiment, product, theme
