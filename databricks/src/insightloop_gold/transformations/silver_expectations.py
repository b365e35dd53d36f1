from functools import reduce

from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession

from insightloop_gold.expectations import RULES, violation_counts


@dp.materialized_view(
    comment=(
        "Expectation results per Silver dataset and rule: rows checked and rows failing (kept,"
        " not dropped). The same rules run as native expectations on Databricks."
    )
)
def silver_expectations() -> DataFrame:
    spark = SparkSession.active()
    results = [violation_counts(name, spark.read.table(name)) for name in RULES]
    return reduce(lambda left, right: left.unionByName(right), results)
