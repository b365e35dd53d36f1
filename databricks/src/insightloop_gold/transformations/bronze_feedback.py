from pyspark import pipelines as dp
from pyspark.sql import DataFrame

from insightloop_gold.landing import landing_stream


@dp.table(
    comment=(
        "Landed feedback records (landing/feedback), one row per landed line, replays "
        "included; append-only."
    )
)
def bronze_feedback() -> DataFrame:
    return landing_stream("feedback")
