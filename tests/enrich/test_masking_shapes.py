"""PII masking by shape: postal blocks, street forms, names without a cue word, labelled
phones; and the ordinary text those rules must leave alone. Offline; one engine per module.

The cases are written here (made-up people and places); the failure classes they stand
for were found on the dev split of presidio-synth-pii (see docs/pii.md)."""

from __future__ import annotations

import pytest

from shared.enrich.masking import PiiMasker, load_pii_config
from shared.settings import PROJECT_ROOT

CONFIG_PATH = PROJECT_ROOT / "prompts" / "pii.yaml"


@pytest.fixture(scope="module")
def masker() -> PiiMasker:
    masker = PiiMasker(load_pii_config(CONFIG_PATH))
    masker.engine()
    return masker


def masked_text(masker: PiiMasker, text: str, language: str = "en") -> str:
    return masker.mask_text(text, language).fields["text"] or ""


# rule, text, the parts that must vanish
STREET_CASES = [
    (
        "region code and postal code on their own lines",
        "Please update my address to 27534 Lindqvistgata 63\nMOSS\n, nan\n 51971 thanks",
        ["Lindqvistgata", "MOSS", "nan", "51971"],
    ),
    (
        "city, region code, postal code",
        "it is 5638 Aasa 43\nHumilimont, nan 78618",
        ["Aasa 43", "Humilimont", "78618"],
    ),
    (
        "a two-digit region",
        "deliver to 704 1436 Redbud Drive\nCite Essanaouber\n, 32\n 60810 please",
        ["Redbud", "Essanaouber", "60810"],
    ),
    (
        "a qualifier in brackets and a country before the code",
        "Office: 5850 Jana Nerudy 894\nLARNAKA (ΛΑΡΝΑΚΑ)\n, NI\n Cyprus (Greek) 78891\nCall us",
        ["Nerudy", "ΛΑΡΝΑΚΑ", "Cyprus (Greek) 78891"],
    ),
    (
        "a lower-case city before region and code",
        "user: 0605 πεντέλης 210 apt. 999\ndelmas, mp 35739",
        ["πεντέλης", "delmas", "35739"],
    ),
    (
        "a unit makes a number-word-number shape an address",
        "The letter arrived at 23100 Ilichova 23 Suite 274 yesterday.",
        ["Ilichova 23 Suite 274"],
    ),
    (
        "a unit before the street",
        "Mrs. Ines Alcaraz Suite 541 6343 Skogstien 106\nASKER nan 1386",
        ["Suite 541", "Skogstien 106", "1386"],
    ),
    (
        "lower-case street, type and unit with the town after",
        "hubbard and partners\n3747 3911 fourth avenue suite 112 calgary alberta",
        ["fourth avenue", "calgary alberta"],
    ),
    (
        "building, street and house number",
        "Meet me at 9721 Dalmatinova 43 after lunch.",
        ["Dalmatinova 43"],
    ),
    (
        "a USPS type that is an ordinary word, before a unit",
        "Ship it to 420 Gairbekov Lights\n Apt. 576\n Voormezele\n Belgium 92060",
        ["Gairbekov Lights", "Voormezele", "92060"],
    ),
    (
        "an intersection without 'corner of'",
        "Please return to Leon and Eyrarodda 66 in case of an issue.",
        ["Leon and Eyrarodda 66"],
    ),
    (
        "the corner of, a number with a dot",
        "it is the corner of Csabai kapu 39. and Mathias Pass",
        ["Csabai kapu 39.", "Mathias Pass"],
    ),
    (
        "a named street after 'on'",
        "these early shows on Marina Fort Street were important",
        ["Marina Fort Street"],
    ),
    (
        "lower-case inner words before the type",
        "The title refers to Árpád fejedelem útja 3. in the old town",
        ["Árpád fejedelem útja 3."],
    ),
    ("a house number labelled No", "Atatürk Cad. No: 12 is our shop", ["Atatürk Cad. No: 12"]),
    ("a Polish square", "ship to pl. Zbawiciela 5, Warszawa", ["Zbawiciela 5"]),
    ("a Norwegian street suffix", "I live at Granbråten 14 now", ["Granbråten 14"]),
    ("a Dutch postal code in a block", "Kerkstraat 12\n1017 AB Amsterdam", ["1017 AB"]),
    ("a UK postcode in a block", "Flat 3\n12 Mill Lane\nLeeds\nLS1 4DT", ["LS1 4DT"]),
    ("a Colombian numbered street", "envíelo a Carrera 7 # 12-34, Bogotá", ["Carrera 7 # 12-34"]),
    ("a German type as its own word", "Müller Ring 5, 10115 Berlin", ["Müller Ring 5", "10115"]),
    ("an Italian unit", "spedire a Via Roma 10, Interno 4, Milano", ["Interno 4"]),
    ("code and town after a type-first street", "au 12 rue de la Paix, 75002 Paris", ["Paris"]),
    ("a house number after a comma", "para Rua das Flores, 123, Lisboa", ["Flores, 123", "Lisboa"]),
    ("a postal code after a place", "to support Factset in Bjert 6091 in its mission", ["6091"]),
]


@pytest.mark.parametrize(("rule", "text", "parts"), STREET_CASES, ids=[c[0] for c in STREET_CASES])
def test_street_address_shapes_are_masked(
    masker: PiiMasker, rule: str, text: str, parts: list[str]
) -> None:
    masked = masked_text(masker, text)
    for part in parts:
        assert part not in masked, (rule, masked)
    assert "<STREET_ADDRESS_1>" in masked


# rule, text, the name (must vanish)
NAME_CASES = [
    ("speaker labels", "Ubul: What a wife.\nNicole: Remember the day?", "Ubul"),
    ("lower-case speaker labels", 'mika: "who are you?"\ntracy: "his daughter".', "tracy"),
    ("a list with one known name", "Nekolná and Pearson were precision engineers.", "Nekolná"),
    ("a list of three", "our 3 founders: Monjeau, Graves and Reed. The idea was born", "Monjeau"),
    ("the maker of a work", "Unlike the Christiansen novel, it's short.", "Christiansen"),
    ("the maker of a work, two words", "Have you been to a Calquín Cazares concert?", "Cazares"),
    ("was called", "My grandfather was called Djevad Šušulić, a farmer.", "Šušulić"),
    ("a run before what people do", "Hakuba had given Scott his address.", "Hakuba"),
    ("lower-case names before 'lives at'", "eva kleist lives at the old mill", "eva kleist"),
    ("a name line above a signature", "Einojuhani Pyysalo\n\nBus driver\n\nTampere", "Pyysalo"),
    ("a lower-case signature line", "naomi ryan\nsewer pipe cleaner\nhubbard and co", "naomi ryan"),
    ("a text without capitals", "you picked a fine time to leave me nina, four kids", "nina"),
    (
        "a lower-case name after a cue",
        "follow up with patricia desrosiers next month",
        "desrosiers",
    ),
    ("addressing someone", "Warrane, can I please speak to your manager?", "Warrane"),
    ("a lone given name after 'to'", "I'm so jealous! said Gladys to Logan", "Logan"),
    ("a lone given name after 'of'", "The true gender of Mette has been debated", "Mette"),
    ("a known given name and an unknown surname", "Maybe it's under Elita B Desaulniers", "B "),
    ("Name: with a middle initial", "Name:    Iva D. Grusová\nAddress: none", "Grusová"),
]


@pytest.mark.parametrize(("rule", "text", "name"), NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_names_without_a_cue_word_are_masked_by_shape(
    masker: PiiMasker, rule: str, text: str, name: str
) -> None:
    masked = masker.mask_text(text, "en")
    assert name not in (masked.fields["text"] or ""), rule
    assert "PERSON" in {e.entity_type for e in masked.entities}


PHONE_CASES = [
    ("Hungary 34796\n(37) 788-063-Office, call any time", "(37) 788-063"),
    ("APO AA 61487\n416 60 039 office\nthanks", "416 60 039"),
    ("They're not answering at 99 668472", "99 668472"),
]


@pytest.mark.parametrize(("text", "phone"), PHONE_CASES)
def test_phone_numbers_labelled_after_them_are_masked(
    masker: PiiMasker, text: str, phone: str
) -> None:
    masked = masker.mask_text(text, "en")
    assert phone not in (masked.fields["text"] or "")
    assert "PHONE_NUMBER" in {e.entity_type for e in masked.entities}


# Ordinary text near every new rule: order numbers, prices, dates, product codes and
# names, Title Case, lists of products, dialogue with ordinary labels, lower-case reviews.
PRECISION_CASES = [
    "I live at home now and it arrived 2 days late",
    "Order 12345 arrived, 2 of 3 items missing, refund of $45.99 on 03/12/2024",
    "Arrived 2 days late, 3 out of 5, box 40 x 30 cm",
    "Ordered 3 pizzas 2 Suite 5",
    "I bought 2 Philips Hue Lights and 3 Echo Dots",
    "ask Alexa to: Play 80's music",
    "Unless we specify kitchen Light 1 or kitchen Light 2 it turns on both",
    "The SM-G991B replacement works, firmware 4.2.1, model A2338",
    "Pros: easy setup\nCons: the app crashes",
    "Me: Alexa, play jazz\nAlexa: Playing jazz",
    "Great Product, Fast Shipping, Would Buy Again",
    "Salt and Pepper were both missing from the table",
    "the Echo Show screen and the Fire TV remote both work",
    "Great, can't wait to use it again",
    "Overall, I would buy it again",
    "no pii here, just a lower case review of a good blender",
    "we had the margarita pizza and a salad",
    "Fast shipping\nGood price\nWould buy again",
    "Still Broken.\nSecond unit also dead",
    "It said the battery was full but it died in 2 hours",
    "I gave it 5 stars and 2 Echo Dots 3 weeks ago",
    "Version 2.3.1 on Windows 10 and iOS 17",
    "It ran fine in Windows 2000, the battery in Model 1500 mAh lasts",
    "a 10 minute walk from the hotel, 2 hour drive, 5 stars",
    "It's worth taking a cab to Chelsea just for dinner",
    "We have been to Austin twice",
    "delivery to paris took 3 weeks, then it shipped to Austin by mistake",
    "the city of Florence is lovely",
    "Not able to access youtube as of Dec 2017",
    "Ordered as a Birthday Gift and Delivery was not made on the scheduled day",
]


@pytest.mark.parametrize("text", PRECISION_CASES)
def test_ordinary_text_near_the_shape_rules_is_left_alone(masker: PiiMasker, text: str) -> None:
    group = masker.mask_text(text, "en")
    assert group.fields["text"] == text, group.entities
