"""Job task: cluster feedback the taxonomy does not explain yet into emerging themes.

Runs after the pipeline refresh. Spark ML fits TF-IDF + KMeans on the masked text of
``silver_emerging_candidates`` (theme "other" or low confidence, current and previous
window) and writes ``gold_emerging_themes``: per cluster its size in the current window,
growth against the previous one, the heaviest terms of its centre, and the current
texts that use most of them as quotes. Fitting is an action, which a declarative
dataset definition must not run (it is evaluated before its inputs exist): hence a task.

    python emerging_themes.py --catalog main --schema insightloop   # Databricks
    python emerging_themes.py --parquet-warehouse work/spark-warehouse   # local
"""

from __future__ import annotations

import argparse
import hashlib
import math
from collections.abc import Sequence

from pyspark.ml import Pipeline
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import IDF, CountVectorizer, Normalizer, RegexTokenizer, StopWordsRemover
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

SOURCE_TABLE = "silver_emerging_candidates"
TARGET_TABLE = "gold_emerging_themes"
# PII placeholders left by masking ("<PERSON_1>") say nothing about the topic.
PII_PLACEHOLDER = r"<[A-Z_]+(?:_\d+)?>"
STOP_WORD_LANGUAGES = ("english", "german", "french", "spanish", "italian", "dutch", "portuguese")
# Words that say nothing about a topic beyond the stop lists: praise and filler ("top,
# best"), time and frequency ("time, again, week"), politeness ("please, thanks").
_GENERIC = """
    top best good great nice bad love like really much many also still just even ever
    get got make made back time times again day days week weeks month months year one two
    three first last new old thing things way lot please thanks thank thx hello team
    always never every would could should want need know think sure well
    hallo danke bitte mal wieder schon woche wochen monat monate monaten zwei drei
    hola gracias vez veces semana mes meses dos tres otra
    bonjour merci fois semaine mois deux trois encore
    olá obrigado obrigada vezes mês dois três outra
"""
GENERIC_WORDS = frozenset(_GENERIC.split())
MIN_RECORDS = 6
QUOTE_CHARS = 280

QUOTE = StructType(
    [
        StructField("record_id", StringType()),
        StructField("quote", StringType()),
        StructField("top_terms_used", IntegerType()),
    ]
)
SCHEMA = StructType(
    [
        StructField("cluster_id", StringType()),
        StructField("top_terms", ArrayType(StringType())),
        StructField("records", LongType()),
        StructField("previous_records", LongType()),
        StructField("growth", DoubleType()),
        StructField("quotes", ArrayType(QUOTE)),
        StructField("window_start", DateType()),
        StructField("as_of", DateType()),
    ]
)


def cluster_count(records: int, max_clusters: int) -> int:
    """About sqrt(n/2) clusters (a common rule of thumb), at least 2, at most max_clusters."""
    return max(2, min(max_clusters, round(math.sqrt(records / 2)), records))


def emerging_themes(
    candidates: DataFrame,
    *,
    max_clusters: int = 8,
    top_terms: int = 5,
    quotes: int = 3,
    seed: int = 7,
) -> DataFrame:
    """Clusters of ``candidates`` (record_id, text, created_date, window_start, as_of)."""
    spark = candidates.sparkSession
    texts = candidates.select(
        "record_id",
        "text",
        "created_date",
        "window_start",
        "as_of",
        F.lower(F.regexp_replace("text", PII_PLACEHOLDER, " ")).alias("clean_text"),
    )
    total = texts.count()
    if total < MIN_RECORDS:
        return spark.createDataFrame([], SCHEMA)
    stop_words = sorted(
        {
            word
            for language in STOP_WORD_LANGUAGES
            for word in StopWordsRemover.loadDefaultStopWords(language)
        }
        | GENERIC_WORDS
    )
    tokens = RegexTokenizer(
        inputCol="clean_text", outputCol="tokens", pattern=r"[^\p{L}\p{N}]+", minTokenLength=3
    )
    terms_of = StopWordsRemover(inputCol="tokens", outputCol="terms", stopWords=stop_words)
    documents = terms_of.transform(tokens.transform(texts))
    counts = CountVectorizer(inputCol="terms", outputCol="tf", minDF=2.0, vocabSize=4096).fit(
        documents
    )
    if not counts.vocabulary:  # no term shared by two texts: nothing to cluster
        return spark.createDataFrame([], SCHEMA)
    model = Pipeline(
        stages=[
            counts,
            IDF(inputCol="tf", outputCol="tfidf"),
            # Unit vectors: Euclidean KMeans then groups texts by cosine similarity.
            Normalizer(inputCol="tfidf", outputCol="features", p=2.0),
            KMeans(
                featuresCol="features",
                predictionCol="cluster",
                k=cluster_count(total, max_clusters),
                seed=seed,
                maxIter=20,
            ),
        ]
    ).fit(documents)
    labels = spark.createDataFrame(
        [
            (cluster, words, hashlib.sha256(" ".join(words).encode()).hexdigest()[:16])
            for cluster, words in enumerate(
                _top_terms(center.tolist(), counts.vocabulary, top_terms)
                for center in model.stages[-1].clusterCenters()
            )
        ],
        "cluster int, top_terms array<string>, cluster_id string",
    )
    assigned = (
        model.transform(documents)
        .join(F.broadcast(labels), "cluster")
        .withColumn("is_current", F.col("created_date") >= F.col("window_start"))
    )
    # Representative quotes: current texts using most of the cluster's top terms.
    used = F.size(F.array_intersect("terms", "top_terms"))
    best = Window.partitionBy("cluster").orderBy(used.desc(), F.length("text"), "record_id")
    representative = (
        assigned.where("is_current")
        .withColumn("_rank", F.row_number().over(best))
        .where(F.col("_rank") <= quotes)
        .groupBy("cluster")
        .agg(
            F.transform(
                F.array_sort(
                    F.collect_list(
                        F.struct(
                            "_rank",
                            "record_id",
                            F.substring("text", 1, QUOTE_CHARS).alias("quote"),
                            used.alias("top_terms_used"),
                        )
                    )
                ),
                lambda quote: quote.dropFields("_rank"),
            ).alias("quotes")
        )
    )
    sizes = assigned.groupBy("cluster", "cluster_id", "top_terms", "window_start", "as_of").agg(
        F.count_if("is_current").alias("records"),
        F.count_if(~F.col("is_current")).alias("previous_records"),
    )
    return (
        sizes.where(F.col("records") > 0)
        .join(representative, "cluster", "left")
        .select(
            "cluster_id",
            "top_terms",
            "records",
            "previous_records",
            F.try_divide(
                (F.col("records") - F.col("previous_records")).cast("double"),
                F.col("previous_records"),
            ).alias("growth"),
            "quotes",
            "window_start",
            "as_of",
        )
    )


def _top_terms(center: list[float], vocabulary: list[str], n: int) -> list[str]:
    """The n heaviest terms of a cluster centre (ties alphabetical)."""
    ranked = sorted(range(len(center)), key=lambda i: (-center[i], vocabulary[i]))
    return [vocabulary[i] for i in ranked[:n] if center[i] > 0]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Cluster unexplained feedback (Spark ML).")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--schema", help="Unity Catalog schema of the pipeline's tables")
    where.add_argument("--parquet-warehouse", help="local: folder of the pipeline's parquet tables")
    parser.add_argument("--catalog", help="Unity Catalog catalog (with --schema)")
    parser.add_argument("--max-clusters", type=int, default=8)
    args = parser.parse_args(argv)
    if args.parquet_warehouse:
        # Local: tables are read and written by path, so no metastore is needed.
        spark = (
            SparkSession.builder.appName("insightloop-emerging-themes")
            .config("spark.sql.catalogImplementation", "in-memory")
            .getOrCreate()
        )
        root = args.parquet_warehouse.rstrip("/")
        try:
            clusters = emerging_themes(
                spark.read.parquet(f"{root}/{SOURCE_TABLE}"), max_clusters=args.max_clusters
            )
            clusters.write.mode("overwrite").parquet(f"{root}/{TARGET_TABLE}")
        finally:
            spark.stop()
        return
    spark = SparkSession.builder.getOrCreate()
    prefix = f"{args.catalog}.{args.schema}" if args.catalog else args.schema
    clusters = emerging_themes(
        spark.read.table(f"{prefix}.{SOURCE_TABLE}"), max_clusters=args.max_clusters
    )
    clusters.write.mode("overwrite").option("overwriteSchema", "true").saveAsTable(
        f"{prefix}.{TARGET_TABLE}"
    )


if __name__ == "__main__":
    main()
