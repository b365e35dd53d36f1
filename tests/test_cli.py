"""The insightloop command line, run in-process through its entry point."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from shared.cli import main
from shared.gold.local import java_available
from shared.insights import InsightExport
from shared.settings import PROJECT_ROOT, get_settings
from tests.ingest.test_pipeline import event, reviews_csv


@pytest.fixture(autouse=True)
def local_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("INSIGHTLOOP_LOCAL_STORAGE_ROOT", str(tmp_path / "storage"))
    monkeypatch.delenv("INSIGHTLOOP_STORAGE_BACKEND", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "storage"
    get_settings.cache_clear()


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("ingest", "events", "demo", "gold", "route"):
        assert command in out


def test_gold_refuses_a_setting_without_a_value_before_starting_spark(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gold", "--set", "insightloop.as_of"]) == 2
    assert "--set takes KEY=VALUE, not 'insightloop.as_of'" in capsys.readouterr().out
    assert not (local_root / "gold").exists()


def test_ingest_takes_the_source_from_the_folder_and_reports_counts(
    tmp_path: Path, local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports" / "reviews"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_bytes(
        reviews_csv(range(12), extra="Bad,,1,2026-11-01 10:00:00 UTC,K,k,x,web,1\n")
    )
    assert main(["ingest", str(folder)]) == 0
    assert main(["ingest", str(folder / "a.csv"), "--source", "reviews"]) == 0
    assert main(["ingest", str(folder), "--strict"]) == 0  # a skipped replay quarantines nothing
    (folder / "b.csv").write_bytes(
        reviews_csv(range(0), extra="Bad,,1,2026-11-02 10:00:00 UTC,K,k,x,web,1\n")
    )
    assert main(["ingest", str(folder / "b.csv"), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "in 13 = landed 12 + duplicates 0 + quarantined 1: reconciled" in out
    assert "in 13 = landed 0 + duplicates 13 + quarantined 0: reconciled" in out
    assert len(list((local_root / "landing" / "feedback").rglob("*.jsonl"))) == 1


def test_ingest_of_an_unknown_source_quarantines_and_says_why(
    tmp_path: Path, local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.csv"
    path.write_text("a,b\n1,2\n")
    assert main(["ingest", str(path), "--source", "surveys2"]) == 0
    assert "unknown source 'surveys2'" in capsys.readouterr().out.replace("\n", "")
    assert list((local_root / "quarantine" / "files" / "surveys2").rglob("export.csv"))


def test_a_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path / "nope.csv"), "--source", "reviews"]) == 2
    assert "no such file" in capsys.readouterr().out


def test_events_feeds_message_bodies_through_the_queue_path(
    tmp_path: Path, local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_bytes(
        orjson.dumps(event("e1")) + b"\n" + orjson.dumps([event("e2"), event("e1")]) + b"\n"
    )
    assert main(["events", str(path)]) == 0
    assert "in 3 = landed 2 + duplicates 1 + quarantined 0: reconciled" in capsys.readouterr().out


@pytest.mark.skipif(not (PROJECT_ROOT / "samples" / "inbox").is_dir(), reason="samples/ missing")
def test_demo_ingests_every_sample_and_the_replay_lands_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "demo"
    assert main(["demo", "--root", str(root), "--no-gold"]) == 0
    out = capsys.readouterr().out
    assert out.count(": reconciled") == 2
    assert "replay of every file and message" in out
    assert "3. Gold" not in out
    landed = list((root / "landing" / "feedback").rglob("*.jsonl"))
    assert landed
    # Every sample source produced records, and every inbox file has an ingest report.
    sources = {
        orjson.loads(line)["source"] for path in landed for line in path.read_bytes().splitlines()
    }
    assert sources == {"reviews", "nps", "tickets", "chat", "events"}


@pytest.mark.skipif(not (PROJECT_ROOT / "samples" / "inbox").is_dir(), reason="samples/ missing")
@pytest.mark.skipif(not java_available(), reason="Spark needs a Java 17 runtime (java, JAVA_HOME)")
@pytest.mark.timeout(900)  # two local Spark runs: minutes on a busy 2-core machine
def test_demo_runs_the_whole_loop_and_every_view_has_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.demo import load_timeline
    from shared.demo_summary import demo_summary

    root = tmp_path / "demo"
    assert main(["demo", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    # Ingest still reconciles every record, and the replay lands nothing.
    assert out.count(": reconciled") == 2 and "NOT reconciled" not in out
    assert "Top insights (" in out and "Ticket drivers" in out
    timeline = load_timeline(PROJECT_ROOT / "samples")
    # Routing took the export of Gold as of the routing day; every insight was acted on.
    first = InsightExport.model_validate_json(
        (root / f"exports/insights/demo-{timeline.first_gold_as_of}.json").read_bytes()
    )
    keys = {i.insight_key for i in first.insights}
    events = [
        orjson.loads(line)
        for path in (root / "landing" / "routing_events").rglob("*.jsonl")
        for line in path.read_bytes().splitlines()
    ]
    routing = [e for e in events if e["kind"] == "routing_action"]
    assert {e["insight_key"] for e in routing} == keys
    created = sum(e["action"] == "created" for e in routing)
    assert created > 0
    assert len([p for p in (root / "outbox").rglob("*") if p.is_file()]) >= created
    # The owners answered through the signed callbacks, at the timeline's moments.
    kinds = {(e["kind"], e["action"]) for e in events if e["kind"] != "routing_action"}
    assert kinds == {
        ("insight_decision", "confirm"),
        ("insight_decision", "reassign"),
        ("review_decision", "correct"),
        ("fix_recorded", "resolved"),
    }
    assert out.count(" [recorded]") == len(timeline.owners)
    # The final Gold run: its export, and every view of the summary with rows.
    export = InsightExport.model_validate_json((root / "exports/insights/demo.json").read_bytes())
    assert export.run_id == "demo" and export.insights
    assert [i.rank for i in export.insights] == list(range(1, len(export.insights) + 1))
    assert all("unknown" not in (i.product, i.segment) for i in export.insights)
    summary = demo_summary(root / "gold" / "spark-warehouse", timeline)
    assert all(summary.datasets.values()), [k for k, v in summary.datasets.items() if not v]
    funnel = {row["stage"]: row["insights"] for row in summary.datasets["exec_outcome_funnel"]}
    assert funnel["routed"] == len({e["insight_key"] for e in routing if e["action"] == "created"})
    assert funnel["resolved"] == 2 and funnel["improved"] == 1
    worked, failed = summary.worked, summary.failed
    assert worked is not None and failed is not None
    assert worked["significant"] and worked["negative_share_delta"] < 0
    assert worked["volume_per_day_after"] < worked["volume_per_day_before"]
    assert not failed["significant"] and failed["owner"] == "merchandising"
    assert "Fix that worked: shipping" in out and "Fix that did not: product_quality" in out
    assert "Canary classify/v1 vs classify/v2" in out
    segments = {row["segment"] for row in summary.top_insights}
    assert segments <= {"Subscriber", "One-off buyer", "Business"}
    # The report: every dataset has rows but the failing-expectations list (none fail).
    report = (root / "report.html").read_text()
    assert "8. Report" in out and "(empty: health_expectations)" in out
    assert report.count("<svg") >= 4
    # The demo ends with one `ask`, answered offline from the same Gold.
    assert "9. Ask" in out and "top_insights(): offline" in out
    assert re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", report, re.I) == []


def test_mask_writes_masked_lines_with_entities_offsets_in_the_original(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    text = "Reach me at jane.doe+shop@example.com or +44 20 7946 0958 please"
    source.write_bytes(
        orjson.dumps({"id": 7, "text": text})
        + b"\n\n"
        + orjson.dumps({"text": "Bueno, el envío fue rápido", "language": "es"})
        + b"\n"
    )
    out = tmp_path / "out.jsonl"
    assert main(["mask", str(source), "-o", str(out)]) == 0
    first, second = (orjson.loads(line) for line in out.read_bytes().splitlines())
    assert first["id"] == 7
    assert first["text"] == "Reach me at <EMAIL_ADDRESS_1> or <PHONE_NUMBER_1> please"
    found = {(e["type"], text[e["start"] : e["end"]]) for e in first["entities"]}
    assert found == {
        ("EMAIL_ADDRESS", "jane.doe+shop@example.com"),
        ("PHONE_NUMBER", "+44 20 7946 0958"),
    }
    assert (second["text"], second["entities"]) == ("Bueno, el envío fue rápido", [])
    assert "masked 2 line(s)" in capsys.readouterr().err


def test_mask_reads_stdin_and_refuses_lines_that_are_not_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "fine"}\nnot json\n')
    with open(bad, "rb") as handle:
        monkeypatch.setattr("sys.stdin", type("Stdin", (), {"buffer": handle})())
        assert main(["mask", "-"]) == 2
    assert "line 2: not JSON" in capsys.readouterr().out


def test_reset_baseline_forgets_what_the_gate_learned(
    tmp_path: Path, local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "reviews" / "a.csv"
    path.parent.mkdir()
    path.write_bytes(reviews_csv(range(60)))
    assert main(["ingest", str(path)]) == 0
    assert (local_root / "ledger" / "baselines" / "reviews.json").exists()
    assert main(["reset-baseline", "reviews"]) == 0
    assert not (local_root / "ledger" / "baselines" / "reviews.json").exists()
    assert "baseline of 'reviews' reset (it held 1 batch(es), 60 rows)" in capsys.readouterr().out


def test_classify_pending_resumes_what_an_outage_left_and_names_the_model(
    tmp_path: Path, local_root: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from tests.deployment_server import DeploymentServer

    server = DeploymentServer(latency_s=0.0, output_tokens_per_s=1e9, fail_after_calls=0).start()
    try:
        monkeypatch.setenv("INSIGHTLOOP_LLM_PROVIDER", "openai_compatible")
        monkeypatch.setenv("INSIGHTLOOP_LLM_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MODEL", "deployment")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MAX_RETRIES", "0")
        get_settings.cache_clear()
        folder = tmp_path / "exports" / "reviews"
        folder.mkdir(parents=True)
        (folder / "a.csv").write_bytes(reviews_csv(range(3)))
        assert main(["ingest", str(folder)]) == 2  # the model is down: landed, not decided
        assert "`insightloop classify --pending` resumes them" in capsys.readouterr().out
        assert len(list((local_root / "landing" / "feedback").rglob("*.jsonl"))) == 1
        assert not (local_root / "landing" / "classified").exists()

        server.fail_after_calls = None
        assert main(["classify", "--pending"]) == 0
        assert main(["classify", "--pending"]) == 0  # nothing left
        err = capsys.readouterr().err
        assert "classified 1 pending work item(s) with deployment: 3 record(s), 3 classified" in err
        assert "classified 0 pending work item(s)" in err
        assert "object at 0x" not in err
        assert server.calls == 1
    finally:
        server.stop()


def test_a_backlog_past_the_threshold_goes_to_the_batch_api_and_lands_when_collected(
    tmp_path: Path, local_root: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from tests.batch_server import BatchServer
    from tests.deployment_server import DeploymentServer

    down = DeploymentServer(latency_s=0.0, output_tokens_per_s=1e9, fail_after_calls=0).start()
    batch = BatchServer().start()
    try:
        monkeypatch.setenv("INSIGHTLOOP_LLM_PROVIDER", "openai_compatible")
        monkeypatch.setenv("INSIGHTLOOP_LLM_BASE_URL", f"{down.url}/v1")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MODEL", "deployment")
        monkeypatch.setenv("INSIGHTLOOP_LLM_MAX_RETRIES", "0")
        get_settings.cache_clear()
        folder = tmp_path / "exports" / "reviews"
        folder.mkdir(parents=True)
        (folder / "a.csv").write_bytes(reviews_csv(range(4)))
        assert main(["ingest", str(folder)]) == 2  # landed; the online model is down

        # The backlog (4 records) reaches the threshold: it goes to the Batch API.
        monkeypatch.setenv("INSIGHTLOOP_LLM_BASE_URL", f"{batch.url}/v1")
        monkeypatch.setenv("INSIGHTLOOP_CLASSIFY_BATCH_MIN_RECORDS", "4")
        get_settings.cache_clear()
        assert main(["classify", "--pending"]) == 0
        [batch_id] = batch.batches
        assert main(["classify", "--poll-batches"]) == 0  # still running: nothing landed
        assert not (local_root / "landing" / "classified").exists()
        batch.finish(batch_id)
        assert main(["classify", "--poll-batches"]) == 0
        err = capsys.readouterr().err
        assert "submitted 1 pending work item(s) as batch batch-1" in err
        assert "batch batch-1 completed: 4 record(s) answered" in err
        landed = list((local_root / "landing" / "classified").rglob("*.jsonl"))
        assert sum(len(p.read_bytes().splitlines()) for p in landed) == 4
        assert down.calls == 0
    finally:
        down.stop()
        batch.stop()
