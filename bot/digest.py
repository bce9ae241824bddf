"""The daily digest as a value: numbered stories with one line of summary each (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Article, StoryRow
from bot.stories import build_stories, outlet

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])")
SUMMARY_CHARS = 200


class DigestItem(BaseModel):
    """One numbered story: `number` starts at 1 and is what `/ask N question` refers to."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1)
    article_id: str
    headline: str
    summary: str
    url: str | None = None
    story_id: int | None = None
    also_in: list[str] = Field(default_factory=list)  # the story's other sources
    update: bool = False  # the chat had this story; this is a newer article of it
    topic: str | None = None  # the chat's followed topic this story matches


class Digest(BaseModel):
    """A chat's digest for its local `day`; empty `items` means no new stories."""

    model_config = ConfigDict(frozen=True)

    chat_id: int
    day: date
    items: list[DigestItem] = Field(default_factory=list)
    covered: list[str] = Field(default_factory=list)  # every article of the listed stories

    @property
    def article_ids(self) -> list[str]:
        """The article each number stands for, in order."""
        return [item.article_id for item in self.items]


class Pick(BaseModel):
    """A story chosen for a digest: the article it is shown by, and what else it covers."""

    model_config = ConfigDict(frozen=True)

    story_id: int
    lead: StoryRow
    also_in: list[str]
    update: bool
    topic: str | None
    covered: list[str]


def pick_stories(
    rows: Iterable[StoryRow], sent: set[str], topics: Mapping[int, str] | None = None
) -> list[Pick]:
    """The stories a chat should get, best first: those matching its topics, then the rest,
    each group by story score (see bot.stories).

    A story none of whose articles the chat had is shown by its earliest article. A story
    the chat had comes back only as an update: its newest article published after the
    last one sent with a headline unlike every headline sent; otherwise it is left out.

    Args:
        rows: every article of the candidate stories (Store.story_rows).
        sent: ids of the articles the chat already had.
        topics: story id -> the chat's followed topic it matches.
    """
    topics = topics or {}
    rows = list(rows)
    members: dict[int, list[StoryRow]] = {}
    for row in sorted(rows, key=lambda r: (r.at, r.article_id)):
        members.setdefault(row.story_id, []).append(row)
    picks = []
    for story in build_stories(rows):
        articles = members[story.story_id]
        had = [r for r in articles if r.article_id in sent]
        lead: StoryRow | None = articles[0]
        if had:
            seen = {_plain(r.headline) for r in had}
            newer = [
                r
                for r in articles
                if r.article_id not in sent and r.at > had[-1].at and _plain(r.headline) not in seen
            ]
            lead = newer[-1] if newer else None
        if lead is None:
            continue
        own = outlet(lead.source, lead.url)
        picks.append(
            Pick(
                story_id=story.story_id,
                lead=lead,
                also_in=[source for source in story.sources if source != own],
                update=bool(had),
                topic=topics.get(story.story_id),
                covered=[r.article_id for r in articles],
            )
        )
    picks.sort(key=lambda p: p.topic is None)  # stable: the score order within each group
    return picks


def compose_stories(
    chat_id: int, day: date, picks: Sequence[Pick], articles: Mapping[str, Article]
) -> Digest:
    """Number the picked stories in the order given; `articles` holds each lead article."""
    items: list[DigestItem] = []
    for pick in picks:
        article = articles.get(pick.lead.article_id)
        if article is None:
            continue  # deleted meanwhile
        items.append(
            DigestItem(
                number=len(items) + 1,
                article_id=article.id,
                headline=article.headline,
                summary=summary_line(article),
                url=article.url,
                story_id=pick.story_id,
                also_in=pick.also_in,
                update=pick.update,
                topic=pick.topic,
            )
        )
    listed = {item.story_id for item in items}
    covered = [a for pick in picks if pick.story_id in listed for a in pick.covered]
    return Digest(chat_id=chat_id, day=day, items=items, covered=covered)


def _plain(headline: str) -> str:
    """A headline compared as words: case, punctuation and spacing do not make it new."""
    return " ".join(re.findall(r"\w+", headline.casefold()))


def summary_line(article: Article) -> str:
    """The first summary bullet, else the first sentence of the body (dateline dropped)."""
    if article.summary:
        text = article.summary[0]
    else:
        first = next((p for p in article.body if p.strip()), "")
        if article.dateline and first.startswith(article.dateline):
            first = first[len(article.dateline) :].lstrip(" :—–-")
        text = _SENTENCE_END.split(first, maxsplit=1)[0]
    text = " ".join(text.split())
    if len(text) <= SUMMARY_CHARS:
        return text
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"


def compose(chat_id: int, day: date, articles: Sequence[Article]) -> Digest:
    """Number the articles in the order given (newest first, as the store returns them)."""
    items = [
        DigestItem(
            number=n,
            article_id=a.id,
            headline=a.headline,
            summary=summary_line(a),
            url=a.url,
        )
        for n, a in enumerate(articles, start=1)
    ]
    return Digest(chat_id=chat_id, day=day, items=items)
