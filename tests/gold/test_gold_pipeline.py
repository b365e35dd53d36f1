"""The Gold pipeline (databricks/) run for real on OSS Spark over a hand-built landing.

One local run per module (``spark-pipelines run`` + the emerging-themes task) over 28
feedback records in ten weeks: three products, two channels, two languages, records
with two themes, one in review, a replayed file, a human override, a canary prompt
version and a few broken rows. Every expected number below is worked out by hand from
the table in :data:`RECORDS`.

The reporting date is the latest feedback day, Sunday 2026-03-01. Weeks start on Monday:
W0 = 2026-02-23 (the alert week), W1 = 02-16, ... W9 = 2025-12-22. The current 28-day
window is W0-W3, the previous one W4-W7, and the alert baseline W1-W8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from shared.act.callbacks import RoutingEvent
from shared.act.routing import RoutingActionEvent
from shared.act.routing import event_id as routing_event_id
from shared.gold.local import EXPORT_TASK, LOCAL_RUNNER, bundle_module
from shared.insights import Insight, InsightExport

REPO = Path(__file__).resolve().parents[2]


# databricks/ is not a package: its modules load by path, as the CLI loads them.
gold_local = bundle_module("gold_local", LOCAL_RUNNER)
export_insights = bundle_module("export_insights", EXPORT_TASK)
settings = bundle_module("insightloop_gold_settings", EXPORT_TASK.with_name("settings.py"))


W0 = date(2026, 2, 23)


def day(week: int, weekday: int = 2, hour: int = 10) -> datetime:
    """A time in week ``week`` (0 = the alert week, counting back); weekday 0 = Monday."""
    when = W0 - timedelta(weeks=week) + timedelta(days=weekday)
    return datetime(when.year, when.month, when.day, hour, tzinfo=UTC)


def rid(label: str) -> str:
    """A readable 32-hex record id: the label's bytes in hex, zero padded."""
    return label.encode().hex().ljust(32, "0")


def ids(*labels: str) -> list[str]:
    return [rid(label) for label in labels]


@dataclass(frozen=True)
class Rec:
    """One feedback record and the classification it lands with."""

    label: str
    created_at: datetime
    product: str
    channel: str
    language: str
    segment: str
    rating: int | None
    sentiment: str
    urgency: str
    owner: str
    confidence: float
    text: str
    # theme -> (evidence quote, the sentiment about that theme)
    themes: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def record_id(self) -> str:
        return rid(self.label)

    @property
    def week(self) -> int:
        return -((self.created_at.date() - W0).days // 7)


def _rec(*fields: Any, **themes: str) -> Rec:
    """``Rec(*fields)`` with themes given as theme="quote" (the record's sentiment) or
    theme="quote|sentiment"."""
    rec = Rec(*fields)
    claims = {
        theme: (quote.split("|")[0], quote.split("|")[1] if "|" in quote else rec.sentiment)
        for theme, quote in themes.items()
    }
    return replace(rec, themes=claims)


QUALITY = "The blade wobbles and the jug cracked after a week."
PAYMENT = "Card payment declined twice at checkout."
BX, CP, KM = "Blender X", "Coffee Pro", "Kettle Mini"

# fmt: off
RECORDS = {r.label: r for r in [
    # A1..A8: product_quality on Blender X, one a week in W1..W8 (a steady baseline), and
    # A9..A11 Mon-Wed of W0. Volume z = (3 - 1) / 1 = 2 < 3: must NOT alert.
    *(_rec(f"a{n}", day(n), BX, "review", "en", "consumer", 2, "negative", "medium", "product",
           0.9, QUALITY, product_quality="jug cracked") for n in range(1, 9)),
    *(_rec(f"a{n}", day(0, n - 9), BX, "review", "en", "consumer", 2, "negative", "medium",
           "product", 0.9, QUALITY, product_quality="jug cracked") for n in (9, 10, 11)),
    # S: shipping tickets on Coffee Pro (business, German) in W0; s2 and s4 spell the
    # segment " Business " and "B2B" (an alias): Silver folds both into "business". s4 lands as
    # pricing_billing; a reviewer overrides it to shipping (see build_landing).
    _rec("s1", day(0, 0, 9), CP, "ticket", "de", "business", None, "negative", "high",
         "logistics", 0.8, "Paket seit zwei Wochen nicht geliefert.", shipping="nicht geliefert"),
    _rec("s2", day(0, 1, 9), CP, "ticket", "de", " Business ", None, "negative", "high",
         "logistics", 0.8, "Lieferung kam beschädigt und zu spät an.", shipping="zu spät"),
    _rec("s4", day(0, 4, 9), CP, "ticket", "de", "B2B", None, "negative", "medium",
         "billing", 0.7, "Die Rechnung stimmt, aber das Paket fehlt noch.",
         pricing_billing="Die Rechnung"),
    # K: Kettle Mini reviews; k1 and k2 carry two themes with opposite sentiments.
    _rec("k1", day(5), KM, "review", "en", "business", 3, "mixed", "medium", "product", 0.9,
         "Lid broke quickly but I love the colour.",
         product_quality="Lid broke|negative", praise="love the colour|positive"),
    _rec("k2", day(9, 1), KM, "review", "en", "consumer", 3, "mixed", "medium", "logistics", 0.9,
         "Delivery was slow, the support agent was lovely.",
         shipping="Delivery was slow|negative", customer_service="agent was lovely|positive"),
    _rec("k3", day(0, 3), KM, "review", "de", "consumer", 5, "positive", "low", "marketing", 0.9,
         "Wunderschön und schnell, sehr zufrieden.", praise="sehr zufrieden"),
    # P: checkout_payment tickets on Kettle Mini in W1, W2 (current window) and W5.
    *(_rec(f"p{n}", day(week), KM, "ticket", "en", "consumer", None, "negative", "high",
           "payments", 0.9, PAYMENT, checkout_payment="payment declined")
      for n, week in ((1, 1), (2, 2), (3, 5))),
    # O: "other" (no theme fits) about the barcode scanner crashing the app; G: gift wrap.
    _rec("o1", day(6), BX, "review", "en", "consumer", 1, "negative", "medium", "customer_care",
         0.65, "Barcode scanner app crash on the box label.", other="app crash"),
    _rec("o2", day(1, 3), BX, "review", "en", "consumer", 1, "negative", "medium",
         "customer_care", 0.65,
         "The app crash happens when the barcode scanner opens, <PERSON_1> could not help.",
         other="app crash"),
    _rec("o3", day(0, 0, 15), BX, "review", "en", "consumer", 1, "negative", "medium",
         "customer_care", 0.65, "Barcode scanner crash: the app closes every time.",
         other="scanner crash"),
    _rec("o4", day(0, 6), BX, "review", "en", "consumer", 1, "negative", "medium",
         "customer_care", 0.65, "App crash again with the barcode scanner, please fix.",
         other="App crash"),
    _rec("g1", day(2), BX, "review", "en", "consumer", 4, "neutral", "low", "customer_care",
         0.65, "Please offer gift wrapping for orders.", other="gift wrapping"),
    _rec("g2", day(3), BX, "review", "en", "consumer", 4, "neutral", "low", "customer_care",
         0.65, "No gift wrapping option for my orders.", other="gift wrapping"),
]}
# r1 waits in review (confidence 0.3); x1 has rating 9 and no classification.
REVIEW = _rec("r1", day(0, 4, 11), KM, "review", "en", "consumer", 3, "neutral", "low",
              "customer_care", 0.3, "Hmm, not sure what to think honestly.", other="not sure")
INVALID = _rec("x1", day(3, 1), BX, "review", "en", "consumer", 9, "positive", "low",
               "marketing", 0.9, "Ten out of ten would buy again.")
ORPHAN = _rec("orphan", day(3), BX, "review", "en", "consumer", 5, "positive", "low",
              "marketing", 0.9, "Great.", praise="Great")
# fmt: on
ORPHAN_ID = "f" * 32  # the orphan's classification lands under an id no feedback has
# NPS answers of the product_quality records around the routed fix (gold_outcomes).
NPS = {"a6": 3, "a7": 9, "a8": 6, "a3": 10, "a2": 9, "a1": 7, "a9": 2, "a10": 10}
# Each week's files land on its Sunday at noon; then the reviewer, then the canary.
OVERRIDE_AT = day(0, 6, 13)
CANARY_AT = day(0, 6, 14)


# ------------------------------------------------------------------ landing files


def _feedback_row(rec: Rec, received_at: datetime) -> dict[str, Any]:
    german = rec.language == "de"
    return {
        "schema_version": "1.0",
        "record_id": rec.record_id,
        "source": "reviews" if rec.channel == "review" else "tickets",
        "channel": rec.channel,
        "source_event_id": rec.label,
        "created_at": _iso(rec.created_at),
        "received_at": _iso(received_at),
        "text": rec.text,
        "title": None,
        "rating": rec.rating,
        "nps_score": NPS.get(rec.label),
        "product": rec.product,
        "sku": None,
        "product_category": "kitchen",
        "region": "EU" if german else "United Kingdom",
        "locale": "de-DE" if german else "en-GB",
        "language": rec.language,
        "language_confidence": 0.99,
        "customer_segment": rec.segment,
        "order_value": None,
        "metadata": {"tags": "fixture"},
    }


def _claim(text: str, theme: str, quote: str, sentiment: str, method: str = "llm") -> dict:
    start = text.index(quote)
    return {
        "theme": theme,
        "evidence": quote,
        "start": start,
        "end": start + len(quote),
        "method": method,
        "sentiment": sentiment,
    }


def _classification(rec: Rec, classified_at: datetime, **changes: Any) -> dict[str, Any]:
    row = {
        "schema_version": "1.0",
        "record_id": rec.record_id,
        "themes": [_claim(rec.text, t, q, s) for t, (q, s) in rec.themes.items()],
        "sentiment": rec.sentiment,
        "urgency": rec.urgency,
        "recommended_owner": rec.owner,
        "confidence": rec.confidence,
        "method": "llm",
        "taxonomy_version": "2026-11-27",
        "prompt_version": "v1",
        "model": "gpt-test",
        "needs_review": False,
        "review_reasons": [],
        "dropped_claims": 0,
        "reviewed_by": None,
        "classified_at": _iso(classified_at),
    }
    return {**row, **changes}


def _iso(stamp: datetime) -> str:
    return stamp.isoformat().replace("+00:00", "Z")


def _write(landing: Path, dataset: str, name: str, rows: list[Any], at: datetime) -> None:
    folder = landing / dataset / f"ingest_date={at.date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
    (folder / f"{name}.jsonl").write_text(text)


def build_landing(landing: Path) -> None:
    """One feedback and one classified file per week, then the replay of W0, the review
    queue, the override, the canary answers and the broken rows."""
    for week in sorted({r.week for r in RECORDS.values()}):
        recs = [r for r in RECORDS.values() if r.week == week]
        at = day(week, weekday=6, hour=12)
        feedback: list[Any] = [_feedback_row(r, at) for r in recs]
        classified: list[Any] = [_classification(r, at + timedelta(minutes=5)) for r in recs]
        if week == 3:  # a rating of 9, a truncated line, and a classification of nothing
            feedback += [_feedback_row(INVALID, at), '{"record_id": "broken", "text": ']
            classified.append({**_classification(ORPHAN, at), "record_id": ORPHAN_ID})
        _write(landing, "feedback", f"week{week}-00001", feedback, at)
        _write(landing, "classified", f"week{week}-00001", classified, at)
        if week == 0:  # the same records landed again by a later run
            replay = [_feedback_row(r, at + timedelta(hours=1)) for r in recs]
            _write(landing, "feedback", "replay-00001", replay, at)
            _write(landing, "classified", "replay-00001", classified, at)
    review_at = REVIEW.created_at + timedelta(hours=1)
    _write(landing, "feedback", "review-00001", [_feedback_row(REVIEW, review_at)], review_at)
    in_review = _classification(
        REVIEW, review_at, needs_review=True, review_reasons=["confidence 0.30 is below 0.60"]
    )
    _write(landing, "review", "review-00001", [in_review], review_at)

    s4, a11 = RECORDS["s4"], RECORDS["a11"]
    human = _classification(
        s4,
        OVERRIDE_AT,
        themes=[_claim(s4.text, "shipping", "das Paket fehlt", "negative", method="human")],
        method="human",
        confidence=1.0,
        recommended_owner="logistics",
        reviewed_by="ana@example.com",
    )
    _write(landing, "classified", "override-130000-0001", [human], OVERRIDE_AT)
    # No audit file lands: bronze_audit proves that a dataset nothing has landed in yet
    # reads as empty (as routing_events does on a first deploy).
    # The v2 canary answers later than the override: it agrees with v1 on s4 (the human
    # still wins) and adds a theme to a11 (the latest answer, so a11 takes it).
    a11_v2 = _classification(a11, CANARY_AT, prompt_version="v2")
    a11_v2["themes"].append(_claim(a11.text, "performance_bugs", "blade wobbles", "negative"))
    canary = [_classification(s4, CANARY_AT, prompt_version="v2", confidence=0.9), a11_v2]
    _write(landing, "classified", "canary-v2-00001", canary, CANARY_AT)
    quality_event = {
        "schema_version": "1.0",
        "run_id": "week0",
        "source": "reviews",
        "input_name": "reviews/week0.csv",
        "batch": 1,
        "kind": "batch",
        "passed": True,
        "action": "landed",
        "checks": [{"name": "empty_text", "passed": True, "observed": 0.0, "expected": "<= 0.20"}],
        "summary": "reviews: quality gate passed",
        "profile": {"rows_in": 9},
        "quarantine_path": None,
        "created_at": _iso(day(0, 6, 12)),
    }
    _write(landing, "quality_events", "week0", [quality_event], day(0, 6, 12))
    _write_routing_events(landing)


# Routed insights (gold_outcomes): QUALITY is routed to Jira and Slack in W6, reassigned
# in Slack three hours later, and resolved in Jira as W4's Sunday begins.
ROUTED_AT = day(6, 6, 12)  # Sunday 2026-01-18 12:00
TRIAGED_AT = ROUTED_AT + timedelta(hours=3)
RESOLVED_AT = day(4, 6, 0)  # Sunday 2026-02-01 00:00: the after window is W3-W0, whole
SHIPPED_AT = day(0, 6, 16)  # SHIPPING goes to ServiceNow after W0's data: nothing after
DECLINED_AT = day(2, 6, 12)  # PAYMENTS goes to Teams in W2 and is rejected in Slack


def _insight_key(theme: str, product: str, segment: str, at: datetime) -> str:
    monday = at.date() - timedelta(days=at.weekday())
    return Insight(
        theme=theme,
        product=product,
        segment=segment,
        window_start=monday,
        window_end=monday + timedelta(days=6),
        volume=3,
        negative_share=1.0,
        severity="high",
        confidence=0.9,
    ).insight_key


QUALITY_KEY = _insight_key("product_quality", BX, "consumer", ROUTED_AT)
SHIPPING_KEY = _insight_key("shipping", CP, "business", SHIPPED_AT)
PAYMENTS_KEY = _insight_key("checkout_payment", KM, "consumer", DECLINED_AT)
PRAISE_KEY = _insight_key("praise", KM, "consumer", SHIPPED_AT)


def _action(key: str, destination: str, action: str, at: datetime, **fields: Any) -> str:
    theme, product, segment, when = {
        QUALITY_KEY: ("product_quality", BX, "consumer", ROUTED_AT),
        SHIPPING_KEY: ("shipping", CP, "business", SHIPPED_AT),
        PAYMENTS_KEY: ("checkout_payment", KM, "consumer", DECLINED_AT),
        PRAISE_KEY: ("praise", KM, "consumer", SHIPPED_AT),
    }[key]
    monday = when.date() - timedelta(days=when.weekday())
    return RoutingActionEvent(
        event_id=routing_event_id(key, destination, action),
        insight_key=key,
        theme=theme,
        product=product,
        segment=segment,
        window_start=monday,
        window_end=monday + timedelta(days=6),
        destination=destination,
        action=action,
        sink=destination if destination != "review" else "landing",
        run_id=f"run-{when:%Y%m%d}",
        exported_at=when,
        at=at,
        **fields,
    ).model_dump_json()


def _callback(source: str, key: str, action: str, at: datetime, **fields: Any) -> str:
    return RoutingEvent.create(
        source,
        f"{source}-{key}-{action}",
        action=action,
        insight_key=key,
        occurred_at=at,
        received_at=at + timedelta(seconds=2),
        **fields,
    ).model_dump_json()


def _write_routing_events(landing: Path) -> None:
    jira = "https://acme.atlassian.net/browse/QUAL-7"
    routed = [
        _action(
            QUALITY_KEY,
            "jira",
            "created",
            ROUTED_AT,
            external_id="QUAL-7",
            external_url=jira,
            owner="product",
        ),
        _action(
            QUALITY_KEY,
            "slack",
            "created",
            ROUTED_AT + timedelta(minutes=1),
            external_id="C01:1737201660.000100",
            owner="product",
        ),
        _action(PAYMENTS_KEY, "teams", "created", DECLINED_AT, owner="payments"),
        _action(
            SHIPPING_KEY,
            "servicenow",
            "created",
            SHIPPED_AT,
            external_id="INC0010001",
            owner="logistics",
        ),
        _action(SHIPPING_KEY, "jira", "failed", SHIPPED_AT, reason="jira answered 503"),
        # Low confidence: queued for review, never acted on, so no outcome row.
        _action(PRAISE_KEY, "review", "review", SHIPPED_AT, reason="confidence 0.40 < 0.60"),
    ]
    _write(landing, "routing_events", "routing-00001", routed, SHIPPED_AT)
    reassigned = _callback(
        "slack", QUALITY_KEY, "reassign", TRIAGED_AT, actor="U1", new_owner="quality"
    )
    rejected = _callback(
        "slack", PAYMENTS_KEY, "reject", DECLINED_AT + timedelta(hours=1), actor="U2"
    )
    resolved = _callback("jira", QUALITY_KEY, "resolved", RESOLVED_AT, actor="5b10ac8d")
    _write(
        landing, "routing_events", "callbacks-00001", [reassigned, rejected, resolved], RESOLVED_AT
    )
    # Jira delivered the resolution twice: the same event id lands in a second file.
    _write(landing, "routing_events", "callbacks-00002", [resolved], RESOLVED_AT)


# ------------------------------------------------------------------------- the run


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not gold_local.java_available():
        pytest.skip("Spark needs a Java 17 runtime and none was found (java, JAVA_HOME)")
    root = tmp_path_factory.mktemp("gold")
    build_landing(root / "landing")
    # Three records in a week are enough to alert in a fixture this small.
    config = {
        "insightloop.alerts.min_volume": "3",
        "insightloop.aliases.customer_segment": '{"B2B": "business"}',
    }
    return gold_local.run_local(
        root / "landing", root / "work", config=config, small_input=True, timeout_s=600
    )


def naive(stamp: datetime) -> datetime:
    """A UTC time as parquet hands it back (timestamps are stored UTC, without a zone)."""
    return stamp.replace(tzinfo=None)


def rows(gold: dict[str, Path], table: str) -> list[dict[str, Any]]:
    return pq.read_table(gold[table]).to_pylist()


def by(items: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [row for row in items if all(row[key] == value for key, value in match.items())]


def test_every_dataset_is_materialized(gold: dict[str, Path]) -> None:
    layers = {name.split("_", 1)[0] for name in gold}
    assert layers == {"bronze", "silver", "gold"}
    assert {name for name in gold if name.startswith("gold_")} == {
        "gold_alerts",
        "gold_drift",
        "gold_emerging_themes",
        "gold_insights",
        "gold_negative_share",
        "gold_outcomes",
        "gold_theme_impact",
        "gold_theme_volume",
        "gold_ticket_drivers",
    }


def test_replayed_file_keeps_one_row_per_record(gold: dict[str, Path]) -> None:
    # 28 records + 1 malformed line, and the 9 W0 records landed a second time.
    assert len(rows(gold, "bronze_feedback")) == 29 + 9
    silver = rows(gold, "silver_feedback")
    assert len(silver) == 29
    copies = {row["record_id"]: row["landed_copies"] for row in silver}
    assert copies[rid("a9")] == copies[rid("o4")] == 2
    assert copies[rid("a1")] == copies[rid("k2")] == 1
    # The replay carries a later received_at: the latest landing is the one kept.
    kept = by(silver, record_id=rid("a9"))[0]
    assert kept["_source_file"].endswith("replay-00001.jsonl")


def test_human_override_wins_over_a_newer_model_answer(gold: dict[str, Path]) -> None:
    s4 = by(rows(gold, "silver_classifications"), record_id=rid("s4"))[0]
    assert s4["method"] == "human" and s4["is_human_override"]
    assert s4["theme_ids"] == ["shipping"]
    assert s4["recommended_owner"] == "logistics"
    assert s4["reviewed_by"] == "ana@example.com"
    # v1 answer, its replay, the override, and the later v2 canary answer.
    assert s4["landed_answers"] == 4
    # Without a human, the latest answer wins: a11 takes the v2 canary's two themes.
    a11 = by(rows(gold, "silver_classifications"), record_id=rid("a11"))[0]
    assert (a11["prompt_version"], a11["theme_ids"]) == (
        "v2",
        ["product_quality", "performance_bugs"],
    )


def test_record_themes_explode_decided_classifications_only(gold: dict[str, Path]) -> None:
    themes = rows(gold, "silver_record_themes")
    # 27 decided records (r1 waits in review): 10 + a11 2 + s 3 + k 5 + p 3 + o 4 + g 2 + orphan 1.
    assert len(themes) == 30
    assert not by(themes, record_id=rid("r1"))
    k1 = {row["theme"]: row for row in by(themes, record_id=rid("k1"))}
    assert {t: (r["theme_rank"], r["theme_sentiment"]) for t, r in k1.items()} == {
        "product_quality": (0, "negative"),
        "praise": (1, "positive"),
    }
    assert k1["praise"]["evidence"] == "love the colour"
    assert (k1["praise"]["product"], k1["praise"]["language"], k1["praise"]["rating"]) == (
        "Kettle Mini",
        "en",
        3,
    )


def test_theme_volume_by_week_and_day(gold: dict[str, Path]) -> None:
    volume = rows(gold, "gold_theme_volume")
    weekly = {
        (W0 - r["period_start"]).days // 7: r
        for r in by(volume, grain="week", theme="product_quality")
    }
    # A1..A8 one a week, A9..A11 in W0, k1 in W5; the calendar runs W9..W0 (k2 is W9).
    assert [weekly[w]["records"] for w in range(10)] == [3, 1, 1, 1, 1, 2, 1, 1, 1, 0]
    assert (weekly[0]["wow_delta"], weekly[0]["velocity"]) == (2, 2.0)
    assert (weekly[4]["wow_delta"], weekly[4]["velocity"]) == (-1, -0.5)
    assert weekly[0]["negative_share"] == 1.0
    shipping = {r["period_start"]: r for r in by(volume, grain="week", theme="shipping")}
    # s1, s2 and the overridden s4; nothing the week before, so no velocity.
    assert (shipping[W0]["records"], shipping[W0]["wow_delta"], shipping[W0]["velocity"]) == (
        3,
        3,
        None,
    )
    # Days compare with the same weekday a week earlier: a11 (Wed 02-25) vs a1 (02-18).
    wednesday = by(volume, grain="day", theme="product_quality", period_start=date(2026, 2, 25))[0]
    assert (wednesday["records"], wednesday["records_week_before"], wednesday["velocity"]) == (
        1,
        1,
        0.0,
    )


def test_negative_share_by_segment(gold: dict[str, Path]) -> None:
    share = {
        (r["dimension"], r["dimension_value"]): r
        for r in by(rows(gold, "gold_negative_share"), week_start=W0)
    }
    # W0 decided records: a9-a11, s1, s2, s4, o3, o4 negative; k3 positive; r1 in review.
    expected = {
        ("product", "Coffee Pro"): (3, 3),
        ("product", "Blender X"): (5, 5),
        ("product", "Kettle Mini"): (1, 0),
        ("language", "de"): (4, 3),
        ("channel", "review"): (6, 5),
        ("segment", "business"): (3, 3),
        ("region", "EU"): (4, 3),
        ("region", "GB"): (5, 5),  # "United Kingdom": a country name becomes its ISO code
    }
    for key, (records, negative) in expected.items():
        assert (share[key]["records"], share[key]["negative_records"]) == (records, negative), key
        assert share[key]["negative_share"] == pytest.approx(negative / records)


def test_insights_rank_quote_evidence_and_name_an_owner(gold: dict[str, Path]) -> None:
    insights = sorted(rows(gold, "gold_insights"), key=lambda r: r["rank"])
    # "other" (5 records on Blender X) is left to gold_emerging_themes; p1+p2 are 2 < 3.
    assert [(r["theme"], r["product"], r["segment"]) for r in insights] == [
        ("product_quality", "Blender X", "consumer"),
        ("shipping", "Coffee Pro", "business"),
    ]
    quality, shipping = insights
    # a9-a11, a1, a2, a3 now; a4-a7 in the window before: +50%.
    assert (quality["volume"], quality["previous_volume"], quality["velocity"]) == (6, 4, 0.5)
    # All negative, all medium urgency: 2/3, which is "high".
    assert (quality["severity_score"], quality["severity"]) == (pytest.approx(2 / 3), "high")
    assert quality["urgency_high"] == 0
    assert quality["priority"] == pytest.approx(6 * 2 / 3 * 1.5)
    assert [q["record_id"] for q in quality["evidence"]] == ids("a11", "a10", "a9", "a1", "a2")
    # Exists only because of the override (s4): 3 records, none before.
    assert (shipping["volume"], shipping["previous_volume"], shipping["velocity"]) == (3, 0, None)
    assert shipping["severity_score"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    assert (shipping["severity"], shipping["urgency_high"]) == ("critical", 2)  # s1, s2
    assert shipping["priority"] == pytest.approx(3 * (8 / 9) * 2)
    assert shipping["confidence"] == pytest.approx((0.8 + 0.8 + 1.0) / 3)
    # Negative first, then the surest (the reviewer's 1.0), then the newest.
    assert [(q["record_id"], q["quote"]) for q in shipping["evidence"]] == [
        (rid("s4"), "das Paket fehlt"),
        (rid("s2"), "zu spät"),
        (rid("s1"), "nicht geliefert"),
    ]
    assert shipping["suggested_owner"] == "logistics"
    assert (shipping["period_start"], shipping["period_end"]) == (
        date(2026, 2, 2),
        date(2026, 3, 1),
    )
    assert len({r["insight_id"] for r in insights}) == 2
    # Routing's key: the ISO week of as_of (Monday 02-23 to Sunday 03-01), hashed the same.
    for row in insights:
        assert (row["window_start"], row["window_end"]) == (W0, date(2026, 3, 1))
        key = _insight_key(row["theme"], row["product"], row["segment"], day(0))
        assert row["insight_key"] == key


def test_alerts_fire_on_departure_from_own_baseline_only(gold: dict[str, Path]) -> None:
    alerts = rows(gold, "gold_alerts")
    # shipping on Coffee Pro / business: 3 this week vs 0 for 8 weeks -> z = 3 / 1 = 3.
    # product_quality on Blender X / consumer: 3 vs a steady 1 a week -> z = 2: no alert.
    assert sorted(
        (a["dimension"], a["dimension_value"], a["theme"], a["metric"]) for a in alerts
    ) == [
        ("product", "Coffee Pro", "shipping", "volume"),
        ("segment", "business", "shipping", "volume"),
    ]
    for alert in alerts:
        assert (alert["current_value"], alert["baseline_value"], alert["z_score"]) == (
            3.0,
            0.0,
            3.0,
        )
        assert (alert["period_start"], alert["period_end"]) == (W0, date(2026, 3, 1))
        assert (alert["baseline_start"], alert["baseline_end"]) == (
            date(2025, 12, 29),
            date(2026, 2, 22),
        )


def test_ticket_drivers_rank_themes_by_ticket_volume(gold: dict[str, Path]) -> None:
    drivers = {r["theme"]: r for r in rows(gold, "gold_ticket_drivers")}
    assert set(drivers) == {"shipping", "checkout_payment"}
    shipping, payment = drivers["shipping"], drivers["checkout_payment"]
    assert (shipping["rank"], shipping["tickets"], shipping["trend_delta"]) == (1, 3, 3)
    assert shipping["share_of_tickets"] == pytest.approx(3 / 5)
    assert shipping["high_urgency_share"] == pytest.approx(2 / 3)  # s4 is medium
    # p1, p2 now vs p3 in the previous window.
    assert (payment["rank"], payment["tickets"], payment["previous_tickets"], payment["trend"]) == (
        2,
        2,
        1,
        1.0,
    )


def test_theme_impact_of_removing_a_theme(gold: dict[str, Path]) -> None:
    impact = by(rows(gold, "gold_theme_impact"), theme="product_quality", segment="all")[0]
    # 26 decided records, 20 rated (sum 45); product_quality: a1-a11 + k1, rated sum 25.
    assert (impact["theme_records"], impact["segment_records"]) == (12, 26)
    assert impact["avg_rating"] == pytest.approx(45 / 20)
    assert impact["avg_rating_without_theme"] == pytest.approx(20 / 8)
    assert impact["rating_change_if_removed"] == pytest.approx(2.5 - 2.25)
    # 21 negative records, 11 of them mention product_quality (k1 is mixed).
    assert impact["negative_share_change_if_removed"] == pytest.approx(10 / 14 - 21 / 26)


def test_drift_review_rate_and_canary_agreement(gold: dict[str, Path]) -> None:
    drift = by(rows(gold, "gold_drift"), week_start=W0)
    metric = {(r["metric"], r["dimension"]): r for r in drift}
    # W0: 10 classified records, r1 in review.
    assert metric[("review_rate", "all")]["value"] == pytest.approx(0.1)
    # v1 and v2 both answered s4 (same themes) and a11 (v2 added a theme).
    themes = metric[("canary_themes_agreement", "v1 vs v2")]
    assert (themes["value"], themes["records"]) == (0.5, 2)
    assert metric[("canary_sentiment_agreement", "v1 vs v2")]["value"] == 1.0
    assert metric[("language_share", "de")]["value"] == pytest.approx(4 / 10)
    # Theme mentions W0: product_quality 3, shipping 3, other 2, performance_bugs 1, praise 1;
    # W1: product_quality, checkout_payment, other. TVD = (0.3-1/3 | 0.3 | 0.2-1/3 | 0.1 |
    # 0.1 | 1/3 in absolute values) / 2 = 1.0 / 2.
    assert metric[("theme_mix_tvd", "all")]["value"] == pytest.approx(0.5)


def test_expectation_violations_are_counted_not_dropped(gold: dict[str, Path]) -> None:
    failed = {
        (r["dataset"], r["expectation"]): (r["failed_rows"], r["rows_checked"])
        for r in rows(gold, "silver_expectations")
    }
    # The malformed line fails the four rules that need a parsed row; x1 has rating 9.
    assert failed[("silver_feedback", "valid_record_id")] == (1, 29)
    assert failed[("silver_feedback", "parsed_cleanly")] == (1, 29)
    assert failed[("silver_feedback", "has_created_at")] == (1, 29)
    assert failed[("silver_feedback", "known_channel")] == (1, 29)
    assert failed[("silver_feedback", "rating_in_range")] == (1, 29)
    assert failed[("silver_feedback", "nps_in_range")] == (0, 29)
    assert failed[("silver_record_themes", "has_feedback")] == (1, 30)  # the orphan
    assert all(
        count == 0 for (name, _), (count, _) in failed.items() if name == "silver_classifications"
    )
    # Kept, not dropped: the broken rows are still in Silver.
    assert by(rows(gold, "silver_feedback"), rating=9)
    assert by(rows(gold, "silver_record_themes"), record_id=ORPHAN_ID)


def test_emerging_themes_cluster_unexplained_feedback(gold: dict[str, Path]) -> None:
    candidates = rows(gold, "silver_emerging_candidates")
    assert sorted(r["record_id"] for r in candidates) == sorted(
        ids("o1", "o2", "o3", "o4", "g1", "g2", "r1")
    )
    clusters = rows(gold, "gold_emerging_themes")
    barcode = [c for c in clusters if "barcode" in c["top_terms"]]
    assert len(barcode) == 1, clusters
    # o2-o4 in the current window, o1 in the previous one.
    assert (barcode[0]["records"], barcode[0]["previous_records"], barcode[0]["growth"]) == (
        3,
        1,
        2.0,
    )
    assert {q["record_id"] for q in barcode[0]["quotes"]} == set(ids("o2", "o3", "o4"))
    # PII placeholders ("<PERSON_1>") never become topic terms.
    assert not any("person" in term for c in clusters for term in c["top_terms"])


def test_a_dataset_nothing_has_landed_in_reads_as_empty(gold: dict[str, Path]) -> None:
    # The run succeeded and the table exists, with no rows (and no files to give a schema).
    assert rows(gold, "bronze_audit") == []


def test_routing_events_of_both_writers_land_in_one_bronze_table(gold: dict[str, Path]) -> None:
    events = rows(gold, "bronze_routing_events")
    # Six routing actions, three callbacks, and the resolution delivered twice.
    assert len(events) == 10
    assert len({e["event_id"] for e in events}) == 9
    assert all(e["_rescued_data"] is None for e in events)
    assert {(e["kind"], e["action"]) for e in events if e["source"] != "routing"} == {
        ("insight_decision", "reassign"),
        ("insight_decision", "reject"),
        ("fix_recorded", "resolved"),
    }


def test_outcomes_measure_each_routed_insight_before_and_after_its_fix(
    gold: dict[str, Path],
) -> None:
    outcomes = {row["insight_key"]: row for row in rows(gold, "gold_outcomes")}
    # The praise insight only went to the review queue: no action, no outcome.
    assert set(outcomes) == {QUALITY_KEY, SHIPPING_KEY, PAYMENTS_KEY}

    quality = outcomes[QUALITY_KEY]
    assert (quality["theme"], quality["product"], quality["segment"]) == (
        "product_quality",
        BX,
        "consumer",
    )
    # The ticket beats the chat message; the Slack reassign names the owner.
    assert (quality["destination"], quality["external_id"], quality["owner"]) == (
        "jira",
        "QUAL-7",
        "quality",
    )
    assert quality["external_url"] == "https://acme.atlassian.net/browse/QUAL-7"
    assert (quality["routed_at"], quality["triaged_at"], quality["resolved_at"]) == (
        naive(ROUTED_AT),
        naive(TRIAGED_AT),
        naive(RESOLVED_AT),
    )
    assert quality["status"] == "resolved"
    assert quality["hours_to_triage"] == pytest.approx(3.0)
    assert quality["hours_to_resolution"] == pytest.approx(13.5 * 24)
    # 28 days before routing: a6, a7, a8. 28 days after the fix: a3, a2, a1, a9, a10, a11.
    assert (quality["volume_before"], quality["volume_after"]) == (3, 6)
    assert quality["after_window_complete"] is True
    assert quality["volume_per_day_before"] == pytest.approx(3 / 28)
    assert quality["volume_per_day_after"] == pytest.approx(6 / 28)
    assert quality["volume_change"] == pytest.approx(1.0)
    # Equal rates: 6 of 9 records where 4.5 were expected, sd 1.5, z = 1.
    assert quality["volume_p_value"] == pytest.approx(0.3173105, abs=1e-6)
    # All negative on both sides: no change to test, and too few records anyway.
    assert (quality["negative_share_before"], quality["negative_share_after"]) == (1.0, 1.0)
    assert (quality["negative_share_delta"], quality["p_value"]) == (0.0, None)
    assert quality["significant"] is False
    # NPS before: a7 promoter, a6 and a8 detractors = -33.3; after (a11 unscored): a3, a2,
    # a10 promoters, a9 detractor, a1 passive = +40.
    assert quality["nps_before"] == pytest.approx(-100 / 3)
    assert quality["nps_after"] == pytest.approx(40.0)
    assert quality["nps_delta"] == pytest.approx(40 + 100 / 3)
    assert (quality["rating_before"], quality["rating_after"], quality["rating_delta"]) == (
        2.0,
        2.0,
        0.0,
    )

    shipping = outcomes[SHIPPING_KEY]  # routed after the last feedback: nothing after yet
    assert (shipping["destination"], shipping["external_id"], shipping["owner"]) == (
        "servicenow",
        "INC0010001",
        "logistics",
    )
    assert (shipping["status"], shipping["triaged_at"], shipping["resolved_at"]) == (
        "open",
        None,
        None,
    )
    assert (shipping["volume_before"], shipping["negative_share_before"]) == (3, 1.0)  # s1 s2 s4
    assert (shipping["volume_after"], shipping["volume_per_day_after"]) == (None, None)
    assert (shipping["hours_to_resolution"], shipping["after_window_complete"]) == (None, False)

    payments = outcomes[PAYMENTS_KEY]
    assert (payments["destination"], payments["status"]) == ("teams", "rejected")
    assert payments["hours_to_triage"] == pytest.approx(1.0)
    assert payments["volume_before"] == 2  # p3 (W5) and p2 (W2)


def test_export_commits_one_json_document(gold: dict[str, Path], tmp_path: Path) -> None:
    document = export_insights.insights_document(
        rows(gold, "gold_insights"), run_id="run-7", generated_at=datetime(2026, 3, 2, tzinfo=UTC)
    )
    path = export_insights.commit_export(document, tmp_path, "run-7")
    assert path == tmp_path / "insights" / "run-7.json"
    exported = json.loads(path.read_text())
    assert (exported["run_id"], exported["as_of"], exported["insight_count"]) == (
        "run-7",
        "2026-03-01",
        2,
    )
    assert [i["theme"] for i in exported["insights"]] == ["product_quality", "shipping"]
    assert exported["insights"][1]["evidence"][0]["record_id"] == rid("s4")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["run-7.json"]
    # Routing reads it under its own contract, and keys each insight as Gold does.
    contract = InsightExport.model_validate_json(path.read_bytes())
    keys = {row["theme"]: row["insight_key"] for row in rows(gold, "gold_insights")}
    assert {i.theme: i.insight_key for i in contract.insights} == keys
    assert contract.insights[1].severity == "critical" and contract.insights[1].velocity is None
    # Re-exporting the run replaces the file with the same insights.
    export_insights.commit_export(document, tmp_path, "run-7")
    assert json.loads(path.read_text()) == exported


def test_a_rerun_starts_from_the_landing_and_keeps_only_logs_and_conf(tmp_path: Path) -> None:
    # An incremental OSS rerun left Gold empty (datasets resolved as outside tables), so
    # each local run drops the previous tables, checkpoints and metastore first.
    for state in ("spark-warehouse/gold_insights", "storage/checkpoints", "metastore_db", "conf"):
        (tmp_path / state).mkdir(parents=True)
    (tmp_path / "pipeline.log").write_text("previous run")
    gold_local._forget_previous_run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf", "pipeline.log"]


def test_export_refuses_an_unsafe_run_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="safe file name"):
        export_insights.commit_export(b"{}", tmp_path, "../escape")


# ------------------------------------------------------------- without Spark


def test_settings_default_to_autoloader_and_documented_values() -> None:
    found = settings.PipelineSettings.from_conf({"insightloop.landing_path": "abfss://l@a/"})
    assert (found.source, found.landing_path, found.as_of) == ("autoloader", "abfss://l@a", None)
    assert (found.window_days, found.alert_sensitivity, found.alert_min_volume) == (28, 3.0, 5)


def test_settings_parse_tunables_and_reporting_date() -> None:
    conf = {
        "insightloop.source": "files",
        "insightloop.landing_path": "/landing",
        "insightloop.as_of": "2026-03-01",
        "insightloop.alerts.sensitivity": "2.5",
        "insightloop.window_days": " 14 ",
    }
    found = settings.PipelineSettings.from_conf(conf)
    assert (found.source, found.as_of, found.alert_sensitivity, found.window_days) == (
        "files",
        date(2026, 3, 1),
        2.5,
        14,
    )


def test_settings_read_aliases_per_column_in_lower_case() -> None:
    conf = {
        "insightloop.landing_path": "/landing",
        "insightloop.aliases.customer_segment": '{"B2B": "Business", " Subscription ": "Sub"}',
    }
    found = settings.PipelineSettings.from_conf(conf)
    assert found.aliases == {"customer_segment": {"b2b": "Business", "subscription": "Sub"}}
    with pytest.raises(ValueError, match="JSON object of strings"):
        settings.PipelineSettings.from_conf({**conf, "insightloop.aliases.region": '["UK"]'})


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({}, "insightloop.landing_path"),
        ({"insightloop.landing_path": "/l", "insightloop.source": "kafka"}, "'kafka'"),
    ],
)
def test_settings_refuse_what_would_read_the_wrong_data(conf: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings.PipelineSettings.from_conf(conf)


def test_export_of_an_empty_run_has_no_reporting_date() -> None:
    document = export_insights.insights_document(
        [], run_id="r1", generated_at=datetime(2026, 3, 2, tzinfo=UTC)
    )
    assert json.loads(document) == {
        "schema_version": "1.0",
        "run_id": "r1",
        "generated_at": "2026-03-02T00:00:00Z",
        "as_of": None,
        "insight_count": 0,
        "insights": [],
    }
