"""insightloop Gold: the declarative pipeline from landed JSON Lines to Gold tables.

``transformations/`` holds one dataset per file (bronze_*, silver_*, gold_*); the modules
here are what those files share: the landing contracts as Spark schemas, the source
switch (Auto Loader on Databricks, the JSON file source locally), the pipeline
configuration keys, the expectations and the reporting periods. ``emerging_themes.py``
and ``export_insights.py`` are job tasks that run after a pipeline refresh.
"""
