from pyspark import pipelines as dp
from pyspark.sql import DataFrame

from insightloop_gold.landing import landing_stream


@dp.table(
    comment=(
        "Classifications landed as decided (landing/classified): model answers and human "
        "overrides; append-only."
    )
)
def bronze_classified() -> DataFrame:
    return landing_stream("classified")
