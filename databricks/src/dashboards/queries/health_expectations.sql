-- title: Failing expectations
-- answers: Which Silver data rules failed, on how many rows? (Rows are kept and counted, never dropped.)
SELECT
  dataset,
  expectation,
  rows_checked,
  failed_rows,
  failed_rows / NULLIF(rows_checked, 0) AS failed_share
FROM silver_expectations
WHERE failed_rows > 0
ORDER BY failed_rows DESC, dataset, expectation
