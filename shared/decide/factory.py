"""The decide stage's entry points: a classifier from settings, and masking for it.

One path for the CLI and (later) the Functions handlers: mask the text, then classify
it with the configured provider (``local`` offline by default, ``openai_compatible`` or
``azure_openai``) under the active prompt version, or the one asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from shared.decide.answer_cache import AnswerCache
from shared.decide.classification import Classification
from shared.decide.classifier import ClassifyOutcome, LlmClassifier, MaskedText
from shared.decide.limiter import QuotaLimiter
from shared.decide.llm import ChatModel
from shared.decide.local_classifier import LocalClassifier, shipped_text_model
from shared.decide.prompts import PROMPT_NAME, PromptManifest, get_prompt_version, load_manifest
from shared.decide.taxonomy import get_taxonomy
from shared.enrich.masking import PiiMasker
from shared.settings import Settings
from shared.storage import ObjectStorage

# A quote whose record's language is not known: patterns and the name gazetteer, no NER.
RESCAN_LANGUAGE = "und"


class Classifier(Protocol):
    model: str

    def classify(self, items: Sequence[MaskedText]) -> ClassifyOutcome: ...


class CanaryClassifier:
    """Routes each record to the active or the candidate prompt version (manifest canary).

    With ``shadow_canary`` the active version also answers the candidate's records, first,
    so the candidate's answer is the newer one (Silver keeps the latest) and the active's
    lands beside it as ``outcome.shadow`` for gold_drift's canary agreement.
    """

    def __init__(self, manifest: PromptManifest, by_version: dict[str, Classifier]) -> None:
        self.manifest = manifest
        self.by_version = by_version
        self.model = by_version[manifest.active].model

    def classify(self, items: Sequence[MaskedText]) -> ClassifyOutcome:
        groups: dict[str, list[MaskedText]] = {}
        for item in items:
            groups.setdefault(self.manifest.version_for(item.record_id), []).append(item)
        outcome = ClassifyOutcome()
        canary = groups.get(self.manifest.candidate or "", [])
        if self.manifest.shadow_canary and canary:
            shadow = self.by_version[self.manifest.active].classify(canary)
            outcome.shadow += shadow.classifications
            outcome.calls += shadow.calls
            outcome.cache_hits += shadow.cache_hits
        for version, group in groups.items():
            part = self.by_version[version].classify(group)
            outcome.classifications += part.classifications
            outcome.calls += part.calls
            outcome.cache_hits += part.cache_hits
        return outcome


def classifier_from_settings(
    settings: Settings,
    prompt_version: str | None = None,
    storage: ObjectStorage | None = None,
) -> Classifier:
    """The configured classifier; ``prompt_version`` pins one version (no canary).

    With ``storage``, model answers are cached there across runs (``AnswerCache``).
    """
    config_dir = Path(settings.config_dir)
    taxonomy = get_taxonomy(config_dir)
    manifest = load_manifest(config_dir / PROMPT_NAME)
    versions = [prompt_version] if prompt_version else [manifest.active]
    if not prompt_version and manifest.candidate and manifest.canary_percent:
        versions.append(manifest.candidate)
    if settings.llm_provider == "local":
        return _local_classifier(settings, manifest, versions)
    model = chat_model_from_settings(settings)
    by_version: dict[str, Classifier] = {
        version: LlmClassifier(
            taxonomy,
            get_prompt_version(config_dir, version),
            model,
            batch_size=settings.classify_batch_size,
            min_confidence=settings.classify_min_confidence,
            retry_budget=settings.classify_retry_budget,
            cache=AnswerCache(storage, settings.ledger_container) if storage else None,
            concurrency=settings.llm_concurrency,
        )
        for version in versions
    }
    if len(by_version) == 1:
        return by_version[versions[0]]
    return CanaryClassifier(manifest, by_version)


def _local_classifier(
    settings: Settings, manifest: PromptManifest, versions: list[str]
) -> Classifier:
    """The offline classifier, one stand-in per prompt version (manifest offline_stand_ins:
    the trained text model beside the rules, or rules + lexicon only)."""
    config_dir = Path(settings.config_dir)
    by_version: dict[str, Classifier] = {
        version: LocalClassifier(
            get_taxonomy(config_dir),
            min_confidence=settings.classify_min_confidence,
            text_model=shipped_text_model(config_dir)
            if manifest.offline_stand_ins.get(version, "trained") == "trained"
            else None,
            prompt_version=f"{PROMPT_NAME}/{version}" if len(versions) > 1 else None,
        )
        for version in versions
    }
    if len(by_version) == 1:
        return by_version[versions[0]]
    return CanaryClassifier(manifest, by_version)


def chat_model_from_settings(settings: Settings) -> ChatModel:
    """The configured model endpoint (``openai_compatible`` or ``azure_openai``), paced by
    the deployment's quota when it is configured."""
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    limiter = None
    if settings.llm_tokens_per_minute or settings.llm_requests_per_minute:
        limiter = QuotaLimiter(
            tokens_per_minute=settings.llm_tokens_per_minute,
            requests_per_minute=settings.llm_requests_per_minute,
            instances=settings.llm_quota_instances,
        )
    if settings.llm_provider == "azure_openai":
        return ChatModel.azure_openai(
            endpoint=settings.azure_openai_endpoint or "",
            deployment=settings.azure_openai_deployment or "",
            api_version=settings.azure_openai_api_version,
            api_key=api_key,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            limiter=limiter,
        )
    return ChatModel.openai_compatible(
        base_url=settings.llm_base_url or "",
        model=settings.llm_model or "",
        api_key=api_key,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        limiter=limiter,
    )


def mask_for_classification(
    masker: PiiMasker, texts: Sequence[str], languages: Sequence[str | None] | None = None
) -> tuple[list[str], int]:
    """Masked texts (nothing unmasked reaches a model) and how many PII spans were masked."""
    groups = masker.mask_groups([{"text": text} for text in texts], languages)
    masked = [group.fields["text"] or "" for group in groups]
    return masked, sum(len(group.entities) for group in groups)


def rescan_evidence(
    masker: PiiMasker,
    classifications: Sequence[Classification],
    languages: Mapping[str, str | None] | None = None,
) -> tuple[list[Classification], int]:
    """Scan every evidence quote with the masker before it lands.

    Quotes are the masked text's own characters, so a model cannot add personal data
    through them; this catches what the first pass let through in a short span (an
    e-mail, a phone, a card or id number, a name) and masks it. Each quote is masked with
    its record's language (``languages`` by record id), the decision the first pass made;
    a record not in it gets RESCAN_LANGUAGE. Returns the classifications and the hits.
    """
    quotes = [claim.evidence for result in classifications for claim in result.themes]
    if not quotes:
        return list(classifications), 0
    known = languages or {}
    masked = masker.mask_groups(
        [{"text": quote} for quote in quotes],
        [
            known.get(result.record_id, RESCAN_LANGUAGE)
            for result in classifications
            for _ in result.themes
        ],
    )
    found = iter(masked)
    hits = 0
    out: list[Classification] = []
    for result in classifications:
        themes = []
        for claim in result.themes:
            group = next(found)
            if group.entities:
                hits += len(group.entities)
                claim = claim.model_copy(update={"evidence": group.fields["text"] or ""})
            themes.append(claim)
        out.append(result.model_copy(update={"themes": themes}) if themes else result)
    return out, hits


__all__ = [
    "CanaryClassifier",
    "Classifier",
    "chat_model_from_settings",
    "classifier_from_settings",
    "mask_for_classification",
    "rescan_evidence",
]
