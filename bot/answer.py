"""Excerpts: the sentences of a hit's passage that answer the question, with marked terms."""

from __future__ import annotations

from collections.abc import Iterable

from bot import text
from bot.models import Article, Hit, Result
from bot.passages import split_passages, split_sentences

MAX_EXCERPT_CHARS = 500
_ELLIPSIS = "…"


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


def card(article: Article, hit: Hit | None) -> Result:
    """An article as shown for a hit: headline, date, link and the excerpt for its terms.

    Without a hit (an article opened with no question) the excerpt is the article's lead.
    """
    text, marks = excerpt(article, hit.passage, hit.terms) if hit else excerpt(article, 0, ())
    return Result(
        article_id=article.id,
        headline=article.headline,
        excerpt=text,
        marks=marks if hit else (),
        published=article.published,
        url=article.url,
        source=article.source,
        score=round(hit.score, 4) if hit else 0.0,
    )


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
