"""What kind of answer a question asks for (a number, a date, a name) and which sentences hold one.

Read from the question's wording only ("how many", "when", "who"): cheap, and wrong at worst
by giving no cue. Used to choose the excerpt that carries the answer, never to rank articles.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache

from bot import text
from bot.lang import has_arabic
from bot.passages import split_sentences


class AnswerType(Enum):
    NUMBER = "number"
    DATE = "date"
    NAME = "name"


_WANTS = (
    (
        AnswerType.NUMBER,
        re.compile(
            r"\bhow (?:many|much|long|old|far|high|big|large|tall|often|fast|low)\b"
            r"|\bwhat (?:percentage|percent|share|proportion|number|amount|price|cost|age)\b"
            r"|\bwhat is the (?:toll|tally|figure|magnitude)\b",
            re.IGNORECASE,
        ),
    ),
    (
        AnswerType.DATE,
        re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bhow soon\b", re.IGNORECASE),
    ),
    (AnswerType.NAME, re.compile(r"\bwho(?:m|se)?\b", re.IGNORECASE)),
)

_NUMBER = re.compile(
    r"\d(?:[\d,.]*\d)?|\b(?:dozens?|hundreds?|thousands?|millions?|billions?|trillions?|percent|half|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|today|tomorrow|yesterday|tonight|(?:next|last|this) "
    r"(?:week|month|year|spring|summer|fall|autumn|winter)|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# A capitalised word inside a sentence (after its first word): a name, mostly.
_NAME = re.compile(r"(?<=\S )(?:[A-Z][\w’'-]+)")


# Arabic "when" ("متى", "في أي عام"), read from normalised text (alef forms folded, no
# diacritics), and what holds a date there: a year (ARCD's history goes back to three
# digits), a Gregorian, Levantine or Hijri month, or "عام"/"سنة"/"القرن" before a word.
# "كم" (how many) is left out: on the tune half a number cue chose worse sentences.
_AR_WHEN = re.compile(
    r"(?:^|\s)و?(?:متى|متي)(?:\s|$)|(?:في|ب)\s?اي\s(?:عام|سنه|سنة|تاريخ|يوم|شهر|قرن)"
)
_AR_MONTHS = (
    "يناير|فبراير|مارس|ابريل|مايو|يونيو|يوليو|اغسطس|سبتمبر|اكتوبر|نوفمبر|ديسمبر|"
    "كانون|شباط|اذار|نيسان|ايار|حزيران|تموز|اب|ايلول|تشرين|"
    "محرم|صفر|ربيع|جمادي|رجب|شعبان|رمضان|شوال|ذو القعده|ذو الحجه"
)
_AR_DATE = re.compile(
    rf"\d{{3,4}}|(?:^|\s)(?:{_AR_MONTHS})(?:\s|$)|(?:^|\s)(?:القرن|عام|سنه|سنة)\s"
)


def wanted(question: str) -> AnswerType | None:
    """The kind of answer `question` asks for, or None when its wording does not say."""
    if has_arabic(question) and _AR_WHEN.search(text.normalize(question)):
        return AnswerType.DATE
    for kind, pattern in _WANTS:
        if pattern.search(question):
            return kind
    return None


@lru_cache(maxsize=4096)
def _words_of(phrase: str) -> frozenset[str]:
    """The words of a question or of a matched number, date or name; cached, as an excerpt
    weighs every sentence against the same question, and the same figures recur."""
    return frozenset(text.words(phrase))


def holds(sentence: str, kind: AnswerType, question: str) -> bool:
    """Whether `sentence` holds an answer of `kind` that the question does not already give.

    A number or name that the question itself uses ("the 62nd home run") is not an answer.
    """
    asked = _words_of(question)
    if kind is AnswerType.DATE and has_arabic(question):
        return any(
            not _words_of(match.group()) <= asked
            for match in _AR_DATE.finditer(text.normalize(sentence))
        )
    if kind is AnswerType.NUMBER:  # a year is a date, not a count
        return any(
            not _words_of(match.group()) <= asked
            for match in _NUMBER.finditer(_YEAR.sub(" ", sentence))
        )
    if kind is AnswerType.DATE:
        return any(not _words_of(match.group()) <= asked for match in _DATE.finditer(sentence))
    return any(
        not _words_of(match.group()) <= asked and not _DATE.fullmatch(match.group())
        for match in _NAME.finditer(sentence)
    )


# "Which virus is", "what new treat did", "which region of", "what is the organic compound
# in": the words after the wh-word, up to the verb or preposition that ends the phrase,
# name the kind of thing asked for.
_FOCUS = re.compile(
    r"\b(?:which|what)\s+(?:(?:is|are|was|were)\s+the\s+)?((?:[\w’'-]+\s+){0,5}?)"
    r"(?:is|are|was|were|did|does|do|has|have|had|will|would|can|could|in|of|to|that|for)\b",
    re.IGNORECASE,
)


def focus(question: str) -> frozenset[str]:
    """The terms (stems) of the words that name what a "which …" or "what …" question asks
    for: "virus" in "Which virus is spreading …?". Empty when the wording has none.

    A sentence that names that kind of thing ("sick with respiratory viruses, especially
    RSV") is the one that says which; the question's other words only describe the scene.
    """
    match = _FOCUS.search(question)
    return frozenset(text.terms(match.group(1))) if match else frozenset()


def figures(question: str) -> frozenset[str]:
    """The terms of the figures a question quotes ("73" in "the record with 73 home runs",
    "62nd"), years left out. Empty when it quotes none.

    A figure is told once, in the sentence about the fact it measures, where the question's
    words ("record", "home runs") recur all through the article. A year only sets the time,
    as "this week" does.
    """
    return frozenset(
        term
        for term in text.terms(question)
        if any(char.isdigit() for char in term) and not _YEAR.fullmatch(term)
    )


def asking(question: str) -> frozenset[str]:
    """The terms (stems) of the sentence that asks, when the question sets a scene first.

    Empty for a question of one sentence, or when no sentence after the first ends in "?".
    The scene sentences restate what the article's lead says; what is asked is in the
    asking sentence ("When will it be available?"), so the excerpt is chosen by its words.
    """
    parts = split_sentences(question)
    for part in reversed(parts[1:]):
        if part.rstrip("”\"' ").endswith(("?", "؟")):
            return frozenset(text.terms(part))
    return frozenset()
