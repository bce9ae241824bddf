"""An article read for excerpts: the sentences it may show, folded, with their passages.

Choosing an excerpt scores an article's sentences against each question; splitting the body
into sentences, leaving out chrome and repeats, and folding each sentence for matching do
not depend on the question. They are done once per article text and kept in a small cache
(`read`), so a question costs only the matching, and an article asked about again (the same
news story, More, a follow-up) costs nothing to read.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

from bot import text
from bot.models import Article
from bot.passages import body_paragraphs, split_passages

# Articles kept read (about 15 KB each: their sentences twice, plain and folded).
CACHE_ARTICLES = 512
# Sentences of fewer words are labels, credits or chrome, not statements.
MIN_SENTENCE_WORDS = 5
# Lines of site chrome and credits, never shown as an excerpt.
_CHROME_START = re.compile(
    r"(?:(?:photo|credit|source|image|watch|related|video)\s*:|read more\b|sign up\b|"
    r"subscribe (?:to|now|here)\b|follow (?:us|@)|click here\b|short url\b|updated \d|"
    r"ad feedback\b|advertisement\b)"
)
_CREDITS = ("getty images", "ap photo", "afp photo", "reuters photo")
_CREDIT_ENDS = ("(reuters)", "(ap)", "(afp)")
# "By Jane Smith" or "By Jane Smith, CNN": a byline, not "By the end of the year, ...".
_BYLINE = re.compile(
    r"^(?:By|Written by|Reporting by|Editing by)\s+(?:[A-Z][\w.'’-]*\s*){1,4}(?:,|$| and\b)"
)
_WORDS = re.compile(r"\w+")
# A paragraph that is a figure alone ("9%", "$4.2 billion", "300,000"): "by the numbers"
# roundups state the figure on its own line and say what it counts in the next ("That's how
# much plastic is recycled"). It is read as the start of that next sentence, which is
# otherwise a statement without its answer.
_FIGURE = re.compile(
    r"^[$€£]?\d[\d,.]*\s*(?:%|percent|million|billion|trillion)?[.!]?$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Reading:
    """The sentences an excerpt may show, in reading order (never empty).

    `folded[i]` is `sentences[i]` as `text.normalize` folds it (for matching question
    terms); `passage[i]` is the ordinal (see `split_passages`) of the passage holding
    sentence i, or -1 when none holds it whole (a fallback line, a sentence cut in pieces).
    """

    sentences: tuple[str, ...]
    folded: tuple[str, ...]
    passage: tuple[int, ...]
    _terms: list[frozenset[str] | None] = field(default_factory=list, compare=False)

    def terms(self, i: int) -> frozenset[str]:
        """The terms of sentence i (as `text.term_set` reads them), read once when asked."""
        if not self._terms:
            self._terms.extend([None] * len(self.sentences))
        held = self._terms[i]
        if held is None:
            held = self._terms[i] = frozenset(text.term_set(self.sentences[i]))
        return held


def read(article: Article) -> Reading:
    """The article's `Reading`, from the cache when the same text was read before."""
    key = text_of(article)
    reading = _CACHE.get(key)
    if reading is None:
        reading = _reading(article)
        _remember(key, reading)
    else:
        _CACHE.move_to_end(key)
    return reading


def is_read(article: Article) -> bool:
    """Whether the article's text is in the cache (`read` costs nothing for it)."""
    return text_of(article) in _CACHE


def remember(article: Article, reading: Reading) -> None:
    """Cache `reading` as the article's (one made before, say at ingest: see
    `bot.stored_reading`), so `read` need not split the article again."""
    _remember(text_of(article), reading)


def text_of(article: Article) -> tuple[object, ...]:
    """What an article's reading depends on: its id and text (the cache's key)."""
    return (
        article.id,
        article.headline,
        article.caption,
        tuple(article.summary),
        tuple(article.body),
        tuple(article.subheadings),
    )


def _remember(key: tuple[object, ...], reading: Reading) -> None:
    _CACHE[key] = reading
    _CACHE.move_to_end(key)
    if len(_CACHE) > CACHE_ARTICLES:
        _CACHE.popitem(last=False)


def clear_cache() -> None:
    """Forget every article read (for measuring the cost of reading them)."""
    _CACHE.clear()


# Least recently read last out; guarded by the GIL (each step is one dict operation, and a
# lost race only reads an article twice).
_CACHE: OrderedDict[tuple[object, ...], Reading] = OrderedDict()


def _reading(article: Article) -> Reading:
    paragraphs = body_paragraphs(article)
    sentences: list[str] = []
    figure = ""
    for paragraph in paragraphs:
        if paragraph.heading or is_chrome(paragraph.text):
            figure = ""
            continue
        if _FIGURE.match(paragraph.text):
            figure = paragraph.text
            continue
        lines = list(paragraph.sentences)
        if figure:
            lines[0] = f"{figure} {lines[0]}"
            figure = ""
        sentences += [sentence for sentence in lines if _is_statement(sentence)]
    unique = _first_of_each(sentences) if sentences else _fallback(article)
    folded = tuple(fold for _, fold in unique)
    shown = tuple(sentence for sentence, _ in unique)
    passages = [passage.text for passage in split_passages(article, paragraphs)]
    return Reading(shown, folded, _passage_of(shown, passages))


def _fallback(article: Article) -> list[tuple[str, str]]:
    """A body with no statement: the summary bullets, else the caption, else the headline."""
    for lines in (article.summary, [article.caption or ""], [article.headline]):
        kept = [line.strip() for line in lines if line.strip()]
        if kept:
            return [(line, text.normalize(line)) for line in kept]
    return [(article.headline, text.normalize(article.headline))]


def _first_of_each(sentences: list[str]) -> list[tuple[str, str]]:
    """Each sentence once (same words, any punctuation or diacritics), with its folded form:
    some articles restate their lead at a section break, and a repeat would crowd out the
    sentence that answers when the excerpt widens around the best one.
    """
    seen: set[tuple[str, ...]] = set()
    unique = []
    for sentence in sentences:
        fold = text.normalize(sentence)
        key = tuple(_WORDS.findall(fold))
        if key not in seen:
            seen.add(key)
            unique.append((sentence, fold))
    return unique


def _passage_of(sentences: tuple[str, ...], passages: list[str]) -> tuple[int, ...]:
    """The ordinal of the passage holding each sentence whole, -1 for none.

    Both are in reading order, so the search goes on from the last passage found, and
    looks back only for a sentence not found ahead.
    """
    found: list[int] = []
    at = 0
    for sentence in sentences:
        ahead = next((j for j in range(at, len(passages)) if sentence in passages[j]), -1)
        if ahead < 0:
            ahead = next((j for j in range(at) if sentence in passages[j]), -1)
        else:
            at = ahead
        found.append(ahead)
    return tuple(found)


def _is_statement(sentence: str) -> bool:
    return (
        len(sentence.split()) >= MIN_SENTENCE_WORDS
        and not is_chrome(sentence)
        and not _BYLINE.match(sentence)
    )


def is_chrome(line: str) -> bool:
    """Whether a line is site chrome or a credit (plain substring tests: this runs a lot)."""
    low = line.casefold()
    return bool(
        _CHROME_START.match(low)
        or ("newsletter" in low and "sign up" in low)
        or any(credit in low for credit in _CREDITS)
        or low.rstrip().endswith(_CREDIT_ENDS)
    )
