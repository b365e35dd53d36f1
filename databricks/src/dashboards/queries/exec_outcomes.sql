-- title: Outcomes before vs after
-- answers: For each routed insight: who owns it, where it went, and did negative share, volume and NPS move after the fix?
SELECT
  CONCAT(theme, ' · ', product, ' · ', segment) AS insight,
  insight_key,
  theme,
  product,
  segment,
  owner,
  destination,
  external_id,
  status,
  CAST(routed_at AS DATE) AS routed_date,
  CAST(resolved_at AS DATE) AS resolved_date,
  volume_per_day_before,
  volume_per_day_after,
  negative_share_before,
  negative_share_after,
  negative_share_delta,
  p_value,
  significant,
  nps_before,
  nps_after,
  after_window_complete
FROM gold_outcomes
ORDER BY routed_at DESC, insight
