from pyspark import pipelines as dp
from pyspark.sql import DataFrame

from insightloop_gold.landing import landing_stream


@dp.table(
    comment=(
        "Data-quality gate events per landing batch and per input (landing/quality_events); "
        "append-only."
    )
)
def bronze_quality_events() -> DataFrame:
    return landing_stream("quality_events")
