"""PII masking with Presidio: typed placeholders, numbered consistently within a record.

``Maria called from 0176 1234567, then Maria wrote to maria@x.de`` becomes
``<PERSON_1> called from <PHONE_NUMBER_1>, then <PERSON_1> wrote to <EMAIL_ADDRESS_1>``.
Numbering is per group (the fields of one record: text, title, free-text metadata), so the
same value gets the same placeholder in every field of that record and nowhere else. The
value -> placeholder map lives only while a group is masked; nothing reversible is kept.

What is found, and how (the configuration is ``prompts/pii.yaml``, see docs/pii.md):

* Pattern recognizers run on every language: Presidio's email (domain checked against the
  bundled public-suffix snapshot, never downloaded), URL, phone (python-phonenumbers over
  the configured regions), credit card (Luhn), IBAN (checksum), IP, US SSN; a street
  address recognizer written here (Presidio has none) whose patterns are assembled from the
  word lists in the config; and the config's own recognizers (order, ticket, customer ids,
  postal codes, loose phone formats, name cues).
* NER (PERSON, LOCATION) runs only on languages with a configured spaCy model, loaded from
  its folder on disk: for a ``package`` the versioned model folder (with ``config.cfg``)
  inside the installed package. Only the components NER needs run.
* Context words: a recognizer's weak matches (score below ``score_threshold``) count only
  when one of its context words is among the words just before the match. Lemmas are the
  lower-cased tokens (the lemmatizer is not run), and Presidio matches context words as
  substrings, so ``call`` also covers ``called`` and ``calling``.

Batching: :meth:`PiiMasker.mask_groups` runs ``nlp.pipe`` over all texts of a language at
once and feeds each ``Doc`` to ``AnalyzerEngine.analyze(..., nlp_artifacts=...)``.
Overlapping results are merged (the wider span names the type) before placeholders are
assigned, so the reported entities are exactly what was replaced.

Nothing happens at import time: Presidio and spaCy are imported, and the models loaded,
on the first call (a few seconds), once per masker; :func:`get_masker` caches the masker
per config file. Text is never logged, and Presidio's own log records (which quote text,
e.g. an IBAN that failed validation) lose their arguments before they reach a handler.

Modules: ``config`` (the YAML's models), ``addresses`` (street patterns), ``names``
(given-name/surname gazetteer with context), ``identifiers`` (labelled numbers),
``engine`` (spaCy + Presidio per language key), ``masker`` (PiiMasker), ``jsonl``.
"""

from shared.enrich.masking.config import PATTERNS_ONLY, PiiConfig, load_pii_config
from shared.enrich.masking.engine import model_dir
from shared.enrich.masking.jsonl import mask_jsonl
from shared.enrich.masking.masker import FoundEntity, MaskedGroup, PiiMasker, get_masker
from shared.errors import PiiMaskingError

__all__ = [
    "PATTERNS_ONLY",
    "FoundEntity",
    "MaskedGroup",
    "PiiConfig",
    "PiiMasker",
    "PiiMaskingError",
    "get_masker",
    "load_pii_config",
    "mask_jsonl",
    "model_dir",
]
