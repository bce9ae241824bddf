"""Cards and excerpts: the sentences of an article that answer the question, with marked terms.

The excerpt is chosen among the sentences of the whole article body, not only the passage
that ranked it: by the question's words they hold (weighted by how rare each is in the
article), by whether they hold the kind of answer asked for (`bot.answer_types`), and never
from the photo caption, the summary bullets or lines of site chrome when the body has text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from bot import answer_types, text
from bot.models import Article, Hit, Result
from bot.passages import split_passages, split_sentences

MAX_EXCERPT_CHARS = 500
_ELLIPSIS = "…"
# A sentence holding the kind of answer asked for scores as if it held this many more
# question words of average weight.
CUE_WEIGHT = 1.0
# A sentence of the passage that ranked the article scores as if it held this many more
# question words: among equals, the ranking's choice.
PASSAGE_WEIGHT = 0.5
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


def excerpt(
    article: Article, passage_ordinal: int, terms: Iterable[str]
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The best-matching sentence(s) of one passage, with a little context around them.

    Args:
        article: the article the passage belongs to.
        passage_ordinal: the passage (see `split_passages`); out of range means the first.
        terms: normalised question terms (stems, as in `Hit.terms`); empty gives the lead.

    Returns:
        The excerpt, plain text of at most MAX_EXCERPT_CHARS characters (an ellipsis marks
        a cut), and the (start, end) offsets in it of the words whose stem is in `terms`,
        in order and never overlapping.
    """
    passages = split_passages(article)
    passage = passages[passage_ordinal] if 0 <= passage_ordinal < len(passages) else passages[0]
    return passage_excerpt(passage.text, terms)


def card(
    article: Article, hit: Hit | None, question: str = "", terms: Sequence[str] = ()
) -> Result:
    """An article as shown for a hit: headline, date, link and the excerpt that answers.

    Args:
        article: the article shown.
        hit: its hit; None for an article opened with no question (the excerpt is its lead).
        question: the question asked, for the kind of answer it wants; may be empty.
        terms: the question's terms (stems, as in `Search.terms`); empty means the hit's.
    """
    if hit is None:
        text_, marks = excerpt(article, 0, ())
        return _result(article, text_, (), 0.0)
    passages = split_passages(article)
    ranked = passages[hit.passage].text if hit.passage < len(passages) else ""
    text_, marks = answer_excerpt(article, terms or hit.terms, question, ranked)
    return _result(article, text_, marks, hit.score)


def _result(
    article: Article, excerpt_text: str, marks: tuple[tuple[int, int], ...], score: float
) -> Result:
    return Result(
        article_id=article.id,
        headline=article.headline,
        excerpt=excerpt_text,
        marks=marks,
        published=article.published,
        url=article.url,
        source=article.source,
        score=round(score, 4),
    )


def answer_excerpt(
    article: Article, terms: Iterable[str], question: str = "", passage: str = ""
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The sentence of the article that best answers, with neighbours up to the size limit.

    Args:
        article: the article.
        terms: normalised question terms (stems); empty gives the lead.
        question: the question's text, read for the kind of answer it wants.
        passage: the text of the passage that ranked the article, favoured among equals.

    Returns:
        As `excerpt`: at most MAX_EXCERPT_CHARS characters, and the offsets of marked words.
    """
    wanted = frozenset(terms)
    sentences = readable_sentences(article)
    needles = _needles(wanted)
    found = [_held(sentence, wanted, needles) for sentence in sentences]
    weight = _article_idf(found)
    kind = answer_types.wanted(question) if question else None
    average = sum(weight.values()) / len(weight) if weight else 1.0

    def score(i: int) -> tuple[float, int]:
        value = sum(weight[term] for term in found[i])
        if found[i] and sentences[i] in passage:
            value += PASSAGE_WEIGHT * average
        if kind is not None and found[i] and answer_types.holds(sentences[i], kind, question):
            value += CUE_WEIGHT * average
        return value, -i

    best = max(range(len(sentences)), key=score)
    chosen = _widen(sentences, found, best)
    snippet = " ".join(sentences[chosen[0] : chosen[1]])
    if len(snippet) > MAX_EXCERPT_CHARS:
        snippet = _cut(snippet, wanted)
    return snippet, _marks(snippet, wanted)


def readable_sentences(article: Article) -> list[str]:
    """The sentences an excerpt may show: the body's statements, in order.

    Subheadings, short labels, lines of chrome (bylines, credits, "Follow") and repeats of
    an earlier sentence are left out. A body with none falls back to the summary bullets,
    then the caption, then the headline, so there is always one.
    """
    subheadings = set(article.subheadings)
    body = [
        sentence
        for paragraph in article.body
        if paragraph.strip() and paragraph not in subheadings and not _is_chrome(paragraph)
        for sentence in split_sentences(paragraph.strip())
        if _is_statement(sentence)
    ]
    if body:
        return _first_of_each(body)
    for fallback in (article.summary, [article.caption or ""], [article.headline]):
        kept = [line.strip() for line in fallback if line.strip()]
        if kept:
            return kept
    return [article.headline]


def _first_of_each(sentences: list[str]) -> list[str]:
    """The sentences without repeats (same words, any punctuation or diacritics): some
    articles restate their lead at a section break, and a repeat would crowd out the
    sentence that answers when the excerpt widens around the best one.
    """
    seen: set[tuple[str, ...]] = set()
    unique = []
    for sentence in sentences:
        key = tuple(text.words(sentence))
        if key not in seen:
            seen.add(key)
            unique.append(sentence)
    return unique


def _is_statement(sentence: str) -> bool:
    return (
        len(sentence.split()) >= MIN_SENTENCE_WORDS
        and not _is_chrome(sentence)
        and not _BYLINE.match(sentence)
    )


def _is_chrome(line: str) -> bool:
    """Whether a line is site chrome or a credit (plain substring tests: this runs a lot)."""
    low = line.casefold()
    return bool(
        _CHROME_START.match(low)
        or ("newsletter" in low and "sign up" in low)
        or any(credit in low for credit in _CREDITS)
        or low.rstrip().endswith(_CREDIT_ENDS)
    )


def _needles(wanted: frozenset[str]) -> re.Pattern[str] | None:
    """A pattern that a sentence (folded) matches when it may hold a wanted term.

    A stem, less its last letter, begins its words once folded ("citi" of "city", "come"
    of "coming", "capabl" of "capabilities"), and the forms folded into a word hold theirs
    ("soldiers" for "troops", "united" for "us"). None when that does not hold (digits,
    non-Latin scripts): then every sentence is read in full.
    """
    if not wanted or not all(term.isascii() and term.isalpha() for term in wanted):
        return None
    needles = {term[:-1] if len(term) >= 3 else term for term in wanted}
    needles.update(form for form, word in text.ALIASES.items() if text.stem(word) in wanted)
    if "us" in wanted:
        needles.update(("u.s", "united states"))
    ordered = sorted(needles, key=len, reverse=True)
    alternatives = "|".join(re.escape(needle) for needle in ordered)
    return re.compile(r"\b(?:" + alternatives + r")[\w'.]*")


def _held(sentence: str, wanted: frozenset[str], needles: re.Pattern[str] | None) -> set[str]:
    """The wanted terms a sentence holds; with `needles`, only the words they begin are read."""
    if needles is None:
        return text.term_set(sentence) & wanted
    held: set[str] = set()
    for match in needles.finditer(text.normalize(sentence)):
        held |= text.term_set(match.group()) & wanted
    return held


def _article_idf(found: list[set[str]]) -> dict[str, float]:
    """Weight of each question term by how few of the article's sentences hold it."""
    counts: dict[str, int] = {}
    for held in found:
        for term in held:
            counts[term] = counts.get(term, 0) + 1
    total = len(found)
    return {term: math.log(1.0 + total / count) for term, count in counts.items()}


def passage_excerpt(passage: str, terms: Iterable[str]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """`excerpt` for a passage's text already at hand (the store keeps them)."""
    wanted = frozenset(terms)
    sentences = split_sentences(passage) or [passage]
    found = [text.term_set(sentence) & wanted for sentence in sentences]
    best = max(range(len(sentences)), key=lambda i: (len(found[i]), -i))
    chosen = _widen(sentences, found, best)
    snippet = " ".join(sentences[chosen[0] : chosen[1]])
    if len(snippet) > MAX_EXCERPT_CHARS:
        snippet = _cut(snippet, wanted)
    return snippet, _marks(snippet, wanted)


def _widen(sentences: list[str], found: list[set[str]], best: int) -> tuple[int, int]:
    """Grow [best, best+1) by whole neighbouring sentences while it fits the limit.

    A neighbour holding question terms not yet covered comes first; otherwise the next
    sentence (what follows usually completes the answer), then the previous one.
    """
    start, end = best, best + 1
    size = len(sentences[best])
    covered = set(found[best])
    while True:
        options = []
        if end < len(sentences):
            options.append((len(found[end] - covered), 1, end))
        if start > 0:
            options.append((len(found[start - 1] - covered), 0, start - 1))
        options = [o for o in options if size + 1 + len(sentences[o[2]]) <= MAX_EXCERPT_CHARS]
        if not options:
            return start, end
        _, _, pick = max(options)
        size += 1 + len(sentences[pick])
        covered |= found[pick]
        if pick == end:
            end += 1
        else:
            start -= 1


def _cut(snippet: str, wanted: frozenset[str]) -> str:
    """A window of at most MAX_EXCERPT_CHARS around the first marked word, cut at spaces."""
    first = next(iter(text.spans(snippet, wanted)), (0, 0))[0]
    budget = MAX_EXCERPT_CHARS - 2 * len(_ELLIPSIS)
    begin = max(0, min(first - budget // 4, len(snippet) - budget))
    if begin > 0:
        space = snippet.find(" ", begin)
        begin = space + 1 if 0 <= space < first else begin
    finish = begin + budget
    if finish < len(snippet):
        space = snippet.rfind(" ", begin, finish)
        finish = space if space > begin else finish
    head = _ELLIPSIS if begin > 0 else ""
    tail = _ELLIPSIS if finish < len(snippet) else ""
    return head + snippet[begin:finish].strip() + tail


def _marks(snippet: str, wanted: frozenset[str]) -> tuple[tuple[int, int], ...]:
    return tuple(text.spans(snippet, wanted))
