"""Gold: the bundle's bronze/silver/gold pipeline, started on Databricks or on local Spark.

Reads the landing; lands the Gold tables and the insights export (exports/insights/).
"""
