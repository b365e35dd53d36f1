"""Token overhead of batch classification: what a request costs per token of feedback.

Token overhead ratio = (prompt tokens + completion tokens) / tokens of the records' own
text, for batch sizes 1 (the naive way: one record per request, full prompt), 5, 10,
25 and 50, with the shipped prompt, few-shot examples and answer schema.

Counted offline with ``bpe-openai``'s ``o200k_base`` (the GPT-4o / 4.1 / 5 family
encoding; dev dependency, no download at run time). Prompt tokens = system message +
user message + the JSON schema sent as ``response_format`` + 3 tokens of chat framing
per message (OpenAI's documented counting). Completion tokens are counted on the answer
the offline classifier gives for the same records, serialised exactly as the schema
asks: a stand-in for a model's answer of the same shape (themes with quotes), since no
model runs here. Texts: every sample in ``samples/`` (reviews, NPS, tickets, chat), or
the ``text`` fields of a JSON Lines file.

Cost per 1,000 records uses ``eval/prices.yaml`` for ``--model`` (cached prefix at the
table's cached price). ``--accuracy`` also checks that batching loses nothing: the
adversarial set is classified through the real ``LlmClassifier`` and ``openai`` SDK
against a loopback server that answers as a reference classifier would, at every batch
size, and scored against its labels; every size must score as batch size 1 does.

    .venv/bin/python bench/classify_bench.py
    .venv/bin/python bench/classify_bench.py --accuracy \\
        --jsonl ../shared/eval/womens-clothing-reviews/reviews.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bpe_openai  # noqa: E402

from shared.decide.classification import model_answer_schema, strict_json_schema  # noqa: E402
from shared.decide.classifier import MaskedText, batch_messages  # noqa: E402
from shared.decide.local_classifier import LocalClassifier  # noqa: E402
from shared.decide.prompts import build_messages, get_prompt_version, load_manifest  # noqa: E402
from shared.decide.taxonomy import get_taxonomy  # noqa: E402
from shared.evaluation.harness import load_prices  # noqa: E402
from shared.ingest.parsing import ParsedRow, read_rows  # noqa: E402
from shared.ingest.sources import RecordMapper, load_mappings  # noqa: E402
from shared.models import make_record_id  # noqa: E402
from shared.settings import PROJECT_ROOT  # noqa: E402

PROMPTS = PROJECT_ROOT / "prompts"
FRAMING_TOKENS_PER_MESSAGE = 3
REPLY_PRIMING_TOKENS = 3


def sample_texts() -> list[str]:
    """The non-empty texts of every bundled sample export, in file order."""
    mappings = load_mappings(PROMPTS)
    texts: list[str] = []
    for path in sorted((PROJECT_ROOT / "samples" / "inbox").rglob("*")):
        if not path.is_file():
            continue
        mapping = mappings[path.parent.name]
        mapper = RecordMapper(
            mapping, received_at=datetime.now(UTC), max_text_chars=20_000, flat_rows=False
        )
        with open(path, "rb") as handle:
            for row in read_rows(handle, mapping, path.name, max_row_chars=1 << 20):
                if isinstance(row, ParsedRow):
                    try:
                        text = mapper.map_fields(row.values)["text"]
                    except Exception:  # noqa: S112 - bad sample rows are skipped
                        continue
                    if text.strip():
                        texts.append(text)
    return texts


def jsonl_texts(path: Path, limit: int) -> list[str]:
    texts = []
    with open(path, "rb") as handle:
        for line in handle:
            text = json.loads(line).get("text")
            if isinstance(text, str) and text.strip():
                texts.append(text.strip())
            if len(texts) >= limit:
                break
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,5,10,25,50")
    parser.add_argument("--encoding", default="o200k_base")
    parser.add_argument(
        "--jsonl", type=Path, help="measure on this JSON Lines file's `text` fields instead"
    )
    parser.add_argument("--limit", type=int, default=1000, help="texts read from --jsonl")
    parser.add_argument("--model", default="gpt-4o-mini", help="price row of eval/prices.yaml")
    parser.add_argument(
        "--accuracy", action="store_true", help="also score every batch size on the adversarial set"
    )
    args = parser.parse_args(argv)
    price = load_prices()[args.model]
    encoding = bpe_openai.get_encoding(args.encoding)

    def tokens(text: str) -> int:
        return len(encoding.encode(text))

    taxonomy = get_taxonomy(PROMPTS)
    prompt = get_prompt_version(PROMPTS, load_manifest(PROMPTS / "classify").active)
    schema_tokens = tokens(json.dumps(strict_json_schema(model_answer_schema(taxonomy))))
    local = LocalClassifier(taxonomy)
    texts = sample_texts() if args.jsonl is None else jsonl_texts(args.jsonl, args.limit)
    items = [MaskedText(make_record_id("bench", str(i)), t) for i, t in enumerate(texts)]
    answers = {item.record_id: local.answer(item) for item in items}
    own = sum(tokens(item.text) for item in items)
    system_tokens = tokens(build_messages(prompt, taxonomy, [])[0]["content"])
    print(
        f"{len(items):,} sample texts, {own:,} tokens of their own ({own / len(items):.0f} per "
        f"text); {args.encoding}; system message {system_tokens:,} tokens, "
        f"answer schema {schema_tokens:,} tokens ({prompt.label})"
    )
    print(
        "\n| batch size | requests | prompt tokens | of which cacheable prefix | completion tokens "
        "| overhead ratio | ratio if the prefix is cached at half price "
        f"| USD per 1,000 records ({args.model}, prefix cached) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in (int(s) for s in args.sizes.split(",")):
        prompt_total = prefix_total = completion_total = 0
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        for batch in batches:
            messages, local_ids = batch_messages(prompt, taxonomy, batch)
            prefix = tokens(messages[0]["content"]) + schema_tokens + FRAMING_TOKENS_PER_MESSAGE
            prompt_total += (
                prefix
                + tokens(messages[1]["content"])
                + FRAMING_TOKENS_PER_MESSAGE
                + REPLY_PRIMING_TOKENS
            )
            prefix_total += prefix
            answer = {
                "results": [
                    answers[i.record_id].model_dump(mode="json") | {"id": lid}
                    for lid, i in zip(local_ids, batch, strict=True)
                ]
            }
            completion_total += tokens(json.dumps(answer, separators=(",", ":")))
        ratio = (prompt_total + completion_total) / own
        cached = (prompt_total - prefix_total / 2 + completion_total) / own
        # The first request of a prefix is not cached; later ones are.
        cached_tokens = prefix_total - prefix_total / len(batches)
        usd = (
            (prompt_total - cached_tokens) * price["input"]
            + cached_tokens * price.get("cached_input", price["input"])
            + completion_total * price["output"]
        ) / 1e6
        print(
            f"| {size} | {len(batches):,} | {prompt_total:,} | {prefix_total:,} | "
            f"{completion_total:,} | {ratio:.2f} | {cached:.2f} | {usd * 1000 / len(items):.4f} |"
        )
    if args.accuracy:
        return accuracy_by_batch_size([int(s) for s in args.sizes.split(",")])
    return 0


def accuracy_by_batch_size(sizes: list[int]) -> int:
    """Score the adversarial set per batch size through the real SDK and a loopback server."""
    import tempfile

    from shared.decide.local_classifier import shipped_text_model
    from shared.evaluation.datasets import load_dataset
    from shared.evaluation.harness import CandidateSpec, Evaluation
    from shared.settings import Settings
    from tests.openai_server import OpenAIServer, Reply, batch_records

    taxonomy = get_taxonomy(PROMPTS)
    model = shipped_text_model(PROMPTS)
    reference = LocalClassifier(taxonomy, text_model=model)
    server = OpenAIServer().start()

    def respond(body: dict) -> Reply:
        records = batch_records(body)
        guesses = model.predict([r["text"] for r in records]) if model else [None] * len(records)
        answers = [
            reference.answer(MaskedText("0" * 32, r["text"]), guess).model_dump(mode="json")
            | {"id": r["id"]}
            for r, guess in zip(records, guesses, strict=True)
        ]
        return Reply(content=json.dumps({"results": answers}))

    server.responder = respond
    print(
        "\n| batch size | theme micro-F1 | sentiment accuracy | urgency accuracy | same as size 1 |"
    )
    print("| ---: | ---: | ---: | ---: | --- |")
    first = None
    failed = False
    try:
        for size in sizes:
            settings = Settings(
                llm_base_url=f"{server.url}/v1",
                llm_model="reference",
                llm_max_retries=0,
                classify_batch_size=size,
            )
            with tempfile.TemporaryDirectory() as cache:
                run = Evaluation(load_dataset("adversarial"), settings, Path(cache)).run(
                    CandidateSpec("openai_compatible")
                )
            m = run["metrics"]
            figures = (
                m["themes"]["micro_f1"],
                m["sentiment"]["accuracy"],
                m["urgency"]["accuracy"],
            )
            first = first or figures
            same = figures == first
            failed |= not same
            print(
                f"| {size} | {figures[0]:.3f} | {figures[1]:.3f} | {figures[2]:.3f} | "
                f"{'yes' if same else 'NO'} |"
            )
    finally:
        server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
