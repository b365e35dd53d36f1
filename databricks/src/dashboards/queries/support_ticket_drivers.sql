-- title: Top ticket drivers and their trend
-- answers: Which themes drive the most tickets in the window, and are they growing against the window before?
SELECT
  rank,
  theme,
  tickets,
  previous_tickets,
  trend_delta,
  trend,
  share_of_tickets,
  high_urgency_share,
  period_start,
  period_end
FROM gold_ticket_drivers
WHERE tickets > 0 OR previous_tickets > 0
ORDER BY rank
