-- title: Alerts in a window
-- answers: Which theme x product and theme x segment volumes or negative shares departed upward from their baseline in the last days?
-- parameter: window_days INT
WITH latest AS (
  SELECT MAX(period_end) AS period_end FROM gold_alerts
)
SELECT
  a.alert_id,
  a.theme,
  a.dimension,
  a.dimension_value,
  a.metric,
  a.period_start,
  a.period_end,
  a.current_value,
  a.baseline_value,
  a.z_score,
  a.records,
  a.baseline_records,
  a.sensitivity
FROM gold_alerts a
CROSS JOIN latest l
WHERE a.period_end > date_add(l.period_end, -:window_days)
ORDER BY a.z_score DESC, a.alert_id
