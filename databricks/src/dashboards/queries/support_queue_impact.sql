-- title: Queue impact by theme
-- answers: Which themes fill the support queue (tickets and chats) in the window, and how much of it is urgent?
WITH report_window AS (
  SELECT MAX(period_start) AS window_start, MAX(period_end) AS window_end
  FROM gold_insights
),
contacts AS (
  SELECT t.record_id, t.theme, t.channel, t.urgency
  FROM silver_record_themes t
  CROSS JOIN report_window w
  WHERE t.channel IN ('ticket', 'chat')
    AND t.created_date BETWEEN w.window_start AND w.window_end
),
queue AS (
  SELECT COUNT(DISTINCT record_id) AS queue_contacts FROM contacts
)
SELECT
  c.theme,
  COUNT(DISTINCT c.record_id) AS contacts,
  COUNT(DISTINCT CASE WHEN c.channel = 'ticket' THEN c.record_id END) AS tickets,
  COUNT(DISTINCT CASE WHEN c.channel = 'chat' THEN c.record_id END) AS chats,
  COUNT(DISTINCT CASE WHEN c.urgency = 'high' THEN c.record_id END) AS high_urgency,
  COUNT(DISTINCT c.record_id) / NULLIF(MAX(q.queue_contacts), 0) AS share_of_queue
FROM contacts c
CROSS JOIN queue q
GROUP BY c.theme
ORDER BY contacts DESC, c.theme
