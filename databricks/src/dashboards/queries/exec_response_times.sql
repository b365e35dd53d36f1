-- title: Time to triage and to resolution
-- answers: How fast do owners pick up and fix routed insights? Median hours from routing, all owners first.
WITH per_owner AS (
  SELECT
    1 AS sort_group,
    COALESCE(owner, 'unassigned') AS owner,
    COUNT(*) AS routed,
    COUNT(hours_to_triage) AS triaged,
    COUNT(hours_to_resolution) AS resolved,
    median(hours_to_triage) AS median_hours_to_triage,
    median(hours_to_resolution) AS median_hours_to_resolution
  FROM gold_outcomes
  GROUP BY COALESCE(owner, 'unassigned')
),
overall AS (
  SELECT
    0 AS sort_group,
    'all owners' AS owner,
    COUNT(*) AS routed,
    COUNT(hours_to_triage) AS triaged,
    COUNT(hours_to_resolution) AS resolved,
    median(hours_to_triage) AS median_hours_to_triage,
    median(hours_to_resolution) AS median_hours_to_resolution
  FROM gold_outcomes
  HAVING COUNT(*) > 0
)
SELECT owner, routed, triaged, resolved, median_hours_to_triage, median_hours_to_resolution
FROM (SELECT * FROM overall UNION ALL SELECT * FROM per_owner) owners
ORDER BY sort_group, routed DESC, owner
