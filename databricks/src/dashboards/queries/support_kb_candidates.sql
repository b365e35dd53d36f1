-- title: Macro and knowledge-base candidates
-- answers: Which issues keep coming back to support week after week, so that a macro or an article would pay off?
-- Recurring: support contacts (tickets, chats) in at least 3 distinct weeks of the window and at
-- least 5 contacts. The example quote is the top insight's first evidence quote (masked in Gold).
WITH report_window AS (
  SELECT MAX(period_start) AS window_start, MAX(period_end) AS window_end
  FROM gold_insights
),
recurring AS (
  SELECT
    t.theme,
    COUNT(DISTINCT t.record_id) AS contacts,
    COUNT(DISTINCT t.created_week) AS weeks_present,
    COUNT(DISTINCT CASE WHEN t.urgency = 'high' THEN t.record_id END) AS high_urgency
  FROM silver_record_themes t
  CROSS JOIN report_window w
  WHERE t.channel IN ('ticket', 'chat')
    AND t.theme <> 'other'
    AND t.created_date BETWEEN w.window_start AND w.window_end
  GROUP BY t.theme
),
top_insight AS (
  SELECT theme, product, try_element_at(evidence, 1) AS first_quote
  FROM gold_insights
  QUALIFY ROW_NUMBER() OVER (PARTITION BY theme ORDER BY rank) = 1
)
SELECT
  r.theme,
  r.contacts,
  r.weeks_present,
  r.high_urgency,
  i.product AS example_product,
  i.first_quote.quote AS example_quote,
  i.first_quote.record_id AS example_record_id
FROM recurring r
LEFT JOIN top_insight i ON i.theme = r.theme
WHERE r.weeks_present >= 3 AND r.contacts >= 5
ORDER BY r.contacts DESC, r.theme
