"""Per-theme claim thresholds for the offline text model, chosen by cross-validation.

Each training fold's model scores the held-out fold clause by clause; a theme's support
in a text is its best clause probability, and its threshold is the one on a fixed grid
that gives the best F1 for that theme over all held-out folds (ties: the higher
threshold, fewer extra themes). The result is shipped beside the training file
(``prompts/training/thresholds.json``) so that loading the model stays a single fit:

    .venv/bin/python -m shared.decide.theme_thresholds prompts
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from shared.decide.text_model import TextModel, TrainingExample

THRESHOLDS_FILE = Path("training") / "thresholds.json"
GRID = tuple(round(t, 2) for t in np.arange(0.15, 0.81, 0.05))
FOLDS = 5
CURVE_POINTS = 101


def held_out_support(
    examples: Sequence[TrainingExample], folds: int = FOLDS, seed: int = 0
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Theme classes, gold (records x themes, 0/1), held-out best-clause and whole-text
    probabilities."""
    order = np.random.default_rng(seed).permutation(len(examples))
    classes = sorted({t for e in examples for t in e.themes})
    gold = np.zeros((len(examples), len(classes)))
    support = np.zeros((len(examples), len(classes)))
    whole_text = np.zeros((len(examples), len(classes)))
    for i, example in enumerate(examples):
        for theme in example.themes:
            gold[i, classes.index(theme)] = 1
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        model = TextModel().fit([examples[i] for i in train])
        texts = [examples[i].text for i in test]
        _, whole, _, per_clause = model.clause_probabilities(texts)
        for k, (row, clause_rows) in enumerate(zip(test, per_clause, strict=True)):
            for j, theme in enumerate(model.theme_classes):
                support[row, classes.index(theme)] = float(clause_rows[:, j].max())
                whole_text[row, classes.index(theme)] = float(whole[k, j])
    return classes, gold, support, whole_text


def confidence_curve(gold: np.ndarray, whole_text: np.ndarray) -> dict[str, list[float]]:
    """How often the model's best theme is right, by its probability (held out).

    The record's confidence is this precision rather than the raw one-vs-rest probability,
    which spreads thin over many themes: review then takes the claims that are wrong as
    often as the review threshold says. A logistic curve on the probability's log-odds
    (Platt scaling; two parameters) rather than an isotonic step function: on the
    shipped training file its cross-validated log loss is lower (0.565 against 0.597),
    and a step no longer moves whole blocks of records across the review threshold.
    Shipped as points on a 0.01 grid, read by linear interpolation.
    """
    from sklearn.linear_model import LogisticRegression

    best = whole_text.argmax(axis=1)
    top = whole_text[np.arange(len(best)), best]
    right = gold[np.arange(len(best)), best]
    fitted = LogisticRegression(C=1e6).fit(_log_odds(top).reshape(-1, 1), right)
    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    precision = fitted.predict_proba(_log_odds(grid).reshape(-1, 1))[:, 1]
    return {
        "probability": [round(float(x), 4) for x in grid],
        "precision": [round(float(y), 4) for y in precision],
    }


def _log_odds(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(clipped / (1 - clipped))


def choose(examples: Sequence[TrainingExample], folds: int = FOLDS) -> dict[str, object]:
    """The shipped file's content: per-theme thresholds and the confidence curve."""
    classes, gold, support, whole_text = held_out_support(examples, folds)
    return {
        "thresholds": _best_thresholds(classes, gold, support),
        "confidence": confidence_curve(gold, whole_text),
    }


def choose_thresholds(examples: Sequence[TrainingExample], folds: int = FOLDS) -> dict[str, float]:
    """Per theme: the grid threshold with the best held-out F1 (see the module doc)."""
    classes, gold, support, _ = held_out_support(examples, folds)
    return _best_thresholds(classes, gold, support)


def _best_thresholds(classes: list[str], gold: np.ndarray, support: np.ndarray) -> dict[str, float]:
    chosen = {}
    for j, theme in enumerate(classes):
        best, best_f1 = GRID[-1], -1.0
        for threshold in GRID:
            claimed = support[:, j] >= threshold
            tp = float((claimed & (gold[:, j] == 1)).sum())
            f1 = 2 * tp / max(float(claimed.sum() + gold[:, j].sum()), 1.0)
            if f1 >= best_f1:
                best, best_f1 = threshold, f1
        chosen[theme] = float(best)
    return chosen


def load_thresholds(config_dir: Path) -> dict[str, float]:
    """The shipped thresholds of ``<config_dir>/training/thresholds.json``; {} if absent."""
    shipped = _shipped(config_dir)
    return {str(k): float(v) for k, v in shipped.get("thresholds", {}).items()}


def load_confidence_curve(config_dir: Path) -> tuple[list[float], list[float]] | None:
    """The shipped (probability, precision) curve; None if absent."""
    curve = _shipped(config_dir).get("confidence")
    if not curve:
        return None
    return [float(x) for x in curve["probability"]], [float(y) for y in curve["precision"]]


def _shipped(config_dir: Path) -> dict[str, Any]:
    path = Path(config_dir) / THRESHOLDS_FILE
    return orjson.loads(path.read_bytes()) if path.is_file() else {}


def main(argv: Sequence[str] | None = None) -> None:
    from shared.decide.local_classifier import TRAINING_FILE, load_training_examples
    from shared.decide.taxonomy import get_taxonomy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config_dir", type=Path, help="folder holding training/feedback.jsonl")
    args = parser.parse_args(argv)
    examples = load_training_examples(
        args.config_dir / TRAINING_FILE, get_taxonomy(args.config_dir)
    )
    chosen = choose(examples)
    (args.config_dir / THRESHOLDS_FILE).write_bytes(
        orjson.dumps(chosen, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    print(orjson.dumps(chosen, option=orjson.OPT_SORT_KEYS).decode())


if __name__ == "__main__":
    main()


__all__ = [
    "THRESHOLDS_FILE",
    "choose",
    "choose_thresholds",
    "confidence_curve",
    "held_out_support",
    "load_confidence_curve",
    "load_thresholds",
]
