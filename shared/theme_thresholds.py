"""Per-theme claim thresholds for the offline text model, chosen by cross-validation.

Each training fold's model scores the held-out fold clause by clause; a theme's support
in a text is its best clause probability, and its threshold is the one on a fixed grid
that gives the best F1 for that theme over all held-out folds (ties: the higher
threshold, fewer extra themes). The result is shipped beside the training file
(``prompts/training/thresholds.json``) so that loading the model stays a single fit:

    .venv/bin/python -m shared.theme_thresholds prompts
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson

from shared.text_model import TextModel, TrainingExample

THRESHOLDS_FILE = Path("training") / "thresholds.json"
GRID = tuple(round(t, 2) for t in np.arange(0.15, 0.81, 0.05))
FOLDS = 5


def held_out_support(
    examples: Sequence[TrainingExample], folds: int = FOLDS, seed: int = 0
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Theme classes, gold (records x themes, 0/1) and held-out best-clause probability."""
    order = np.random.default_rng(seed).permutation(len(examples))
    classes = sorted({t for e in examples for t in e.themes})
    gold = np.zeros((len(examples), len(classes)))
    support = np.zeros((len(examples), len(classes)))
    for i, example in enumerate(examples):
        for theme in example.themes:
            gold[i, classes.index(theme)] = 1
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        model = TextModel().fit([examples[i] for i in train])
        texts = [examples[i].text for i in test]
        _, _, per_clause = model.clause_probabilities(texts, model.features.transform(texts))
        for row, clause_rows in zip(test, per_clause, strict=True):
            for j, theme in enumerate(model.theme_classes):
                support[row, classes.index(theme)] = float(clause_rows[:, j].max())
    return classes, gold, support


def choose_thresholds(examples: Sequence[TrainingExample], folds: int = FOLDS) -> dict[str, float]:
    """Per theme: the grid threshold with the best held-out F1 (see the module doc)."""
    classes, gold, support = held_out_support(examples, folds)
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
    path = Path(config_dir) / THRESHOLDS_FILE
    if not path.is_file():
        return {}
    return {str(k): float(v) for k, v in orjson.loads(path.read_bytes()).items()}


def main(argv: Sequence[str] | None = None) -> None:
    from shared.local_classifier import TRAINING_FILE, load_training_examples
    from shared.taxonomy import get_taxonomy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config_dir", type=Path, help="folder holding training/feedback.jsonl")
    args = parser.parse_args(argv)
    examples = load_training_examples(
        args.config_dir / TRAINING_FILE, get_taxonomy(args.config_dir)
    )
    chosen = choose_thresholds(examples)
    (args.config_dir / THRESHOLDS_FILE).write_bytes(
        orjson.dumps(chosen, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    print(orjson.dumps(chosen, option=orjson.OPT_SORT_KEYS).decode())


if __name__ == "__main__":
    main()


__all__ = ["THRESHOLDS_FILE", "choose_thresholds", "held_out_support", "load_thresholds"]
