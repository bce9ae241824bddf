"""Typed values that cross module boundaries: articles, passages, hits and answers (no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Article(BaseModel):
    """One news article, validated.

    `id` is stable across re-ingests of the same article (given by the source, or derived
    from its content), so ingesting it again updates rather than duplicates it.
    `published` is timezone-aware or None when the source gave no usable date.
    `body` holds the paragraphs in order, subheadings included where they stand;
    `subheadings` lists which of those paragraphs are subheadings.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200)
    headline: str = Field(min_length=1)
    published: datetime | None = None
    summary: list[str] = Field(default_factory=list)
    dateline: str | None = None
    body: list[str] = Field(default_factory=list)
    subheadings: list[str] = Field(default_factory=list)
    caption: str | None = None
    source: str | None = None
    url: str | None = None

    @field_validator("published")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("published must be timezone-aware")
        return value

    @property
    def text(self) -> str:
        """Summary and body as one plain text, paragraphs separated by blank lines."""
        return "\n\n".join([*self.summary, *self.body])


class Passage(BaseModel):
    """A retrievable slice of an article: a few sentences of one paragraph, or a bullet.

    `ordinal` orders passages within the article (0 is the first); `kind` says where the
    text came from, so rankers may weigh a summary bullet differently from body text.
    """

    model_config = ConfigDict(frozen=True)

    article_id: str
    ordinal: int = Field(ge=0)
    kind: str = "body"  # "body" | "summary" | "headline"
    text: str


class Hit(BaseModel):
    """One ranked article for a question.

    `score` is in [0, 1]: the retrieval's calibrated confidence that this article answers
    the question (comparable across questions, which is what the found threshold needs).
    `passage` is the best-matching passage ordinal in the article.
    `terms` are the (corrected, normalised) question terms that matched, for highlighting.
    """

    model_config = ConfigDict(frozen=True)

    article_id: str
    passage: int = Field(ge=0)
    score: float = Field(ge=0.0, le=1.0)
    terms: tuple[str, ...] = ()


class PendingExcerpt(BaseModel):
    """What a result's excerpt is built from when it is built on demand: the article's hit,
    the question asked and its terms (see `bot.answer.card`)."""

    model_config = ConfigDict(frozen=True)

    hit: Hit
    question: str = ""
    terms: tuple[str, ...] = ()


class Result(BaseModel):
    """One article as shown to a user: headline, date, excerpt with marked terms.

    `excerpt` is plain text of at most ~500 characters; `marks` are (start, end) character
    offsets into `excerpt` of the matched terms, so each adapter marks them its own way.
    `pending` is set while the excerpt is not built yet (it is then empty): a ranked
    answer builds the excerpt of the result it shows first, and the others' when they are
    shown (`NewsDesk.complete`).
    """

    model_config = ConfigDict(frozen=True)

    article_id: str
    headline: str
    excerpt: str
    marks: tuple[tuple[int, int], ...] = ()
    published: datetime | None = None
    url: str | None = None
    source: str | None = None
    score: float = Field(ge=0.0, le=1.0)
    pending: PendingExcerpt | None = None


class QueryContext(BaseModel):
    """What a follow-up question leans on: the earlier question's text, whose terms count
    at reduced weight, and the article its card showed, which gets a boost in the ranking."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    article_id: str | None = None


class Answer(BaseModel):
    """The reply to one question.

    `found` is False when no article clears the confidence threshold; `results` then holds
    the closest articles as did-you-mean suggestions (possibly none). Results are ranked.
    """

    model_config = ConfigDict(frozen=True)

    question: str
    found: bool
    results: list[Result] = Field(default_factory=list)

    @property
    def best(self) -> Result | None:
        return self.results[0] if self.results else None


class Subscription(BaseModel):
    """A chat's daily digest: local time of day `at` ("HH:MM") in IANA `timezone`."""

    model_config = ConfigDict(frozen=True)

    chat_id: int
    at: str
    timezone: str
    active: bool = True
    since: datetime | None = None  # when it was last set; None before it is saved


class FeedStatus(BaseModel):
    """What the store remembers of one feed: conditional-GET validators and the last outcome."""

    model_config = ConfigDict(frozen=True)

    url: str
    name: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    items: int = 0
    added: int = 0


class StoryMember(BaseModel):
    """An article's place in a story: `at` is when it happened (published, else ingested),
    `terms` its signature (stem -> count over the headline and lead), see bot.stories.
    `story_id` is >= 1 once saved; a negative one is a new story the store has yet to number."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    story_id: int
    at: datetime
    terms: dict[str, int]


class StoryRow(BaseModel):
    """One article of a story as a listing needs it (see Store.story_rows)."""

    model_config = ConfigDict(frozen=True)

    story_id: int
    article_id: str
    at: datetime
    headline: str
    source: str | None = None
    url: str | None = None


CardKind = Literal["answer", "suggestions", "article"]


class Scope(BaseModel):
    """The digest a question was asked about: the digest message replied to (None: the
    chat's latest digest) and the story number asked for, if any."""

    model_config = ConfigDict(frozen=True)

    digest_message_id: int | None = None
    story: int | None = None


class Card(BaseModel):
    """One answer card as first shown.

    `kind`: "answer" (ranked results, paged with More/Back), "suggestions" (nothing found:
    did-you-mean headlines) or "article" (one result, opened from suggestions or headlines;
    `results` then still holds the ranking it came from and `shown` its rank there).
    `shown` is the rank on display now, in [0, len(results)). `topic` is the text whose
    terms the search used (the question, after the previous card's when a follow-up), and
    `about` the headline of the card a follow-up leaned on.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=16)
    chat_id: int
    kind: CardKind
    question: str
    topic: str
    asked_at: datetime
    scope: Scope | None = None
    results: list[Result] = Field(default_factory=list)
    shown: int = Field(default=0, ge=0)
    about: str | None = None
    message_id: int | None = None

    @property
    def focus(self) -> Result | None:
        """The result on display (what a follow-up leans on); None for an empty card."""
        return self.results[self.shown] if self.shown < len(self.results) else None

    def expired(self, now: datetime, keep_days: int) -> bool:
        """Whether the card is older than `keep_days` at `now`."""
        return now - self.asked_at > timedelta(days=keep_days)


class Follow(BaseModel):
    """A topic a chat follows: its stories lead the digest; with `alert`, each new one is
    also sent as it arrives. `since` is when the chat started following it."""

    model_config = ConfigDict(frozen=True)

    chat_id: int
    topic: str
    alert: bool = False
    since: datetime | None = None


class FeedSource(BaseModel):
    """A feed the bot refreshes: from the config file's `[[feeds]]` or added at run time.

    `origin` is "config" or "store" (added by `newsbot feeds add`, `/addfeed` or an OPML
    import). A stored feed whose URL the config file also lists is `shadowed`: the config
    entry wins (its name, refresh interval and full-text choice), the stored one waits.
    `refresh_minutes` None means the default interval.
    """

    model_config = ConfigDict(frozen=True)

    url: str = Field(min_length=1)
    name: str | None = None
    refresh_minutes: int | None = Field(default=None, ge=1)
    full_text: bool = False
    origin: Literal["config", "store"] = "store"
    added_at: datetime | None = None
    shadowed: bool = False
