"""Evaluation report rendering: numbers, gaps, escaping and a self-contained HTML page."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

from shared.evaluation.report import (
    render_compare_html,
    render_compare_markdown,
    render_html,
    render_markdown,
)

SAMPLE: dict[str, Any] = {
    "dataset": {
        "name": "semeval2014-restaurants",
        "title": "SemEval-2014 restaurants, aspect categories with polarity",
        "licence": "research use",
        "split": "test",
        "records": 800,
        "train_records": 3044,
        "taxonomy_version": "semeval2014-restaurants-eval",
        "themes": [
            {"id": "food", "owner": "kitchen"},
            {"id": "service", "owner": "front_of_house"},
        ],
    },
    "generated_at": "2026-11-27T08:00:00Z",
    "command": "insightloop eval semeval2014-restaurants --data-dir ../shared/eval",
    "runs": [
        {
            "name": "local",
            "kind": "candidate",
            "provider": "local",
            "model": "local-rules-svm",
            "prompt_version": None,
            "metrics": {
                "records": 800,
                "themes": {
                    "micro_precision": 0.88,
                    "micro_recall": 0.84,
                    "micro_f1": 0.8624,
                    "macro_f1": 0.8473,
                    "exact_match": 0.7575,
                    "top1_accuracy": 0.8975,
                    "jaccard": 0.8391,
                    "per_theme": {
                        "food": {
                            "precision": 0.9,
                            "recall": 0.88,
                            "f1": 0.89,
                            "support": 418,
                            "predicted": 409,
                        },
                        "service": {
                            "precision": 0.85,
                            "recall": 0.8,
                            "f1": 0.82,
                            "support": 172,
                            "predicted": 162,
                        },
                    },
                    "confused_pairs": [
                        {"expected": "miscellaneous", "predicted": "food", "count": 31}
                    ],
                },
                "sentiment": {"accuracy": 0.765, "macro_f1": 0.61, "count": 800},
                "polarity": {"accuracy": 0.68, "accuracy_when_found": 0.78, "pairs": 1025},
                "urgency": {"accuracy": 0.7, "macro_f1": 0.6, "count": 120},
                "owner_accuracy": 0.8773,
                "evidence_validity": 1.0,
                "review_rate": 0.12,
            },
            "stats": {
                "records": 800,
                "seconds": 9.1,
                "records_per_s": 87.9,
                "train_seconds": 6.2,
                "model_calls": 0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "cached_tokens": 0,
                "cache_hits": 0,
                "masked_spans": 3,
                "tokens_per_1k_records": 0,
                "cost_per_1k_records": 0.0,
                "currency": "USD",
            },
        },
        {
            "name": "tfidf-logreg",
            "kind": "baseline",
            "provider": "baseline",
            "model": "tfidf-logreg",
            "prompt_version": None,
            "metrics": {
                "records": 800,
                "themes": {
                    "micro_precision": 0.86,
                    "micro_recall": 0.81,
                    "micro_f1": 0.8332,
                    "macro_f1": 0.7837,
                    "exact_match": 0.735,
                    "top1_accuracy": 0.8875,
                    "jaccard": 0.814,
                    "per_theme": {
                        "food": {
                            "precision": 0.88,
                            "recall": 0.86,
                            "f1": 0.87,
                            "support": 418,
                            "predicted": 409,
                        },
                        "service": {
                            "precision": 0.8,
                            "recall": 0.78,
                            "f1": 0.79,
                            "support": 172,
                            "predicted": 168,
                        },
                    },
                    "confused_pairs": [],
                },
                "sentiment": {"accuracy": 0.7238, "macro_f1": 0.5725, "count": 800},
                "polarity": {"accuracy": 0.6088, "accuracy_when_found": 0.7, "pairs": 1025},
                "owner_accuracy": 0.8723,
                "evidence_validity": None,
                "review_rate": 0.0,
            },
            "stats": {
                "records": 800,
                "seconds": 0.4,
                "records_per_s": 2000.0,
                "train_seconds": 10.4,
                "model_calls": 0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "cached_tokens": 0,
                "cache_hits": 0,
                "masked_spans": 0,
                "tokens_per_1k_records": 0,
                "cost_per_1k_records": None,
                "currency": "USD",
            },
        },
    ],
    "weakest_themes": [
        {
            "theme": "miscellaneous",
            "run": "local",
            "f1": 0.71,
            "support": 234,
            "misses": [
                {
                    "id": "x1",
                    "text": "We went on a Tuesday.",
                    "expected": ["miscellaneous"],
                    "predicted": ["food"],
                }
            ],
        }
    ],
}

COMPARISON: dict[str, Any] = {
    "dataset": "semeval2014-restaurants",
    "a": "local",
    "b": "llm-gpt",
    "tolerance": 0.01,
    "rows": [
        {"metric": "themes.micro_f1", "label": "theme micro-F1", "a": 0.86, "b": 0.84,
         "delta": -0.02, "verdict": "regressed"},
        {"metric": "themes.macro_f1", "label": "theme macro-F1", "a": 0.80, "b": 0.76,
         "delta": -0.04, "verdict": "regressed"},
        {"metric": "sentiment.accuracy", "label": "sentiment accuracy", "a": 0.70, "b": 0.75,
         "delta": 0.05, "verdict": "better"},
        {"metric": "owner_accuracy", "label": "routing (owner) accuracy", "a": 0.87, "b": 0.87,
         "delta": 0.0, "verdict": "same"},
        {"metric": "evidence_validity", "label": "evidence validity", "a": 1.0, "b": 0.995,
         "delta": -0.005, "verdict": "worse"},
        {"metric": "urgency.accuracy", "label": "urgency accuracy", "a": None, "b": 0.6,
         "delta": None, "verdict": "same"},
    ],
    "regressed": True,
}  # fmt: skip

HOSTILE = "<script>alert(1)</script> | pipe\nsecond line\r\nthird [link](x) `code`"
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


def row(markdown: str, label: str) -> list[str]:
    """The cells of the Markdown table row whose first cell is ``label``."""
    for line in markdown.splitlines():
        if line.startswith(f"| {label} |"):
            return [cell.strip() for cell in UNESCAPED_PIPE.split(line)[1:-1]]
    raise AssertionError(f"no row {label!r} in:\n{markdown}")


def table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


class TagBalance(HTMLParser):
    """Fails on a closing tag that does not match the open one (void elements aside)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "line", "rect"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def parse(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


# --- Markdown report ---------------------------------------------------------------------


def test_markdown_title_and_facts() -> None:
    md = render_markdown(sample())
    assert md.startswith(
        "# Evaluation: SemEval-2014 restaurants, aspect categories with polarity\n"
    )
    assert "- **dataset:** semeval2014-restaurants" in md
    assert "- **split:** test" in md
    assert "- **records:** 800 scored, 3,044 train" in md
    assert "- **licence:** research use" in md
    assert "- **generated:** 2026-11-27T08:00:00Z" in md
    assert "- **command:** insightloop eval semeval2014-restaurants --data-dir ../shared/eval" in md


def test_markdown_headline_numbers_deltas_and_order() -> None:
    md = render_markdown(sample())
    assert "| metric | local | tfidf-logreg |" in md
    assert row(md, "theme micro-F1") == [
        "theme micro-F1",
        "0.862 (+0.029 vs tfidf-logreg)",
        "0.833",
    ]
    assert row(md, "theme macro-F1")[1:] == ["0.847 (+0.064 vs tfidf-logreg)", "0.784"]
    assert row(md, "sentiment accuracy")[1:] == ["0.765 (+0.041 vs tfidf-logreg)", "0.724"]
    assert row(md, "polarity when theme found")[1:] == ["0.780 (+0.080 vs tfidf-logreg)", "0.700"]
    assert row(md, "review-queue rate")[1:] == ["0.120 (+0.120 vs tfidf-logreg)", "0.000"]
    # The baseline lacks urgency: no delta, and its cell is a dash.
    assert row(md, "urgency accuracy")[1:] == ["0.700", "—"]
    labels = [
        "theme micro-F1",
        "theme macro-F1",
        "main theme accuracy",
        "exact match",
        "theme agreement (Jaccard)",
        "sentiment accuracy",
        "sentiment macro-F1",
        "theme polarity accuracy",
        "polarity when theme found",
        "urgency accuracy",
        "routing (owner) accuracy",
        "evidence validity",
        "review-queue rate",
    ]
    positions = [md.index(f"| {label} |") for label in labels]
    assert positions == sorted(positions)


def test_candidate_column_first_and_negative_delta() -> None:
    report = sample()
    report["runs"].reverse()  # baseline listed first by the harness
    report["runs"][1]["metrics"]["themes"]["micro_f1"] = 0.80
    md = render_markdown(report)
    assert "| metric | local | tfidf-logreg |" in md
    assert row(md, "theme micro-F1")[1:] == ["0.800 (-0.033 vs tfidf-logreg)", "0.833"]


def test_no_baseline_means_no_deltas() -> None:
    report = sample()
    del report["runs"][1]
    md = render_markdown(report)
    assert row(md, "theme micro-F1") == ["theme micro-F1", "0.862"]
    assert " vs " not in md


def test_dataset_without_sentiment_has_no_sentiment_rows() -> None:
    report = sample()
    for run in report["runs"]:
        del run["metrics"]["sentiment"]
        del run["metrics"]["polarity"]
    report["runs"][0]["metrics"].pop("urgency")
    md = render_markdown(report)
    html_page = render_html(report)
    for label in (
        "sentiment accuracy",
        "sentiment macro-F1",
        "theme polarity accuracy",
        "polarity when theme found",
        "urgency accuracy",
    ):
        assert label not in md
        assert label not in html_page
    assert row(md, "theme micro-F1")[1] == "0.862 (+0.029 vs tfidf-logreg)"


def test_none_values_render_as_dash() -> None:
    report = sample()
    local = report["runs"][0]
    local["metrics"]["themes"]["micro_f1"] = None
    local["metrics"]["themes"]["per_theme"]["food"]["recall"] = None
    local["stats"]["records_per_s"] = None
    md = render_markdown(report)
    assert row(md, "theme micro-F1")[1:] == ["—", "0.833"]
    assert row(md, "evidence validity")[1:] == ["1.000", "—"]
    assert row(md, "records/s")[1:] == ["—", "2,000.0"]
    assert row(md, "cost per 1k records")[1:] == ["0.0000 USD", "—"]
    assert row(md, "food")[2:5] == ["0.900", "—", "0.890"]
    assert "None" not in md
    assert "None" not in render_html(report)


def test_all_missing_metric_row_is_skipped() -> None:
    report = sample()
    for run in report["runs"]:
        run["metrics"]["evidence_validity"] = None
    assert "evidence validity" not in render_markdown(report)


def test_sparse_and_malformed_reports_do_not_crash() -> None:
    for report in (
        {},
        {"runs": None, "dataset": None},
        {"runs": [{"name": "x"}], "weakest_themes": [{"misses": [{}]}]},
        {"runs": [{"name": "x", "kind": "candidate", "metrics": {"themes": {"micro_f1": "n/a"}}}]},
        {"runs": [{"kind": "candidate", "metrics": {"themes": {"confused_pairs": [None]}}}]},
    ):
        md = render_markdown(report)
        page = render_html(report)
        assert md.startswith("# Evaluation: ")
        assert "None" not in md
        parse(page)
    assert "No runs in this report." in render_markdown({})


def test_per_theme_sorted_by_support() -> None:
    report = sample()
    report["runs"][0]["metrics"]["themes"]["per_theme"]["ambience"] = {
        "precision": 0.5, "recall": 0.4, "f1": 0.44, "support": 900, "predicted": 700,
    }  # fmt: skip
    md = render_markdown(report)
    assert "| theme | support | local P | local R | local F1 | tfidf-logreg P |" in md
    assert md.index("| ambience |") < md.index("| food |") < md.index("| service |")
    assert row(md, "food") == ["food", "418", "0.900", "0.880", "0.890", "0.880", "0.860", "0.870"]
    # The baseline never saw ambience: its cells are dashes, not zeros.
    assert row(md, "ambience")[5:] == ["—", "—", "—"]


def test_confused_pairs_for_candidates_only() -> None:
    md = render_markdown(sample())
    section = md.split("## Most confused theme pairs", 1)[1].split("## Weakest themes", 1)[0]
    assert "### local" in section
    assert "| miscellaneous → food | 31 |" in section
    assert "tfidf-logreg" not in section


def test_weakest_themes_show_at_most_three_truncated_misses() -> None:
    report = sample()
    report["weakest_themes"][0]["misses"] = [
        {"id": f"m{i}", "text": "slow " * 100, "expected": ["service"], "predicted": []}
        for i in range(5)
    ]
    md = render_markdown(report)
    assert "### miscellaneous (local): F1 0.710, support 234" in md
    assert [f"| m{i} |" in md for i in range(5)] == [True, True, True, False, False]
    text = row(md, "m0")[1]
    assert len(text) == 200
    assert text.endswith("…")
    assert row(md, "m0")[2:] == ["service", "—"]


def test_markdown_escapes_hostile_feedback() -> None:
    report = sample()
    report["weakest_themes"][0]["misses"][0]["text"] = HOSTILE
    report["weakest_themes"][0]["misses"][0]["expected"] = ["a|b"]
    md = render_markdown(report)
    assert "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "\\[link\\](x)" in md
    # Every table line keeps exactly as many cell borders as its header line.
    lines = table_lines(md.split("## Weakest themes", 1)[1])
    assert len(lines) == 3
    assert {len(UNESCAPED_PIPE.findall(line)) for line in lines} == {5}
    cells = row(md, "x1")
    assert cells[1].startswith("&lt;script&gt;alert(1)&lt;/script&gt; \\| pipe second line third")
    assert cells[2] == "a\\|b"


def test_markdown_escapes_run_and_theme_names() -> None:
    report = sample()
    report["runs"][0]["name"] = "evil|<b>run</b>"
    report["runs"][0]["metrics"]["themes"]["per_theme"]["<img src=x>"] = {"f1": 0.1, "support": 1}
    md = render_markdown(report)
    assert "<b>" not in md
    assert "<img" not in md
    assert "| metric | evil\\|&lt;b&gt;run&lt;/b&gt; | tfidf-logreg |" in md
    header = next(line for line in md.splitlines() if line.startswith("| metric |"))
    assert len(UNESCAPED_PIPE.findall(header)) == 4


# --- HTML report ---------------------------------------------------------------------------


def test_html_is_one_self_contained_page() -> None:
    page = render_html(sample())
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<title>Evaluation: SemEval-2014 restaurants" in page
    assert "<style>" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "<link" not in page
    assert " src=" not in page
    tags = parse(page).tags
    assert tags.count("svg") == 2  # headline bars and per-theme F1 bars
    assert "rect" in tags


def test_html_has_same_content_as_markdown() -> None:
    page = render_html(sample())
    assert "0.862 (+0.029 vs tfidf-logreg)" in page
    assert "0.0000 USD" in page
    assert "Most confused theme pairs" in page
    assert "We went on a Tuesday." in page
    assert 'title="expected miscellaneous, predicted food: 31"' in page
    assert ">31</td>" in page


def test_html_charts_have_bars_labels_and_hover_titles() -> None:
    page = render_html(sample())
    headline = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "<title>local · theme micro-F1: 0.862</title>" in headline
    assert "<title>tfidf-logreg · theme micro-F1: 0.833</title>" in headline
    assert ">0.862</text>" in headline
    # Candidate in colour, baseline grey.
    assert 'fill="#0072b2"' in headline
    assert 'fill="#8c8c8c"' in headline
    # 0.8624 of a 380px scale.
    assert 'width="327.7"' in headline
    themes = page.split("<svg", 2)[2].split("</svg>", 1)[0]
    assert themes.index("food (418)") < themes.index("service (172)")
    assert "<title>local · food (418): 0.890</title>" in themes


def test_html_escapes_hostile_feedback() -> None:
    report = sample()
    report["weakest_themes"][0]["misses"][0]["text"] = HOSTILE
    report["runs"][0]["name"] = '"><script>alert(2)</script>'
    report["runs"][0]["metrics"]["themes"]["confused_pairs"][0]["expected"] = "<i>x</i>"
    page = render_html(report)
    assert "<script" not in page
    assert "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    parse(page)


# --- comparison ----------------------------------------------------------------------------


def test_compare_markdown_summary_and_symbols() -> None:
    md = render_compare_markdown(copy.deepcopy(COMPARISON))
    assert md.startswith("# Comparison on semeval2014-restaurants: A local vs B llm-gpt\n")
    assert "**B regresses on 2 metric(s) beyond tolerance 0.010**" in md
    assert "| metric | A: local | B: llm-gpt | delta | verdict |" in md
    assert row(md, "theme micro-F1") == [
        "theme micro-F1",
        "0.860",
        "0.840",
        "-0.020",
        "✖ regressed",
    ]
    assert row(md, "sentiment accuracy")[3:] == ["+0.050", "▲ better"]
    assert row(md, "routing (owner) accuracy")[3:] == ["+0.000", "= same"]
    assert row(md, "evidence validity")[3:] == ["-0.005", "▼ worse"]
    assert row(md, "urgency accuracy")[1:] == ["—", "0.600", "—", "= same"]


def test_compare_without_regression() -> None:
    comparison = copy.deepcopy(COMPARISON)
    comparison["rows"] = [r for r in comparison["rows"] if r["verdict"] != "regressed"]
    comparison["regressed"] = False
    md = render_compare_markdown(comparison)
    assert "**no regression beyond tolerance 0.010**" in md
    assert "✖" not in md
    page = render_compare_html(comparison)
    assert '<p class="summary good">no regression beyond tolerance 0.010</p>' in page


def test_compare_html_is_escaped_and_self_contained() -> None:
    comparison = copy.deepcopy(COMPARISON)
    comparison["b"] = "<script>alert(3)</script>"
    page = render_compare_html(comparison)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert '<p class="summary bad">B regresses on 2 metric(s) beyond tolerance 0.010</p>' in page
    assert '<tr class="regressed">' in page
    assert "✖ regressed" in page
    assert "▲ better" in page
    parse(page)


def test_compare_tolerates_missing_fields() -> None:
    md = render_compare_markdown({"rows": [{"metric": "x", "verdict": "odd|one"}]})
    assert "no regression beyond tolerance —" in md
    assert row(md, "x") == ["x", "—", "—", "—", "? odd\\|one"]
    assert "No metrics to compare." in render_compare_markdown({})
