"""Language detection: clear sentences detected, short/mixed/odd texts never presented as fact."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.enrich.language import (
    UNKNOWN,
    LanguageConfig,
    LanguageDetector,
    LanguageGuess,
    get_language_detector,
)
from shared.enrich.quality import load_quality_config
from shared.errors import ConfigError
from shared.settings import PROJECT_ROOT

MIN_CONFIDENCE = 0.7

CLEAR = {
    "en": "The package arrived two weeks late and the customer service team never answered "
    "my emails.",
    "es": "El paquete llegó dos semanas tarde y el servicio de atención al cliente nunca "
    "respondió mis correos.",
    "de": "Das Paket kam zwei Wochen zu spät an und der Kundenservice hat nie auf meine "
    "E-Mails geantwortet.",
    "fr": "Le colis est arrivé avec deux semaines de retard et le service client n'a jamais "
    "répondu à mes courriels.",
    "pt": "A encomenda chegou com duas semanas de atraso e o serviço de apoio ao cliente "
    "nunca respondeu aos meus e-mails.",
    "it": "Il pacco è arrivato con due settimane di ritardo e il servizio clienti non ha mai "
    "risposto alle mie email.",
    "nl": "Het pakket kwam twee weken te laat aan en de klantenservice heeft nooit op mijn "
    "e-mails gereageerd.",
}


@pytest.fixture(scope="session")
def detector() -> LanguageDetector:
    """The shipped configuration (prompts/quality.yaml), built once for the session."""
    config = load_quality_config(PROJECT_ROOT / "prompts" / "quality.yaml").language
    return get_language_detector(config)


def test_shipped_config_is_the_documented_default() -> None:
    config = load_quality_config(PROJECT_ROOT / "prompts" / "quality.yaml").language
    assert config.languages == ("en", "es", "fr", "de", "pt", "it", "nl")
    assert config.min_confidence == MIN_CONFIDENCE
    assert config.low_accuracy_mode is False


@pytest.mark.parametrize(("language", "text"), sorted(CLEAR.items()))
def test_clear_sentence_is_detected_with_high_confidence(
    detector: LanguageDetector, language: str, text: str
) -> None:
    guess = detector.detect(text)
    assert guess.language == language
    assert guess.confidence >= 0.95


@pytest.mark.parametrize(
    "text",
    [
        "ok",  # lingua alone: Dutch
        "refund pls",  # lingua alone: German
        "thanks",
        "bad",
        "love it!!",
        "great product",
        "Sehr gut",
        "año",  # one ñ makes lingua's rule engine 100% sure; three letters are not
        "iPhone 13 Pro Max 256GB",
        "12345 !!!",
        "😀😀👍",
    ],
)
def test_short_or_ambiguous_text_is_not_presented_as_fact(
    detector: LanguageDetector, text: str
) -> None:
    guess = detector.detect(text)
    assert guess == UNKNOWN or guess.confidence < MIN_CONFIDENCE
    assert guess.language == "und"  # the shipped thresholds decline all of these


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_und_with_zero_confidence(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == LanguageGuess("und", 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "Доставка опоздала на две недели, коробка была повреждена.",  # Cyrillic: not configured
        "配送が二週間遅れて、箱が壊れていました。",  # Japanese: not configured
    ],
)
def test_language_outside_the_configured_set_is_und(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == UNKNOWN


@pytest.mark.parametrize(
    "text",
    [
        "The package arrived two weeks late and nobody answered my emails. El paquete llegó "
        "roto y el servicio nunca respondió mis correos.",
        "Das Paket kam zu spät an und der Karton war kaputt. The refund still has not "
        "arrived after three weeks of waiting.",
        "I love this dress but la talla es muy pequeña",
    ],
)
def test_evenly_mixed_text_is_not_reported_with_high_confidence(
    detector: LanguageDetector, text: str
) -> None:
    guess = detector.detect(text)
    assert guess.confidence < MIN_CONFIDENCE
    assert guess.language == "und"


def test_mostly_one_language_reports_it_at_about_its_share(detector: LanguageDetector) -> None:
    english = (
        "The package arrived late. The box was crushed. The lamp inside is broken and the "
        "shade is bent. Nobody answered my emails for two weeks."
    )
    pure = detector.detect(english)
    mixed = detector.detect(f"{english} El paquete llegó roto y nadie respondió.")
    assert pure.language == mixed.language == "en"
    # 25 English words and 7 Spanish ones: confidence follows the share, not lingua's 1.0.
    assert pure.confidence > 0.95
    assert MIN_CONFIDENCE <= mixed.confidence <= 0.8


def test_batch_equals_one_at_a_time(detector: LanguageDetector) -> None:
    texts = [
        *CLEAR.values(),
        "",
        "ok",
        "refund pls",
        "Great. Gracias.",
        "Ordered the XL, returned it, refund pending since 3 weeks",
        "The package arrived two weeks late and nobody answered my emails. El paquete llegó "
        "roto y el servicio nunca respondió mis correos.",
    ]
    batch = detector.detect_batch(texts)
    assert batch == [detector.detect(text) for text in texts]
    assert [g.language for g in batch[: len(CLEAR)]] == list(CLEAR)
    assert detector.detect_batch([]) == []


def test_only_the_first_max_chars_are_scored() -> None:
    detector = LanguageDetector(["en", "es"], min_confidence=0.7, min_chars=10, max_chars=100)
    spanish_tail = " El paquete llegó roto y nadie respondió a mis correos." * 20
    guess = detector.detect(CLEAR["en"] + spanish_tail)
    assert guess.language == "en"


def test_min_chars_counts_letters_not_digits_or_symbols() -> None:
    detector = LanguageDetector(["en", "de"], min_confidence=0.5, min_chars=8)
    assert detector.detect("1234567890 !!! ###") == UNKNOWN
    assert detector.detect("Sehr gut") == UNKNOWN  # 7 letters
    assert detector.detect("Sehr gute Ware").language == "de"


@pytest.mark.parametrize(
    ("languages", "problem"),
    [
        (["en"], "at least two"),
        (["en", "english"], "ISO 639-1"),
        (["en", "EN"], "at least two"),  # duplicates collapse
    ],
)
def test_invalid_language_sets_are_rejected(languages: list[str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LanguageConfig(languages=tuple(languages))


def test_a_code_lingua_does_not_know_is_a_config_error_at_first_use() -> None:
    detector = LanguageDetector(["en", "xx"], min_confidence=0.7, min_chars=10)
    with pytest.raises(ConfigError, match="does not support"):
        detector.detect("The package arrived two weeks late.")


def test_detector_factory_is_cached_per_config() -> None:
    config = LanguageConfig(languages=("en", "de"))
    assert get_language_detector(config) is get_language_detector(
        LanguageConfig(languages=("en", "de"))
    )
    assert get_language_detector(config) is not get_language_detector(LanguageConfig())


def test_importing_the_modules_loads_no_models() -> None:
    code = (
        "import sys, shared.enrich.language, shared.enrich.quality; "
        "assert 'lingua' not in sys.modules, 'lingua imported at import time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT)
