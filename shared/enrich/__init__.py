"""Enrich: detect each record's language, mask its PII and gate each batch on data quality.

Reads the ingested records, pii.yaml and quality.yaml; lands quality events, baselines and
whole quarantined batches (records themselves land masked, through the pipeline).
"""

from shared.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "enrichment": ("PII_CONFIG", "Enrichment"),
        "language": ("LanguageDetector", "get_language_detector"),
        "masking": ("PiiMasker", "get_masker", "load_pii_config", "mask_jsonl", "model_dir"),
        "quality": (
            "BatchProfile",
            "GateResult",
            "QualityGate",
            "QualityLog",
            "load_quality_config",
        ),
    },
)
