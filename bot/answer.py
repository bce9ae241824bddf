"""Cards and excerpts: the sentences of an article that answer the question, with marked terms.

The excerpt is chosen among the sentences of the whole article body, not only the passage
that ranked it: by the question's words they hold (weighted by how rare each is in the
article, the words naming what a "which …" question asks for and the figures it quotes
counting twice, and the words of the asking sentence first when the question sets a scene
before it), by whether they hold the kind of answer asked for (`bot.answer_types`), and never
from the photo caption, the summary bullets or lines of site chrome when the body has text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from bot import answer_types, text
from bot.models import Article, Hit, PendingExcerpt, Result
from bot.passages import split_passages, split_sentences
from bot.reading import Reading
from bot.reading import read as reading_of

MAX_EXCERPT_CHARS = 500
_ELLIPSIS = "…"
# A sentence holding the kind of answer asked for scores as if it held this many more
# question words of average weight.
CUE_WEIGHT = 1.0
# A word naming what the question asks for ("which virus", `answer_types.focus`) counts this
# many times its weight: the sentence that names the kind of thing asked for says which. So
# does a figure the question quotes ("the record with 73 home runs", `answer_types.figures`):
# the sentence holding it tells that fact, where the question's words recur everywhere.
FOCUS_WEIGHT = 2.0
# A sentence of the passage that ranked the article scores as if it held this many more
# question words: among equals, the ranking's choice.
PASSAGE_WEIGHT = 0.5


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
    article: Article,
    hit: Hit | None,
    question: str = "",
    terms: Sequence[str] = (),
    *,
    later: bool = False,
) -> Result:
    """An article as shown for a hit: headline, date, link and the excerpt that answers.

    Args:
        article: the article shown.
        hit: its hit; None for an article opened with no question (the excerpt is its lead).
        question: the question asked, for the kind of answer it wants; may be empty.
        terms: the question's terms (stems, as in `Search.terms`); empty means the hit's.
        later: leave the excerpt to be built when the result is shown (`Result.pending`
            says what from, `complete` builds it): reading an article is most of the cost
            of a result, and a ranked answer shows one result at a time.
    """
    if hit is None:
        text_, marks = excerpt(article, 0, ())
        return _result(article, text_, (), 0.0)
    if later:
        pending = PendingExcerpt(hit=hit, question=question, terms=tuple(terms))
        return _result(article, "", (), hit.score).model_copy(update={"pending": pending})
    text_, marks = answer_excerpt(article, terms or hit.terms, question, hit.passage)
    return _result(article, text_, marks, hit.score)


def complete(result: Result, article: Article) -> Result:
    """`result` with its excerpt built from `article` (its article), if it was left for later."""
    if result.pending is None:
        return result
    pending = result.pending
    return card(article, pending.hit, pending.question, pending.terms)


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
    article: Article, terms: Iterable[str], question: str = "", passage: int = -1
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The sentence of the article that best answers, with neighbours up to the size limit.

    Args:
        article: the article.
        terms: normalised question terms (stems); empty gives the lead.
        question: the question's text, read for the kind of answer it wants.
        passage: the ordinal of the passage that ranked the article (see `split_passages`),
            whose sentences are favoured among equals; -1 for none.

    Returns:
        As `excerpt`: at most MAX_EXCERPT_CHARS characters, and the offsets of marked words.
    """
    wanted = frozenset(terms)
    reading = reading_of(article)
    sentences = list(reading.sentences)
    needles = _needles(wanted)
    found = [_held(reading, i, wanted, needles) for i in range(len(sentences))]
    weight = _article_idf(found)
    kind = answer_types.wanted(question) if question else None
    # Sums over sets are exact (fsum): in iteration order, which the process's hash seed
    # sets, equal sentences could differ in the last bit and a tie go either way.
    average = math.fsum(weight.values()) / len(weight) if weight else 1.0

    # The words naming what is asked for and the figures the question quotes pin the fact.
    focus = (
        answer_types.focus(question) | answer_types.figures(question) if question else frozenset()
    )
    asked = answer_types.asking(question) if question else frozenset()
    if not any(held & asked for held in found):
        asked = frozenset()  # no sentence holds the asking sentence's words: all of them count

    def words(held: Iterable[str]) -> float:
        return math.fsum(weight[term] * (FOCUS_WEIGHT if term in focus else 1.0) for term in held)

    def score(i: int) -> tuple[float, float, int]:
        if not found[i]:
            return 0.0, 0.0, -i
        bonus = 0.0
        if passage >= 0 and reading.passage[i] == passage:
            bonus += PASSAGE_WEIGHT * average
        if kind is not None and answer_types.holds(sentences[i], kind, question):
            bonus += CUE_WEIGHT * average
        # The asking sentence's words first (see `answer_types.asking`); the whole
        # question's words among equals.
        asking = found[i] & asked
        first = words(asking) + bonus if asking else 0.0
        return first, words(found[i]) + bonus, -i

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
    return list(reading_of(article).sentences)


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


def _held(
    reading: Reading, i: int, wanted: frozenset[str], needles: re.Pattern[str] | None
) -> set[str]:
    """The wanted terms sentence i holds; with `needles`, only the words they begin are read."""
    if needles is None:
        return set(reading.terms(i) & wanted)
    held: set[str] = set()
    for match in needles.finditer(reading.folded[i]):
        held |= _word_terms(match.group()) & wanted
    return held


@lru_cache(maxsize=1 << 16)
def _word_terms(word: str) -> frozenset[str]:
    """`text.term_set` of one folded word: the same words recur across articles and questions."""
    return frozenset(text.term_set(word))


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
