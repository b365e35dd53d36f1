"""Scores a classifier's answers against labelled records.

Pure functions over :class:`Prediction` (what any classifier said, baseline included)
and :class:`~shared.evaluation.datasets.EvalRecord` (what it should have said). A metric
whose labels the dataset lacks is left out, not reported as zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.decide.classification import Classification
from shared.decide.taxonomy import FALLBACK_THEME, SENTIMENTS
from shared.evaluation.datasets import EvalRecord

CONFUSED_PAIRS_SHOWN = 10


@dataclass(slots=True)
class Prediction:
    """What a classifier said about one record, reduced to what is scored."""

    themes: list[str]
    sentiment: str | None = None
    theme_sentiment: dict[str, str] = field(default_factory=dict)
    urgency: str | None = None
    owner: str | None = None
    needs_review: bool = False
    claims_kept: int = 0
    claims_dropped: int = 0

    @classmethod
    def from_classification(cls, result: Classification) -> Prediction:
        return cls(
            themes=[claim.theme for claim in result.themes],
            sentiment=result.sentiment,
            theme_sentiment={c.theme: c.sentiment for c in result.themes if c.sentiment},
            urgency=result.urgency,
            owner=result.recommended_owner,
            needs_review=result.needs_review,
            claims_kept=len(result.themes),
            claims_dropped=result.dropped_claims,
        )


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def gold_themes(record: EvalRecord) -> set[str]:
    # A labelled record without any theme is one that should be left as "other".
    return set(record.labels) or {FALLBACK_THEME}


def theme_metrics(gold: Sequence[EvalRecord], pred: Sequence[Prediction]) -> dict[str, Any]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confused: Counter[tuple[str, str]] = Counter()
    exact = top1 = 0
    jaccard = 0.0
    for record, answer in zip(gold, pred, strict=True):
        want, got = gold_themes(record), set(answer.themes)
        tp.update(want & got)
        fp.update(got - want)
        fn.update(want - got)
        exact += want == got
        top1 += bool(answer.themes) and answer.themes[0] in want
        jaccard += _ratio(len(want & got), len(want | got))
        confused.update((g, p) for g in want - got for p in got - want)
    per_theme = {}
    for theme in sorted(set(tp) | set(fp) | set(fn)):
        precision = _ratio(tp[theme], tp[theme] + fp[theme])
        recall = _ratio(tp[theme], tp[theme] + fn[theme])
        per_theme[theme] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": tp[theme] + fn[theme],
            "predicted": tp[theme] + fp[theme],
        }
    all_tp, all_fp, all_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro_p, micro_r = _ratio(all_tp, all_tp + all_fp), _ratio(all_tp, all_tp + all_fn)
    supported = [m["f1"] for m in per_theme.values() if m["support"]]
    n = len(gold)
    return {
        "micro_precision": micro_p,
        "micro_recall": micro_r,
        "micro_f1": _f1(micro_p, micro_r),
        "macro_f1": _ratio(sum(supported), len(supported)),
        "exact_match": _ratio(exact, n),
        "top1_accuracy": _ratio(top1, n),
        "jaccard": _ratio(jaccard, n),
        "per_theme": per_theme,
        "confused_pairs": [
            {"expected": g, "predicted": p, "count": count}
            for (g, p), count in confused.most_common(CONFUSED_PAIRS_SHOWN)
        ],
    }


def label_metrics(
    gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy and macro-F1 of one categorical answer (sentiment, urgency)."""
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))
    f1s = []
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        predicted = sum(p == label for p in pred)
        support = sum(g == label for g in gold)
        if support:
            f1s.append(_f1(_ratio(tp, predicted), _ratio(tp, support)))
    return {
        "accuracy": _ratio(correct, len(gold)),
        "macro_f1": _ratio(sum(f1s), len(f1s)),
        "count": len(gold),
    }


def polarity_metrics(gold: Sequence[EvalRecord], pred: Sequence[Prediction]) -> dict[str, Any]:
    """Per-theme feeling over the labelled (record, theme) pairs.

    ``accuracy`` counts a pair right when the theme was found with the right feeling
    (a missed theme is wrong); ``accuracy_when_found`` only asks the found ones.
    """
    pairs = found = right = 0
    for record, answer in zip(gold, pred, strict=True):
        for theme, polarity in record.theme_sentiment.items():
            pairs += 1
            if theme in answer.theme_sentiment:
                found += 1
                right += answer.theme_sentiment[theme] == polarity
    return {
        "accuracy": _ratio(right, pairs),
        "accuracy_when_found": _ratio(right, found),
        "pairs": pairs,
    }


def score(gold: Sequence[EvalRecord], pred: Sequence[Prediction]) -> dict[str, Any]:
    """Every metric the labels allow, plus review and evidence rates."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} records but {len(pred)} predictions")
    out: dict[str, Any] = {"records": len(gold)}
    if any(record.labels for record in gold):
        out["themes"] = theme_metrics(gold, pred)
    pairs = list(zip(gold, pred, strict=True))
    with_sentiment = [(r.sentiment, p.sentiment) for r, p in pairs if r.sentiment]
    if with_sentiment:
        out["sentiment"] = label_metrics(
            [g for g, _ in with_sentiment], [p for _, p in with_sentiment], SENTIMENTS
        )
    if any(record.theme_sentiment for record in gold):
        out["polarity"] = polarity_metrics(gold, pred)
    with_urgency = [(r.urgency, p.urgency) for r, p in pairs if r.urgency]
    if with_urgency:
        out["urgency"] = label_metrics(
            [g for g, _ in with_urgency], [p for _, p in with_urgency], ("low", "medium", "high")
        )
    with_owner = [(r.owner, p.owner) for r, p in pairs if r.owner]
    if with_owner:
        out["owner_accuracy"] = _ratio(sum(g == p for g, p in with_owner), len(with_owner))
    kept = sum(p.claims_kept for p in pred)
    dropped = sum(p.claims_dropped for p in pred)
    out["evidence_validity"] = _ratio(kept, kept + dropped) if kept + dropped else None
    out["review_rate"] = _ratio(sum(p.needs_review for p in pred), len(pred))
    return out


# The figures a comparison and the baseline gate look at, higher is better unless noted.
HEADLINE_METRICS: tuple[tuple[str, str], ...] = (
    ("themes.micro_f1", "theme micro-F1"),
    ("themes.macro_f1", "theme macro-F1"),
    ("themes.top1_accuracy", "main theme accuracy"),
    ("themes.exact_match", "exact match"),
    ("themes.jaccard", "theme agreement (Jaccard)"),
    ("sentiment.accuracy", "sentiment accuracy"),
    ("sentiment.macro_f1", "sentiment macro-F1"),
    ("polarity.accuracy", "theme polarity accuracy"),
    ("urgency.accuracy", "urgency accuracy"),
    ("owner_accuracy", "routing (owner) accuracy"),
    ("evidence_validity", "evidence validity"),
)
LOWER_IS_BETTER = frozenset({"review_rate"})
REVIEW_RATE_METRIC = ("review_rate", "review-queue rate")
_AFTER_POLARITY = [dotted for dotted, _ in HEADLINE_METRICS].index("polarity.accuracy") + 1
# What reports show: the headline figures, polarity of found themes, and the review rate.
REPORT_METRICS: tuple[tuple[str, str], ...] = (
    *HEADLINE_METRICS[:_AFTER_POLARITY],
    ("polarity.accuracy_when_found", "polarity when theme found"),
    *HEADLINE_METRICS[_AFTER_POLARITY:],
    REVIEW_RATE_METRIC,
)


def metric(metrics: dict[str, Any], dotted: str) -> float | None:
    """``metrics["themes"]["micro_f1"]`` for ``"themes.micro_f1"``; None when absent."""
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return None
        node = node[part]
    return float(node)


__all__ = [
    "HEADLINE_METRICS",
    "LOWER_IS_BETTER",
    "REPORT_METRICS",
    "REVIEW_RATE_METRIC",
    "Prediction",
    "gold_themes",
    "label_metrics",
    "metric",
    "polarity_metrics",
    "score",
    "theme_metrics",
]
