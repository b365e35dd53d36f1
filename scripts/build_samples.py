#!/usr/bin/env python3
"""Build the demo data in ``samples/``: nine weeks of feedback to one imagined shop.

"Hearth & Harvest" sells meal kits, pantry goods and kitchen gear, by subscription or
one-off, to households and offices in five countries, through a web shop and an app.
Every file imitates a real export (Judge.me reviews, an NPS survey, Zendesk tickets, a
chat log, Service Bus events) and tells the same storylines (``STORYLINES``):

* meal kits arrive warm (a courier problem): routed on the demo's first Gold run, fixed
  on 2026-10-28 (insulated boxes, new courier slots): complaints drop - a fix that worked;
* the chef's knife handle cracks: "fixed" on 2026-10-29 (a supplier swap) but the
  complaints go on at the same rate - a fix that did not work;
* app release 5.12.0 on 2026-11-04 breaks checkout until 5.12.1 on 2026-11-11;
* the new espresso pouch's zip won't reseal (no taxonomy theme: an emerging theme);
* background: price rises, praise, a rusting skillet, smashed oil bottles, log-in
  trouble, slow support, feature requests, office invoices.

Texts are written for this project (``scripts/shop_texts.py``), in English, German,
Spanish, French and Portuguese, some with personal data to mask (names, e-mails, phones,
IBANs, street addresses). Segments, categories and countries come with the case and
alias variants real exports have. ``samples/demo-timeline.json`` tells the demo when the
owners act (the dates above), so the demo and the data agree.

The output is byte-for-byte reproducible (``random.Random(SEED)``, fixed dates, gzip
mtime 0). ``--check`` rebuilds in memory and fails when a file on disk differs.

    python scripts/build_samples.py           # writes samples/
    python scripts/build_samples.py --check   # exit 1 if samples/ differs from a fresh build
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shop_texts import (
    CLOSERS,
    DETAILS,
    LANGUAGES,
    OPENERS,
    PEOPLE,
    PII_SENTENCES,
    TEXTS,
    TITLES,
    WEEKDAYS,
)

SEED = 20261126
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "samples"

START, END = date(2026, 9, 28), date(2026, 11, 27)  # Monday .. Friday: the last week is partial
FIRST_GOLD_AS_OF = date(2026, 10, 25)
ROUTED_AT = datetime(2026, 10, 26, 8, 30, tzinfo=UTC)
FIX_WORKED_AT = datetime(2026, 10, 28, 14, 0, tzinfo=UTC)
FIX_FAILED_AT = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)
RELEASE, HOTFIX = date(2026, 11, 4), date(2026, 11, 11)
POUCH_LAUNCH = date(2026, 10, 31)

REVIEWS_1 = "inbox/reviews/judgeme-reviews-2026-11-15.csv"
REVIEWS_2 = "inbox/reviews/judgeme-reviews-2026-11-27.csv"
NPS = "inbox/nps/nps-survey-2026-q4.csv"
TICKETS_JSON = "inbox/tickets/zendesk-tickets-2026-11-13.json"
TICKETS_JSONL_GZ = "inbox/tickets/zendesk-tickets-2026-11-27.jsonl.gz"
CHAT = "inbox/chat/chat-transcripts-2026-q4.csv"
EVENTS = "events/app-feedback-events.jsonl"
TIMELINE = "demo-timeline.json"


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: float | None  # None: the app (the order value is the basket's)
    product_id: int


PRODUCTS = {
    p.sku: p
    for p in [
        Product("HH-KIT-FAM4", "Family Meal Kit", "Meal kits", 64.90, 7481203900417),
        Product("HH-KIT-VEG2", "Veggie Meal Kit", "Meal kits", 39.90, 7481203933185),
        Product("HH-KIT-QCK2", "Quick Supper Kit", "Meal kits", 34.90, 7481203965953),
        Product("HH-PAN-OIL5", "Cold-Pressed Olive Oil 500 ml", "Pantry", 12.50, 7481204326401),
        Product("HH-PAN-ESP1", "House Espresso Beans 1 kg", "Pantry", 24.00, 7481204359169),
        Product("HH-PAN-SPC6", "Spice Starter Set", "Pantry", 19.90, 7481204391937),
        Product("HH-GEA-KNF3", "Chef's Knife Set", "Kitchen gear", 89.00, 7481204424705),
        Product("HH-GEA-SKL28", "Cast-Iron Skillet 28 cm", "Kitchen gear", 54.00, 7481204457473),
        Product("HH-APP", "Hearth & Harvest App", "App", None, 7481204490241),
    ]
}
SEGMENTS = ("Subscriber", "One-off buyer", "Business")
# What exports really hold: case, spacing and alias variants (Silver normalises them).
SEGMENT_VARIANTS = {
    "Subscriber": ["subscriber", "SUBSCRIBER", " Subscriber ", "Subscription"],
    "One-off buyer": ["one-off buyer", "One-Off Buyer", "One-off", "Guest"],
    "Business": ["business", "BUSINESS ", "B2B"],
}
CATEGORY_VARIANTS = {
    "Meal kits": ["meal kits", "Meal Kits", "meal-kits"],
    "Pantry": ["pantry", "PANTRY"],
    "Kitchen gear": ["kitchen gear", "Kitchen Gear"],
    "App": ["app"],
}
REGION_VARIANTS = {
    "GB": ["UK", "United Kingdom", "gb"],
    "IE": ["Ireland"],
    "DE": ["Germany", "Deutschland", "de"],
    "ES": ["Spain", "España"],
    "FR": ["France", "fr"],
    "PT": ["Portugal"],
}
LANGUAGE_WEIGHTS = {"en": 64, "de": 9, "es": 9, "fr": 9, "pt": 9}
# Praise and the pouch story are mostly English: the offline classifier reads English only,
# and unread praise in four languages would crowd the emerging themes.
ENGLISH_MOSTLY = {"en": 88, "de": 3, "es": 3, "fr": 3, "pt": 3}
LOCALE = {"en": "en-GB", "de": "de-DE", "es": "es-ES", "fr": "fr-FR", "pt": "pt-PT"}
KITS = ("HH-KIT-FAM4", "HH-KIT-VEG2", "HH-KIT-QCK2")
PRODUCT_CHANNELS = {"reviews": 35, "nps": 20, "tickets": 25, "chat": 10, "events": 10}
APP_CHANNELS = {"events": 45, "chat": 30, "tickets": 20, "nps": 5}
SERVICE_CHANNELS = {"tickets": 60, "chat": 20, "nps": 20}


def before(moment: datetime, rate_before: float, rate_after: float) -> Callable[[date], float]:
    return lambda day: rate_before if day < moment.date() else rate_after


def release_window(day: date) -> float:
    return 5.0 if RELEASE <= day < HOTFIX else 0.15


def pouch_ramp(day: date) -> float:
    return 0.0 if day < POUCH_LAUNCH else min(2.2, 0.5 + 0.07 * (day - POUCH_LAUNCH).days)


@dataclass(frozen=True)
class Storyline:
    name: str
    skus: tuple[str, ...]
    segments: dict[str, int]
    channels: dict[str, int]
    rate: Callable[[date], float]
    sentiment: str  # how ratings and scores lean: negative / positive / mixed
    pii_share: float = 0.2
    languages: dict[str, int] = field(default_factory=lambda: LANGUAGE_WEIGHTS)


STORYLINES = [
    Storyline(
        "kit_warm",
        ("HH-KIT-FAM4",),
        {"Subscriber": 1},
        PRODUCT_CHANNELS,
        before(FIX_WORKED_AT, 3.0, 0.2),
        "negative",
    ),
    Storyline(
        "kit_cold",
        ("HH-KIT-FAM4",),
        {"Subscriber": 1},
        PRODUCT_CHANNELS,
        before(FIX_WORKED_AT, 0.0, 0.7),
        "positive",
    ),
    Storyline(
        "knife_handle",
        ("HH-GEA-KNF3",),
        {"One-off buyer": 1},
        PRODUCT_CHANNELS,
        lambda day: 1.5,
        "negative",
    ),
    Storyline(
        "knife_ok",
        ("HH-GEA-KNF3",),
        {"One-off buyer": 1},
        PRODUCT_CHANNELS,
        lambda day: 0.25,
        "positive",
        pii_share=0.0,
    ),
    Storyline(
        "app_checkout",
        ("HH-APP",),
        {"Subscriber": 7, "One-off buyer": 3},
        APP_CHANNELS,
        release_window,
        "negative",
    ),
    Storyline(
        "coffee_pouch",
        ("HH-PAN-ESP1",),
        {"Subscriber": 6, "One-off buyer": 4},
        PRODUCT_CHANNELS,
        pouch_ramp,
        "negative",
        languages=ENGLISH_MOSTLY,
    ),
    Storyline(
        "price_rise",
        ("HH-KIT-FAM4", "HH-KIT-VEG2"),
        {"Subscriber": 1},
        {"nps": 50, "tickets": 30, "chat": 20},
        lambda day: 0.8,
        "negative",
    ),
    Storyline(
        "praise",
        (*KITS, "HH-PAN-OIL5", "HH-PAN-SPC6", "HH-GEA-SKL28"),
        {"Subscriber": 5, "One-off buyer": 4, "Business": 1},
        {"reviews": 60, "nps": 40},
        lambda day: 2.6,
        "positive",
        pii_share=0.0,
        languages=ENGLISH_MOSTLY,
    ),
    Storyline(
        "skillet_rust",
        ("HH-GEA-SKL28",),
        {"Business": 1, "One-off buyer": 1},
        PRODUCT_CHANNELS,
        lambda day: 0.4,
        "negative",
    ),
    Storyline(
        "oil_refund",
        ("HH-PAN-OIL5",),
        {"One-off buyer": 7, "Subscriber": 3},
        SERVICE_CHANNELS,
        lambda day: 0.4,
        "negative",
    ),
    Storyline(
        "app_login",
        ("HH-APP",),
        {"Subscriber": 6, "One-off buyer": 4},
        APP_CHANNELS,
        lambda day: 0.4,
        "negative",
    ),
    Storyline(
        "support_slow",
        (*KITS, "HH-GEA-KNF3"),
        {"Subscriber": 5, "One-off buyer": 5},
        SERVICE_CHANNELS,
        lambda day: 0.4,
        "negative",
    ),
    Storyline(
        "veggie_request",
        ("HH-KIT-VEG2",),
        {"Subscriber": 1},
        {"reviews": 40, "nps": 40, "events": 20},
        lambda day: 0.35,
        "mixed",
        pii_share=0.0,
    ),
    Storyline(
        "office_invoice",
        ("HH-KIT-QCK2",),
        {"Business": 1},
        {"tickets": 70, "chat": 30},
        lambda day: 0.45,
        "negative",
    ),
]


@dataclass
class Feedback:
    """One piece of feedback before it is written in a channel's format."""

    storyline: str
    moment: datetime
    channel: str
    language: str
    text: str
    product: Product
    segment: str  # as the export spells it (variants included)
    category: str
    region: str
    order_value: float | None
    sentiment: str
    person: str
    email: str
    number: int = 0


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    keys = sorted(weights)
    return rng.choices(keys, [weights[k] for k in keys])[0]


def variant(rng: random.Random, value: str, variants: dict[str, list[str]], share: float) -> str:
    return rng.choice(variants[value]) if value in variants and rng.random() < share else value


def iban(country: str, bban: str) -> str:
    """An IBAN with valid check digits (ISO 13616 mod 97) for a made-up account."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(digits) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


BBAN = {
    "GB": lambda r: "NWBK" + "".join(r.choice("0123456789") for _ in range(14)),
    "DE": lambda r: "".join(r.choice("0123456789") for _ in range(18)),
    "ES": lambda r: "".join(r.choice("0123456789") for _ in range(20)),
    "FR": lambda r: "".join(r.choice("0123456789") for _ in range(23)),
    "PT": lambda r: "".join(r.choice("0123456789") for _ in range(21)),
}


def pii_sentence(rng: random.Random, language: str, storyline: str) -> str:
    country, names, addresses, phone = PEOPLE[language]
    name = rng.choice(names)
    first, last = name.lower().split()[0], name.lower().split()[-1]
    email = f"{ascii_fold(first)}.{ascii_fold(last)}@example.{rng.choice(['com', 'org', 'net'])}"
    sentences = PII_SENTENCES[language]
    # Refund stories give an IBAN, delivery stories an address, the rest a contact.
    which = 2 if storyline == "oil_refund" else 1 if storyline.startswith("kit_") else 0
    if rng.random() < 0.3:
        which = rng.randrange(3)
    return sentences[which].format(
        name=name,
        phone=phone.format(n=rng.randrange(100)),
        email=email,
        address=rng.choice(addresses),
        iban=iban(country, BBAN[country](rng)),
    )


def ascii_fold(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def order_value(rng: random.Random, product: Product, segment: str) -> float:
    base = product.price if product.price is not None else rng.choice([39.9, 64.9, 34.9])
    quantity = rng.choice([3, 4, 6, 8]) if segment == "Business" else rng.choice([1, 1, 1, 2])
    extras = rng.choice([0.0, 0.0, 12.5, 19.9, 24.0])
    return round(base * quantity + extras, 2)


def generate(rng: random.Random) -> list[Feedback]:
    """Every piece of feedback of the nine weeks, in time order."""
    out: list[Feedback] = []
    day = START
    while day <= END:
        for story in STORYLINES:
            rate = story.rate(day)
            count = int(rate) + (1 if rng.random() < rate - int(rate) else 0)
            for _ in range(count):
                out.append(make_feedback(rng, story, day))
        day += timedelta(days=1)
    out.sort(key=lambda f: (f.moment, f.storyline, f.text))
    for number, item in enumerate(out):
        item.number = number
    return out


def make_feedback(rng: random.Random, story: Storyline, day: date) -> Feedback:
    # Meal-kit stories whose fix lands mid-day keep to their side of the fix's moment.
    hour = rng.choices(
        range(24), [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 9, 10, 11, 10, 8, 5, 3]
    )[0]
    moment = datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=UTC
    )
    if story.name == "kit_warm" and day == FIX_WORKED_AT.date():
        moment = min(moment, FIX_WORKED_AT - timedelta(minutes=30))
    if story.name == "kit_cold" and day == FIX_WORKED_AT.date():
        moment = max(moment, FIX_WORKED_AT + timedelta(minutes=30))
    language = pick(rng, story.languages)
    product = PRODUCTS[rng.choice(story.skus)]
    segment = pick(rng, story.segments)
    text = compose(rng, story, language, product, moment)
    channel = pick(rng, story.channels)
    if channel in ("tickets", "chat") and rng.random() < story.pii_share * 2:
        text = f"{text} {pii_sentence(rng, language, story.name)}"
    country = PEOPLE[language][0]
    if language == "en" and rng.random() < 0.2:
        country = "IE"
    names = PEOPLE[language][1]
    person = rng.choice(names)
    first, last = person.split()[0], person.split()[-1]
    return Feedback(
        storyline=story.name,
        moment=moment,
        channel=channel,
        language=language,
        text=text,
        product=product,
        segment=variant(rng, segment, SEGMENT_VARIANTS, 0.15),
        category=variant(rng, product.category, CATEGORY_VARIANTS, 0.15),
        region=variant(rng, country, REGION_VARIANTS, 0.15),
        order_value=order_value(rng, product, segment),
        sentiment=story.sentiment,
        person=person,
        email=f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}{rng.randrange(100)}@example.com",
    )


def compose(
    rng: random.Random, story: Storyline, language: str, product: Product, moment: datetime
) -> str:
    """Opener + the storyline's sentence + a personal detail + a closer: each text its own."""
    tone = "positive" if story.sentiment == "positive" else "negative"
    core = rng.choice(TEXTS[story.name][language]).format(product=product.name)
    detail = rng.choice(DETAILS[language]).format(
        n=rng.randrange(2, 13), **{key: names[moment.weekday()] for key, names in WEEKDAYS.items()}
    )
    parts = [
        rng.choice(OPENERS[tone][language]),
        core,
        detail,
        rng.choice(CLOSERS[tone][language]),
    ]
    return " ".join(part for part in parts if part)


def duplicate_share(texts: list[str], min_chars: int = 40) -> float:
    """Share of texts (of >= min_chars) that repeat an earlier one, as the quality gate counts."""
    seen: set[str] = set()
    repeated = 0
    for text in texts:
        if len(text) >= min_chars:
            repeated += text in seen
            seen.add(text)
    return repeated / max(1, len(texts))


def rating(rng: random.Random, sentiment: str) -> int:
    return {"negative": rng.choice([1, 1, 2]), "positive": rng.choice([4, 5, 5]), "mixed": 3}[
        sentiment
    ]


def nps_score(rng: random.Random, sentiment: str) -> int:
    return {
        "negative": rng.choice([0, 2, 3, 4, 5, 6]),
        "positive": rng.choice([9, 9, 10]),
        "mixed": rng.choice([7, 8]),
    }[sentiment]


def sha(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def csv_bytes(
    header: list[str],
    rows: list[list[str]],
    delimiter: str = ",",
    crlf: bool = False,
    bom: bool = False,
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8")


REVIEW_HEADER = [
    "title",
    "body",
    "rating",
    "review_date",
    "source",
    "curated",
    "reviewer_name",
    "reviewer_email",
    "product_id",
    "product_handle",
    "product_title",
    "product_type",
    "reply",
    "reply_date",
    "picture_urls",
    "ip_address",
    "location",
    "customer_tags",
    "order_total",
]


def review_row(rng: random.Random, f: Feedback) -> list[str]:
    return [
        rng.choice(TITLES[f.sentiment][f.language]),
        f.text,
        str(rating(rng, f.sentiment)),
        f"{f.moment:%Y-%m-%d %H:%M:%S} UTC",
        rng.choice(["web", "web", "email"]),
        "ok",
        f.person.split()[0] + " " + f.person.split()[-1][0] + ".",
        f.email,
        str(f.product.product_id),
        f.product.sku,
        f.product.name,
        f.category,
        "",
        "",
        "",
        f"192.0.2.{rng.randrange(1, 255)}",
        f.region,
        f.segment,
        f"{f.order_value:.2f}",
    ]


def build_reviews(rng: random.Random, items: list[Feedback]) -> tuple[bytes, bytes, dict]:
    """Two weekly Judge.me exports; the second repeats the first's last week (overlap)."""
    cut = date(2026, 11, 15)
    overlap_from = cut - timedelta(days=6)
    rows = [(f.moment.date(), review_row(rng, f)) for f in items]
    first = [row for day, row in rows if day <= cut]
    second = [row for day, row in rows if day >= overlap_from]
    overlap = sum(1 for day, _ in rows if overlap_from <= day <= cut)
    # Deliberately wrong rows, as real exports have them.
    first[10] = [*first[10][:1], "", *first[10][2:]]  # a star-only review: no body
    first[40] = [*first[40][:2], "five", *first[40][3:]]
    first[70] = [*first[70][:3], "yesterday", *first[70][4:]]
    first.insert(101, list(first[100]))  # an exact duplicate row
    stats = {"first": len(first), "second": len(second), "overlap": overlap}
    return csv_bytes(REVIEW_HEADER, first), csv_bytes(REVIEW_HEADER, second), stats


NPS_HEADER = [
    "Response ID",
    "Score",
    "Comment",
    "Segment",
    "Plan",
    "Country",
    "Response Date",
    "Email",
    "Product SKU",
    "Product",
    "Category",
    "Last Order Value",
]


def build_nps(rng: random.Random, items: list[Feedback]) -> tuple[bytes, int]:
    rows = []
    silent = 0
    for f in items:
        comment = f.text
        if rng.random() < 0.15:  # a score without a comment still counts in NPS
            comment, silent = "", silent + 1
        rows.append(
            [
                f"R_{sha('nps', f.number)[:15]}",
                str(nps_score(rng, f.sentiment)),
                comment,
                f.segment,
                rng.choice(["Weekly Box", "Family Box", "Pantry Plus", "Free"]),
                f.region,
                f"{f.moment:%d/%m/%Y %H:%M}",
                f.email,
                f.product.sku,
                f.product.name,
                f.category,
                f"{f.order_value:.2f}",
            ]
        )
    return csv_bytes(NPS_HEADER, rows, delimiter=";", crlf=True, bom=True), silent


SUBJECTS = {
    "negative": ["Problem with my order", "Complaint", "Please help"],
    "positive": ["Thank you"],
    "mixed": ["Suggestion"],
}
TIERS = {"Subscriber": "subscriber", "One-off buyer": "one-off", "Business": "business"}


def ticket(rng: random.Random, f: Feedback, number: int) -> dict:
    created = f.moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": 48000 + number,
        "url": f"https://hearthandharvest.zendesk.example/api/v2/tickets/{48000 + number}.json",
        "created_at": created,
        "updated_at": (f.moment + timedelta(hours=rng.randrange(1, 48))).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "type": "problem" if f.sentiment == "negative" else "question",
        "subject": rng.choice(SUBJECTS[f.sentiment]),
        "description": f.text,
        "status": rng.choice(["open", "pending", "solved"]),
        "priority": "high" if f.storyline == "app_checkout" else "normal",
        "tags": sorted({f.storyline.split("_")[0], f.language}),
        "via": {"channel": rng.choice(["email", "web"])},
        "requester": {
            "name": f.person,
            "email": f.email,
            "country": f.region,
            "organization": {
                "name": "Hearth & Harvest customers"
                if "Business" not in f.segment
                else "Acme Offices Ltd",
                "tier": f.segment,
            },
        },
        "order": {
            "number": f"HH-{100000 + number}",
            "sku": f.product.sku,
            "product": f.product.name,
            "category": f.category,
            "total": f.order_value,
        },
    }


def build_tickets(rng: random.Random, items: list[Feedback]) -> tuple[bytes, bytes, dict]:
    """A Zendesk JSON export to 11-13, then gzipped JSON Lines whose first 10 repeat it."""
    tickets = [ticket(rng, f, n) for n, f in enumerate(items)]
    cut = datetime(2026, 11, 14, tzinfo=UTC)
    first = [t for t, f in zip(tickets, items, strict=True) if f.moment < cut]
    rest = [t for t, f in zip(tickets, items, strict=True) if f.moment >= cut]
    second = first[-10:] + rest
    document = {
        "tickets": first,
        "count": len(first),
        "end_of_stream": False,
        "end_time": int(cut.timestamp()),
        "next_page": "https://hearthandharvest.zendesk.example/api/v2/incremental/tickets.json?start_time="
        + str(int(cut.timestamp())),
    }
    lines = b"".join(json.dumps(t, ensure_ascii=False).encode() + b"\n" for t in second)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(lines)
    stats = {"first": len(first), "second": len(second), "repeated": 10}
    return (
        json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n",
        buffer.getvalue(),
        stats,
    )


CHAT_HEADER = [
    "conversation_id",
    "started_at",
    "customer_message",
    "agent_team",
    "plan",
    "country",
    "app_version",
    "segment",
    "product",
    "sku",
    "category",
    "order_value",
]


def app_version(day: date) -> str:
    return "5.11.2" if day < RELEASE else "5.12.0" if day < HOTFIX else "5.12.1"


def build_chat(rng: random.Random, items: list[Feedback]) -> bytes:
    rows = [
        [
            f"conv_{sha('chat', f.number)[:12]}",
            f.moment.isoformat().replace("+00:00", "Z"),
            f.text,
            "payments" if f.storyline == "app_checkout" else rng.choice(["care", "orders"]),
            rng.choice(["Weekly Box", "Family Box", "Free"]),
            f.region,
            app_version(f.moment.date()),
            f.segment,
            f.product.name,
            f.product.sku,
            f.category,
            f"{f.order_value:.2f}",
        ]
        for f in items
    ]
    return csv_bytes(CHAT_HEADER, rows)


def build_events(rng: random.Random, items: list[Feedback]) -> tuple[bytes, dict]:
    """Service Bus bodies: mostly one event each, some batched arrays, 3 redeliveries."""
    events = [
        {
            "event_id": f"evt_{sha('event', f.number)[:12]}",
            "source": rng.choice(["app_widget", "app_store", "social"]),
            "channel": "social" if f.storyline == "coffee_pouch" and rng.random() < 0.5 else "chat",
            "created_at": f.moment.isoformat().replace("+00:00", "Z"),
            "text": f.text,
            "title": "In-app feedback" if rng.random() < 0.3 else None,
            "locale": LOCALE[f.language],
            "customer_segment": f.segment,
            "product": f.product.name,
            "sku": f.product.sku,
            "product_category": f.category,
            "order_value": f.order_value,
            "region": f.region,
            "metadata": {
                "app_version": app_version(f.moment.date()),
                "screen": "checkout" if f.storyline == "app_checkout" else "home",
            },
        }
        for f in items
    ]
    lines: list[bytes] = []
    at = 0
    while at < len(events):
        size = 3 if rng.random() < 0.1 else 1
        chunk = events[at : at + size]
        body = chunk[0] if size == 1 else chunk
        lines.append(json.dumps(body, ensure_ascii=False).encode())
        at += size
    redelivered = [5, 25, 45]
    for offset, line_no in enumerate(redelivered):
        lines.insert(line_no + 3 + offset, lines[line_no])
    return b"\n".join(lines) + b"\n", {"lines": len(lines), "events": len(events), "redelivered": 3}


def timeline() -> bytes:
    """When the shop's owners act in the demo, and what the data says happened."""
    kit = {"theme": "shipping", "product": "Family Meal Kit", "segment": "Subscriber"}
    knife = {"theme": "product_quality", "product": "Chef's Knife Set", "segment": "One-off buyer"}
    iso = "%Y-%m-%dT%H:%M:%SZ"
    document = {
        "shop": "Hearth & Harvest",
        "window": {"start": START.isoformat(), "end": END.isoformat()},
        "first_gold_as_of": FIRST_GOLD_AS_OF.isoformat(),
        "routed_at": ROUTED_AT.strftime(iso),
        "release": {"date": RELEASE.isoformat(), "version": "5.12.0", "hotfix": HOTFIX.isoformat()},
        "owners": [
            {
                "at": "2026-10-26T09:40:00Z",
                "via": "slack",
                "action": "confirm",
                "insight": kit,
                "actor": "U_LOGISTICS_LEAD",
            },
            {
                "at": "2026-10-26T11:05:00Z",
                "via": "slack",
                "action": "reassign",
                "insight": knife,
                "actor": "U_PRODUCT_LEAD",
                "new_owner": "merchandising",
            },
            {
                "at": "2026-10-27T10:00:00Z",
                "via": "review",
                "action": "correct",
                "language": "de",
                "quote": "die Kühlakkus waren geschmolzen",
                "theme": "shipping",
                "reviewer": "reviewer-de",
                "note": "German: the offline classifier reads English only",
            },
            {
                "at": FIX_WORKED_AT.strftime(iso),
                "via": "jira",
                "action": "done",
                "insight": kit,
                "actor": "logistics-lead",
                "note": "insulated boxes and new courier slots",
            },
            {
                "at": FIX_FAILED_AT.strftime(iso),
                "via": "jira",
                "action": "done",
                "insight": knife,
                "actor": "sourcing-lead",
                "note": "handle supplier swapped",
            },
        ],
        "expected": {"worked": kit, "failed": knife},
        # The shop's own spellings, for Silver (insightloop.aliases.<column>).
        "aliases": {
            "customer_segment": {
                "subscription": "Subscriber",
                "one-off": "One-off buyer",
                "guest": "One-off buyer",
                "b2b": "Business",
            },
            "product_category": {"meal-kits": "Meal kits"},
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"


def build() -> tuple[dict[str, bytes], dict]:
    rng = random.Random(SEED)
    items = generate(random.Random(rng.random()))
    by_channel: dict[str, list[Feedback]] = {}
    for item in items:
        by_channel.setdefault(item.channel, []).append(item)
    reviews_1, reviews_2, review_stats = build_reviews(
        random.Random(rng.random()), by_channel["reviews"]
    )
    nps, silent = build_nps(random.Random(rng.random()), by_channel["nps"])
    tickets_1, tickets_2, ticket_stats = build_tickets(
        random.Random(rng.random()), by_channel["tickets"]
    )
    chat = build_chat(random.Random(rng.random()), by_channel["chat"])
    events, event_stats = build_events(random.Random(rng.random()), by_channel["events"])
    files = {
        REVIEWS_1: reviews_1,
        REVIEWS_2: reviews_2,
        NPS: nps,
        TICKETS_JSON: tickets_1,
        TICKETS_JSONL_GZ: tickets_2,
        CHAT: chat,
        EVENTS: events,
        TIMELINE: timeline(),
    }
    stats = {
        "records": len(items),
        "channels": {k: len(v) for k, v in sorted(by_channel.items())},
        "languages": {lang: sum(f.language == lang for f in items) for lang in LANGUAGES},
        "storylines": {s.name: sum(f.storyline == s.name for f in items) for s in STORYLINES},
        "reviews": review_stats,
        "nps_without_comment": silent,
        "tickets": ticket_stats,
        "events": event_stats,
        "duplicate_text_share": {
            k: round(duplicate_share([f.text for f in v]), 3) for k, v in sorted(by_channel.items())
        },
    }
    return files, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--check", action="store_true", help="fail if --out differs")
    parser.add_argument("--stats", action="store_true", help="print what was built")
    args = parser.parse_args(argv)
    files, stats = build()
    if args.stats:
        print(json.dumps(stats, indent=2))
    if args.check:
        stale = [
            name
            for name, data in files.items()
            if not (args.out / name).is_file() or (args.out / name).read_bytes() != data
        ]
        for name in stale:
            print(f"out of date: {name}", file=sys.stderr)
        return 1 if stale else 0
    for old in sorted(p for p in (args.out / "inbox").rglob("*") if p.is_file()):
        if old.relative_to(args.out).as_posix() not in files:
            old.unlink()
    for old in sorted((args.out / "events").glob("*")):
        if old.relative_to(args.out).as_posix() not in files:
            old.unlink()
    for name, data in files.items():
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
