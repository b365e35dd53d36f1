"""Gold: the bundle's bronze/silver/gold pipeline, started on Databricks or on local Spark.

Reads the landing; lands the Gold tables and the insights export (exports/insights/).
"""

from shared.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "jobs": ("scheduled_slot", "start_gold_job"),
        "local": (
            "LOCAL_RUNNER",
            "LocalGoldError",
            "bundle_module",
            "java_available",
            "print_top_gold",
            "run_local_gold",
        ),
    },
)
