"""Category values with one spelling each: segment, region and product category.

Exports spell the same value many ways ("Subscriber", " subscriber ", "SUBSCRIBER",
"Subscription"; "UK", "United Kingdom", "gb"). Silver cleans them once, so every Gold
table and dashboard groups them together: whitespace is collapsed, known aliases map to
their canonical value (country names to ISO codes are built in; a deployment adds its
own through ``insightloop.aliases.<column>``), and case variants take the spelling most
rows use.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

DIMENSIONS = ("customer_segment", "region", "product_category")
# English and local names of countries feedback often names, lower case -> ISO 3166 code.
COUNTRY_NAMES = {
    "uk": "GB", "united kingdom": "GB", "great britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "ireland": "IE", "éire": "IE", "germany": "DE",
    "deutschland": "DE", "austria": "AT", "österreich": "AT", "switzerland": "CH",
    "schweiz": "CH", "suisse": "CH", "spain": "ES", "españa": "ES", "espana": "ES",
    "france": "FR", "portugal": "PT", "italy": "IT", "italia": "IT", "netherlands": "NL",
    "nederland": "NL", "belgium": "BE", "belgique": "BE", "belgië": "BE", "poland": "PL",
    "polska": "PL", "sweden": "SE", "sverige": "SE", "denmark": "DK", "danmark": "DK",
    "united states": "US", "usa": "US", "canada": "CA", "australia": "AU",
    "brazil": "BR", "brasil": "BR", "mexico": "MX", "méxico": "MX",
}  # fmt: skip


def _cleaned(column: str) -> Column:
    """Trimmed, inner whitespace collapsed, blank -> NULL."""
    return F.nullif(F.trim(F.regexp_replace(F.col(column), r"\s+", " ")), F.lit(""))


def _aliased(value: Column, aliases: Mapping[str, str]) -> Column:
    if not aliases:
        return value
    lookup = F.create_map(
        *itertools.chain.from_iterable(
            (F.lit(alias.strip().lower()), F.lit(canonical)) for alias, canonical in aliases.items()
        )
    )
    return F.coalesce(F.element_at(lookup, F.lower(value)), value)


def normalised_value(column: str, aliases: Mapping[str, str] | None = None) -> Column:
    """One row's value, cleaned and aliased (case variants are settled per table)."""
    value = _cleaned(column)
    if column == "region":
        value = F.when(F.length(value) == 2, F.upper(value)).otherwise(value)
        value = _aliased(value, {**COUNTRY_NAMES, **(aliases or {})})
    else:
        value = _aliased(value, aliases or {})
    return value


def with_normalised_dimensions(
    rows: DataFrame, aliases: Mapping[str, Mapping[str, str]]
) -> DataFrame:
    """``rows`` with each of :data:`DIMENSIONS` cleaned, aliased, and spelled as most of
    its case variants are (ties: the alphabetically first spelling), plus ``_*`` helpers."""
    for column in DIMENSIONS:
        value = f"_{column}_value"
        spelling = f"_{column}_spelling_rows"
        folded = F.lower(F.col(value))
        most_used = Window.partitionBy(folded).orderBy(F.col(spelling).desc(), F.col(value))
        rows = (
            rows.withColumn(value, normalised_value(column, aliases.get(column)))
            .withColumn(spelling, F.count(F.lit(1)).over(Window.partitionBy(value)))
            .withColumn(
                column,
                F.when(F.col(value).isNotNull(), F.first(value).over(most_used)),
            )
        )
    # The helper columns stay (a drop by name resolves eagerly under Spark Connect, before
    # the upstream table exists); the caller's select leaves them out.
    return rows
