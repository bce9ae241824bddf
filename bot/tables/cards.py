"""Answer cards: what each showed, so its buttons need nothing else (cards)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from bot.models import Card
from bot.tables.db import StoreBase, _iso


class CardsTables(StoreBase):
    def save_card(self, card: Card) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cards (id, chat_id, message_id, asked_at, state)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    card.id,
                    card.chat_id,
                    card.message_id,
                    _iso(card.asked_at),
                    card.model_dump_json(),
                ),
            )

    def card(self, card_id: str) -> Card | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM cards WHERE id = ?", (card_id,)).fetchone()
        return _card(row) if row else None

    def latest_card(self, chat_id: int) -> Card | None:
        """The chat's most recently asked card."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM cards WHERE chat_id = ? ORDER BY asked_at DESC, rowid DESC LIMIT 1",
                (chat_id,),
            ).fetchone()
        return _card(row) if row else None

    def card_by_message(self, chat_id: int, message_id: int) -> Card | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM cards WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
            ).fetchone()
        return _card(row) if row else None

    def set_card_message(self, card_id: str, message_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE cards SET message_id = ? WHERE id = ?", (message_id, card_id))

    def set_card_shown(self, card_id: str, rank: int) -> None:
        """Which result the card shows now (what a follow-up leans on)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE cards SET state = json_set(state, '$.shown', ?) WHERE id = ?",
                (rank, card_id),
            )

    def delete_cards_before(self, cutoff: datetime) -> int:
        """Delete cards asked before `cutoff`; returns how many."""
        with self.transaction() as db:
            return db.execute("DELETE FROM cards WHERE asked_at < ?", (_iso(cutoff),)).rowcount


def _card(row: sqlite3.Row) -> Card:
    card = Card.model_validate_json(row["state"])
    return card.model_copy(update={"chat_id": row["chat_id"], "message_id": row["message_id"]})
