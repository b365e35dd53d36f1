-- title: Insight key check
-- answers: Is an insight key one Gold knows, as a current insight or a routed one?
-- parameter: insight_key STRING
SELECT insight_key FROM gold_insights WHERE insight_key = :insight_key
UNION ALL
SELECT insight_key FROM gold_outcomes WHERE insight_key = :insight_key
