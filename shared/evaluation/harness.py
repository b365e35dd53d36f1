"""``insightloop eval``: run classifiers over a labelled dataset and score them.

Every candidate goes through the production path: texts are masked by the same masker,
classified by the same classifier classes (``local`` trained on the dataset's train
split, or a model through ``LlmClassifier`` with the active or a named prompt version),
evidence is re-scanned, and the guardrails decide what counts. A plain TF-IDF +
logistic-regression baseline trained on the same split is scored beside it, so every
number has a floor.

Masked texts and model answers are cached under the cache directory, so a re-run costs
no masking time and no tokens.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from shared.decide.answer_cache import AnswerCache
from shared.decide.classifier import ClassifyOutcome, LlmClassifier, MaskedText
from shared.decide.factory import (
    Classifier,
    chat_model_from_settings,
    mask_for_classification,
    rescan_evidence,
)
from shared.decide.local_classifier import LocalClassifier, shipped_text_model
from shared.decide.prompts import PROMPT_NAME, PromptVersion, load_manifest, load_prompt_version
from shared.decide.taxonomy import FALLBACK_THEME, Taxonomy, get_taxonomy
from shared.decide.text_model import TextModel, TrainingExample
from shared.enrich.enrichment import PII_CONFIG
from shared.enrich.masking import PiiMasker, get_masker
from shared.errors import ConfigError
from shared.evaluation.baseline import TfidfBaseline
from shared.evaluation.datasets import Dataset, EvalRecord
from shared.evaluation.metrics import (
    HEADLINE_METRICS,
    LOWER_IS_BETTER,
    REVIEW_RATE_METRIC,
    Prediction,
    gold_themes,
    metric,
    score,
)
from shared.models import make_record_id
from shared.settings import PROJECT_ROOT, Settings
from shared.storage import LocalStorage

logger = logging.getLogger(__name__)

PRICES_PATH = PROJECT_ROOT / "eval" / "prices.yaml"
PROVIDERS = ("local", "openai_compatible", "azure_openai")
CLASSIFY_CHUNK = 500
WEAKEST_THEMES = 3
MISSES_SHOWN = 3
MIN_SUPPORT_FOR_WEAKEST = 5


@dataclass(frozen=True, slots=True)
class CandidateSpec:
    """``provider[:prompt_version]``, e.g. ``local`` or ``azure_openai:v2``."""

    provider: str
    prompt_version: str | None = None

    @classmethod
    def parse(cls, text: str) -> CandidateSpec:
        provider, _, version = text.partition(":")
        if provider not in PROVIDERS:
            raise ConfigError(f"unknown provider {provider!r} (one of {', '.join(PROVIDERS)})")
        return cls(provider, version or None)

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.prompt_version}" if self.prompt_version else self.provider


def training_examples(records: Sequence[EvalRecord]) -> list[TrainingExample]:
    """A record without labels teaches "other", unless the dataset labels no themes."""
    themed = any(r.labels for r in records)
    return [
        TrainingExample(
            text=r.text,
            themes=(r.labels or (FALLBACK_THEME,)) if themed else (),
            sentiment=r.sentiment,
            theme_sentiment=tuple(r.theme_sentiment.items()),
        )
        for r in records
    ]


class MaskCache:
    """Masked texts by text hash, one file per dataset split: masking is the slow step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        if path.is_file():
            self.entries = orjson.loads(path.read_bytes())

    def mask(self, masker: PiiMasker, texts: Sequence[str]) -> tuple[list[str], int]:
        keys = [hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() for text in texts]
        todo = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self.entries}.items()
        )
        spans = 0
        if todo:
            masked, spans = mask_for_classification(masker, [text for _, text in todo])
            self.entries.update({key: text for (key, _), text in zip(todo, masked, strict=True)})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(orjson.dumps(self.entries))
        return [self.entries[key] for key in keys], spans


def prompt_for_taxonomy(config_dir: Path, version: str, taxonomy: Taxonomy) -> PromptVersion:
    """The prompt version with only the examples whose themes this taxonomy has."""
    default = get_taxonomy(config_dir)
    prompt = load_prompt_version(config_dir / PROMPT_NAME, version, default)
    if taxonomy is default:
        return prompt
    known = set(taxonomy.theme_ids)
    examples = tuple(
        e for e in prompt.examples if {t["theme"] for t in e.answer.get("themes", [])} <= known
    )
    return prompt.model_copy(update={"examples": examples})


def load_prices(path: Path = PRICES_PATH) -> dict[str, dict[str, float]]:
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(model): {k: float(v) for k, v in price.items()}
        for model, price in raw.get("models", {}).items()
    }


def cost_per_1k(
    stats: dict[str, Any], model: str, prices: dict[str, dict[str, float]]
) -> float | None:
    """USD per 1,000 records at the price table's per-million-token prices."""
    if not stats["model_calls"]:
        return 0.0
    price = prices.get(model)
    if price is None or not stats["records"]:
        return None
    uncached = stats["prompt_tokens"] - stats["cached_tokens"]
    cached_price = price.get("cached_input", price["input"])
    total = (
        uncached * price["input"]
        + stats["cached_tokens"] * cached_price
        + stats["completion_tokens"] * price["output"]
    ) / 1_000_000
    return total * 1000 / stats["records"]


class Evaluation:
    """One dataset's test split, masked once, scored for any number of candidates."""

    def __init__(
        self,
        dataset: Dataset,
        settings: Settings,
        cache_dir: Path,
        *,
        split: str = "test",
        prices: dict[str, dict[str, float]] | None = None,
    ) -> None:
        self.dataset = dataset
        self.settings = settings
        self.cache_dir = cache_dir
        self.taxonomy = dataset.taxonomy()
        self.train = dataset.records("train")
        self.test = dataset.records(split)  # type: ignore[arg-type]
        if not self.test:
            raise ConfigError(f"dataset {dataset.name!r} has no {split!r} records")
        self.split = split
        self.prices = load_prices() if prices is None else prices
        self.config_dir = Path(settings.config_dir)
        self.masker = get_masker(self.config_dir / PII_CONFIG)
        self._masked: tuple[list[str], int, float] | None = None
        self._trained: tuple[TextModel, float] | None = None

    def masked(self) -> tuple[list[str], int, float]:
        if self._masked is None:
            started = time.perf_counter()
            cache = MaskCache(self.cache_dir / "masked" / f"{self.dataset.name}-{self.split}.json")
            texts, spans = cache.mask(self.masker, [r.text for r in self.test])
            self._masked = (texts, spans, time.perf_counter() - started)
        return self._masked

    def text_model(self) -> tuple[TextModel | None, float]:
        if not self.train:
            # Nothing to train on: users of the default taxonomy get the shipped model.
            if self.dataset.spec.taxonomy != "default":
                return None, 0.0
            started = time.perf_counter()
            return shipped_text_model(self.config_dir), time.perf_counter() - started
        if self._trained is None:
            started = time.perf_counter()
            model = TextModel().fit(training_examples(self.train))
            self._trained = (model, time.perf_counter() - started)
        return self._trained

    def classifier(self, spec: CandidateSpec) -> tuple[Classifier, float]:
        if spec.provider == "local":
            model, seconds = self.text_model()
            local = LocalClassifier(
                self.taxonomy,
                min_confidence=self.settings.classify_min_confidence,
                text_model=model,
            )
            return local, seconds
        manifest = load_manifest(self.config_dir / PROMPT_NAME)
        version = spec.prompt_version or manifest.active
        settings = Settings(**{**self.settings.model_dump(), "llm_provider": spec.provider})
        storage = LocalStorage(self.cache_dir / "answers")
        classifier = LlmClassifier(
            self.taxonomy,
            prompt_for_taxonomy(self.config_dir, version, self.taxonomy),
            chat_model_from_settings(settings),
            batch_size=settings.classify_batch_size,
            min_confidence=settings.classify_min_confidence,
            retry_budget=settings.classify_retry_budget,
            cache=AnswerCache(storage, "eval"),
        )
        return classifier, 0.0

    def run(self, spec: CandidateSpec) -> dict[str, Any]:
        classifier, train_seconds = self.classifier(spec)
        masked, spans, mask_seconds = self.masked()
        ids = [make_record_id("eval", f"{self.dataset.name}/{r.id}") for r in self.test]
        started = time.perf_counter()
        outcome = ClassifyOutcome()
        for at in range(0, len(masked), CLASSIFY_CHUNK):
            items = [
                MaskedText(rid, text)
                for rid, text in zip(
                    ids[at : at + CLASSIFY_CHUNK], masked[at : at + CLASSIFY_CHUNK], strict=True
                )
            ]
            part = classifier.classify(items)
            outcome.classifications += part.classifications
            outcome.calls += part.calls
            outcome.cache_hits += part.cache_hits
        results, evidence_hits = rescan_evidence(self.masker, outcome.classifications)
        seconds = time.perf_counter() - started + mask_seconds
        by_id = {result.record_id: result for result in results}
        predictions = [Prediction.from_classification(by_id[rid]) for rid in ids]
        model = getattr(classifier, "model", spec.provider)
        model_name = model if isinstance(model, str) else getattr(model, "model", spec.provider)
        stats = self._stats(seconds, train_seconds, outcome, spans + evidence_hits)
        stats["cost_per_1k_records"] = cost_per_1k(stats, model_name, self.prices)
        return self._run_entry(
            spec.name,
            "candidate",
            spec.provider,
            model_name,
            spec.prompt_version,
            predictions,
            stats,
        )

    def run_baseline(self) -> dict[str, Any] | None:
        if not self.train:
            return None
        started = time.perf_counter()
        baseline = TfidfBaseline(self.taxonomy).fit(self.train)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predictions = baseline.predict(self.test)
        stats = self._stats(time.perf_counter() - started, train_seconds, ClassifyOutcome(), 0)
        stats["cost_per_1k_records"] = None
        return self._run_entry(
            baseline.name, "baseline", "baseline", baseline.name, None, predictions, stats
        )

    def _stats(
        self, seconds: float, train_seconds: float, outcome: ClassifyOutcome, spans: int
    ) -> dict[str, Any]:
        records = len(self.test)
        prompt = sum(c.prompt_tokens for c in outcome.calls)
        completion = sum(c.completion_tokens for c in outcome.calls)
        return {
            "records": records,
            "seconds": round(seconds, 3),
            "records_per_s": round(records / seconds, 1) if seconds else None,
            "train_seconds": round(train_seconds, 3),
            "model_calls": len(outcome.calls),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "cached_tokens": sum(c.cached_tokens for c in outcome.calls),
            "cache_hits": outcome.cache_hits,
            "masked_spans": spans,
            "tokens_per_1k_records": round((prompt + completion) * 1000 / records, 1),
            "currency": "USD",
        }

    def _run_entry(
        self,
        name: str,
        kind: str,
        provider: str,
        model: str,
        prompt_version: str | None,
        predictions: list[Prediction],
        stats: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "name": name,
            "kind": kind,
            "provider": provider,
            "model": model,
            "prompt_version": prompt_version,
            "metrics": score(self.test, predictions),
            "stats": stats,
            "_predictions": predictions,
        }

    def report(self, runs: Sequence[dict[str, Any]], command: str = "") -> dict[str, Any]:
        candidate = next((run for run in runs if run["kind"] == "candidate"), None)
        return {
            "dataset": {
                "name": self.dataset.name,
                "title": self.dataset.spec.title,
                "licence": self.dataset.spec.licence,
                "split": self.split,
                "records": len(self.test),
                "train_records": len(self.train),
                "taxonomy_version": self.taxonomy.version,
                "themes": [{"id": t.id, "owner": t.owner} for t in self.taxonomy.themes],
            },
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "command": command,
            "runs": [{k: v for k, v in run.items() if not k.startswith("_")} for run in runs],
            "weakest_themes": self.weakest_themes(candidate) if candidate else [],
        }

    def weakest_themes(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        """The lowest-F1 themes with some support, and records that show why."""
        per_theme = run["metrics"].get("themes", {}).get("per_theme", {})
        ranked = sorted(
            (item for item in per_theme.items() if item[1]["support"] >= MIN_SUPPORT_FOR_WEAKEST),
            key=lambda item: item[1]["f1"],
        )[:WEAKEST_THEMES]
        masked, _, _ = self.masked()
        out = []
        for theme, figures in ranked:
            misses = [
                {
                    "id": record.id,
                    "text": masked[i],
                    "expected": sorted(gold_themes(record)),
                    "predicted": answer.themes,
                }
                for i, (record, answer) in enumerate(
                    zip(self.test, run["_predictions"], strict=True)
                )
                if (theme in gold_themes(record)) != (theme in answer.themes)
            ][:MISSES_SHOWN]
            out.append(
                {
                    "theme": theme,
                    "run": run["name"],
                    "f1": figures["f1"],
                    "support": figures["support"],
                    "misses": misses,
                }
            )
        return out


# ------------------------------------------------------------------ comparing


def compare(
    a: dict[str, Any], b: dict[str, Any], *, dataset: str, tolerance: float
) -> dict[str, Any]:
    """B against A, metric by metric; ``regressed`` when B is worse beyond tolerance."""
    rows = []
    for dotted, label in (*HEADLINE_METRICS, REVIEW_RATE_METRIC):
        va, vb = metric(a["metrics"], dotted), metric(b["metrics"], dotted)
        if va is None or vb is None:
            continue
        delta = vb - va
        gain = -delta if dotted in LOWER_IS_BETTER else delta
        if gain < -tolerance:
            verdict = "regressed"
        elif abs(gain) < 1e-9:
            verdict = "same"
        else:
            verdict = "better" if gain > 0 else "worse"
        rows.append(
            {"metric": dotted, "label": label, "a": va, "b": vb, "delta": delta, "verdict": verdict}
        )
    return {
        "dataset": dataset,
        "a": a["name"],
        "b": b["name"],
        "tolerance": tolerance,
        "rows": rows,
        "regressed": any(row["verdict"] == "regressed" for row in rows),
    }


# ------------------------------------------------------------ baseline gate

BASELINES_DIR = PROJECT_ROOT / "eval" / "baselines"
GATED_METRICS = (*(dotted for dotted, _ in HEADLINE_METRICS), "review_rate")


def baseline_payload(report: dict[str, Any], run_name: str, tolerance: float) -> dict[str, Any]:
    run = next(r for r in report["runs"] if r["name"] == run_name)
    figures = {
        d: round(v, 4) for d in GATED_METRICS if (v := metric(run["metrics"], d)) is not None
    }
    return {
        "dataset": report["dataset"]["name"],
        "split": report["dataset"]["split"],
        "records": report["dataset"]["records"],
        "run": run_name,
        "tolerance": tolerance,
        "metrics": figures,
    }


def check_baseline(report: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    """What dropped beyond the committed baseline's tolerance (empty: the gate passes)."""
    run = next((r for r in report["runs"] if r["name"] == committed["run"]), None)
    if run is None:
        return [f"no run named {committed['run']!r} in the report"]
    problems = []
    if report["dataset"]["records"] != committed["records"]:
        problems.append(
            f"{committed['dataset']}: {report['dataset']['records']} records, the baseline has "
            f"{committed['records']} (dataset changed: update the baseline deliberately)"
        )
    for dotted, expected in committed["metrics"].items():
        value = metric(run["metrics"], dotted)
        if value is None:
            problems.append(f"{dotted}: missing (baseline {expected:.4f})")
            continue
        drop = (value - expected) if dotted in LOWER_IS_BETTER else (expected - value)
        if drop > committed["tolerance"]:
            problems.append(
                f"{dotted}: {value:.4f} vs baseline {expected:.4f} "
                f"(worse by {drop:.4f} > tolerance {committed['tolerance']:.4f})"
            )
    return problems


def baseline_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """One line per metric whose committed figure changes."""
    before = (old or {}).get("metrics", {})
    lines = []
    for dotted in sorted(set(before) | set(new["metrics"])):
        a, b = before.get(dotted), new["metrics"].get(dotted)
        if a != b:
            fa = "—" if a is None else f"{a:.4f}"
            fb = "—" if b is None else f"{b:.4f}"
            lines.append(f"{dotted}: {fa} -> {fb}")
    return lines


__all__ = [
    "BASELINES_DIR",
    "CandidateSpec",
    "Evaluation",
    "baseline_diff",
    "baseline_payload",
    "check_baseline",
    "compare",
    "cost_per_1k",
    "load_prices",
    "prompt_for_taxonomy",
    "training_examples",
]
