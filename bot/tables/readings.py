"""Readings of articles made at ingest (readings): see `bot.stored_reading`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.tables.db import StoreBase, _chunks


class ReadingsTables(StoreBase):
    def save_readings(self, readings: Sequence[tuple[str, str, str]]) -> None:
        """Store (article id, key, encoded reading) rows, replacing an article's older one."""
        if not readings:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO readings (article_id, key, reading) VALUES (?, ?, ?)"
                " ON CONFLICT (article_id) DO UPDATE SET"
                " key = excluded.key, reading = excluded.reading",
                readings,
            )

    def readings(self, article_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The stored (key, encoded reading) of these articles; those without one are absent."""
        found: dict[str, tuple[str, str]] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT article_id, key, reading FROM readings WHERE article_id IN ({marks})",
                    chunk,
                ).fetchall()
                found.update((row[0], (row[1], row[2])) for row in rows)
        return found
