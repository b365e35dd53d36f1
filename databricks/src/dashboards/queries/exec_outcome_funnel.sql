-- title: Routed insights, actions, outcomes
-- answers: Of the insights routed to an owner, how many were triaged, resolved, and measurably improved?
-- Improved: resolved, its after-window complete, a significant change (gold_outcomes.significant:
-- negative share or volume) and a lower negative share after than before.
WITH counts AS (
  SELECT
    COUNT(*) AS routed,
    SUM(CASE WHEN triaged_at IS NOT NULL OR status IN ('triaged', 'resolved') THEN 1 ELSE 0 END) AS triaged,
    SUM(CASE WHEN status = 'resolved' THEN 1 ELSE 0 END) AS resolved,
    SUM(
      CASE
        WHEN status = 'resolved' AND after_window_complete AND significant AND negative_share_delta < 0
        THEN 1 ELSE 0
      END
    ) AS improved
  FROM gold_outcomes
)
SELECT 1 AS step, 'routed' AS stage, routed AS insights FROM counts WHERE routed > 0
UNION ALL
SELECT 2, 'triaged', triaged FROM counts WHERE routed > 0
UNION ALL
SELECT 3, 'resolved', resolved FROM counts WHERE routed > 0
UNION ALL
SELECT 4, 'improved', improved FROM counts WHERE routed > 0
ORDER BY step
