"""Measure: score classifier candidates on labelled datasets against a committed baseline.

Reads eval/datasets/*.yaml and their data, the classifiers of decide; writes eval reports and
eval/baselines/ (``insightloop eval``).
"""

from shared.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "command": ("add_eval_parser",),
        "datasets": ("load_dataset",),
        "harness": ("CandidateSpec", "Evaluation"),
    },
)
