"""Bronze sources: one incremental stream per landing dataset, Auto Loader or files.

``insightloop.source`` picks the reader and nothing else: ``autoloader`` (Databricks,
``cloudFiles`` with schema tracking and a rescued-data column) or ``files`` (OSS Spark's
JSON file source, where malformed rows land in the same column). Both read the same
path glob with the same schema and add the same lineage columns, so everything
downstream of Bronze is identical.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from insightloop_gold.schemas import LANDING_SCHEMAS, RESCUED_DATA
from insightloop_gold.settings import PipelineSettings


def landing_path(settings: PipelineSettings, dataset: str) -> str:
    """Committed files of one dataset. A glob, so a folder nothing has landed in yet
    (``routing_events`` before routing ships) reads as empty instead of failing the run;
    ``*.jsonl`` also skips the writers' hidden temp files."""
    return f"{settings.landing_path}/{dataset}/ingest_date=*/*.jsonl"


def landing_stream(dataset: str) -> DataFrame:
    """The rows of ``landing/<dataset>/`` not read by an earlier update, plus lineage."""
    spark = SparkSession.active()
    settings = PipelineSettings.from_conf(spark.conf)
    schema = LANDING_SCHEMAS[dataset]
    if settings.source == "autoloader":
        reader = (
            spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", "json")
            # rescue: new fields never fail or silently widen the stream, they are kept.
            .option("cloudFiles.schemaEvolutionMode", "rescue")
            .option("rescuedDataColumn", RESCUED_DATA)
            .schema(schema)
        )
        if settings.schema_location:
            reader = reader.option(
                "cloudFiles.schemaLocation", f"{settings.schema_location}/{dataset}"
            )
    else:
        reader = (
            spark.readStream.format("json")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", RESCUED_DATA)
            .schema(StructType([*schema.fields, StructField(RESCUED_DATA, StringType())]))
        )
    return reader.load(landing_path(settings, dataset)).select("*", *_lineage())


def _lineage() -> list[Column]:
    source_file = F.col("_metadata.file_path")
    return [
        source_file.alias("_source_file"),
        F.to_date(
            F.nullif(
                F.regexp_extract(source_file, r"ingest_date=(\d{4}-\d{2}-\d{2})", 1), F.lit("")
            )
        ).alias("ingest_date"),
        F.current_timestamp().alias("_ingested_at"),
    ]
