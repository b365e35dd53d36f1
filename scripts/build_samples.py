#!/usr/bin/env python3
"""Build the bundled demo data in ``samples/`` from public, permissively licensed datasets.

The fictional shop is "Hearth & Harvest" (meal kits, pantry goods, kitchen gear, a
subscription plan and a mobile app with a wallet). Every file imitates a real export:

* reviews  - Judge.me CSV exports (MAMS-ACSA sentences, Apache-2.0)
* nps      - a European-Excel NPS export (MAMS-ACSA sentences, Apache-2.0)
* tickets  - Zendesk incremental exports, JSON and gzipped JSON Lines
             (Bitext customer-support requests, CDLA-Sharing-1.0)
* chat     - a generic chat-log CSV (banking77 train, CC BY 4.0)
* events   - Service Bus message bodies (CLINC150 train, CC BY 3.0; banking77 test)

Only the datasets above are read; the others under ../shared/eval have licences that do
not allow copying their text into this repository.

The output is byte-for-byte reproducible: one seeded ``random.Random(20261126)`` (every
section draws from its own generator seeded from it), fixed base dates, no wall clock,
sorted iteration only, gzip with mtime 0. ``--check`` rebuilds in memory and fails when a
file on disk differs.

Usage::

    python scripts/build_samples.py                 # writes samples/
    python scripts/build_samples.py --check         # verify samples/ is up to date
    python scripts/build_samples.py --eval-dir /path/to/shared/eval --out /tmp/samples
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import re
import sys
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

SEED = 20261126
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"
DEFAULT_OUT_DIR = REPO_ROOT / "samples"

REVIEWS_1 = "inbox/reviews/judgeme-reviews-2026-11-19.csv"
REVIEWS_2 = "inbox/reviews/judgeme-reviews-2026-11-26.csv"
NPS = "inbox/nps/nps-survey-2026-11.csv"
TICKETS_JSON = "inbox/tickets/zendesk-tickets-2026-11-26.json"
TICKETS_JSONL_GZ = "inbox/tickets/zendesk-tickets-2026-11-27.jsonl.gz"
CHAT = "inbox/chat/chat-transcripts-2026-11.csv"
EVENTS = "events/app-feedback-events.jsonl"


def table(text: str) -> list[list[str]]:
    """Rows of a ``|``-separated literal table (keeps the data below compact)."""
    return [[cell.strip() for cell in line.split("|")] for line in text.strip().splitlines()]


def items(text: str, sep: str = ",") -> list[str]:
    """A ``sep``-separated literal list."""
    return [" ".join(item.split()) for item in text.split(sep) if item.strip()]


REVIEW_HEADER = items(
    "title, body, rating, review_date, source, curated, reviewer_name, reviewer_email, "
    "product_id, product_handle, product_title, reply, reply_date, picture_urls, ip_address, "
    "location"
)
NPS_HEADER = items("Response ID, Score, Comment, Segment, Plan, Country, Response Date, Email")
CHAT_HEADER = items(
    "conversation_id, started_at, customer_message, agent_team, plan, country, app_version"
)

# ---------------------------------------------------------------------------------------
# The shop: products, people, places
# ---------------------------------------------------------------------------------------

Product = tuple[int, str, str, str, tuple[str, ...]]
# Shopify product id | handle | title | kind | keywords that route a review sentence to it
PRODUCTS: list[Product] = [
    (int(pid), handle, title, kind, tuple(items(keywords)))
    for pid, handle, title, kind, keywords in table("""
7481203900417 | thai-green-curry-kit | Thai Green Curry Kit | kit | curry, curries, thai, coconut, lemongrass, indian, tikka, masala, spicy
7481203933185 | sourdough-pizza-night-kit | Sourdough Pizza Night Kit | kit | pizza, pizzas, pies, slice, slices, crust, mozzarella, margherita, calzone
7481203965953 | weeknight-pasta-box | Weeknight Pasta Box | kit | pasta, spaghetti, ravioli, gnocchi, lasagna, risotto, italian, meatballs, penne, linguine, carbonara, parmesan
7481204031489 | miso-ramen-kit | Miso Ramen Kit | kit | ramen, noodle, noodles, soup, soups, broth, pho, udon
7481204064257 | sushi-at-home-kit | Sushi at Home Kit | kit | sushi, sashimi, roll, rolls, fish, tuna, salmon, rice, japanese, tempura
7481204097025 | taco-tuesday-kit | Taco Tuesday Kit | kit | taco, tacos, burrito, burritos, mexican, salsa, guacamole, quesadilla, nachos, enchiladas
7481204129793 | family-roast-chicken-box | Family Roast Chicken Box | kit | chicken, roast, steak, meat, lamb, pork, burger, burgers, bbq, ribs, beef, duck, fries
7481204162561 | mediterranean-mezze-box | Mediterranean Mezze Box | kit | hummus, falafel, greek, mezze, pita, lebanese, salad, salads, feta, kebab, middle eastern
7481204195329 | dim-sum-dumpling-kit | Dim Sum Dumpling Kit | kit | dumpling, dumplings, dim sum, chinese, buns, wonton, wontons, shrimp
7481204228097 | weekend-brunch-box | Weekend Brunch Box | kit | brunch, eggs, pancakes, french toast, bagel, bagels, breakfast, omelet, waffles, coffee
7481204260865 | dark-chocolate-dessert-kit | Dark Chocolate Dessert Kit | kit | dessert, desserts, desert, chocolate, cake, tiramisu, pastry, pastries, cheesecake, ice cream
7481204293633 | artisan-pantry-bundle | Artisan Pantry Bundle | pantry | bread, cheese, cheeses, olives, antipasto, appetizer, appetizers, tapas, sauce, sauces
7481204326401 | cold-pressed-olive-oil-500ml | Cold-Pressed Olive Oil, 500 ml | pantry | olive oil
7481204359169 | smoked-paprika-6-pack | Smoked Paprika Spice Jars (6-pack) | pantry | paprika, spices, seasoning
7481204391937 | cast-iron-skillet-26cm | Cast Iron Skillet 10" / 26 cm | gear | skillet
7481204424705 | chefs-knife-20cm | Chef's Knife 8" (20 cm) | gear | knife, knives
""")  # noqa: E501
]
KIND_WEIGHT = {"kit": 10, "pantry": 3, "gear": 1}

# country | weight | first names | last names | cities
PEOPLE_TABLE = table("""
US | 30 | Emily, Jacob, Madison, Tyler, Ashley, Marcus, Brianna, Kevin, Jasmine, Ryan, Megan, Andre, Lauren, Derek, Hannah, Carlos | Johnson, Carter, Nguyen, Brooks, Ramirez, Patel, Sullivan, Kim, Foster, Hayes, Coleman, Ortiz, Reyes, Whitfield | Portland, Austin, Denver, Chicago, Brooklyn, Seattle, Raleigh, San Diego, Minneapolis, Boston
GB | 24 | Olivia, Harry, Amelia, George, Isla, Oliver, Freya, Callum, Rhys, Priya, Imogen, Tom | Whitaker, Hughes, Patel, O'Connor, Bennett, Clarke, Ahmed, Lloyd, Fletcher, Okafor, Marsh, Doyle | Leeds, Bristol, Manchester, London, Glasgow, Brighton, Cardiff, Edinburgh, Norwich
IE | 5 | Aoife, Cian, Saoirse, Oisín, Niamh, Conor | Murphy, Byrne, Kelly, O'Brien, Walsh, Ní Bhriain | Dublin, Cork, Galway
FR | 7 | Camille, Léa, Louis, Théo, Chloé, Hugo, Manon, Étienne | Lefèvre, Moreau, Girard, Bonnet, Dubois, Fournier, Mercier, Rousseau | Lyon, Paris, Nantes, Bordeaux, Lille
DE | 8 | Jonas, Lea, Lukas, Mia, Felix, Jürgen, Anna, Maximilian | Müller, Schröder, Becker, Hoffmann, Weiß, Krüger, Wagner, Schäfer | Berlin, Hamburg, Munich, Cologne, Leipzig
NL | 4 | Sanne, Daan, Lotte, Bram | de Vries, Jansen, van Dijk, Bakker | Amsterdam, Utrecht, Rotterdam
ES | 5 | José, Lucía, Javier, María, Álvaro, Inés | García, Fernández, López, Martín, Núñez, Sánchez | Madrid, Valencia, Seville, Barcelona
CA | 6 | Chloe, Liam, Noah, Avery, Gabriel | Tremblay, Gagnon, Roy, Wilson, Chen | Toronto, Vancouver, Montréal
AU | 5 | Mia, Jack, Charlotte, Lachlan | Taylor, Nguyen, Mitchell, Kelly | Melbourne, Sydney, Brisbane
SE | 3 | Zoë, Erik, Elsa | Ångström, Lindqvist, Sjöberg | Stockholm, Gothenburg
PL | 3 | Łukasz, Zofia, Kacper | Wróbel, Kowalczyk, Zieliński | Warsaw, Kraków
""")  # noqa: E501
COUNTRIES: dict[str, dict[str, list[str]]] = {
    country: {"first": items(first), "last": items(last), "city": items(city)}
    for country, _, first, last, city in PEOPLE_TABLE
}
COUNTRY_WEIGHT = {country: int(weight) for country, weight, *_ in PEOPLE_TABLE}
# Fixed people so the ticket samples always carry a few non-ASCII names.
SPECIAL_PEOPLE = [
    tuple(row)
    for row in table("""
José | Müller | DE | Berlin
Zoë | Ångström | SE | Stockholm
Łukasz | Wróbel | PL | Kraków
Nguyễn Thị | Lan | US | Seattle
Siobhán | Ní Bhriain | IE | Galway
François | Lefèvre | FR | Lyon
Søren | Østergaard | DK | Copenhagen
""")
]
# Winter UTC offsets (November 2026: US and EU daylight saving time has ended).
CITY_OFFSET = {
    **dict.fromkeys(items("Portland, Seattle, San Diego, Vancouver"), -8),
    "Denver": -7,
    **dict.fromkeys(items("Austin, Chicago, Minneapolis"), -6),
    **dict.fromkeys(items("Brooklyn, Raleigh, Boston, Toronto, Montréal"), -5),
    **dict.fromkeys(items("Melbourne, Sydney"), 11),
    "Brisbane": 10,
}
COUNTRY_OFFSET = {"GB": 0, "IE": 0, "FR": 1, "DE": 1, "NL": 1, "ES": 1, "SE": 1, "PL": 1, "DK": 1}
MAIL_DOMAINS = ["example.com", "example.net", "example.org"]
PLANS = ["Weekly Box", "Family Box", "Pantry Plus", "Free"]
PLAN_WEIGHT = [35, 30, 20, 15]
APP_VERSIONS = ["5.10.3", "5.11.0", "5.11.2", "5.12.0", "5.12.1"]
APP_VERSION_WEIGHT = [4, 6, 10, 18, 30]
# Hour-of-day weights (UTC) so timestamps cluster in waking hours.
HOUR_WEIGHT = [2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 9, 10, 11, 10, 8, 5, 3]


def ascii_fold(text: str) -> str:
    table = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae"})
    decomposed = unicodedata.normalize("NFKD", text.translate(table))
    return (
        "".join(c for c in decomposed if not unicodedata.combining(c))
        .encode("ascii", "ignore")
        .decode()
    )


def slug(text: str) -> str:
    return re.sub(r"[^a-z]", "", ascii_fold(text).lower())


class Person:
    def __init__(self, first: str, last: str, country: str, city: str, email: str) -> None:
        self.first, self.last, self.country, self.city, self.email = (
            first,
            last,
            country,
            city,
            email,
        )

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def make_email(rng: random.Random, first: str, last: str, domain: str | None = None) -> str:
    fn, ln = slug(first.split()[0]), slug(last)
    local = rng.choice(
        [
            f"{fn}.{ln}",
            f"{fn}{ln}{rng.randrange(10, 99)}",
            f"{fn[0]}{ln}",
            f"{fn}_{ln[0]}{rng.randrange(70, 99)}",
            f"{fn}.{ln}",
        ]
    )
    return f"{local}@{domain or rng.choice(MAIL_DOMAINS)}"


def make_people(rng: random.Random, count: int, special: bool = False) -> list[Person]:
    """``count`` distinct invented people; e-mails use the reserved example.* domains."""
    people: list[Person] = []
    seen: set[str] = set()
    if special:
        for first, last, country, city in SPECIAL_PEOPLE:
            people.append(Person(first, last, country, city, make_email(rng, first, last)))
            seen.add(f"{first} {last}")
    countries = list(COUNTRY_WEIGHT)
    weights = [COUNTRY_WEIGHT[c] for c in countries]
    while len(people) < count:
        country = rng.choices(countries, weights)[0]
        pool = COUNTRIES[country]
        first, last = rng.choice(pool["first"]), rng.choice(pool["last"])
        if f"{first} {last}" in seen:
            continue
        seen.add(f"{first} {last}")
        people.append(
            Person(first, last, country, rng.choice(pool["city"]), make_email(rng, first, last))
        )
    return people


def fictional_phone(rng: random.Random, country: str) -> str | None:
    """Numbers from ranges reserved for fiction (NANP 555-01xx, Ofcom 07700 900xxx)."""
    if country in ("US", "CA"):
        area = rng.choice([202, 312, 415, 503, 512, 617, 720, 416, 604])
        return f"+1 {area}-555-01{rng.randrange(100):02d}"
    if country in ("GB",):
        return f"+44 7700 900{rng.randrange(1000):03d}"
    return None


def doc_ip(rng: random.Random) -> str:
    """Addresses from the documentation ranges (RFC 5737 / RFC 3849)."""
    if rng.random() < 0.15:
        groups = (rng.randrange(0x10000), rng.randrange(0x10000), rng.randrange(1, 0xFFFF))
        return "2001:db8:{:x}:{:x}::{:x}".format(*groups)
    net = rng.choice(["192.0.2", "198.51.100", "203.0.113"])
    return f"{net}.{rng.randrange(1, 255)}"


def rand_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A time in [start, end), uniform over days, weighted over hours."""
    days = (end.date() - start.date()).days
    while True:
        day = start.replace(hour=0, minute=0, second=0) + timedelta(days=rng.randrange(days + 1))
        hour = rng.choices(range(24), HOUR_WEIGHT)[0]
        moment = day + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
        if start <= moment < end:
            return moment


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# Source datasets
# ---------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# MAMS is restaurant reviews; drop sentences that only make sense inside a restaurant
# (waiters, tables, decor, the street) so the rest reads as meal-kit / food reviews.
def word_pattern(alternatives: str) -> re.Pattern[str]:
    """A case-insensitive whole-word regex from a comma-separated list of alternatives."""
    return re.compile(rf"\b({'|'.join(items(alternatives))})\b", re.IGNORECASE)


RESTAURANT_ONLY = word_pattern("""
    waiters?, waitress(es)?, waitstaff, wait staff, servers?, hostess(es)?, hosts?, bartenders?,
    busboys?, busser, maitre, maître, reservations?, reserved, seated, seating, seat, tables?,
    decor, décor, atmosphere, ambiance, ambience, dining room, bar, tips?, tipped, gratuity,
    restaurants?, manager, owners?, music, patio, bathrooms?, restroom, crowd(ed)?, we went,
    walked in, lounge, dj, hotel, upstairs, downstairs, outdoor, indoor, sidewalk, decorated,
    interior, dined, captain, check, bill, waited, wait, line, doorman, cashier, counter, dress,
    bouncer, booth, lighting, cozy, noisy, noise, loud, view, location, neighborhood, street,
    avenue, block, nyc, manhattan, brooklyn, soho, village, drunk, date, floor, space, room,
    band, jazz, dining, diners, environment, scene, downtown, uptown, town, go to, went to, been
    there, was there, were there, eat there, eating there, eat here, came here, come here, walk
    in, walked, lunch spot, ate there, came in, come in, got there, arrived, inside, outside,
    get in, vodka, labor day
""")
# MAMS polarities are per aspect; a sentence labelled all-positive that says "terrible"
# (or the reverse) would make a rating that contradicts the text, so such sentences are
# left out of the positive / negative classes.
NEGATIVE_CUES = word_pattern("""
    terrible, horrible, horrid, awful, worst, rude, disappoint\\w*, never again, somewhere else,
    elsewhere, overpriced, bland, mediocre, cold, slow, not worth, too expensive, over ?priced,
    inedible, tasteless, soggy, stale, burnt, bad, poor, nasty, gross, unfriendly, rip ?off,
    ripped off, avoid, sick, forever, small portions, tiny, salty, greasy, dry, rather go,
    nothing special, expensive, pricey, mistake, lousy, sucks?, gone
""")
POSITIVE_CUES = word_pattern("""
    delicious, excellent, amazing, great, best, love[ds]?, fantastic, wonderful, awesome,
    perfect\\w*, tasty, yummy, superb, outstanding, fabulous, favou?rites?, incredible, good,
    nice, fresh, friendly, recommend\\w*, worth, enjoy\\w*, impressive, impressed, attentive,
    reasonable, generous, happy, pleased, terrific
""")
# Capitalised words inside a sentence are mostly restaurant and dish names ("Nobu",
# "Grimaldi's"); sentences with them are left out unless the word is on this list.
# All-caps words (emphasis: "VERY salty") are fine.
COMMON_CAPITALISED = set(
    items(
        "I, I'm, I've, I'd, I'll, French, Italian, Japanese, Chinese, Mexican, Thai, Indian, "
        "Greek, Spanish, Korean, Vietnamese, American, Asian, European, Mediterranean, Caesar, "
        "Parmesan, "
        "Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Ok"
    )
)
CAPITALISED_WORD = re.compile(r"(?<![.!?:;-]\s)(?<!^)\b[A-Z][a-z][a-zA-Z'’]*")


def has_proper_name(text: str) -> bool:
    return text.startswith("The Food ") or any(
        word not in COMMON_CAPITALISED for word in CAPITALISED_WORD.findall(text)
    )


QUOTED_PHRASE = re.compile(r"(^|\s)'([^']{2,40})'(?=\s|[.,!?]|$)")
QUOTE_CANDIDATE_EXCLUDE = re.compile(
    r"\b(waiters?|manager|bartender|maitre|seated|tables?|people watching)\b", re.I
)


class Sentence:
    def __init__(self, record: dict) -> None:
        self.id = record["id"]
        self.text = " ".join(record["text"].split())
        self.aspects = [(a["category"], a["polarity"]) for a in record["aspects"]]

    @property
    def pos(self) -> int:
        return sum(p == "positive" for _, p in self.aspects)

    @property
    def neg(self) -> int:
        return sum(p == "negative" for _, p in self.aspects)

    @property
    def cls(self) -> str:
        return polarity_class(self.pos, self.neg)


def polarity_class(pos: int, neg: int) -> str:
    if pos and neg:
        return "mixed"
    return "positive" if pos else "negative" if neg else "neutral"


class SentencePool:
    """MAMS train sentences in a seeded order; ``take`` pops the next one of a class."""

    def __init__(self, sentences: list[Sentence]) -> None:
        self.items = list(sentences)

    def take(self, cls: str | None = None) -> Sentence:
        for index, sentence in enumerate(self.items):
            if cls is None or sentence.cls == cls:
                return self.items.pop(index)
        raise RuntimeError(f"sentence pool exhausted (class {cls})")


class Text:
    """A review/comment body made of 1-2 MAMS sentences, with combined polarity counts."""

    def __init__(self, sentences: list[Sentence], sep: str = " ") -> None:
        self.sentences = sentences
        self.body = sep.join(s.text for s in sentences)
        self.pos = sum(s.pos for s in sentences)
        self.neg = sum(s.neg for s in sentences)
        self.cls = polarity_class(self.pos, self.neg)
        self.aspects = [a for s in sentences for a in s.aspects]


def load_mams(eval_dir: Path, rng: random.Random) -> tuple[SentencePool, list[Sentence]]:
    # train and val; the test split stays reserved for evaluation
    records = [
        r
        for r in read_jsonl(eval_dir / "mams-acsa" / "mams_acsa.jsonl")
        if r["split"] in ("train", "val")
    ]
    quote_candidates = [
        Sentence(r)
        for r in records
        if QUOTED_PHRASE.search(r["text"]) and not QUOTE_CANDIDATE_EXCLUDE.search(r["text"])
    ]
    quote_ids = {s.id for s in quote_candidates}
    usable = [
        Sentence(r)
        for r in records
        if r["id"] not in quote_ids
        and 25 <= len(r["text"].strip()) <= 260
        and not RESTAURANT_ONLY.search(r["text"])
        and not has_proper_name(r["text"].strip())
    ]
    usable = [
        s
        for s in usable
        if not (s.cls == "positive" and NEGATIVE_CUES.search(s.text))
        and not (s.cls == "negative" and POSITIVE_CUES.search(s.text))
    ]
    rng.shuffle(usable)
    rng.shuffle(quote_candidates)
    quote_candidates.sort(key=lambda s: has_proper_name(s.text))  # stable: no names first
    for sentence in quote_candidates:  # 'scare quotes' typed as straight double quotes
        sentence.text = QUOTED_PHRASE.sub(r'\1"\2"', sentence.text)
    return SentencePool(usable), quote_candidates


def compose_text(
    rng: random.Random,
    pool: SentencePool,
    join_prob: float,
    sep: str | None = None,
    first: Sentence | None = None,
) -> Text:
    """One sentence, or (with ``join_prob`` / when ``sep`` is given) two of the same class."""
    s1 = first or pool.take()
    if sep is None and rng.random() >= join_prob:
        return Text([s1])
    # Mostly two sentences of the same class; sometimes a positive and a negative one.
    want = s1.cls if rng.random() < 0.8 else None
    s2 = pool.take(want)
    return Text([s1, s2], sep if sep is not None else " ")


# ---------------------------------------------------------------------------------------
# Reviews (Judge.me)
# ---------------------------------------------------------------------------------------

DISHES = items(
    "pizza, curry, ramen, sushi, pasta, tacos, burger, burgers, dumplings, soup, salad, steak, "
    "chicken, dessert, noodles, fries, bread, cheesecake, risotto, lasagna, brunch, pancakes, "
    "duck, lamb, salmon, dim sum, tiramisu"
)
TITLE_POS = items(
    "Absolutely delicious! | Really tasty | So good | Will order again | Loved it | "
    "Fantastic meal kit | Great kit | Family favourite | Better than takeout | "
    "Excellent as always | Highly recommend | So yummy | Very happy | Great flavours | "
    "Five stars | Really impressed | Perfect weeknight dinner | Lovely dinner | Spot on | "
    "A new favourite",
    "|",
)
TITLE_NEG = items(
    "Quite disappointed | Not great | Not impressed | Won't reorder | Very disappointing | "
    "Not what I expected | Meh, not great | Expected better | Poor this time | Not for us | "
    "Bit of a letdown",
    "|",
)
TITLE_MIXED = items(
    "Mixed feelings | Hit and miss | It's okay | Good but not great | Some good, some bad | "
    "Decent overall | Pretty average | OK, could be better",
    "|",
)
TITLE_POS_CAT = {
    "food": ["Tasty and fresh", "Delicious food", "Great flavour", "Really fresh ingredients"],
    "price": ["Great value", "Worth every penny", "Good value for money"],
    "service": ["Great service", "Quick and easy"],
    "staff": ["Friendly team", "Lovely people"],
    "menu": ["Great choice of dishes", "Love the variety"],
}
TITLE_NEG_CAT = {
    "food": ["Bland food", "Food was disappointing", "Not very tasty"],
    "price": ["Overpriced for what it is", "Too expensive", "Not worth the price"],
    "service": ["Slow service", "Poor service"],
    "staff": ["Rude staff", "Unhelpful staff"],
    "menu": ["Limited choice", "Boring menu"],
}
MIX_POS = {
    "food": "Tasty",
    "price": "Good value",
    "service": "Good service",
    "staff": "Friendly staff",
    "menu": "Nice variety",
}
MIX_NEG = {
    "food": "bland food",
    "price": "pricey",
    "service": "slow service",
    "staff": "rude staff",
    "menu": "limited menu",
}
REPLIES = {
    "positive": [
        "Thank you so much, {first}! We're thrilled the {product} hit the spot. "
        "- Maya at Hearth & Harvest",
        "Thanks {first}, this made our day. Enjoy your next box! - The Hearth & Harvest team",
    ],
    "negative": [
        "Hi {first}, we're sorry this one didn't live up to expectations. We've emailed you a "
        "credit for your next order. - Daniel, Hearth & Harvest Customer Care",
        "Sorry to hear this, {first}. Our kitchen team is looking into it and we've reached out "
        "by email. - The Hearth & Harvest team",
    ],
    "mixed": [
        "Thanks for the honest feedback, {first}. We've shared your notes with our recipe team. "
        "- Maya at Hearth & Harvest",
    ],
}


def review_title(rng: random.Random, text: Text) -> str:
    if rng.random() < 0.30:
        return ""
    lower = text.body.lower()
    dishes = [d for d in DISHES if re.search(rf"\b{re.escape(d)}\b", lower)]
    pos_cats = [c for c, p in text.aspects if p == "positive" and c in TITLE_POS_CAT]
    neg_cats = [c for c, p in text.aspects if p == "negative" and c in TITLE_NEG_CAT]
    roll = rng.random()
    if text.cls == "positive":
        if dishes and roll < 0.3:
            praise = rng.choice(["Amazing", "Great", "Best", "Delicious", "Lovely"])
            title = f"{praise} {rng.choice(dishes)}"
        elif pos_cats and roll < 0.6:
            title = rng.choice(TITLE_POS_CAT[rng.choice(pos_cats)])
        else:
            title = rng.choice(TITLE_POS)
    elif text.cls == "negative":
        if dishes and roll < 0.25:
            title = f"Disappointing {rng.choice(dishes)}"
        elif neg_cats and roll < 0.6:
            title = rng.choice(TITLE_NEG_CAT[rng.choice(neg_cats)])
        else:
            title = rng.choice(TITLE_NEG)
    else:
        pc = [c for c in pos_cats if c in MIX_POS]
        nc = [c for c in neg_cats if c in MIX_NEG]
        pairs = [(p, n) for p in pc for n in nc if p != n]
        if pairs and roll < 0.6:
            p, n = rng.choice(pairs)
            title = f"{MIX_POS[p]} but {MIX_NEG[n]}"
        else:
            title = rng.choice(TITLE_MIXED)
    style = rng.random()
    if style < 0.12:
        title = title.lower()
    elif style < 0.2 and not title.endswith("!"):
        title += "!"
    return title


def review_rating(rng: random.Random, text: Text) -> int:
    if text.cls == "negative":
        return 1 if rng.random() < (0.7 if text.neg >= 2 else 0.5) else 2
    if text.cls == "mixed":
        return 3
    return 5 if rng.random() < 0.68 else 4


def match_product(text: str) -> tuple[int, str, str, str, tuple[str, ...]] | None:
    """The product whose keyword appears first in the text, if any."""
    lower = text.lower()
    best: tuple[int, int] | None = None
    for index, product in enumerate(PRODUCTS):
        for keyword in product[4]:
            match = re.search(rf"\b{re.escape(keyword)}\b", lower)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), index)
    return None if best is None else PRODUCTS[best[1]]


def pick_product(rng: random.Random, body: str) -> tuple[int, str, str, str, tuple[str, ...]]:
    matched = match_product(body)
    if matched is not None and rng.random() < 0.85:
        return matched
    return rng.choices(PRODUCTS, [KIND_WEIGHT[p[3]] for p in PRODUCTS])[0]


def display_name(rng: random.Random, person: Person) -> str:
    roll = rng.random()
    if roll < 0.5:
        return f"{person.first} {person.last[0]}."
    if roll < 0.8:
        return person.name
    if roll < 0.9:
        return person.first
    return f"{person.first[0]}. {person.last}"


def fmt_review_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def picture_urls(rng: random.Random, moment: datetime) -> str:
    urls = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        urls.append(
            f"https://judgeme.imgix.net/hearth-and-harvest/{int(moment.timestamp())}"
            f"__img_{rng.randrange(1000, 9999)}__original.jpeg"
        )
    return ",".join(urls)


def review_row(
    rng: random.Random,
    people: list[Person],
    text: Text,
    moment: datetime,
    reply_deadline: datetime,
    body: str | None = None,
    rating: object = None,
) -> dict[str, str]:
    person = rng.choice(people)
    product = pick_product(rng, text.body)
    row = {
        "title": review_title(rng, text),
        "body": text.body if body is None else body,
        "rating": str(review_rating(rng, text) if rating is None else rating),
        "review_date": fmt_review_date(moment),
        "source": rng.choices(["web", "app", "email"], [55, 27, 18])[0],
        "curated": "ok",
        "reviewer_name": display_name(rng, person),
        "reviewer_email": person.email,
        "product_id": str(product[0]),
        "product_handle": product[1],
        "product_title": product[2],
        "reply": "",
        "reply_date": "",
        "picture_urls": picture_urls(rng, moment) if rng.random() < 0.08 else "",
        "ip_address": doc_ip(rng) if rng.random() < 0.35 else "",
        "location": f"{person.city}, {person.country}" if rng.random() < 0.9 else "",
    }
    reply_chance = {"negative": 0.25, "mixed": 0.12, "positive": 0.06, "neutral": 0.0}[text.cls]
    if rng.random() < reply_chance:
        replied = moment + timedelta(minutes=rng.randrange(90, 60 * 72))
        if replied < reply_deadline:
            template = rng.choice(REPLIES[text.cls])
            row["reply"] = template.format(first=person.first, product=product[2])
            row["reply_date"] = fmt_review_date(replied)
    return row


def csv_bytes(
    header: list[str],
    rows: Iterable[dict[str, str]],
    delimiter: str = ",",
    lineterminator: str = "\n",
    bom: bool = False,
) -> tuple[bytes, list[int]]:
    """Serialize rows; also return the physical (1-based) start line of every data row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL
    )
    writer.writerow(header)
    starts: list[int] = []
    for row in rows:
        starts.append(buffer.getvalue().count("\n") + 1)
        writer.writerow([row[column] for column in header])
    data = buffer.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data if bom else data), starts


def build_reviews(
    rng: random.Random, pool: SentencePool, quoted: list[Sentence], people: list[Person]
) -> tuple[bytes, bytes, dict]:
    start1, end1 = datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    start2, end2 = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    overlap_from = datetime(2026, 11, 12, tzinfo=UTC)

    # --- week 1: 243 good reviews, of which 5 have a line break, 3 have double quotes
    n_good = 243
    texts: list[Text] = []
    for index in range(n_good):
        if index % 48 == 7:  # 5 bodies with an embedded newline (a paragraph break or a single one)
            texts.append(compose_text(rng, pool, 0, sep=rng.choice(["\n", "\n\n"])))
        elif index % 80 == 40 and quoted:  # 3 bodies with "scare quotes"
            texts.append(compose_text(rng, pool, 0.25, first=quoted.pop()))
        else:
            texts.append(compose_text(rng, pool, 0.12))
    moments = sorted(rand_time(rng, start1, end1) for _ in range(n_good))
    good = [review_row(rng, people, t, m, end1) for t, m in zip(texts, moments, strict=True)]

    # --- the deliberately bad rows, at fixed positions with dates between their neighbours
    def between(i: int) -> datetime:
        a = datetime.strptime(good[i - 1]["review_date"], "%Y-%m-%d %H:%M:%S UTC").replace(
            tzinfo=UTC
        )
        b = datetime.strptime(good[i]["review_date"], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
        return a + (b - a) / 2

    bad_specs: list[tuple[int, str]] = [
        (31, "empty body (a star-only review)"),
        (77, "rating `five` instead of a number"),
        (119, "body is whitespace only"),
        (166, "review_date `yesterday`"),
        (208, "empty body"),
    ]
    bad_rows: dict[int, dict[str, str]] = {}
    for position, problem in bad_specs:
        moment = between(position).replace(microsecond=0)
        text = compose_text(rng, pool, 0)
        row = review_row(rng, people, text, moment, end1)
        row["reply"] = row["reply_date"] = ""
        if problem.startswith("empty body (a star"):
            row.update(body="", rating="5", title="Great as always")
        elif problem == "empty body":
            row.update(body="", rating="4", title="")
        elif problem.startswith("body is whitespace"):
            row.update(body="   ", rating="3")
        elif problem.startswith("rating"):
            row.update(rating="five")
        elif problem.startswith("review_date"):
            row.update(review_date="yesterday")
        row["_problem"] = problem
        bad_rows[position] = row
    file1: list[dict[str, str]] = []
    for index, row in enumerate(good):
        if index in bad_rows:
            file1.append(bad_rows[index])
        file1.append(row)

    # --- two exact duplicates (an export paging glitch): one before, one inside the overlap
    dup_a = good[52]
    dup_b = next(
        r
        for r in good
        if r["review_date"] >= fmt_review_date(overlap_from)
        and r["body"].count("\n") == 0
        and good.index(r) > 200
    )
    for original, gap in ((dup_a, 2), (dup_b, 9)):
        copy = dict(original)
        copy["_problem"] = f"exact duplicate of the row on line {{line_of:{id(original)}}}"
        file1.insert(file1.index(original) + gap + 1, copy)

    data1, starts1 = csv_bytes(REVIEW_HEADER, file1)
    line_of = {id(row): starts1[i] for i, row in enumerate(file1)}
    problems = []
    for i, row in enumerate(file1):
        if "_problem" in row:
            note = re.sub(
                r"\{line_of:(\d+)\}", lambda m: str(line_of[int(m.group(1))]), row["_problem"]
            )
            problems.append((starts1[i], i + 1, note))

    # --- week 2: every good week-1 row from 2026-11-12 on, unchanged, then 120 new ones
    repeated = [r for r in good if r["review_date"] >= fmt_review_date(overlap_from)]
    new_texts: list[Text] = []
    for index in range(120):
        if index in (17, 83):
            new_texts.append(compose_text(rng, pool, 0, sep="\n\n" if index == 17 else "\n"))
        elif index == 55 and quoted:
            new_texts.append(compose_text(rng, pool, 0.0, first=quoted.pop()))
        else:
            new_texts.append(compose_text(rng, pool, 0.12))
    new_moments = sorted(rand_time(rng, start2, end2) for _ in range(120))
    new_rows = [
        review_row(rng, people, t, m, end2) for t, m in zip(new_texts, new_moments, strict=True)
    ]
    data2, _ = csv_bytes(REVIEW_HEADER, repeated + new_rows)

    for row in good + new_rows:
        assert (
            row["body"].strip() and row["rating"] in "12345" and row["review_date"] != "yesterday"
        )
    stats = {
        "file1_records": len(file1),
        "file1_lines": data1.count(b"\n"),
        "file1_problems": problems,
        "file1_good": len(good),
        "file1_multiline": sum("\n" in r["body"] for r in good),
        "file1_quotes": sum('"' in r["body"] for r in good),
        "file2_records": len(repeated) + len(new_rows),
        "file2_lines": data2.count(b"\n"),
        "file2_repeated": len(repeated),
        "file2_new": len(new_rows),
        "file2_multiline": sum("\n" in r["body"] for r in new_rows),
    }
    return data1, data2, stats


# ---------------------------------------------------------------------------------------
# NPS survey (European Excel: BOM, semicolons, CRLF, DD/MM/YYYY)
# ---------------------------------------------------------------------------------------


def nps_score(rng: random.Random, text: Text | None) -> int:
    if text is None:
        return rng.choices(range(11), [3, 1, 2, 2, 3, 4, 5, 8, 12, 15, 14])[0]
    if text.cls == "negative":
        return rng.choices(range(7), [4, 3, 5, 6, 7, 8, 6])[0]
    if text.cls == "mixed":
        return rng.choices([5, 6, 7, 8], [2, 4, 5, 3])[0]
    return rng.choices([8, 9, 10], [2, 4, 5])[0]


def build_nps(rng: random.Random, pool: SentencePool, people: list[Person]) -> tuple[bytes, dict]:
    start, end = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    n_rows, n_empty = 200, 20
    empty_at = set(rng.sample(range(n_rows), n_empty))
    moments = sorted(rand_time(rng, start, end) for _ in range(n_rows))
    ids: set[str] = set()
    rows = []
    for index, moment in enumerate(moments):
        text = None if index in empty_at else compose_text(rng, pool, 0.10)
        person = rng.choice(people)
        while True:
            response_id = f"R_{rng.getrandbits(32):08x}"
            if response_id not in ids:
                ids.add(response_id)
                break
        rows.append(
            {
                "Response ID": response_id,
                "Score": str(nps_score(rng, text)),
                "Comment": "" if text is None else text.body,
                "Segment": rng.choices(
                    ["Consumer", "SMB", "Mid-Market", "Enterprise"], [70, 15, 10, 5]
                )[0],
                "Plan": rng.choices(PLANS, PLAN_WEIGHT)[0],
                "Country": person.country,
                "Response Date": moment.strftime("%d/%m/%Y %H:%M"),
                "Email": person.email,
            }
        )
    data, _ = csv_bytes(NPS_HEADER, rows, delimiter=";", lineterminator="\r\n", bom=True)
    return data, {"records": len(rows), "empty_comments": n_empty}


# ---------------------------------------------------------------------------------------
# Tickets (Zendesk incremental export)
# ---------------------------------------------------------------------------------------

ACCOUNT_TYPE = {
    "free": "Free",
    "freemium": "Free",
    "standard": "Weekly Box",
    "pro": "Pantry Plus",
    "premium": "Pantry Plus",
    "gold": "Family Box",
    "platinum": "Family Box",
}
# Bitext's original release writes entities as {{Placeholders}}; the shared copy has them
# filled with sample values (kept as spans). Both are replaced by Hearth & Harvest values.
PLACEHOLDER_KINDS = {
    "order number": "order_id",
    "order id": "order_id",
    "person name": "person_name",
    "account type": "account_type",
    "account category": "account_type",
    "invoice number": "invoice_id",
    "invoice id": "invoice_id",
    "refund amount": "refund_amount",
    "money amount": "refund_amount",
    "currency symbol": "currency",
    "delivery city": "delivery_city",
    "delivery country": "delivery_country",
    "client first name": "first_name",
    "client last name": "last_name",
    "customer name": "person_name",
}
SUBJECTS = {
    "cancel_order": ["Cancel order {order}", "Please cancel my order {order}", "Cancel my order"],
    "change_order": [
        "Change order {order}",
        "Edit items in order {order}",
        "Need to change my order",
    ],
    "place_order": ["Help placing an order", "Can't complete my order", "Ordering several items"],
    "track_order": ["Where is order {order}?", "Tracking for order {order}", "Where is my box?"],
    "delivery_period": [
        "When will my box arrive?",
        "Delivery time question",
        "How long does delivery take?",
    ],
    "delivery_options": ["Delivery options", "Do you deliver to {city}?", "Shipping to {country}"],
    "create_account": [
        "Open a new account",
        "Question about signing up",
        "Open a {account} account",
    ],
    "edit_account": [
        "Update my account details",
        "Edit account",
        "Change my {account} account details",
    ],
    "switch_account": ["Switch my plan", "Switch to {account}", "Change plan"],
    "delete_account": ["Close my account", "Delete my account", "Cancel {account} account"],
    "recover_password": ["Password reset", "Can't log in - forgot password"],
    "registration_problems": ["Problem signing up", "Registration error"],
    "check_invoice": ["Find invoice {invoice}", "Invoice question", "Where can I see my invoices?"],
    "get_invoice": [
        "Invoice request",
        "Need a copy of invoice {invoice}",
        "Please send my invoice",
    ],
    "track_refund": ["Refund status", "Where is my refund?", "Refund of ${amount} not received"],
    "get_refund": ["Refund request", "I'd like a refund", "Refund for order {order}"],
    "check_refund_policy": ["Refund policy question", "Can I get a refund?"],
    "review": ["Feedback on my last box", "Some feedback", "Leaving a review"],
    "complaint": ["Complaint", "Formal complaint", "Very unhappy"],
    "contact_human_agent": ["Speak to a person", "Talk to a human please"],
    "contact_customer_service": ["Customer service hours", "How do I contact support?"],
    "payment_issue": ["Payment problem at checkout", "Payment failed", "Card payment issue"],
    "check_payment_methods": ["Payment methods", "Which payment options do you accept?"],
    "check_cancellation_fee": ["Cancellation fee?", "Is there a fee to cancel my plan?"],
    "newsletter_subscription": ["Newsletter", "Newsletter subscription"],
    "set_up_shipping_address": ["Add a delivery address", "Set up shipping address"],
    "change_shipping_address": ["Change delivery address", "Update my shipping address"],
}
TICKET_TYPE = {
    "incident": {
        "payment_issue",
        "complaint",
        "track_order",
        "delivery_period",
        "registration_problems",
        "recover_password",
        "track_refund",
    },
    "task": {
        "cancel_order",
        "change_order",
        "delete_account",
        "edit_account",
        "change_shipping_address",
        "set_up_shipping_address",
        "get_refund",
        "get_invoice",
        "newsletter_subscription",
        "switch_account",
        "create_account",
        "place_order",
    },
}
ORGANIZATIONS = [
    {"id": 360012880411, "name": "Hearth & Harvest Members", "tier": "consumer", "domain": None},
    {
        "id": 360014102977,
        "name": "Copper Pot Café",
        "tier": "smb",
        "domain": "copperpotcafe.example",
    },
    {
        "id": 360014102981,
        "name": "Little Fern Nursery",
        "tier": "smb",
        "domain": "littlefern.example",
    },
    {
        "id": 360014215533,
        "name": "Saltmarsh Coworking",
        "tier": "smb",
        "domain": "saltmarsh.example",
    },
    {
        "id": 360015009874,
        "name": "Brightwell Offices Ltd",
        "tier": "enterprise",
        "domain": "brightwell.example",
    },
    {
        "id": 360015009902,
        "name": "Nordwind Logistik GmbH",
        "tier": "enterprise",
        "domain": "nordwind-logistik.example",
    },
]
TAG_RE = re.compile(r"[^a-z0-9]+")


def snake(text: str) -> str:
    return TAG_RE.sub("_", text.lower()).strip("_")


class TicketFactory:
    def __init__(self, rng: random.Random, rows: list[dict], people: list[Person]) -> None:
        self.rng = rng
        self.rows = rows
        self.order_numbers: set[str] = set()
        self.requesters = []
        for person in people:
            roll = rng.random()
            org = (
                None
                if roll < 0.40
                else ORGANIZATIONS[0]
                if roll < 0.80
                else rng.choice(ORGANIZATIONS[1:4])
                if roll < 0.92
                else rng.choice(ORGANIZATIONS[4:])
            )
            email = person.email
            if org is not None and org["domain"]:
                email = f"{slug(person.first.split()[0])}.{slug(person.last)}@{org['domain']}"
            self.requesters.append(
                {
                    "person": person,
                    "id": rng.randrange(1_900_000_000_000, 1_999_999_999_999),
                    "email": email,
                    "organization": None
                    if org is None
                    else {k: org[k] for k in ("id", "name", "tier")},
                }
            )
        # Some customers write in more than once.
        self.requester_weights = [rng.choice([1, 1, 1, 2, 3]) for _ in self.requesters]

    def order_number(self) -> str:
        while True:
            number = f"HH-{self.rng.randrange(100000, 199999)}"
            if number not in self.order_numbers:
                self.order_numbers.add(number)
                return number

    def fill(self, row: dict, requester: dict) -> tuple[str, dict[str, str]]:
        """Replace the sample entity values (and any {{Placeholder}}) with shop values."""
        rng, text, values = self.rng, row["text"], {}
        person: Person = requester["person"]

        def value_for(kind: str, original: str) -> str:
            if kind == "order_id":
                values.setdefault("order", self.order_number())
                return values["order"]
            if kind == "invoice_id":
                values.setdefault("invoice", f"INV-2026-{rng.randrange(10000, 99999)}")
                return values["invoice"]
            if kind == "person_name":
                other = make_people(rng, 1)[0]
                if original.split()[0] in ("Mr.", "Ms.", "Mrs.", "Dr."):  # "bill from Mr. Jones"
                    return f"{rng.choice(['Mr.', 'Ms.'])} {other.last}"
                return other.name
            if kind == "account_type":
                values["account"] = ACCOUNT_TYPE.get(original.lower(), rng.choice(PLANS))
                return values["account"]
            if kind == "refund_amount":
                values.setdefault(
                    "amount",
                    original if original.isdigit() else str(rng.choice([24, 39, 58, 72, 129])),
                )
                return values["amount"]
            if kind == "currency":
                return "$"
            if kind == "delivery_city":
                values["city"] = original or rng.choice(["Leeds", "Lyon", "Portland"])
                return values["city"]
            if kind == "delivery_country":
                values["country"] = original or rng.choice(["Canada", "Ireland", "France"])
                return values["country"]
            if kind == "first_name":
                return person.first
            if kind == "last_name":
                return person.last
            raise ValueError(f"no filler for entity {kind!r} in {row['id']}")

        pieces, cursor = [], 0
        for span in sorted(row["spans"], key=lambda s: s["start"]):
            pieces.append(text[cursor : span["start"]])
            pieces.append(value_for(span["entity_type"], text[span["start"] : span["end"]]))
            cursor = span["end"]
        pieces.append(text[cursor:])
        text = "".join(pieces)

        def placeholder(match: re.Match) -> str:
            kind = PLACEHOLDER_KINDS.get(match.group(1).strip().lower())
            if kind is None:
                raise ValueError(f"unknown placeholder {match.group(0)!r} in {row['id']}")
            return value_for(kind, "")

        text = re.sub(r"\{\{\s*([^}]+?)\s*\}\}", placeholder, text)
        assert "{{" not in text and "}}" not in text
        return text, values

    def ticket(
        self,
        ticket_id: int,
        row: dict,
        created: datetime,
        horizon: datetime,
        requester: dict | None = None,
    ) -> dict:
        rng = self.rng
        if requester is None:
            requester = rng.choices(self.requesters, self.requester_weights)[0]
        person: Person = requester["person"]
        intent, category = row["labels"][0], row["category"]
        text, values = self.fill(row, requester)
        channel = rng.choices(["email", "web", "chat", "api"], [45, 30, 20, 5])[0]
        if channel == "email" or (channel == "web" and rng.random() < 0.4):
            greeting = rng.choice(["Hi,\n\n", "Hello,\n\n", "Hi there,\n\n", "", ""])
            phone = fictional_phone(rng, person.country) if rng.random() < 0.35 else None
            signoff = rng.choice(["Thanks,", "Best,", "Kind regards,", "Cheers,"])
            signature = (
                f"\n\n{signoff}\n{person.name if phone or rng.random() < 0.5 else person.first}"
            )
            if phone:
                signature += f"\n{phone}"
            text = f"{greeting}{text}{signature}"
        if (
            "order" not in values
            and intent
            in ("track_order", "change_order", "cancel_order", "get_refund", "complaint", "review")
            and rng.random() < 0.4
        ):
            values["order"] = self.order_number()  # the agent filled the order field
        templates = [
            t for t in SUBJECTS[intent] if all(values.get(k) for k in re.findall(r"\{(\w+)\}", t))
        ]
        preferred = [t for t in templates if "{" in t]
        template = rng.choice(preferred if preferred and rng.random() < 0.7 else templates)
        subject = template.format(**values)

        age = horizon - created
        if rng.random() < 0.12 or age < timedelta(hours=3):
            status, updated = "new", created
        else:
            if age > timedelta(days=4):
                status = rng.choices(["solved", "pending", "open"], [75, 12, 13])[0]
            else:
                status = rng.choices(["solved", "pending", "open"], [30, 30, 40])[0]
            max_gap = min(age, timedelta(days=3)).total_seconds()
            updated = created + timedelta(seconds=rng.randrange(600, max(601, int(max_gap))))
        if intent in ("complaint", "payment_issue"):
            priority = rng.choices([None, "normal", "high", "urgent"], [15, 30, 40, 15])[0]
        else:
            priority = rng.choices([None, "low", "normal", "high"], [25, 25, 42, 8])[0]
        ticket_type = next(
            (t for t, intents in TICKET_TYPE.items() if intent in intents), "question"
        )
        if ticket_type == "incident" and rng.random() < 0.08:
            ticket_type = "problem"
        tags = [intent]
        if rng.random() < 0.7 and snake(category) != intent:
            tags.append(snake(category))
        org = requester["organization"]
        return {
            "id": ticket_id,
            "url": f"https://hearthandharvest.zendesk.com/api/v2/tickets/{ticket_id}.json",
            "subject": subject,
            "description": text,
            "tags": tags,
            "status": status,
            "priority": priority,
            "type": ticket_type,
            "created_at": iso_z(created),
            "updated_at": iso_z(updated),
            "via": {"channel": channel},
            "requester_id": requester["id"],
            "organization_id": None if org is None else org["id"],
            "requester": {
                "id": requester["id"],
                "name": person.name,
                "email": requester["email"],
                "organization": None if org is None else dict(org),
            },
            "custom_fields": [{"id": 360001, "value": values.get("order")}],
        }


def build_tickets(
    rng: random.Random, eval_dir: Path, people: list[Person]
) -> tuple[bytes, bytes, dict]:
    rows = read_jsonl(eval_dir / "bitext-customer-support" / "bitext_customer_support.jsonl")
    seen: set[str] = set()
    unique = []
    for row in rows:  # bitext repeats some requests verbatim
        key = " ".join(row["text"].lower().split())
        if key not in seen:
            seen.add(key)
            unique.append(row)
    # Keep the odd "damn" (real customers are annoyed) but not the f-word in a demo file.
    unique = [r for r in unique if not re.search(r"fuck", r["text"], re.IGNORECASE)]
    with_entities = [r for r in unique if r["spans"]]
    without = [r for r in unique if not r["spans"]]
    chosen = rng.sample(with_entities, 85) + rng.sample(without, 105)
    rng.shuffle(chosen)
    factory = TicketFactory(rng, chosen, people)

    start, horizon4 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    created4 = sorted(
        rand_time(rng, start, datetime(2026, 11, 26, 21, 0, tzinfo=UTC)) for _ in range(150)
    )
    # The fixed people with non-ASCII names (José Müller, Zoë Ångström, ...) each write once.
    forced = dict(
        zip([4, 26, 49, 73, 98, 121, 140], factory.requesters[: len(SPECIAL_PEOPLE)], strict=True)
    )
    tickets4, next_id = [], 48101
    for index, (row, created) in enumerate(zip(chosen[:150], created4, strict=True)):
        tickets4.append(factory.ticket(next_id, row, created, horizon4, forced.get(index)))
        next_id += rng.choice([1, 1, 1, 2, 3])
    tickets4.sort(key=lambda t: (t["updated_at"], t["id"]))  # the incremental export's order
    end_time = int(
        datetime.strptime(tickets4[-1]["updated_at"], "%Y-%m-%dT%H:%M:%SZ")
        .replace(tzinfo=UTC)
        .timestamp()
    )
    export = {
        "tickets": tickets4,
        "count": len(tickets4),
        "end_of_stream": True,
        "end_time": end_time,
        "next_page": None,
    }
    data4 = (json.dumps(export, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    # The next export starts before the previous end_time: its first 20 tickets repeat.
    repeated = tickets4[-20:]
    horizon5 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    first_new = datetime.fromtimestamp(end_time, UTC) + timedelta(minutes=5)
    created5 = sorted(
        rand_time(rng, first_new, datetime(2026, 11, 27, 8, 30, tzinfo=UTC)) for _ in range(40)
    )
    new5 = []
    for row, created in zip(chosen[150:], created5, strict=True):
        new5.append(factory.ticket(next_id, row, created, horizon5))
        next_id += rng.choice([1, 1, 1, 2])
    new5.sort(key=lambda t: (t["updated_at"], t["id"]))
    lines = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in repeated + new5).encode(
        "utf-8"
    )
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(lines)
    stats = {
        "file4_tickets": len(tickets4),
        "file5_tickets": len(repeated) + len(new5),
        "file5_repeated": len(repeated),
        "file5_new": len(new5),
        "file5_repeated_ids": sorted(t["id"] for t in repeated),
        "end_time": end_time,
        "non_ascii_names": sorted(
            {
                t["requester"]["name"]
                for t in tickets4 + new5
                if not t["requester"]["name"].isascii()
            }
        ),
    }
    return data4, buffer.getvalue(), stats


# ---------------------------------------------------------------------------------------
# Chat transcripts (banking77 train) and app feedback events (CLINC150 train + banking77 test)
# ---------------------------------------------------------------------------------------

# banking77 intents that read as the shop's wallet / payments feature, with the owning team.
BANKING_TEAMS = {
    "payments": [
        "card_payment_fee_charged",
        "card_payment_not_recognised",
        "card_payment_wrong_exchange_rate",
        "declined_card_payment",
        "pending_card_payment",
        "top_up_failed",
        "top_up_reverted",
        "pending_top_up",
        "topping_up_by_card",
        "top_up_by_card_charge",
        "top_up_by_bank_transfer_charge",
        "top_up_limits",
        "automatic_top_up",
        "verify_top_up",
        "transaction_charged_twice",
        "extra_charge_on_statement",
        "direct_debit_payment_not_recognised",
        "supported_cards_and_currencies",
        "apple_pay_or_google_pay",
        "balance_not_updated_after_card_payment",
        "balance_not_updated_after_bank_transfer",
        "card_linking",
        "exchange_charge",
        "cancel_transfer",
        "pending_transfer",
        "failed_transfer",
    ],
    "accounts": [
        "edit_personal_details",
        "passcode_forgotten",
        "unable_to_verify_identity",
        "verify_my_identity",
        "why_verify_identity",
        "terminate_account",
        "age_limit",
        "lost_or_stolen_phone",
        "country_support",
    ],
    "orders": ["request_refund", "Refund_not_showing_up", "reverted_card_payment?"],
}
TEAM_OF = {intent: team for team, intents in BANKING_TEAMS.items() for intent in intents}
NOT_A_SHOP = word_pattern("""
    atms?, cash, cheques?, checks?, pin, crypto, salary, mortgage, loan, swallowed,
    withdraw\\w*, withdrawal, branch, disposable, physical card, bank account number
""")
BRANDS = word_pattern("""
    amazon, walmart, wal mart, target, sears, chase, amex, american express, mastercard, visa,
    discover, bank of, hawaiian, wells fargo, citi\\w*, alexa, siri, google, usaa, capital one,
    bofa, kmart, costco, best buy, ebay, apple, netflix, spotify, boa, pnc, td, lysol, kohls,
    hy-vee, starbucks, home depot, brad, bob, jim, america, murders
""")
CLINC_INTENTS = {  # intent -> (screen, title used on some events)
    "recipe": ("recipes", "Recipe question"),
    "cook_time": ("recipes", "Cooking time"),
    "ingredient_substitution": ("recipes", "Ingredient swap"),
    "ingredients_list": ("recipes", "Ingredients"),
    "meal_suggestion": ("home", "Meal ideas"),
    "calories": ("recipes", "Nutrition"),
    "nutrition_info": ("recipes", "Nutrition"),
    "food_last": ("orders", "Storage question"),
    "order": ("cart", "Ordering"),
    "order_status": ("orders", "Order status"),
    "shopping_list": ("cart", "Shopping list"),
    "shopping_list_update": ("cart", "Shopping list"),
    "card_declined": ("checkout", "Payment declined"),
    "international_fees": ("checkout", "Fees"),
    "redeem_rewards": ("rewards", "Rewards"),
    "rewards_balance": ("rewards", "Rewards"),
    "transactions": ("wallet", "Wallet history"),
    "spending_history": ("wallet", "Spending"),
    "report_fraud": ("wallet", "Suspicious charge"),
    "change_language": ("settings", "Language"),
    "timer": ("recipes", "Cooking timer"),
    "measurement_conversion": ("recipes", "Conversions"),
    "thank_you": ("home", None),
}
LOCALES = {"en-US": "US", "en-GB": "GB", "en-IE": "IE", "en-CA": "CA", "en-AU": "AU"}


def banking_pool(eval_dir: Path, split: str) -> list[dict[str, str]]:
    rows = read_csv(eval_dir / "banking77" / f"{split}.csv")
    return [
        r
        for r in rows
        if r["category"] in TEAM_OF
        and not NOT_A_SHOP.search(r["text"])
        and not BRANDS.search(r["text"])
        and 12 <= len(r["text"].strip()) <= 240
    ]


def build_chat(rng: random.Random, eval_dir: Path, people: list[Person]) -> tuple[bytes, dict]:
    pool = banking_pool(eval_dir, "train")
    chosen = []
    for team, quota in (("payments", 120), ("accounts", 45), ("orders", 35)):
        chosen += rng.sample([r for r in pool if TEAM_OF[r["category"]] == team], quota)
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    # Times are drawn as local wall-clock times (people chat in their daytime), then
    # the rows are ordered by the actual instant.
    drafts = []
    for source in chosen:
        person = rng.choice(people)
        local = rand_time(rng, start, end).replace(tzinfo=None)
        hours = CITY_OFFSET.get(person.city, COUNTRY_OFFSET.get(person.country, 0))
        drafts.append((local.replace(tzinfo=timezone(timedelta(hours=hours))), person, source))
    drafts.sort(key=lambda d: d[0].astimezone(UTC))
    conv, rows = 4810, []
    for moment, person, source in drafts:
        conv += rng.choice([1, 1, 2, 3, 5, 8])
        rows.append(
            {
                "conversation_id": f"conv_{conv:06d}",
                "started_at": moment.isoformat(),
                "customer_message": " ".join(source["text"].split()),
                "agent_team": TEAM_OF[source["category"]],
                "plan": "" if rng.random() < 0.05 else rng.choices(PLANS, PLAN_WEIGHT)[0],
                "country": person.country,
                "app_version": rng.choices(APP_VERSIONS, APP_VERSION_WEIGHT)[0],
            }
        )
    data, _ = csv_bytes(CHAT_HEADER, rows)
    return data, {"records": len(rows)}


def build_events(rng: random.Random, eval_dir: Path) -> tuple[bytes, dict]:
    clinc = [
        r
        for r in read_jsonl(eval_dir / "clinc150" / "clinc150_full.jsonl")
        if r["split"] == "train"
        and not r["out_of_scope"]
        and r["labels"][0] in CLINC_INTENTS
        and not BRANDS.search(r["text"])
    ]
    banking = banking_pool(eval_dir, "test")
    # ~100 distinct events: 55 CLINC (a few per intent), 45 banking77 test.
    by_intent: dict[str, list[dict]] = {}
    for row in clinc:
        by_intent.setdefault(row["labels"][0], []).append(row)
    clinc_chosen = []
    for intent in sorted(by_intent):
        clinc_chosen += rng.sample(by_intent[intent], 2)
    clinc_chosen += rng.sample([r for r in clinc if r not in clinc_chosen], 55 - len(clinc_chosen))
    sources = [("clinc", r) for r in clinc_chosen] + [
        ("banking", r) for r in rng.sample(banking, 45)
    ]
    rng.shuffle(sources)

    def product_for(text: str) -> str | None:
        product = match_product(text)
        return None if product is None else product[2]

    def event(kind: str, row: dict, moment: datetime) -> dict:
        if kind == "clinc":
            intent = row["labels"][0]
            screen, title = CLINC_INTENTS[intent]
            text = row["text"]
        else:
            intent = row["category"]
            screen = (
                "wallet"
                if TEAM_OF[intent] == "payments"
                else "orders"
                if TEAM_OF[intent] == "orders"
                else "settings"
            )
            if intent in (
                "declined_card_payment",
                "pending_card_payment",
                "card_payment_fee_charged",
            ):
                screen = "checkout"
            title = None
            text = row["text"]
        locale = rng.choices(list(LOCALES), [45, 30, 8, 10, 7])[0]
        return {
            "event_id": f"evt_{rng.getrandbits(48):012x}",
            "source": "app_feedback",
            "channel": "social" if rng.random() < 0.2 else "chat",
            "created_at": iso_z(moment),
            "text": " ".join(text.split()),
            "title": title if title and rng.random() < 0.35 else None,
            "locale": locale,
            "customer_segment": rng.choices(
                ["consumer", "smb", "enterprise", None], [68, 12, 4, 16]
            )[0],
            "product": product_for(text) if screen in ("recipes", "orders", "cart") else None,
            "region": LOCALES[locale] if rng.random() < 0.85 else None,
            "metadata": {
                "app_version": rng.choices(APP_VERSIONS, APP_VERSION_WEIGHT)[0],
                "screen": screen,
            },
        }

    # 67 single-event messages and 10 batched ones (2-5 events each) = 77 distinct messages.
    batch_sizes = [3, 2, 4, 3, 5, 2, 3, 4, 2, 5]
    assert 67 + sum(batch_sizes) <= len(sources)
    layout = ["single"] * 67 + [f"batch{i}" for i in range(10)]
    rng.shuffle(layout)
    start, end = datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    moments = sorted(rand_time(rng, start, end) for _ in range(len(layout)))
    messages: list[object] = []
    cursor = 0
    for slot, moment in zip(layout, moments, strict=True):
        if slot == "single":
            messages.append(event(*sources[cursor], moment))
            cursor += 1
        else:
            size = batch_sizes[int(slot[5:])]
            batch, at = [], moment
            for k in range(size):
                batch.append(event(*sources[cursor + k], at))
                at += timedelta(seconds=rng.randrange(1, 40))
            cursor += size
            messages.append(batch)
    lines = [json.dumps(m, ensure_ascii=False) for m in messages]
    # Three at-least-once redeliveries: the same body again, a few messages later.
    singles = [i for i, m in enumerate(messages) if isinstance(m, dict)]
    redelivered = []
    for original in sorted(rng.sample(singles[5:-12], 3), reverse=True):
        insert_at = original + rng.randrange(3, 11) + 1
        lines.insert(insert_at, lines[original])
        redelivered.append(original)
    # Recompute line numbers after all insertions.
    seen: dict[str, int] = {}
    redelivery_lines = []
    for number, line in enumerate(lines, 1):
        if line in seen:
            redelivery_lines.append((number, seen[line], json.loads(line)["event_id"]))
        else:
            seen[line] = number
    data = ("\n".join(lines) + "\n").encode("utf-8")
    stats = {
        "lines": len(lines),
        "batched_lines": sum(line.startswith("[") for line in lines),
        "events_in_messages": sum(len(m) if isinstance(m, list) else 1 for m in messages) + 3,
        "distinct_events": cursor,
        "redeliveries": redelivery_lines,
    }
    return data, stats


# ---------------------------------------------------------------------------------------
# NOTICE.md and README.md
# ---------------------------------------------------------------------------------------

NOTICE = """\
# Notice: third-party data in `samples/`

The sample exports are generated by `scripts/build_samples.py` from the public datasets
below. The customers, e-mail addresses, order numbers, names, IP addresses, dates,
products and every field other than the free text are invented. E-mail addresses use
the reserved `example.com` / `example.net` / `example.org` / `.example` domains, IP
addresses the documentation ranges (RFC 5737, RFC 3849), phone numbers the ranges
reserved for fiction (NANP 555-01xx, Ofcom 07700 900xxx). The PII is there on purpose:
the masking stage is tested against it.

Only datasets whose licences allow redistribution are used. Other data under
`../shared/eval/` (SemEval-2014/2015, Amazon Alexa reviews, Women's clothing reviews) is
**not** copied into this repository.

The insightloop code is MIT-licensed; the data in `samples/` stays under the licences
below, which take precedence for these files.

## MAMS (MAMS-ACSA) - Apache License 2.0

* Source: https://github.com/siat-nlp/MAMS-for-ABSA (commit cddcdb0),
  `data/MAMS-ACSA/raw/train.xml` and `val.xml`
* Authors: the MAMS-for-ABSA authors (Jiang et al., "A Challenge Dataset and Effective
  Models for Aspect-Based Sentiment Analysis", EMNLP-IJCNLP 2019)
* Licence: Apache License, Version 2.0 - https://www.apache.org/licenses/LICENSE-2.0
* Used in: `inbox/reviews/*.csv` (`body`), `inbox/nps/nps-survey-2026-11.csv` (`Comment`)
* Changes: restaurant-review sentences from the train and val splits were selected
  (sentences that only make sense in a restaurant, name a restaurant, or whose wording
  contradicts their labels were dropped), whitespace normalised,
  single-quoted phrases in a few sentences retyped with double quotes, and sentences
  recombined: some bodies join two sentences, a few with a line break. Ratings, NPS
  scores and review titles are derived from the MAMS aspect polarities; all other
  fields are invented.

Apache-2.0 notice (section 4):

    This product includes data from MAMS (https://github.com/siat-nlp/MAMS-for-ABSA),
    Copyright the MAMS-for-ABSA authors, licensed under the Apache License, Version 2.0
    (the "License"); you may not use these files except in compliance with the License.
    You may obtain a copy of the License at https://www.apache.org/licenses/LICENSE-2.0.
    Unless required by applicable law or agreed to in writing, the data is distributed on
    an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or
    implied. See the License for the specific language governing permissions and
    limitations under the License. The files in samples/ that contain MAMS text were
    modified as described above.

No NOTICE file was found in the MAMS repository; if one is published upstream, its
attribution notices must be reproduced here.

## BANKING77 - Creative Commons Attribution 4.0 International (CC BY 4.0)

* Source: https://github.com/PolyAI-LDN/task-specific-datasets (commit 57ec275),
  `banking_data/train.csv` and `banking_data/test.csv`
* Authors: PolyAI (Casanueva et al., "Efficient Intent Detection with Dual Sentence
  Encoders", NLP4ConvAI 2020)
* Licence: CC BY 4.0 - https://creativecommons.org/licenses/by/4.0/
* Used in: `inbox/chat/chat-transcripts-2026-11.csv` (`customer_message`, train split),
  `events/app-feedback-events.jsonl` (`text`, test split)
* Changes: a subset of intents (card payments, top-ups, transfers, refunds, identity)
  was selected, messages mentioning cash, ATMs, cheques and similar were dropped,
  whitespace normalised; the intent label is replaced by an invented `agent_team`;
  conversation ids, times, plans, countries, app versions and event fields are invented.

## Bitext customer-support dataset - Community Data License Agreement - Sharing, Version 1.0

* Source: https://github.com/bitext/customer-support-llm-chatbot-training-dataset
  (commit 8b6ca3d), `data/train/Bitext_Sample_Customer_Support_Training_Dataset.csv`
* Authors: Bitext Innovations International
* Licence: CDLA-Sharing-1.0 - https://cdla.dev/sharing-1-0/
* Used in: `inbox/tickets/zendesk-tickets-2026-11-26.json` and
  `inbox/tickets/zendesk-tickets-2026-11-27.jsonl.gz` (`description`; `subject` and
  `tags` are derived from the Bitext intent and category)
* Changes: requests were sampled and de-duplicated (requests with the f-word were left
  out); the entity values (Bitext's `{{Order Number}}`, `{{Person Name}}`,
  `{{Account Type}}`, `{{Invoice Number}}`, ... placeholders, shipped filled with sample
  values) were replaced with invented Hearth & Harvest values (order numbers like
  `HH-104233`, invoice numbers, names, plan names); some e-mail tickets got an invented
  greeting and signature (name, phone); subjects, tags, statuses, requesters,
  organisations and dates are invented or derived.
* **The ticket samples are modified data derived from the Bitext dataset and are shared
  under the same licence, CDLA-Sharing-1.0**, as its terms require. Anyone may use,
  modify and share them under CDLA-Sharing-1.0; changes you publish must be shared under
  it too.

## CLINC150 (oos-eval) - Creative Commons Attribution 3.0 Unported (CC BY 3.0)

* Source: https://github.com/clinc/oos-eval (commit 828f809), `data/data_full.json`
* Authors: Clinc, Inc. (Larson et al., "An Evaluation Dataset for Intent Classification
  and Out-of-Scope Prediction", EMNLP-IJCNLP 2019)
* Licence: CC BY 3.0 - https://creativecommons.org/licenses/by/3.0/
* Used in: `events/app-feedback-events.jsonl` (`text`)
* Changes: in-scope training queries of a few intents (kitchen and dining, orders and
  shopping lists, cards and rewards, settings, timers, conversions, thanks) were
  selected, queries naming brands or people were dropped; every other event field is
  invented.
"""


def kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def build_readme(files: dict[str, bytes], st: dict) -> bytes:
    rv, nps, tk, ch, ev = st["reviews"], st["nps"], st["tickets"], st["chat"], st["events"]
    problems = "<br>".join(
        f"line {line} (row {row}): {note}" for line, row, note in rv["file1_problems"]
    )
    redeliveries = "<br>".join(
        f"line {n} repeats line {o} (`{eid}`)" for n, o, eid in ev["redeliveries"]
    )
    ids = tk["file5_repeated_ids"]
    total = sum(len(v) for k, v in files.items())
    mams = "MAMS-ACSA train/val"
    rows = [
        ["file", "imitates", "records", "deliberately wrong", "text from"],
        ["---"] * 5,
        [
            f"`{REVIEWS_1}`",
            "Judge.me review export (UTF-8, `,`, RFC 4180 quoting, LF), week to 2026-11-19",
            f"{rv['file1_records']} rows, {rv['file1_lines']} lines ({rv['file1_multiline']} "
            f"bodies with a line break, {rv['file1_quotes']} with double quotes)",
            f"{problems}.<br>Expected: {rv['file1_good']} landed, 2 duplicates, 5 quarantined "
            "(`missing_text` x3, `invalid_field` rating, `bad_date`).",
            mams,
        ],
        [
            f"`{REVIEWS_2}`",
            "the next weekly Judge.me export",
            f"{rv['file2_records']} rows, {rv['file2_lines']} lines",
            f"nothing is malformed; the first {rv['file2_repeated']} rows repeat every good row of "
            "the previous export dated on/after 2026-11-12, unchanged (overlapping export). "
            f"Expected after the first file: {rv['file2_new']} landed, "
            f"{rv['file2_repeated']} duplicates.",
            mams,
        ],
        [
            f"`{NPS}`",
            "NPS survey saved by a European Excel: UTF-8 with BOM, `;`, CRLF, `DD/MM/YYYY HH:MM`",
            f"{nps['records']} rows",
            f"nothing; {nps['empty_comments']} responses have an empty comment, which is "
            f"legitimate (`allow_empty_text`), so all {nps['records']} land",
            mams,
        ],
        [
            f"`{TICKETS_JSON}`",
            'Zendesk incremental ticket export (`{"tickets": [...], "count", "end_of_stream", '
            '"end_time", "next_page"}`), `indent=2`',
            f"{tk['file4_tickets']} tickets",
            "nothing; descriptions carry PII on purpose (order numbers, names, phones, e-mails)",
            "Bitext customer support",
        ],
        [
            f"`{TICKETS_JSONL_GZ}`",
            "the next export as gzipped JSON Lines (gzip mtime 0)",
            f"{tk['file5_tickets']} tickets",
            f"the first {tk['file5_repeated']} tickets (ids {ids[0]}..{ids[-1]}) repeat the end "
            f"of the previous export exactly; expected {tk['file5_new']} landed, "
            f"{tk['file5_repeated']} duplicates",
            "Bitext customer support",
        ],
        [
            f"`{CHAT}`",
            "generic chat-log CSV (UTF-8, `,`, LF, ISO 8601 with offsets): the column-map template",
            f"{ch['records']} rows",
            "nothing",
            "banking77 train",
        ],
        [
            f"`{EVENTS}`",
            f"Service Bus message bodies, one per line; {ev['batched_lines']} lines are JSON "
            "arrays (batched producer)",
            f"{ev['lines']} lines, {ev['events_in_messages']} events "
            f"({ev['distinct_events']} distinct)",
            f"{redeliveries}: at-least-once redeliveries (same `event_id` and body); "
            "expected 3 duplicates",
            "CLINC150 train, banking77 test",
        ],
    ]
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    text = f"""\
# Sample data

Exports from the fictional shop **Hearth & Harvest** (meal kits, pantry goods, kitchen
gear, a subscription plan and an app with a wallet), one per shipped source mapping in
`prompts/sources/`. `make demo` drops `inbox/` into a local inbox, sends `events/`
through the Service Bus path, then replays everything. The free text is real public
data; everything else is invented (see [NOTICE.md](NOTICE.md) for sources, licences and
changes; the ticket samples are shared under CDLA-Sharing-1.0).

Line numbers are physical lines (line 1 is the header); "row" counts records. The
quarantine reasons are those of
[docs/sources.md](../docs/sources.md#row-level-quarantine-reasons).

{table}

Total size: {kb(total)} (every file under `samples/`, excluding this README).

## Regenerate

```bash
python scripts/build_samples.py          # rewrites samples/ (stdlib only, reads ../shared/eval)
python scripts/build_samples.py --check  # exit 1 if samples/ differs from a fresh build
```

The script is deterministic (`random.Random({SEED})`, fixed dates, gzip mtime 0): the
same inputs give byte-identical files. `--eval-dir` points it at another copy of the
datasets.
"""
    return text.encode("utf-8")


# ---------------------------------------------------------------------------------------


def build(eval_dir: Path) -> tuple[dict[str, bytes], dict]:
    master = random.Random(SEED)
    sections = ["people", "mams", "reviews", "nps", "tickets", "chat", "events"]
    rngs = {name: random.Random(master.getrandbits(64)) for name in sections}

    people = make_people(rngs["people"], 160)
    pool, quoted = load_mams(eval_dir, rngs["mams"])
    available = len(pool.items)
    quoted = quoted[:3]
    files: dict[str, bytes] = {}
    stats: dict[str, dict] = {}
    files[REVIEWS_1], files[REVIEWS_2], stats["reviews"] = build_reviews(
        rngs["reviews"], pool, quoted, people[:120]
    )
    files[NPS], stats["nps"] = build_nps(rngs["nps"], pool, people)
    stats["mams"] = {"available": available, "left": len(pool.items)}
    ticket_people = make_people(rngs["tickets"], 110, special=True)
    files[TICKETS_JSON], files[TICKETS_JSONL_GZ], stats["tickets"] = build_tickets(
        rngs["tickets"], eval_dir, ticket_people
    )
    files[CHAT], stats["chat"] = build_chat(rngs["chat"], eval_dir, people)
    files[EVENTS], stats["events"] = build_events(rngs["events"], eval_dir)
    files["NOTICE.md"] = NOTICE.encode("utf-8")
    for name, data in files.items():
        raw = gzip.decompress(data) if name.endswith(".gz") else data
        if b"{{" in raw and name != "NOTICE.md":
            raise AssertionError(f"unfilled placeholder in {name}")
    files["README.md"] = build_readme(files, stats)
    return files, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--eval-dir",
        type=Path,
        default=DEFAULT_EVAL_DIR,
        help="folder with the public datasets (default: ../shared/eval beside the repo)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR, help="output folder (default: samples/)"
    )
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if any file differs"
    )
    args = parser.parse_args(argv)

    files, _ = build(args.eval_dir)
    changed = []
    for name in sorted(files):
        path = args.out / name
        current = path.read_bytes() if path.exists() else None
        if current != files[name]:
            changed.append(name)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(files[name])
        print(f"{hashlib.sha256(files[name]).hexdigest()[:16]}  {len(files[name]):>8}  {name}")
    if args.check and changed:
        print(f"out of date: {', '.join(changed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
