from pyspark import pipelines as dp
from pyspark.sql import DataFrame

from insightloop_gold.landing import landing_stream


@dp.table(comment="Classifications queued for human review (landing/review); append-only.")
def bronze_review() -> DataFrame:
    return landing_stream("review")
