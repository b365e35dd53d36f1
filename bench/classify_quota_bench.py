"""Classification against a simulated deployment: bound by the quota, not the latency.

A loopback OpenAI-compatible server (``tests/deployment_server.py``) behaves like an Azure
OpenAI deployment: 2 s + output tokens at 80 tokens/s per request, tokens/minute and
requests/minute caps over a sliding minute (admission estimate: prompt characters / 4 +
``max_tokens``), 429 + ``retry-after-ms`` past them. The real ``LlmClassifier`` and
``openai`` SDK run against it over HTTP, in one run on the same texts:

1. today's path: one request at a time (``concurrency=1``, no limiter), on the first
   ``--sequential-records`` texts (its rate is constant: one request after another);
2. the new path on every text: ``INSIGHTLOOP_LLM_CONCURRENCY`` requests in flight,
   paced by ``QuotaLimiter`` at the deployment's caps;
3. an outage after 40 % of the new path's calls (503 from then on), a restart (a new
   classifier, the same answer cache), and the calls the resume makes;
4. the Batch API path (``shared.decide.batch_backfill`` against ``tests/batch_server.py``) on
   the same texts as 100-record work items: submitted, collected, landed by the stage;
   its cost per 1,000 records at the Batch API's half price vs the online path's.

Every duration of the simulated deployment is divided by ``--time-scale`` (a minute lasts
60 / scale seconds) for both paths alike, so a run takes minutes; rates are reported in
simulated seconds. Cost per 1,000 records is at ``eval/prices.yaml`` list prices.

    .venv/bin/python bench/classify_quota_bench.py
    .venv/bin/python bench/classify_quota_bench.py --records 10000 --time-scale 10

Fails (exit 1) below the issue's targets: >= 20x today's records/s, >= 90 % of the
tokens/minute quota used while a backlog exists, 0 texts paid twice after the outage,
0 records lost.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from shared.decide.answer_cache import AnswerCache  # noqa: E402
from shared.decide.classifier import LlmClassifier, MaskedText  # noqa: E402
from shared.decide.limiter import QuotaLimiter  # noqa: E402
from shared.decide.llm import ChatModel  # noqa: E402
from shared.decide.prompts import get_prompt_version, load_manifest  # noqa: E402
from shared.decide.taxonomy import get_taxonomy  # noqa: E402
from shared.errors import TransientError  # noqa: E402
from shared.models import make_record_id  # noqa: E402
from shared.settings import PROJECT_ROOT  # noqa: E402
from shared.storage import LocalStorage  # noqa: E402
from shared.telemetry import model_call_cost  # noqa: E402
from tests.deployment_server import DeploymentServer, scaled_clock  # noqa: E402

PROMPTS = PROJECT_ROOT / "prompts"
EVAL = PROJECT_ROOT.parent / "shared" / "eval"
SOURCES = ("womens-clothing-reviews", "amazon-alexa-reviews")
PRICED_AS = "gpt-4o-mini"


def review_texts(limit: int) -> list[MaskedText]:
    items: list[MaskedText] = []
    for name in SOURCES:
        with open(EVAL / name / "reviews.jsonl", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                if isinstance(row.get("text"), str) and row["text"].strip():
                    items.append(MaskedText(make_record_id(name, row["id"]), row["text"]))
                if len(items) == limit:
                    return items
    raise SystemExit(f"only {len(items)} texts in {EVAL}: fewer than --records {limit}")


def classifier(model: ChatModel, concurrency: int, cache: AnswerCache | None) -> LlmClassifier:
    taxonomy = get_taxonomy(PROMPTS)
    prompt = get_prompt_version(PROMPTS, load_manifest(PROMPTS / "classify").active)
    return LlmClassifier(
        taxonomy, prompt, model, batch_size=25, concurrency=concurrency, cache=cache
    )


def deployment(args: argparse.Namespace, **kwargs: object) -> DeploymentServer:
    return DeploymentServer(
        tokens_per_minute=args.tpm,
        requests_per_minute=args.rpm,
        latency_s=2.0,
        output_tokens_per_s=80.0,
        time_scale=args.time_scale,
        **kwargs,  # type: ignore[arg-type]
    ).start()


def limiter(args: argparse.Namespace) -> QuotaLimiter:
    clock, sleep = scaled_clock(args.time_scale)
    return QuotaLimiter(
        tokens_per_minute=args.tpm, requests_per_minute=args.rpm, clock=clock, sleep=sleep
    )


def chat(server: DeploymentServer, quota: QuotaLimiter | None, retries: int) -> ChatModel:
    return ChatModel.openai_compatible(
        base_url=f"{server.url}/v1",
        model=PRICED_AS,
        timeout=120.0,
        max_retries=retries,
        limiter=quota,
    )


def run(
    server: DeploymentServer, engine: LlmClassifier, items: list[MaskedText], scale: float
) -> dict[str, float]:
    started = time.monotonic()
    outcome = engine.classify(items)
    wall = time.monotonic() - started
    sim = wall * scale
    return {
        "records": len(outcome.classifications),
        "in_review": outcome.in_review,
        "calls": server.calls,
        "throttled": server.throttled,
        "sim_s": sim,
        "records_per_s": len(items) / sim,
        "peak_in_flight": server.peak_in_flight,
        "cost_per_1000": cost_per_1000(outcome.calls, len(items)),
    }


def calls_usd(calls: list) -> float:
    return sum(
        model_call_cost(PRICED_AS, c.prompt_tokens, c.cached_tokens, c.completion_tokens) or 0.0
        for c in calls
    )


def cost_per_1000(calls: list, records: int) -> float:
    return calls_usd(calls) * 1000 / records


def quota_used(server: DeploymentServer, tpm: int) -> float:
    """Tokens admitted per minute while requests were still waiting to be sent, / quota."""
    admitted = server.admissions
    first, last = admitted[0][0], admitted[-1][0]
    # Up to the last admission: after it no batch waits, only answers are outstanding.
    minutes = (last - first) * server.time_scale / 60
    return sum(tokens for _, tokens in admitted[:-1]) / minutes / tpm


def batch_path(args: argparse.Namespace, items: list[MaskedText]) -> dict[str, float]:
    """The same texts through the Batch API, landed by the classify stage."""
    import openai
    import orjson

    from shared.decide.batch_backfill import BatchBackfill
    from shared.decide.classify_stage import ClassifyStage, work_items
    from shared.settings import Settings
    from shared.telemetry import BATCH_PRICE_FACTOR
    from tests.batch_server import BatchServer

    online = deployment(args)
    batch = BatchServer().start()
    try:
        with tempfile.TemporaryDirectory() as root:
            settings = Settings(
                local_storage_root=Path(root),
                llm_provider="openai_compatible",
                llm_base_url=f"{online.url}/v1",
                llm_model=PRICED_AS,
                llm_concurrency=args.concurrency,
            )
            storage = LocalStorage(Path(root))
            path = "feedback/ingest_date=2026-12-07/bench-00001.jsonl"
            rows = (orjson.dumps({"record_id": i.record_id, "text": i.text}) for i in items)
            storage.write("landing", path, b"\n".join(rows) + b"\n")
            work = work_items(
                path, len(items), run_id="bench", ingest_date="2026-12-07", per_item=100
            )
            stage = ClassifyStage.from_settings(settings, storage)
            stage.pending.add(work)
            client = openai.OpenAI(base_url=f"{batch.url}/v1", api_key="k", max_retries=0)
            results: list = []
            backfill = BatchBackfill(
                stage, client, model=PRICED_AS, requeue=lambda w: results.extend(stage.run_items(w))
            )
            batch_id = backfill.submit(work)
            assert batch_id is not None
            batch.finish(batch_id)
            [poll] = backfill.poll()
    finally:
        batch.stop()
        online.stop()
    usd = model_call_cost(PRICED_AS, poll.prompt_tokens, 0, poll.completion_tokens) or 0.0
    online_calls = [call for result in results for call in result.calls]
    usd = usd * BATCH_PRICE_FACTOR + calls_usd(online_calls)
    return {
        "requests": poll.requests,
        "landed": sum(r.classified + r.in_review for r in results),
        "online_calls": online.calls,
        "cost_per_1000": usd * 1000 / len(items),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--sequential-records", type=int, default=1_000)
    parser.add_argument("--tpm", type=int, default=2_000_000, help="tokens per minute")
    parser.add_argument("--rpm", type=int, default=12_000, help="requests per minute")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--time-scale", type=float, default=10.0)
    args = parser.parse_args()
    items = review_texts(args.records)
    distinct = len({item.text_sha256 for item in items})
    print(
        f"{len(items):,} review texts ({distinct:,} distinct), deployment {args.tpm:,} tokens/min, "
        f"{args.rpm:,} requests/min, 2 s + 80 tokens/s, time scale 1/{args.time_scale:g}"
    )

    server = deployment(args)
    try:
        sequential = run(
            server,
            classifier(chat(server, None, 4), 1, None),
            items[: args.sequential_records],
            args.time_scale,
        )
    finally:
        server.stop()

    server = deployment(args)
    try:
        model = chat(server, limiter(args), 4)
        quota_bound = run(server, classifier(model, args.concurrency, None), items, args.time_scale)
        quota_bound["quota_used"] = quota_used(server, args.tpm)
    finally:
        server.stop()

    expected_calls = quota_bound["calls"]
    server = deployment(args, fail_after_calls=int(expected_calls * 0.4))
    with tempfile.TemporaryDirectory() as root:
        cache = AnswerCache(LocalStorage(Path(root)), "ledger")
        try:
            try:
                classifier(chat(server, limiter(args), 1), args.concurrency, cache).classify(items)
                raise SystemExit("the outage did not stop the run")
            except TransientError:
                pass
            paid_before = server.calls
            server.fail_after_calls = None  # restart: a new process, the same answer cache
            resumed = classifier(chat(server, limiter(args), 4), args.concurrency, cache)
            outcome = resumed.classify(items)
        finally:
            server.stop()
    resume_calls = server.calls - paid_before
    paid_twice = sum(1 for count in server.answered_texts.values() if count > 1)
    lost = len(items) - len(outcome.classifications)

    backfill = batch_path(args, items)
    speedup = quota_bound["records_per_s"] / sequential["records_per_s"]
    print(
        "\n| path | records | calls | 429s | peak in flight | records/s (simulated) | "
        "tokens/min quota used | cost per 1,000 records |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| today: one request at a time | {sequential['records']:,} | {sequential['calls']:,} | "
        f"{sequential['throttled']:,} | {sequential['peak_in_flight']} | "
        f"{sequential['records_per_s']:.2f} | - | ${sequential['cost_per_1000']:.4f} |"
    )
    print(
        f"| quota-bound: {args.concurrency} in flight + limiter | {quota_bound['records']:,} | "
        f"{quota_bound['calls']:,} | {quota_bound['throttled']:,} | "
        f"{quota_bound['peak_in_flight']} | {quota_bound['records_per_s']:.2f} | "
        f"{quota_bound['quota_used']:.1%} | ${quota_bound['cost_per_1000']:.4f} |"
    )
    print(f"\nspeed-up: {speedup:.1f}x today's records/s on the same simulated deployment")
    print(
        f"outage after {int(expected_calls * 0.4)} of {expected_calls} calls: {paid_before} "
        f"answered before it; the resume made {resume_calls} calls "
        f"({paid_before + resume_calls} in all vs {expected_calls} without an outage); "
        f"texts paid twice: {paid_twice}; records lost: {lost} "
        f"(classified {len(outcome.classifications) - outcome.in_review:,} + review "
        f"{outcome.in_review:,} = {len(outcome.classifications):,} of {len(items):,})"
    )
    print(
        f"Batch API: {backfill['requests']:,} requests for {len(items):,} records, "
        f"{backfill['landed']:,} landed by the stage, {backfill['online_calls']} online "
        f"call(s) left; ${backfill['cost_per_1000']:.4f} per 1,000 records vs "
        f"${quota_bound['cost_per_1000']:.4f} online "
        f"({backfill['cost_per_1000'] / quota_bound['cost_per_1000']:.0%})"
    )
    failed = speedup < 20 or quota_bound["quota_used"] < 0.9 or paid_twice or lost
    failed = failed or backfill["landed"] != len(items)
    print("targets:", "MISSED" if failed else "met (>= 20x, >= 90 % quota, 0 paid twice, 0 lost)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
