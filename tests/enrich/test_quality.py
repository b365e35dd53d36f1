"""The data-quality gate: each check fails its crafted batch, normal batches pass, baselines
roll safely under concurrent writers, and the reports read in one line."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared.enrich.quality import (
    LENGTH_BINS,
    BatchProfile,
    BatchProfiler,
    GateResult,
    QualityConfig,
    QualityEvent,
    QualityGate,
    QualityLog,
    SourceBaseline,
    chi_square_sf,
    length_bin,
    load_quality_config,
    poisson_lower_tail,
    poisson_upper_tail,
)
from shared.errors import ConcurrencyConflictError, ConfigError
from shared.settings import PROJECT_ROOT
from shared.storage import LocalStorage, ObjectStorage
from tests.helpers import IsolatedContainers

SOURCE = "reviews"
NOW = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
CONTAINER = "ledger"
# A normal day of this source: 70% English, 30% Spanish among determined texts.
LANGUAGES = {"en": 0.63, "es": 0.27, "und": 0.10}
LENGTHS = {"16-31": 0.10, "32-63": 0.20, "64-127": 0.30, "128-255": 0.25, "256-511": 0.15}
MAPPED = ["body", "title", "rating", "review_date", "product_title"]
REQUIRED = ["body", "review_date"]


def _counts(shares: dict[str, float], n: int) -> dict[str, int]:
    """Shares -> integer counts summing exactly to n (largest remainders)."""
    raw = {key: share * n for key, share in shares.items()}
    counts = {key: int(value) for key, value in raw.items()}
    for key in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[key] += 1
    return {key: value for key, value in counts.items() if value}


def batch(
    texts: int = 1_000,
    *,
    empty: int = 0,
    duplicates: int = 0,
    languages: dict[str, float] | dict[str, int] = LANGUAGES,
    lengths: dict[str, float] | dict[str, int] = LENGTHS,
    columns: list[str] | None = MAPPED,
    source: str = SOURCE,
) -> BatchProfile:
    """A profile of ``texts`` distinct texts plus empty and duplicate rows."""

    def as_counts(values: dict[str, Any]) -> dict[str, int]:
        if all(isinstance(v, int) for v in values.values()):
            return dict(values)
        return _counts(values, texts)

    return BatchProfile(
        source=source,
        rows_in=texts + empty + duplicates,
        empty_text=empty,
        duplicates=duplicates,
        languages=as_counts(languages),
        length_histogram=as_counts(lengths),
        columns=columns,
    )


def _gate(storage: LocalStorage, config: QualityConfig | None = None) -> QualityGate:
    return QualityGate(config or QualityConfig(), storage, CONTAINER, clock=lambda: NOW)


@pytest.fixture
def gate(local_storage: LocalStorage) -> QualityGate:
    return _gate(local_storage)


@pytest.fixture
def seeded(gate: QualityGate) -> QualityGate:
    """A gate whose source has a baseline of three normal batches."""
    for _ in range(3):
        gate.record_pass(batch())
    return gate


def _config(**source_override: Any) -> QualityConfig:
    return QualityConfig.model_validate({"sources": {SOURCE: source_override}})


# ------------------------------------------------------------------ the checks


def test_normal_batch_passes_every_check_against_its_baseline(seeded: QualityGate) -> None:
    result = seeded.check_batch(batch(1_200), MAPPED, REQUIRED)
    assert result.passed
    assert [c.name for c in result.checks] == [
        "empty_text",
        "duplicates",
        "language_mix",
        "text_length",
        "columns",
    ]
    assert not any(c.skipped for c in result.checks)
    assert result.summary() == "reviews: quality gate passed (1,200 rows; 5/5 judged)"


FAILING_BATCHES = [
    pytest.param(
        batch(200, empty=800),
        {},
        "empty_text",
        "empty_text observed 0.8, expected <= 0.15 (baseline 0.00 + 0.15): 800 of 1,000 rows",
        id="80% empty tickets",
    ),
    pytest.param(
        batch(1_000, duplicates=300),
        {},
        "duplicates",
        "duplicates observed 0.231, expected <= 0.10: 300 of 1,300 rows",
        id="high duplicate rate",
    ),
    pytest.param(
        batch(languages={"en": 898, "es": 2, "und": 100}),
        {},
        "language_mix",
        "language_mix observed es 0.2%, expected es >= 6.0% (baseline 30.0%)",
        id="Spanish share collapses from 30% to 0.2%",
    ),
    pytest.param(
        batch(lengths={"1-15": 0.5, "16-31": 0.5}),
        {},
        "text_length",
        "text_length observed 0.9, expected TVD <= 0.30: median length 1-15 chars vs "
        "baseline 64-127",
        id="texts suddenly short (truncated export)",
    ),
    pytest.param(
        batch(columns=["title", "rating", "review_date", "product_title"]),
        {},
        "columns",
        "columns observed missing required ['body'], expected required ['body', 'review_date'] "
        "present",
        id="required column missing",
    ),
    pytest.param(
        batch(columns=["body", "title", "review_date", "product_title"]),
        {},
        "columns",
        "columns observed missing mapped ['rating']",
        id="mapped column renamed",
    ),
    pytest.param(
        batch(columns=[*MAPPED, "reviewer_email", "ip_address"]),
        {"columns": {"unexpected": "fail"}},
        "columns",
        "columns observed unexpected ['reviewer_email', 'ip_address']",
        id="unexpected columns where the schema is fixed",
    ),
]


@pytest.mark.parametrize(("profile", "override", "check", "summary_part"), FAILING_BATCHES)
def test_crafted_batch_fails_exactly_its_check(
    local_storage: LocalStorage,
    profile: BatchProfile,
    override: dict[str, Any],
    check: str,
    summary_part: str,
) -> None:
    gate = _gate(local_storage, _config(**override))
    for _ in range(3):
        gate.record_pass(batch())
    result = gate.check_batch(profile, MAPPED, REQUIRED)
    assert not result.passed
    assert [c.name for c in result.failures] == [check]
    assert summary_part in result.summary()
    assert result.summary().startswith(f"reviews: quality gate FAILED ({profile.rows_in:,} rows): ")


def test_empty_tickets_fail_even_on_first_sight(gate: QualityGate) -> None:
    result = gate.check_batch(batch(200, empty=800), MAPPED, REQUIRED)
    assert [c.name for c in result.failures] == ["empty_text"]
    assert "expected <= 0.20" in result.summary()  # the absolute limit, no baseline needed


def test_unexpected_columns_only_warn_by_default(seeded: QualityGate) -> None:
    result = seeded.check_batch(batch(columns=[*MAPPED, "reviewer_email"]), MAPPED, REQUIRED)
    columns = result.checks[-1]
    assert result.passed and columns.passed and columns.warning
    assert "columns: unexpected ['reviewer_email']" in result.summary()


def test_configured_extra_columns_are_not_unexpected(local_storage: LocalStorage) -> None:
    gate = _gate(
        local_storage, _config(columns={"unexpected": "fail", "extra_columns": ["reviewer_email"]})
    )
    result = gate.check_batch(batch(columns=[*MAPPED, "reviewer_email"]), MAPPED, REQUIRED)
    assert result.passed


def test_nested_json_paths_are_present_when_their_top_level_key_is(gate: QualityGate) -> None:
    mapped = ["id", "description", "created_at", "requester.organization.tier", "via.channel"]
    profile = batch(columns=["id", "description", "created_at", "requester", "via"])
    result = gate.check_batch(profile, mapped, ["description", "created_at"])
    assert result.checks[-1].passed and not result.checks[-1].warning
    missing = gate.check_batch(batch(columns=["id", "description", "created_at"]), mapped, [])
    assert "missing mapped ['requester.organization.tier', 'via.channel']" in missing.summary()


def test_unknown_columns_are_not_judged(gate: QualityGate) -> None:
    check = gate.check_batch(batch(columns=None), MAPPED, REQUIRED).checks[-1]
    assert check.passed and check.skipped


# ---------------------------------------------------------------- no baseline


@pytest.mark.parametrize("folded", [0, 1, 2])
def test_without_a_baseline_shift_checks_pass_with_a_note(gate: QualityGate, folded: int) -> None:
    for _ in range(folded):
        gate.record_pass(batch())
    wildly_different = batch(languages={"fr": 1.0}, lengths={"2048-4095": 1.0})
    result = gate.check_batch(wildly_different, MAPPED, REQUIRED)
    assert result.passed
    by_name = {c.name: c for c in result.checks}
    for name in ("language_mix", "text_length"):
        assert by_name[name].skipped
        assert by_name[name].message == (
            f"no baseline yet ({folded}/3 batches, {folded * 1_000:,}/500 rows)"
        )
    assert "language_mix: no baseline yet" in result.summary()


def test_baseline_needs_enough_rows_as_well_as_batches(local_storage: LocalStorage) -> None:
    gate = _gate(local_storage, _config(baseline={"min_rows": 5_000}))
    for _ in range(3):
        gate.record_pass(batch())
    result = gate.check_batch(batch(languages={"fr": 1.0}), MAPPED, REQUIRED)
    assert result.passed
    assert result.checks[2].message == "no baseline yet (3/3 batches, 3,000/5,000 rows)"


# --------------------------------------------------------------- small batches


@pytest.mark.parametrize(
    ("profile", "check", "message"),
    [
        (batch(30, languages={"es": 1.0}), "language_mix", "too few texts with a language"),
        (batch(30, lengths={"4096+": 1.0}), "text_length", "too few texts to judge (30 < 50)"),
        (batch(2, empty=8), "empty_text", "too few rows to judge (10 < 20)"),
        (batch(5, duplicates=5), "duplicates", "too few rows to judge (10 < 20)"),
    ],
)
def test_small_batches_are_not_judged(
    seeded: QualityGate, profile: BatchProfile, check: str, message: str
) -> None:
    result = seeded.check_batch(profile, MAPPED, REQUIRED)
    found = next(c for c in result.checks if c.name == check)
    assert result.passed and found.skipped
    assert message in found.message


@pytest.mark.parametrize(
    ("languages", "lengths", "override", "check"),
    [
        # TVD 0.18 > 0.15; at 50 texts that is within sampling noise (p ~ 0.005).
        ({"en": 0.88, "es": 0.12}, LENGTHS, {}, "language_mix"),
        # TVD 0.17 > 0.15 (a stricter source): 17% of texts moved up one bin (p ~ 0.004).
        (
            LANGUAGES,
            {"16-31": 0.10, "32-63": 0.20, "64-127": 0.30, "128-255": 0.08, "256-511": 0.32},
            {"text_length": {"max_distance": 0.15}},
            "text_length",
        ),
    ],
)
def test_a_shift_fails_only_when_the_batch_is_big_enough_to_tell(
    local_storage: LocalStorage,
    languages: dict[str, float],
    lengths: dict[str, float],
    override: dict[str, Any],
    check: str,
) -> None:
    gate = _gate(local_storage, _config(**override))
    baseline = {"en": 0.7, "es": 0.3}
    for _ in range(3):
        gate.record_pass(batch(languages=baseline))
    small = gate.check_batch(batch(50, languages=languages, lengths=lengths), MAPPED, [])
    large = gate.check_batch(batch(1_000, languages=languages, lengths=lengths), MAPPED, [])
    small_check = next(c for c in small.checks if c.name == check)
    assert small.passed and not small_check.skipped
    assert small_check.observed > 0.15  # large enough, but not real at this size
    assert "within sampling noise for 50 texts" in small_check.message
    assert [c.name for c in large.failures] == [check]
    assert "p=" in large.failures[0].message


@pytest.mark.parametrize(
    ("texts", "passed"),
    [
        (60, True),  # 6 Italian texts expected, none seen: p = 0.0025, could be chance
        (200, False),  # 20 expected, none seen: p = 2e-9, a feed is missing
    ],
)
def test_a_language_collapse_fails_once_it_is_unlikely_by_chance(
    local_storage: LocalStorage, texts: int, passed: bool
) -> None:
    gate = _gate(local_storage)
    for _ in range(3):
        gate.record_pass(batch(languages={"en": 0.9, "it": 0.1}))
    result = gate.check_batch(batch(texts, languages={"en": 1.0}), MAPPED, [])
    check = result.checks[2]
    assert result.passed is passed
    # TVD is only 0.10 (< 0.15): the per-language collapse rule is what catches this.
    if passed:
        assert check.observed == pytest.approx(0.1)
    else:
        assert check.observed == "it 0.0%"
        assert check.expected == "it >= 2.0% (baseline 10.0%)"


# ----------------------------------------------------------------------- volume


def test_volume_drop_of_90_percent_is_an_alert(gate: QualityGate) -> None:
    for records in (10_000, 11_000, 12_000):
        gate.record_input(SOURCE, records)
    check = gate.check_volume(SOURCE, 1_100)
    assert not check.passed
    assert check.observed == 1_100
    assert check.message == "1,100 records: 90% fewer than the rolling mean 11,000"
    assert check.expected == "2,750-55,000 records (0.25x-5x of the rolling mean 11,000)"


@pytest.mark.parametrize(
    ("history", "records_in", "passed", "skipped"),
    [
        ([10_000, 11_000, 12_000], 9_000, True, False),  # an ordinary day
        ([10_000, 11_000, 12_000], 80_000, False, False),  # a 7x spike: a duplicated export?
        ([10_000, 11_000], 100, True, True),  # two inputs are no baseline yet
        ([4, 4, 4], 0, True, False),  # 0 instead of ~4 happens by chance (p ~ 0.02)
        ([40, 40, 40], 0, False, False),  # 0 instead of ~40 does not
    ],
)
def test_volume_check(
    gate: QualityGate, history: list[int], records_in: int, passed: bool, skipped: bool
) -> None:
    for records in history:
        gate.record_input(SOURCE, records)
    check = gate.check_volume(SOURCE, records_in)
    assert (check.passed, check.skipped) == (passed, skipped)


def test_volume_check_can_be_disabled_per_source(local_storage: LocalStorage) -> None:
    config = load_quality_config(PROJECT_ROOT / "prompts" / "quality.yaml")
    gate = QualityGate(config, local_storage, CONTAINER)
    for _ in range(3):
        gate.record_input("events", 1_000)
    check = gate.check_volume("events", 1)
    assert check.passed and check.skipped
    assert check.message == "volume check disabled for this source"


# ------------------------------------------------------------------- baseline


def test_baseline_is_stored_as_json_in_the_ledger_container(
    seeded: QualityGate, local_storage: LocalStorage
) -> None:
    found = local_storage.read(CONTAINER, "baselines/reviews.json")
    assert found is not None
    stored = json.loads(found[0])
    assert stored["schema_version"] == "1.0"
    assert stored["batches"] == 3 and stored["rows"] == 3_000
    assert stored["languages"] == pytest.approx(LANGUAGES)
    assert stored["length_histogram"] == pytest.approx(LENGTHS)
    assert stored["updated_at"] == "2026-11-20T06:30:00Z"


def test_checking_never_changes_the_baseline(
    seeded: QualityGate, local_storage: LocalStorage
) -> None:
    before = local_storage.read(CONTAINER, "baselines/reviews.json")
    seeded.check_batch(batch(200, empty=800), MAPPED, REQUIRED)
    seeded.check_volume(SOURCE, 5)
    assert local_storage.read(CONTAINER, "baselines/reviews.json") == before


def test_baseline_rolls_exponentially_after_a_plain_mean_warm_up(gate: QualityGate) -> None:
    gate.record_pass(batch(900, empty=100))  # 10% empty
    gate.record_pass(batch(700, empty=300))  # 30% empty
    baseline, _ = gate.load_baseline(SOURCE)
    assert baseline.empty_rate == pytest.approx(0.2)  # the mean of the first batches
    for _ in range(30):
        gate.record_pass(batch(1_000))
    baseline, _ = gate.load_baseline(SOURCE)
    assert baseline.empty_rate < 0.02  # old batches fade (alpha 0.1)
    assert sum(baseline.languages.values()) == pytest.approx(1.0)


def test_batches_too_small_to_judge_are_not_folded(gate: QualityGate) -> None:
    gate.record_pass(batch(30))
    assert gate.load_baseline(SOURCE) == (SourceBaseline(source=SOURCE), None)


def test_unreadable_baseline_counts_as_none_and_is_replaced(
    gate: QualityGate, local_storage: LocalStorage
) -> None:
    local_storage.write(CONTAINER, "baselines/reviews.json", b"{not json")
    assert gate.check_batch(batch(), MAPPED, REQUIRED).checks[2].skipped
    gate.record_pass(batch())
    assert gate.load_baseline(SOURCE)[0].batches == 1


def test_reset_baseline_forgets_the_source(seeded: QualityGate) -> None:
    seeded.reset_baseline(SOURCE)
    assert seeded.load_baseline(SOURCE)[0].batches == 0


def test_baseline_update_retries_when_a_concurrent_writer_wins(tmp_path: Path) -> None:
    class RacingStorage(LocalStorage):
        """Lets another gate update the baseline between our read and our write."""

        raced = False
        conflicts = 0

        def write(self, container: str, path: str, data: bytes, **kwargs: Any) -> str:
            if path.startswith("baselines/") and not RacingStorage.raced:
                RacingStorage.raced = True
                _gate(LocalStorage(self.root)).record_pass(batch(500))  # the other writer
            try:
                return super().write(container, path, data, **kwargs)
            except ConcurrencyConflictError:
                RacingStorage.conflicts += 1
                raise

    storage = RacingStorage(tmp_path)
    _gate(storage).record_pass(batch(1_000))
    baseline, _ = _gate(storage).load_baseline(SOURCE)
    assert RacingStorage.conflicts == 1  # our first write lost the race...
    assert (baseline.batches, baseline.rows) == (2, 1_500)  # ...and the retry kept both


@pytest.fixture(params=["local", pytest.param("blob", marks=pytest.mark.azurite)])
def any_storage(request: pytest.FixtureRequest) -> ObjectStorage:
    """Each backend; blob tests get containers of their own."""
    if request.param == "local":
        return request.getfixturevalue("local_storage")
    return IsolatedContainers(request.getfixturevalue("blob_storage"), uuid.uuid4().hex[:8])


def test_concurrent_threads_lose_no_baseline_update(any_storage: ObjectStorage) -> None:
    def worker() -> None:
        gate = QualityGate(QualityConfig(), any_storage, CONTAINER, clock=lambda: NOW)
        for _ in range(5):
            gate.record_pass(batch(100))
            gate.record_input(SOURCE, 100)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    baseline, _ = QualityGate(QualityConfig(), any_storage, CONTAINER).load_baseline(SOURCE)
    assert (baseline.batches, baseline.rows, baseline.inputs) == (30, 3_000, 30)


# ------------------------------------------------------------------- profiler


def test_profiler_counts_rows_languages_lengths_and_columns() -> None:
    profiler = BatchProfiler(SOURCE, duplicate_min_chars=20)
    profiler.set_columns(["body", "rating"])
    long_text = "The zipper broke after two days of use."
    for text, language in [
        ("Great product!", "en"),
        ("Great product!", "en"),  # short: customers really do repeat this
        (long_text, "en"),
        (f"  {long_text.upper()} ", "en"),  # the same long text again: a duplicate
        ("La cremallera se rompió.", "es"),
        ("   ", "und"),  # whitespace is empty text
    ]:
        profiler.observe_record(text, language)
    profiler.observe_empty()
    profiler.observe_duplicate()
    assert profiler.profile() == BatchProfile(
        source=SOURCE,
        rows_in=8,
        empty_text=2,
        duplicates=2,
        languages={"en": 3, "es": 1},
        length_histogram={"1-15": 2, "32-63": 1, "16-31": 1},
        columns=["body", "rating"],
    )


def test_profiler_unions_json_keys_in_first_seen_order() -> None:
    profiler = BatchProfiler(SOURCE)
    assert profiler.profile().columns is None
    profiler.observe_columns(["id", "text"])
    profiler.observe_columns(["id", "title", "text"])
    assert profiler.profile().columns == ["id", "text", "title"]


@pytest.mark.parametrize(
    ("length", "label"),
    [
        (1, "1-15"),
        (15, "1-15"),
        (16, "16-31"),
        (255, "128-255"),
        (4_095, "2048-4095"),
        (10**6, "4096+"),
    ],
)
def test_length_bins_are_fixed_log2_bins(length: int, label: str) -> None:
    assert length_bin(length) == label
    assert label in LENGTH_BINS


def test_gate_profiler_takes_the_source_duplicate_threshold(local_storage: LocalStorage) -> None:
    gate = _gate(local_storage, _config(duplicates={"min_chars": 5}))
    profiler = gate.profiler(SOURCE)
    profiler.observe_record("Great!", "und")
    profiler.observe_record("great! ", "und")
    assert profiler.profile().duplicates == 1


# ---------------------------------------------------------------------- config


def test_shipped_config_documents_the_code_defaults_and_overrides() -> None:
    config = load_quality_config(PROJECT_ROOT / "prompts" / "quality.yaml")
    assert config.defaults == QualityConfig().defaults
    nps = config.for_source("nps")
    assert nps.empty_text.max_rate == 0.95
    assert nps.empty_text.max_increase == 0.15  # merged over the defaults, not replaced
    assert nps.duplicates == config.defaults.duplicates
    assert config.for_source("reviews") == config.defaults


def test_partial_defaults_keep_the_other_defaults() -> None:
    config = QualityConfig.model_validate({"defaults": {"empty_text": {"max_rate": 0.3}}})
    assert config.defaults.empty_text.max_rate == 0.3
    assert config.defaults.empty_text.max_increase == 0.15


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("defaults:\n  empty_text:\n    max_rate: 2\n", "less than or equal to 1"),
        ("defaults:\n  emtpy_text: {}\n", "emtpy_text"),
        ("sources:\n  Bad Name: {}\n", "invalid source names"),
        ("sources:\n  nps:\n    columns:\n      unexpected: maybe\n", "unexpected"),
        ("language:\n  languages: [en]\n", "at least two"),
        ("- a list\n", "a YAML mapping"),
        ("defaults: [unclosed\n", "cannot read"),
    ],
)
def test_invalid_config_is_a_config_error_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "quality.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem) as raised:
        load_quality_config(path)
    assert str(path) in str(raised.value)


# ---------------------------------------------------------------- events, log


def test_events_and_quarantined_batches_are_written_where_promised(
    seeded: QualityGate, local_storage: LocalStorage
) -> None:
    log = QualityLog(
        local_storage,
        landing_container="landing",
        quarantine_container="quarantine",
        run_id="20261120T063000Z-abc",
        now=NOW,
    )
    good, bad = batch(), batch(200, empty=800)
    passed = seeded.check_batch(good, MAPPED, REQUIRED)
    failed = seeded.check_batch(bad, MAPPED, REQUIRED)
    log.batch_event(input_name="reviews/a.csv", batch=1, result=passed, profile=good)
    rows = [orjson.dumps({"record_id": f"{i:032x}"}) for i in range(3)]
    where = log.quarantine_batch(source=SOURCE, batch=2, rows=rows, result=failed)
    log.batch_event(
        input_name="reviews/a.csv", batch=2, result=failed, profile=bad, quarantine_path=where
    )
    log.volume_event(
        source=SOURCE, input_name="reviews/a.csv", check=seeded.check_volume(SOURCE, 10)
    )
    path = log.flush()

    assert path == "quality_events/ingest_date=2026-11-20/20261120T063000Z-abc.jsonl"
    events = [
        QualityEvent.model_validate_json(line)
        for line in local_storage.read("landing", path)[0].splitlines()
    ]
    assert [(e.batch, e.kind, e.passed, e.action) for e in events] == [
        (1, "batch", True, "landed"),
        (2, "batch", False, "quarantined"),
        (None, "volume", True, "none"),  # no volume baseline yet: nothing to alert on
    ]
    assert events[1].summary == failed.summary()
    assert events[1].profile == bad
    assert events[1].quarantine_path == where

    stem = "batches/reviews/ingest_date=2026-11-20/20261120T063000Z-abc-00002"
    assert where == f"{stem}.jsonl"
    assert local_storage.read("quarantine", where)[0].splitlines() == rows
    report = json.loads(local_storage.read("quarantine", f"{stem}.report.json")[0])
    assert report["summary"] == failed.summary()
    assert GateResult.model_validate(report["result"]) == failed


def test_volume_alert_event_says_what_happened(
    gate: QualityGate, local_storage: LocalStorage
) -> None:
    for records in (1_000, 1_000, 1_000):
        gate.record_input(SOURCE, records)
    log = QualityLog(
        local_storage, landing_container="landing", quarantine_container="q", run_id="r", now=NOW
    )
    event = log.volume_event(
        source=SOURCE, input_name="reviews/day.csv", check=gate.check_volume(SOURCE, 100)
    )
    assert (event.passed, event.action, event.batch) == (False, "alert", None)
    assert event.summary == (
        "reviews: volume alert: 100 records: 90% fewer than the rolling mean 1,000; "
        "expected 250-5,000 records (0.25x-5x of the rolling mean 1,000)"
    )


def test_a_run_without_events_lands_nothing(local_storage: LocalStorage) -> None:
    log = QualityLog(
        local_storage, landing_container="landing", quarantine_container="q", run_id="r", now=NOW
    )
    assert log.flush() is None
    assert list(local_storage.list("landing")) == []


def test_summary_lists_every_failing_check(seeded: QualityGate) -> None:
    profile = batch(200, empty=800, languages={"en": 180, "und": 20})
    summary = seeded.check_batch(profile, MAPPED, REQUIRED).summary()
    assert summary.startswith("reviews: quality gate FAILED (1,000 rows): empty_text observed 0.8")
    assert "; language_mix observed es 0.0%, expected es >= 6.0% (baseline 30.0%)" in summary
    assert "\n" not in summary


# ------------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [(3.841, 1, 0.05), (10.828, 1, 0.001), (18.467, 4, 0.001), (0.0, 3, 1.0), (29.588, 10, 0.001)],
)
def test_chi_square_survival_matches_tables(statistic: float, df: int, p: float) -> None:
    assert chi_square_sf(statistic, df) == pytest.approx(p, rel=1e-3)


def test_poisson_tails_match_known_values() -> None:
    assert poisson_lower_tail(2, 10) == pytest.approx(0.0027694, rel=1e-4)
    assert poisson_upper_tail(20, 10) == pytest.approx(0.0034543, rel=1e-4)
    assert poisson_lower_tail(5, 4) == 1.0 and poisson_upper_tail(3, 4) == 1.0
    # Far tails underflow to 0 at once instead of summing millions of terms.
    assert poisson_lower_tail(100, 3_000_000) == 0.0
    assert poisson_upper_tail(3_000_000, 500_000) == 0.0
