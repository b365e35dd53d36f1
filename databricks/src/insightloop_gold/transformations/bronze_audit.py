from pyspark import pipelines as dp
from pyspark.sql import DataFrame

from insightloop_gold.landing import landing_stream


@dp.table(
    comment=(
        "Audit rows (landing/audit): one per model call and one per human override with "
        "before/after JSON; append-only."
    )
)
def bronze_audit() -> DataFrame:
    return landing_stream("audit")
