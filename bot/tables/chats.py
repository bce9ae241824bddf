"""Per chat: subscriptions, digest deliveries claimed once a day, what was sent, languages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.models import Article, Subscription
from bot.tables.articles import _article
from bot.tables.connection import Row
from bot.tables.db import StoreBase, _chunks, _iso, _now, _when

# Tables holding a chat id, with the rest of their key (None: keyed by the chat alone, or,
# for cards, by their own id).
_CHAT_KEYS = {
    "subscriptions": None,
    "deliveries": "day",
    "sent_articles": "article_id",
    "digest_messages": "message_id",
    "chat_languages": None,
    "cards": None,
    "follows": "key",
    "alerts": "story_id",
}


class ChatsTables(StoreBase):
    def subscription(self, chat_id: int) -> Subscription | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM subscriptions WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return _subscription(row) if row else None

    def save_subscription(self, subscription: Subscription) -> None:
        with self.transaction() as db:
            db.execute(
                """
                INSERT INTO subscriptions (chat_id, at, timezone, active, updated_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (chat_id) DO UPDATE SET at = excluded.at,
                    timezone = excluded.timezone, active = excluded.active,
                    updated_at = excluded.updated_at
                """,
                (
                    subscription.chat_id,
                    subscription.at,
                    subscription.timezone,
                    int(subscription.active),
                    _iso(subscription.since) or _now(),
                ),
            )

    def active_subscriptions(self) -> list[Subscription]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM subscriptions WHERE active = 1 ORDER BY chat_id"
            ).fetchall()
        return [_subscription(row) for row in rows]

    def move_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: everything the store knows moves to the new id."""
        with self.transaction() as db:
            for table, key in _CHAT_KEYS.items():
                # The old id's rows win over any the new id already has (as UPDATE OR
                # REPLACE did), written so both databases run it.
                if key:
                    db.execute(
                        f"DELETE FROM {table} WHERE chat_id = ? AND {key} IN"
                        f" (SELECT {key} FROM {table} WHERE chat_id = ?)",
                        (new_id, old_id),
                    )
                elif table != "cards":
                    db.execute(
                        f"DELETE FROM {table} WHERE chat_id = ? AND EXISTS"
                        f" (SELECT 1 FROM {table} WHERE chat_id = ?)",
                        (new_id, old_id),
                    )
                db.execute(f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))

    def claim_delivery(self, chat_id: int, day: str, now: datetime, lease_seconds: float) -> bool:
        """Take the right to send `chat_id` its digest for local `day`; False if not ours.

        Free when nothing was recorded, or when an earlier attempt failed, or when a claim
        is older than the lease (its process died between claiming and recording). A sent
        or skipped day is never claimed again: that is what makes a digest exactly once.
        """
        stamp = now.astimezone(UTC).isoformat()
        stale = (now.astimezone(UTC) - timedelta(seconds=lease_seconds)).isoformat()
        with self.transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO deliveries (chat_id, day, state, claimed_at) VALUES (?, ?, 'sending', ?)
                ON CONFLICT (chat_id, day) DO UPDATE SET state = 'sending',
                    claimed_at = excluded.claimed_at, finished_at = NULL, detail = NULL
                WHERE deliveries.state = 'failed'
                   OR (deliveries.state = 'sending' AND deliveries.claimed_at < ?)
                """,
                (chat_id, day, stamp, stale),
            )
            return cursor.rowcount == 1

    def finish_delivery(
        self,
        chat_id: int,
        day: str,
        state: str,
        *,
        article_ids: Sequence[str] = (),
        message_ids: Sequence[int] = (),
        detail: str | None = None,
        also_sent: Sequence[str] = (),
    ) -> None:
        """Record how a claimed delivery ended, with what it sent, in one transaction.

        `article_ids` are the digest's numbered articles; `also_sent` the other articles of
        its stories, recorded as had by the chat but not numbered.
        """
        now = _now()
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, finished_at = ?, detail = ?"
                " WHERE chat_id = ? AND day = ?",
                (state, now, detail, chat_id, day),
            )
            db.executemany(
                "INSERT INTO sent_articles (chat_id, article_id, sent_at)"
                " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(chat_id, article_id, now) for article_id in [*article_ids, *also_sent]],
            )
            listed = json.dumps(list(article_ids))
            db.executemany(
                "INSERT INTO digest_messages (chat_id, message_id, article_ids)"
                " VALUES (?, ?, ?) ON CONFLICT (chat_id, message_id)"
                " DO UPDATE SET article_ids = excluded.article_ids",
                [(chat_id, message_id, listed) for message_id in message_ids],
            )

    def delivery_state(self, chat_id: int, day: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM deliveries WHERE chat_id = ? AND day = ?", (chat_id, day)
            ).fetchone()
        return str(row["state"]) if row else None

    def deliveries(self, chat_id: int | None = None) -> list[tuple[int, str, str]]:
        """(chat_id, day, state) rows, for operators and tests."""
        query = "SELECT chat_id, day, state FROM deliveries"
        params: tuple[int, ...] = ()
        if chat_id is not None:
            query += " WHERE chat_id = ?"
            params = (chat_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY chat_id, day", params).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def sent_among(self, chat_id: int, article_ids: Sequence[str]) -> set[str]:
        """Which of `article_ids` the chat already had in a digest."""
        found: set[str] = set()
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT article_id FROM sent_articles WHERE chat_id = ?"
                    f" AND article_id IN ({marks})",
                    (chat_id, *chunk),
                ).fetchall()
                found.update(row[0] for row in rows)
        return found

    def digest_article_ids(self, chat_id: int, message_id: int | None = None) -> list[str]:
        """Articles of the digest sent as `message_id`, or of the chat's latest digest."""
        query = "SELECT article_ids FROM digest_messages WHERE chat_id = ?"
        params: tuple[int, ...] = (chat_id,)
        if message_id is not None:
            query += " AND message_id = ?"
            params = (chat_id, message_id)
        with self._lock:
            row = self._db.execute(query + " ORDER BY message_id DESC LIMIT 1", params).fetchone()
        return list(json.loads(row["article_ids"])) if row else []

    def chat_language(self, chat_id: int) -> tuple[str, bool] | None:
        """The chat's language code and whether the chat chose it; None if never set."""
        with self._lock:
            row = self._db.execute(
                "SELECT language, chosen FROM chat_languages WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return (str(row["language"]), bool(row["chosen"])) if row else None

    def save_chat_language(self, chat_id: int, language: str | None, *, chosen: bool) -> None:
        """Set the chat's language (`chosen` by the chat, or noted); None forgets it."""
        with self.transaction() as db:
            if language is None:
                db.execute("DELETE FROM chat_languages WHERE chat_id = ?", (chat_id,))
            else:
                db.execute(
                    "INSERT INTO chat_languages (chat_id, language, chosen) VALUES (?, ?, ?)"
                    " ON CONFLICT (chat_id) DO UPDATE SET language = excluded.language,"
                    " chosen = excluded.chosen",
                    (chat_id, language, int(chosen)),
                )

    def unsent_articles(self, chat_id: int, limit: int) -> list[Article]:
        """The newest articles this chat has not had in a digest yet, newest first."""
        with self._lock:
            rows = self._db.execute(
                """
                SELECT * FROM articles WHERE id NOT IN
                    (SELECT article_id FROM sent_articles WHERE chat_id = ?)
                ORDER BY published IS NULL, published DESC, ingested_at DESC, id LIMIT ?
                """,
                (chat_id, limit),
            ).fetchall()
        return [_article(row) for row in rows]


def _subscription(row: Row) -> Subscription:
    return Subscription(
        chat_id=row["chat_id"],
        at=row["at"],
        timezone=row["timezone"],
        active=bool(row["active"]),
        since=_when(row["updated_at"]),
    )
