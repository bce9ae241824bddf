"""Answer cards: what each showed, so its buttons need nothing else (cards)."""

from __future__ import annotations

import json
from datetime import datetime

from bot.models import Card
from bot.tables.connection import Row
from bot.tables.db import StoreBase, _iso


class CardsTables(StoreBase):
    def save_card(self, card: Card) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO cards (id, chat_id, message_id, asked_at, state)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " chat_id = excluded.chat_id, message_id = excluded.message_id,"
                " asked_at = excluded.asked_at, state = excluded.state",
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
        # Read and written in one transaction (row-locked on PostgreSQL): one JSON text for
        # both databases, instead of json_set and jsonb_set.
        lock = " FOR UPDATE" if self._db.dialect == "postgresql" else ""
        with self.transaction() as db:
            row = db.execute("SELECT state FROM cards WHERE id = ?" + lock, (card_id,)).fetchone()
            if row is None:
                return
            state = json.loads(row["state"])
            state["shown"] = rank
            db.execute(
                "UPDATE cards SET state = ? WHERE id = ?",
                (json.dumps(state, ensure_ascii=False, separators=(",", ":")), card_id),
            )

    def delete_cards_before(self, cutoff: datetime) -> int:
        """Delete cards asked before `cutoff`; returns how many."""
        with self.transaction() as db:
            return db.execute("DELETE FROM cards WHERE asked_at < ?", (_iso(cutoff),)).rowcount


def _card(row: Row) -> Card:
    card = Card.model_validate_json(row["state"])
    return card.model_copy(update={"chat_id": row["chat_id"], "message_id": row["message_id"]})
