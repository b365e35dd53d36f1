"""Decide: classify each masked record (themes with evidence, sentiment, urgency) and audit how.

Reads masked records, taxonomy.yaml and the classify prompts; lands classifications, model-call
audits, the review queue and reviewers' overrides.
"""

from shared.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "answer_cache": ("AnswerCache",),
        "batch_backfill": ("BatchBackfill", "backfill_from_settings"),
        "classification": ("Classification", "model_answer_schema", "strict_json_schema"),
        "classifier": ("LlmClassifier", "batch_messages"),
        "contracts": ("CallRecord", "ClassifyOutcome", "MaskedText"),
        "classify_stage": ("ClassifyStage", "get_classify_stage", "parse_work_item"),
        "factory": (
            "Classifier",
            "chat_model_from_settings",
            "classifier_from_settings",
            "mask_for_classification",
            "rescan_evidence",
        ),
        "limiter": ("QuotaLimiter",),
        "llm": ("ChatModel",),
        "local_classifier": ("LocalClassifier", "shipped_text_model"),
        "overrides": (
            "HumanOverride",
            "OverrideTheme",
            "latest_classifications",
            "masked_texts",
            "record_overrides",
        ),
        "prompts": (
            "PROMPT_NAME",
            "PromptVersion",
            "build_messages",
            "get_prompt_version",
            "load_manifest",
            "load_prompt_version",
        ),
        "taxonomy": (
            "FALLBACK_THEME",
            "SENTIMENTS",
            "Sentiment",
            "Taxonomy",
            "Theme",
            "Urgency",
            "get_taxonomy",
            "load_taxonomy",
        ),
        "text_model": ("TextModel", "TrainingExample"),
        "work_queue": ("ServiceBusWorkSender",),
    },
)
