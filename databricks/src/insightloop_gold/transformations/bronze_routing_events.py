from pyspark import pipelines as dp
from pyspark.sql import DataFrame

from insightloop_gold.landing import landing_stream


@dp.table(
    comment=(
        "Routing callbacks (landing/routing_events: ticket created/resolved, chat actions); "
        "empty until routing lands events."
    )
)
def bronze_routing_events() -> DataFrame:
    return landing_stream("routing_events")
