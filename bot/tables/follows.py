"""Followed topics and story alerts (follows, alerts), alerts claimed once per chat and story."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.models import Follow
from bot.tables.db import StoreBase, _iso, _now


class FollowsTables(StoreBase):
    def follows(self, chat_id: int | None = None) -> list[Follow]:
        """The chat's followed topics (or every chat's), oldest first."""
        query = "SELECT * FROM follows"
        params: tuple[int, ...] = ()
        if chat_id is not None:
            query += " WHERE chat_id = ?"
            params = (chat_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY chat_id, rowid", params).fetchall()
        return [
            Follow(
                chat_id=row["chat_id"],
                topic=row["topic"],
                alert=bool(row["alert"]),
                since=datetime.fromisoformat(row["created_at"]),
            )
            for row in rows
        ]

    def save_follow(self, follow: Follow, key: str, limit: int) -> bool:
        """Follow a topic (or change its alert); False when the chat already has `limit`
        other topics, and then nothing is written."""
        with self.transaction() as db:
            count = db.execute(
                "SELECT COUNT(*) FROM follows WHERE chat_id = ? AND key != ?",
                (follow.chat_id, key),
            ).fetchone()[0]
            if count >= limit:
                return False
            db.execute(
                """
                INSERT INTO follows (chat_id, key, topic, alert, created_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (chat_id, key) DO UPDATE SET topic = excluded.topic,
                    alert = excluded.alert
                """,
                (follow.chat_id, key, follow.topic, int(follow.alert), _iso(follow.since)),
            )
        return True

    def delete_follow(self, chat_id: int, key: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM follows WHERE chat_id = ? AND key = ?", (chat_id, key))
            return cursor.rowcount == 1

    def alerted(self, chat_id: int, story_ids: Sequence[int]) -> set[int]:
        """Which of the stories the chat had (or is being sent) an alert for."""
        if not story_ids:
            return set()
        marks = ",".join("?" * len(story_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT story_id FROM alerts WHERE chat_id = ? AND story_id IN ({marks})"
                " AND state != 'failed'",
                (chat_id, *story_ids),
            ).fetchall()
        return {int(row[0]) for row in rows}

    def alerts_sent_on(self, chat_id: int, local_day: str) -> int:
        """Alerts sent, or being sent, to the chat on its local day (for the daily cap)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM alerts WHERE chat_id = ? AND local_day = ?"
                " AND state IN ('sent', 'sending')",
                (chat_id, local_day),
            ).fetchone()
        return int(row[0])

    def claim_alert(
        self,
        chat_id: int,
        story_id: int,
        article_id: str,
        local_day: str,
        now: datetime,
        lease_seconds: float,
    ) -> bool:
        """Take the right to alert `chat_id` of a story, as claim_delivery does for digests:
        free when never tried, failed, or claimed longer than the lease ago."""
        stamp = now.astimezone(UTC).isoformat()
        stale = (now.astimezone(UTC) - timedelta(seconds=lease_seconds)).isoformat()
        with self.transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO alerts (chat_id, story_id, article_id, local_day, state, claimed_at)
                VALUES (?, ?, ?, ?, 'sending', ?)
                ON CONFLICT (chat_id, story_id) DO UPDATE SET state = 'sending',
                    article_id = excluded.article_id, local_day = excluded.local_day,
                    claimed_at = excluded.claimed_at, finished_at = NULL, detail = NULL
                WHERE alerts.state = 'failed'
                   OR (alerts.state = 'sending' AND alerts.claimed_at < ?)
                """,
                (chat_id, story_id, article_id, local_day, stamp, stale),
            )
            return cursor.rowcount == 1

    def finish_alert(
        self, chat_id: int, story_id: int, state: str, detail: str | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE alerts SET state = ?, finished_at = ?, detail = ?"
                " WHERE chat_id = ? AND story_id = ?",
                (state, _now(), detail, chat_id, story_id),
            )

    def alert_states(self, chat_id: int) -> list[tuple[int, str, str]]:
        """(story_id, article_id, state) of the chat's alerts, for operators and tests."""
        with self._lock:
            rows = self._db.execute(
                "SELECT story_id, article_id, state FROM alerts WHERE chat_id = ?"
                " ORDER BY claimed_at, story_id",
                (chat_id,),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
