"""Build the compact name gazetteer (prompts/pii_names/) from the names-dataset wheel.

names-dataset 3.3.1 (PyPI; wheel metadata says MIT, its LICENSE file is Apache-2.0;
both allow redistribution with the notice) holds ~730k given names and ~980k surnames
with per-country popularity ranks. Loading it whole takes ~75 s and ~1.9 GB of memory,
so the masker ships a subset: the names ranked in the top N of any country we serve,
minus words that are ordinary words in those languages (spaCy's stop-word lists,
prompts/pii_names/not_names.txt, and frequent lower-case words of spacy-lookups-data's
en/de/es word probabilities unless the name is among a country's 200 most common).
It also writes common_words.txt: the 20,000 most frequent lower-case English words of
spacy-lookups-data (MIT), which vet the English model's person guesses ("Still Broken.").
Run it once at build time, never at run time:

    pip download --no-deps names-dataset==3.3.1 spacy-lookups-data==1.0.5 -d /tmp/nd
    python scripts/build_name_gazetteer.py /tmp/nd/names_dataset-3.3.1-py3-none-any.whl \
        /tmp/nd/spacy_lookups_data-1.0.5-py2.py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import pickle
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "prompts" / "pii_names"
# Countries whose languages we serve, and large sources of customers' names.
COUNTRIES = frozenset(
    {
        *("US", "GB", "IE", "CA", "AU", "NZ", "ZA", "IN", "DE", "AT", "CH", "FR", "BE", "LU"),
        *("ES", "MX", "AR", "CO", "CL", "PE", "VE", "IT", "PT", "BR", "AO", "NL", "PL", "TR"),
        *("RU", "UA", "RO", "HU", "CZ", "GR", "SE", "NO", "DK", "FI", "NG", "EG", "MA", "DZ"),
        *("SA", "AE", "PK", "BD", "PH", "ID", "MY", "CN", "HK", "TW", "JP", "KR", "IL"),
    }
)
GIVEN_RANK = 1500  # top given names per country
SURNAME_RANK = 2500  # top surnames per country
STOP_LANGUAGES = ("en", "de", "es", "fr", "it", "pt", "nl")
COMMON_WORDS = 20_000  # most frequent lower-case words per language
POPULAR_NAME = 200  # a name this popular stays even when it is also a common word ("Mark")


def _common_words(lookups: Path, language: str) -> list[str]:
    """The most frequent lower-case alphabetic words of spacy-lookups-data, best first."""
    with zipfile.ZipFile(lookups) as archive:
        data = archive.read(f"spacy_lookups_data/data/{language}_lexeme_prob.json.gz")
    probs = json.loads(gzip.decompress(data))
    ranked = sorted(probs.items(), key=lambda item: -item[1])
    words = [word for word, _ in ranked if word.isalpha() and word.islower()]
    return words[:COMMON_WORDS]


def _load(wheel: Path, member: str) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(f"names_dataset/v3/{member}.pkl.gz")
    with gzip.open(io.BytesIO(data)) as stream:
        return pickle.load(stream)  # noqa: S301 - the pinned wheel we downloaded ourselves


def _best_rank(info: dict) -> int | None:
    ranks = [rank for country, rank in (info.get("rank") or {}).items() if country in COUNTRIES]
    return min(ranks) if ranks else None


def _ordinary_words() -> set[str]:
    import importlib

    words: set[str] = set()
    for code in STOP_LANGUAGES:
        module = importlib.import_module(f"spacy.lang.{code}.stop_words")
        words |= {word.lower() for word in module.STOP_WORDS}
    not_names = OUT / "not_names.txt"
    for line in not_names.read_text(encoding="utf-8").splitlines():
        words.update(line.split("#", 1)[0].lower().split())
    return words


def _subset(names: dict, limit: int, ordinary: set[str], common: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, info in names.items():
        rank = _best_rank(info)
        if rank is None or rank > limit:
            continue
        key = name.strip().lower()
        if len(key) < 2 or not key.replace("-", "").replace("'", "").isalpha():
            continue
        if " " in key or key in ordinary or (key in common and rank > POPULAR_NAME):
            continue
        out[key] = min(rank, out.get(key, rank))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="names_dataset-3.3.1-py3-none-any.whl")
    parser.add_argument("lookups", type=Path, help="spacy_lookups_data-1.0.5-*.whl")
    args = parser.parse_args(argv)
    ordinary = _ordinary_words()
    english = _common_words(args.lookups, "en")
    common = set(english)
    for language in ("de", "es"):
        common.update(_common_words(args.lookups, language))
    (OUT / "common_words.txt").write_text("\n".join(sorted(english)) + "\n", encoding="utf-8")
    for member, limit, target in (
        ("first_names", GIVEN_RANK, "given_names.txt"),
        ("last_names", SURNAME_RANK, "surnames.txt"),
    ):
        subset = _subset(_load(args.wheel, member), limit, ordinary, common)
        lines = [f"{name}\t{rank}" for name, rank in sorted(subset.items())]
        (OUT / target).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{target}: {len(lines)} names", file=sys.stderr)


if __name__ == "__main__":
    main()
