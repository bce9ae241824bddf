"""Stories: articles about one event, grouped as they are ingested and ranked by coverage.

Grouping. An article's signature is the stems of its headline and lead (the first
SIGNATURE_WORDS words of summary and body) with their counts. Two articles report the same
event when they happened within WINDOW of each other and the cosine of their signatures,
each stem weighted (1 + log count) * idf (the search index's BM25 idf, so a word every
article uses counts for little), reaches SAME_EVENT. A new article joins the story of its
most similar such article, else it starts one; an updated article keeps its story. Stories
are never merged afterwards, so a story id stays what a chat was sent. Chosen on the labelled
pairs of benchmarks/story_pairs.jsonl (benchmarks/bench_stories.py): idf cosine over the
lead did as well as rapidfuzz token ratios and needs no string work per pair; a longer
window joined next-day follow-ups, which must stay apart.

Ranking. A story's score is its number of distinct sources, halved for every
HALF_LIFE_HOURS between its newest article and the reference moment (the newest article
listed): in (0, sources]. Its headline is the one of its earliest article (the first outlet
to report it; ties by article id), which a later rewrite does not change.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot import text
from bot.models import Article, StoryMember, StoryRow

SIGNATURE_WORDS = 120
SAME_EVENT = 0.33
WINDOW = timedelta(hours=36)
HALF_LIFE_HOURS = 24.0
_DAY_SECONDS = 86_400
_ESTIMATE_SLACK = 1e-6  # the estimate's rounding is far below this (see _Book)

Vector = dict[str, float]
Idf = Callable[[Iterable[str]], Mapping[str, float]]


class Story(BaseModel):
    """One event as covered by one or more articles.

    `article_ids` oldest first; `sources` distinct outlets in the order they reported it;
    `score` in (0, len(sources) or 1], see the module docstring.
    """

    model_config = ConfigDict(frozen=True)

    story_id: int
    headline: str
    article_ids: list[str]
    sources: list[str] = Field(default_factory=list)
    first_seen: datetime
    last_seen: datetime
    score: float = Field(ge=0.0)

    def json_line(self) -> str:
        """One JSON object: story_id, headline, article_ids, sources, first_seen, score."""
        return json.dumps(
            {
                "story_id": self.story_id,
                "headline": self.headline,
                "article_ids": self.article_ids,
                "sources": self.sources,
                "first_seen": self.first_seen.isoformat(),
                "score": round(self.score, 4),
            },
            ensure_ascii=False,
        )


def outlet(source: str | None, url: str | None) -> str | None:
    """Who published an article: its source name, else its URL's host without "www."."""
    if source:
        return source
    if url:
        host = urlsplit(url).hostname or ""
        return host.removeprefix("www.") or None
    return None


def signature(article: Article) -> dict[str, int]:
    """Stem counts of the headline and the first SIGNATURE_WORDS words of the text."""
    words: list[str] = []
    for paragraph in (*article.summary, *article.body):  # not the whole text: its lead
        words += paragraph.split()
        if len(words) >= SIGNATURE_WORDS:
            break
    lead = " ".join(words[:SIGNATURE_WORDS])
    return dict(Counter(text.terms(f"{article.headline}\n{lead}")))


def weigh(terms: Mapping[str, int], idf: Mapping[str, float]) -> Vector:
    """The signature as a unit vector: (1 + log count) * idf per stem."""
    raw = {t: (1.0 + math.log(n)) * idf.get(t, 0.0) for t, n in terms.items() if n > 0}
    norm = math.sqrt(sum(w * w for w in raw.values()))
    return {t: w / norm for t, w in raw.items()} if norm else {}


def similarity(a: Vector, b: Vector) -> float:
    """Cosine of two unit vectors, in [0, 1]."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b[t] for t, w in a.items() if t in b)


def group_articles(
    articles: Sequence[Article],
    *,
    known: Mapping[str, int],
    pool: Sequence[StoryMember],
    idf: Idf,
    next_id: int,
    now: datetime,
    signatures: Mapping[str, dict[str, int]] | None = None,
) -> list[StoryMember]:
    """Place each article in a story (pure: the caller loads `pool` and saves the result).

    Args:
        articles: new or changed articles.
        known: the story of each of them that already has one (an update keeps it).
        pool: grouped articles that happened within WINDOW of any of `articles`.
        idf: the index's idf of stems.
        next_id: the first id for new stories, which count up from it (ingest passes
            negative, provisional ids; the store gives them real ones when it saves).
        now: when an undated article counts as having happened.
        signatures: some of the articles' `signature` by id, when already made.

    Returns:
        One member per article, in the order they were placed (oldest first).
    """
    made = signatures or {}
    signed = sorted(
        ((a.published or now, a.id, made.get(a.id) or signature(a)) for a in articles),
        key=lambda x: x[:2],
    )
    book = _Book(idf)
    ours = {article_id for _, article_id, _ in signed}
    for member in pool:
        if member.article_id not in ours:
            book.add(member.at, member.story_id, member.terms)
    # One idf look-up for every stem the articles and their pool hold, not one per vector.
    book.learn({t for _, _, terms in signed for t in terms} | book.stems())
    placed = []
    for at, article_id, terms in signed:
        story_id = known.get(article_id) or book.best(at, terms)
        if story_id is None:
            story_id, next_id = next_id, next_id + 1
        book.add(at, story_id, terms)
        placed.append(
            StoryMember.model_construct(
                article_id=article_id, story_id=story_id, at=at, terms=terms
            )
        )
    return placed


class _Book:
    """Grouped articles bucketed by day; each weighed when its day is first compared with.

    The cosines of an article with a day's articles are first estimated all at once
    (numpy, over the day's weights laid end to end); only the articles whose estimate is
    within _ESTIMATE_SLACK of SAME_EVENT get the exact `similarity`, in their order, so
    the story chosen is the one comparing each article in turn would choose.
    """

    def __init__(self, idf: Idf) -> None:
        self._idf = idf
        self._weights: dict[str, float] = {}
        self._days: dict[int, _Day] = {}
        self._ids: dict[str, int] = {}  # stem -> its column in the estimate

    def add(self, at: datetime, story_id: int, terms: Mapping[str, int]) -> None:
        day = int(at.timestamp()) // _DAY_SECONDS
        self._days.setdefault(day, _Day()).entries.append(_Entry(at, story_id, terms))

    def stems(self) -> set[str]:
        """Every stem of the articles in the book."""
        return {t for day in self._days.values() for entry in day.entries for t in entry.terms}

    def learn(self, terms: Iterable[str]) -> None:
        """Look up the idf of those of these stems not looked up yet, in one call."""
        missing = [t for t in terms if t not in self._weights]
        if missing:
            self._weights.update(self._idf(missing))

    def vector(self, terms: Mapping[str, int]) -> Vector:
        self.learn(terms)
        return weigh(terms, self._weights)

    def best(self, at: datetime, terms: Mapping[str, int]) -> int | None:
        """The story of the most similar article within WINDOW, if it clears SAME_EVENT."""
        day = int(at.timestamp()) // _DAY_SECONDS
        reach = math.ceil(WINDOW.total_seconds() / _DAY_SECONDS)
        vector: Vector | None = None
        dense: np.ndarray | None = None
        best, best_story = SAME_EVENT, None
        for near in range(day - reach, day + reach + 1):
            bucket = self._days.get(near)
            if bucket is None or not bucket.entries:
                continue
            if vector is None:
                vector = self.vector(terms)
                dense = self._dense(vector)
            assert dense is not None
            for i in self._near_enough(bucket, dense):
                entry = bucket.entries[i]
                if abs(entry.at - at) > WINDOW:
                    continue
                assert entry.vector is not None
                score = similarity(vector, entry.vector)
                if score >= best:
                    best, best_story = score, entry.story_id
        return best_story

    def _dense(self, vector: Vector) -> np.ndarray:
        ids = self._ids
        for term in vector:
            ids.setdefault(term, len(ids))
        dense = np.zeros(len(ids) + 1)
        for term, weight in vector.items():
            dense[ids[term]] = weight
        return dense

    def _near_enough(self, bucket: _Day, dense: np.ndarray) -> list[int]:
        """The places of the day's articles whose estimated cosine with `dense` may reach
        SAME_EVENT, in order."""
        ids = self._ids
        for entry in bucket.entries[len(bucket.starts) :]:
            if entry.vector is None:
                entry.vector = self.vector(entry.terms)
            bucket.starts.append(len(bucket.columns))
            for term, weight in entry.vector.items():
                bucket.columns.append(ids.setdefault(term, len(ids)))
                bucket.weights.append(weight)
        if not bucket.columns:
            return []
        columns = np.frombuffer(bucket.columns, dtype=np.int64)
        # Stems first seen after `dense` was made have no weight in it.
        found = np.where(columns < len(dense), dense[np.minimum(columns, len(dense) - 1)], 0.0)
        sums = np.concatenate(([0.0], np.cumsum(found * np.frombuffer(bucket.weights))))
        starts = np.frombuffer(bucket.starts, dtype=np.int64)
        ends = np.append(starts[1:], len(columns))
        estimate = sums[ends] - sums[starts]
        return np.flatnonzero(estimate >= SAME_EVENT - _ESTIMATE_SLACK).tolist()


class _Day:
    """A day's articles, and their weights laid end to end for the estimate."""

    __slots__ = ("columns", "entries", "starts", "weights")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.starts = array("q")  # where each weighed entry's stems begin in columns
        self.columns = array("q")
        self.weights = array("d")


class _Entry:
    __slots__ = ("at", "story_id", "terms", "vector")

    def __init__(self, at: datetime, story_id: int, terms: Mapping[str, int]) -> None:
        self.at, self.story_id, self.terms = at, story_id, terms
        self.vector: Vector | None = None


def score(sources: int, last_seen: datetime, reference: datetime) -> float:
    """Distinct sources, halved for every HALF_LIFE_HOURS the story is older than `reference`."""
    hours = max((reference - last_seen).total_seconds() / 3600.0, 0.0)
    return float(max(sources, 1) * 0.5 ** (hours / HALF_LIFE_HOURS))


def build_stories(rows: Iterable[StoryRow], reference: datetime | None = None) -> list[Story]:
    """Stories from their articles' rows, best first (score, then newest, then id).

    `reference` defaults to the newest article among the rows, so an archive ranks as it
    would have on its last day.
    """
    grouped: dict[int, list[StoryRow]] = {}
    for row in rows:
        grouped.setdefault(row.story_id, []).append(row)
    if not grouped:
        return []
    moment = reference or max(r.at for members in grouped.values() for r in members)
    stories = []
    for story_id, members in grouped.items():
        members.sort(key=lambda r: (r.at, r.article_id))
        sources = list(dict.fromkeys(o for o in (outlet(r.source, r.url) for r in members) if o))
        last = members[-1].at
        stories.append(
            Story(
                story_id=story_id,
                headline=members[0].headline,
                article_ids=[r.article_id for r in members],
                sources=sources,
                first_seen=members[0].at,
                last_seen=last,
                score=score(len(sources), last, moment),
            )
        )
    stories.sort(key=lambda s: (-s.score, -s.last_seen.timestamp(), s.story_id))
    return stories


def spread(article_ids: Sequence[str], story_of: Mapping[str, int]) -> list[str]:
    """Reorder as little as possible so no two neighbours belong to the same story.

    Each next place takes the first remaining article of another story than the one before
    it; when only articles of that story remain, they follow in their order.
    """
    remaining = list(article_ids)
    result: list[str] = []
    while remaining:
        previous = story_of.get(result[-1]) if result else None
        pick = next(
            (
                i
                for i, article_id in enumerate(remaining)
                if previous is None or story_of.get(article_id) != previous
            ),
            0,
        )
        result.append(remaining.pop(pick))
    return result
