"""Verdicts on answers (feedback)."""

from __future__ import annotations

from typing import Any

from bot.tables.db import StoreBase, _now


class FeedbackTables(StoreBase):
    def add_feedback(
        self,
        chat_id: int,
        question: str,
        article_id: str,
        helpful: bool,
        *,
        card_id: str | None = None,
        rank: int | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO feedback (chat_id, question, article_id, helpful, at, card_id, rank)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chat_id, question, article_id, int(helpful), _now(), card_id, rank),
            )

    def feedback(self) -> list[dict[str, Any]]:
        """Every verdict, oldest first: question, article_id, rank (0-based; None for
        verdicts given before cards recorded it), helpful, at, card_id and chat_id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT question, article_id, rank, helpful, at, card_id, chat_id"
                " FROM feedback ORDER BY id"
            ).fetchall()
        return [{**dict(row), "helpful": bool(row["helpful"])} for row in rows]

    def feedback_counts(self) -> tuple[int, int]:
        """(helpful, unhelpful) verdicts recorded so far."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) FROM feedback"
            ).fetchone()
        return int(row[0]), int(row[1])
