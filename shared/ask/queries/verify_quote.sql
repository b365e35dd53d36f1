-- title: Quote check
-- answers: Does a quote occur verbatim in a masked evidence quote of Gold (of one record when a record id is given)?
-- parameter: quote STRING
-- parameter: record_id STRING
SELECT
  record_id,
  evidence AS quote
FROM silver_record_themes
WHERE evidence IS NOT NULL
  AND instr(evidence, :quote) > 0
  AND (:record_id IS NULL OR record_id = :record_id)
ORDER BY record_id
