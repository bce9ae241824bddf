"""Which language a text is in, told by its script: Arabic or Latin (read as English).

Script is enough to pick the text processing (Arabic or English) and to prefer articles in
the asker's language. Mixed text takes the script of most of its words, a tie going to
Arabic: an Arabic question naming "iPhone" or "NATO" is still an Arabic question. Text with
no Arabic or Latin word (digits, punctuation, emoji, other scripts) has no language (None).
Each word is still processed in its own script's way (`bot.text`), whatever the language.
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["ar", "en"]
LANGUAGES: tuple[Language, ...] = ("en", "ar")

# Arabic letters (the Arabic, Arabic Supplement, Extended-A and presentation-form blocks),
# not its digits, punctuation or diacritics.
ARABIC_LETTER = (
    "\u0621-\u063a\u0641-\u064a\u066e-\u066f\u0671-\u06d3\u06d5\u06ee-\u06ef\u06fa-\u06fc"
    "\u0750-\u077f\u08a0-\u08c9\ufb50-\ufdfb\ufe70-\ufefc"
)
_ARABIC = re.compile(f"[{ARABIC_LETTER}]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_WORD = re.compile(r"[^\W\d_]+")
# Looking at the start of a long text is enough to tell its script, and bounds the cost.
_SAMPLE_CHARS = 4000


def detect(text: str) -> Language | None:
    """The language of `text` by the script of most of its words; None without such words."""
    arabic = latin = 0
    for word in _WORD.findall(text[:_SAMPLE_CHARS]):
        if _ARABIC.search(word):
            arabic += 1
        elif _LATIN.search(word):
            latin += 1
    if not arabic and not latin:
        return None
    return "ar" if arabic >= latin else "en"


def has_arabic(text: str) -> bool:
    """Whether `text` holds any Arabic letter."""
    return _ARABIC.search(text) is not None
