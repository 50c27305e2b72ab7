"""Anki's cloze numbering: which `{{cN::` a field holds, and so which cards Anki makes.

Check (its lint rules), package (the card ordinals written) and preview (one side per
number) must agree on it, so it lives here once.
"""

from __future__ import annotations

import re

OPENING = re.compile(r"\{\{c(\d+)::")  # group 1: the number's digits as written
MAX_CLOZE = 65535  # a card's template ordinal is 16 bits in Anki's collection


def cloze_number(digits: str) -> int:
    """The number of `{{cN::`; past MAX_CLOZE (or Python's longest int) all the same."""
    return int(digits) if len(digits) <= 6 else MAX_CLOZE + 1


def cloze_numbers(text: str) -> list[int]:
    """The card numbers Anki makes for a cloze field, in order."""
    return sorted({n for n in map(cloze_number, OPENING.findall(text)) if 1 <= n <= MAX_CLOZE})
