"""Followed topics: a chat's topics lead its digest, and alerts send new matching stories.

A topic matches a story when the topic, asked as a question, finds one of the story's
articles with the confidence an answer needs (retrieval's FOUND_THRESHOLD): the same test
as answers, not a substring. Alerts follow the digests' discipline: a claim per (chat,
story) in the store with a lease, the send, then the record, so each story reaches a chat
at most once; a chat gets at most `alerts.max_per_day` a local day, none in its
`alerts.quiet_hours` (in the chat's digest timezone, else the default one).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.digest import summary_line
from bot.errors import NewsbotError
from bot.models import Follow
from bot.stories import build_stories, outlet

if TYPE_CHECKING:
    from bot.service import NewsDesk

# A story is alert news while its newest article is at most this old (and, for a topic,
# no older than this before the chat followed it): alerts are for what just came in.
ALERT_FRESH = timedelta(hours=24)


class TopicError(NewsbotError):
    """A topic that cannot be followed: `kind` is "empty", "long" (over `limit` characters)
    or "many" (the chat already follows `limit` topics)."""

    def __init__(self, message: str, *, kind: str, limit: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.limit = limit


@dataclass(frozen=True)
class Alert:
    """One story to send one chat now, as the chat's `topic` found it."""

    chat_id: int
    story_id: int
    article_id: str
    topic: str
    headline: str
    summary: str
    url: str | None
    local_day: str
    also_in: list[str] = field(default_factory=list)


def topic_key(topic: str) -> str:
    """How topics are told apart: case, spacing and control characters do not count."""
    return " ".join(clean_topic(topic).casefold().split())


def clean_topic(topic: str) -> str:
    kept = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in topic)
    return " ".join(kept.split())


def in_quiet_hours(local: time, quiet: str) -> bool:
    """Whether local time `local` falls in "HH:MM-HH:MM" (may span midnight; start
    included, end excluded; equal ends mean never)."""
    start, end = (time.fromisoformat(part) for part in quiet.split("-"))
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


class FollowDesk:
    """Topics per chat and their alerts. Reached as `NewsDesk.follows`; time is passed in."""

    def __init__(self, desk: NewsDesk) -> None:
        self._desk = desk
        self._store = desk.store
        self._settings = desk.settings

    def follow(self, chat_id: int, topic: str, *, alert: bool = False, now: datetime) -> Follow:
        """Follow `topic` (again: its alert setting is replaced).

        Raises:
            TopicError: the topic is empty, longer than follows.max_topic_chars, or the chat
                already follows follows.max_topics others. Nothing is changed then.
        """
        cleaned = clean_topic(topic)
        limits = self._settings.follows
        if not cleaned:
            raise TopicError("say which topic to follow, e.g. /follow Iraq elections", kind="empty")
        if len(cleaned) > limits.max_topic_chars:
            raise TopicError(
                f"a topic is at most {limits.max_topic_chars} characters "
                f"(this one has {len(cleaned)}); try a few key words",
                kind="long",
                limit=limits.max_topic_chars,
            )
        known = {topic_key(f.topic): f for f in self._store.follows(chat_id)}
        since = known[topic_key(cleaned)].since if topic_key(cleaned) in known else now
        saved = Follow(chat_id=chat_id, topic=cleaned, alert=alert, since=since)
        if not self._store.save_follow(saved, topic_key(cleaned), limits.max_topics):
            raise TopicError(
                f"this chat already follows {limits.max_topics} topics, the most it may; "
                "/unfollow one first",
                kind="many",
                limit=limits.max_topics,
            )
        return saved

    def unfollow(self, chat_id: int, topic: str) -> bool:
        """Stop following `topic`; False when the chat did not follow it."""
        return self._store.delete_follow(chat_id, topic_key(topic))

    def following(self, chat_id: int) -> list[Follow]:
        return self._store.follows(chat_id)

    def story_topics(self, chat_id: int, story_ids: Iterable[int]) -> dict[int, str]:
        """Which of `story_ids` match one of the chat's topics: story id -> the first topic
        (in the order followed) that finds it."""
        wanted = set(story_ids)
        found: dict[int, str] = {}
        for follow in self._store.follows(chat_id):
            for story_id in self._matching(follow.topic).values():
                if story_id in wanted:
                    found.setdefault(story_id, follow.topic)
        return found

    def _matching(self, topic: str) -> dict[str, int]:
        return self._store.stories_of(self._desk.topic_articles(topic))

    # -- alerts ---------------------------------------------------------------------------

    def due_alerts(self, now: datetime) -> list[Alert]:
        """The alerts to send now: per chat with alert topics, outside its quiet hours and
        within its daily cap, the fresh matching stories it has not been alerted to, best
        first (story score)."""
        per_chat: dict[int, list[Follow]] = {}
        for follow in self._store.follows():
            if follow.alert:
                per_chat.setdefault(follow.chat_id, []).append(follow)
        due: list[Alert] = []
        for chat_id, follows in per_chat.items():
            due += self._chat_alerts(chat_id, follows, now)
        return due

    def _chat_alerts(self, chat_id: int, follows: list[Follow], now: datetime) -> list[Alert]:
        settings = self._settings.alerts
        local = now.astimezone(ZoneInfo(self._desk.digests.timezone(chat_id)))
        if in_quiet_hours(local.time(), settings.quiet_hours):
            return []
        day = local.date().isoformat()
        room = settings.max_per_day - self._store.alerts_sent_on(chat_id, day)
        if room <= 0:
            return []
        topics: dict[int, Follow] = {}
        for follow in follows:
            for story_id in self._matching(follow.topic).values():
                topics.setdefault(story_id, follow)
        done = self._store.alerted(chat_id, sorted(topics))
        rows = self._store.story_rows(story_ids=sorted(set(topics) - done))
        alerts = []
        for story in build_stories(rows, reference=now):
            follow = topics[story.story_id]
            oldest = max(now, follow.since or now) - ALERT_FRESH
            if not oldest <= story.last_seen <= now + ALERT_FRESH:
                continue
            article = self._store.get(story.article_ids[0])
            if article is None:
                continue
            own = outlet(article.source, article.url)
            alerts.append(
                Alert(
                    chat_id=chat_id,
                    story_id=story.story_id,
                    article_id=article.id,
                    topic=follow.topic,
                    headline=article.headline,
                    summary=summary_line(article),
                    url=article.url,
                    local_day=day,
                    also_in=[s for s in story.sources if s != own],
                )
            )
        return alerts[:room]

    def unalerted(self) -> int | None:
        """The generation of the articles now searched (after taking in what another
        process stored) when an alert pass has not covered it yet, else None."""
        generation = self._desk.catch_up()
        if generation is None or generation <= self._store.alert_mark:
            return None
        return generation

    def covered(self, generation: int) -> None:
        """An alert pass offered every story of `generation` (kept across restarts)."""
        self._store.save_alert_mark(generation)

    def claim(self, alert: Alert, now: datetime) -> bool:
        """Take the right to send this alert; False when it was sent or is being sent."""
        lease = self._settings.alerts.claim_lease_seconds
        return self._store.claim_alert(
            alert.chat_id, alert.story_id, alert.article_id, alert.local_day, now, lease
        )

    def sent(self, alert: Alert) -> None:
        self._store.finish_alert(alert.chat_id, alert.story_id, "sent")

    def failed(self, alert: Alert, reason: str) -> None:
        """Not sent; the next check may claim it again."""
        self._store.finish_alert(alert.chat_id, alert.story_id, "failed", reason[:500])

    def chat_gone(self, alert: Alert, reason: str) -> None:
        """The bot was blocked or removed: no alerts for that chat until it follows again."""
        self._store.finish_alert(alert.chat_id, alert.story_id, "skipped", reason[:500])
        for follow in self._store.follows(alert.chat_id):
            if follow.alert:
                self._store.save_follow(
                    follow.model_copy(update={"alert": False}),
                    topic_key(follow.topic),
                    self._settings.follows.max_topics + 1,
                )
