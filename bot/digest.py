"""The daily digest as a value: numbered headlines with one line of summary each (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Article

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


class Digest(BaseModel):
    """A chat's digest for its local `day`; empty `items` means no new stories."""

    model_config = ConfigDict(frozen=True)

    chat_id: int
    day: date
    items: list[DigestItem] = Field(default_factory=list)

    @property
    def article_ids(self) -> list[str]:
        return [item.article_id for item in self.items]


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
