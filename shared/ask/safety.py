"""PII re-scan of what the ask tools return, as the classifier re-scans evidence quotes.

Gold holds masked text only; the re-scan is the second line: every quote that leaves a
tool goes through the masker's pattern recognizers (e-mail, phone, card and id numbers;
no NER, cheap enough for every quote) and anything found is masked before it is returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.decide.factory import RESCAN_LANGUAGE
from shared.enrich.masking import PiiMasker


class QuoteScanner:
    """Masks what the pattern recognizers find in outgoing quotes; counts the spans."""

    def __init__(self, masker: PiiMasker) -> None:
        self.masker = masker

    def rescan(self, quotes: Sequence[str]) -> tuple[list[str], int]:
        if not quotes:
            return [], 0
        groups = self.masker.mask_groups(
            [{"text": quote} for quote in quotes], [RESCAN_LANGUAGE] * len(quotes)
        )
        texts = [group.fields["text"] or "" for group in groups]
        return texts, sum(len(group.entities) for group in groups)


__all__ = ["QuoteScanner"]
