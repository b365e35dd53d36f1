-- title: Revenue at risk by theme
-- answers: How much order value sits with customers who are negative about each theme in the window?
-- Revenue at risk = sum of order_value of the window's records whose sentiment about the theme is
-- negative (records without an order value count as at risk but add nothing).
WITH report_window AS (
  SELECT MAX(period_start) AS window_start, MAX(period_end) AS window_end
  FROM gold_insights
)
SELECT
  t.theme,
  COUNT(DISTINCT t.record_id) AS negative_records,
  COUNT(DISTINCT CASE WHEN t.order_value IS NOT NULL THEN t.record_id END) AS records_with_order_value,
  SUM(COALESCE(t.order_value, 0)) AS revenue_at_risk
FROM silver_record_themes t
CROSS JOIN report_window w
WHERE t.theme_sentiment = 'negative'
  AND t.created_date BETWEEN w.window_start AND w.window_end
GROUP BY t.theme
HAVING SUM(COALESCE(t.order_value, 0)) > 0
ORDER BY revenue_at_risk DESC, t.theme
