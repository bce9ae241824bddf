"""Follow-up questions: whether a question leans on the one before it (pure, no I/O).

"and in Syria?", "who else was there?", "when?" mean little alone: they lean on the answer
the user just got. A question that names what it is about ("Who visited Iraq?", "Al-Hol
camp") stands on its own, and is left exactly as asked. An Arabic question is read by
Arabic rules (`bot.arabic_followup`): "وفي سوريا؟", "ومتى؟", "من غيره؟", "كم عدد سكانها؟".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot import arabic_followup, lang, text

# A follow-up is short; a longer question says enough on its own.
MAX_WORDS = 8
# A pronoun points back only in a question that names little itself: "are they closing
# the Al-Hol camp?" stands on its own; "how many people still live there?" leans on the
# answer before.
MAX_OWN_WORDS_WITH_POINTER = 3
# "this week", "these days" mean now, not something said before ("that day" does).
_NOW = frozenset({"this", "these"})
_TIMES = frozenset(
    """
    today tonight morning afternoon evening night day days week weekend month year years
    season summer winter spring autumn time
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# Openers that continue the conversation: "and in Syria?", "what about Turkey?".
OPENERS = frozenset({"and", "but", "also", "so", "then", "plus"})
OPENING_PAIRS = frozenset({("what", "about"), ("how", "about"), ("why", "not")})
# Words that point back at something said before.
POINTERS = frozenset(
    """
    he him his she her hers it its they them their theirs this that these those
    else other others same another former latter there
    """.split()  # noqa: SIM905 - a word list reads better as text
)
QUESTION_WORDS = frozenset({"who", "whom", "whose", "what", "when", "where", "why", "how", "which"})
# "there" after or before these is existential ("are there troops?"), not a place.
_WORD = re.compile(r"[^\W_]+")
_CLITIC = re.compile(r"'(?:s|re|ve|ll|d)\b")
_BE = frozenset({"is", "are", "was", "were", "be", "been", "will", "has", "have", "had"})


def leans_on_previous(question: str) -> bool:
    """Whether `question` leans on the previous one: at most MAX_WORDS words, and it opens
    with "and"/"what about"…, points back ("he", "there", "else"…) with at most
    MAX_OWN_WORDS_WITH_POINTER words of its own, or is a question word with at most one
    word of its own ("when?", "how many died?")."""
    words = _plain_words(question)
    if not words or len(words) > MAX_WORDS:
        return False
    if lang.detect(question) == "ar":
        return arabic_followup.leans_on_previous(words, MAX_OWN_WORDS_WITH_POINTER)
    if words[0] in OPENERS or tuple(words[:2]) in OPENING_PAIRS:
        return True
    own = [
        w
        for w in words
        if w not in QUESTION_WORDS and w not in POINTERS and not text.is_stopword(w)
    ]
    if len(own) <= MAX_OWN_WORDS_WITH_POINTER and any(
        _points_back(words, i) for i in range(len(words))
    ):
        return True
    return words[0] in QUESTION_WORDS and len(own) <= 1


def within(previous: datetime, now: datetime, window: timedelta) -> bool:
    """Whether a question at `now` is close enough to a card of `previous` to lean on it."""
    return timedelta(0) <= now - previous <= window


def _plain_words(question: str) -> list[str]:
    """Lower-case words as written (no stemming, no demonym folding); "who's" -> "who"."""
    return _WORD.findall(_CLITIC.sub("", text.normalize(question)))


def _points_back(words: list[str], i: int) -> bool:
    word = words[i]
    if word not in POINTERS:
        return False
    after = words[i + 1] if i + 1 < len(words) else ""
    if word in _NOW:
        return after not in _TIMES
    if word != "there":
        return True
    before = words[i - 1] if i else ""
    return before not in _BE and after not in _BE
