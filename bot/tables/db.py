"""What every table family shares: the connection, its lock, transactions, the generation."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from bot.tables.connection import Database

T = TypeVar("T")


class StoreBase:
    """One connection, shared by the event loop and worker threads: every call takes a lock.

    `generation` grows with every change to the articles, so an index saved at one
    generation can tell that it is stale.
    """

    def __init__(self, connection: Database) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self._depth = 0  # transactions open in this one (the lock's holder only)
        self.migrated_from = 0  # the schema version found on opening
        try:
            self._migrate()
        except BaseException:
            connection.close()
            raise

    def _migrate(self) -> None:
        raise NotImplementedError  # the schema's

    def delete(self, article_ids: Sequence[str]) -> int:
        raise NotImplementedError  # the articles family's

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All-or-nothing: a crash or an exception inside leaves the store as it was.

        Nests: a transaction opened inside another is part of the outer one.
        """
        with self._lock:
            if self._depth:  # inside another transaction: part of it, all or nothing
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.begin()
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            finally:
                self._depth = 0
            self._db.commit()

    @property
    def dialect(self) -> str:
        """Which database holds the store: "sqlite" or "postgresql"."""
        return self._db.dialect

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._db.schema_version()

    @property
    def generation(self) -> int:
        value = self._meta("generation")
        assert value is not None, "the schema's first migration sets it"
        return int(value)

    @property
    def alert_mark(self) -> int:
        """The generation the last alert pass covered (0 before the first)."""
        return int(self._meta("alert_mark") or 0)

    def _meta(self, key: str) -> str | None:
        """The value meta holds under `key` (None for none)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def save_alert_mark(self, generation: int) -> None:
        """Record that an alert pass covered `generation`; the mark never moves back."""
        self._raise_meta("alert_mark", str(generation), "CAST({} AS INTEGER)")

    def _raise_meta(self, key: str, value: str, compared: str = "{}") -> None:
        """Set meta `key` to `value` unless it holds a greater one (as `compared` reads a
        value: "{}" compares the text, "CAST({} AS INTEGER)" the number)."""
        new, old = compared.format("excluded.value"), compared.format("meta.value")
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                f"value = CASE WHEN {new} > {old} THEN excluded.value ELSE meta.value END",
                (key, value),
            )

    @staticmethod
    def _bump_generation(db: Database) -> None:
        db.execute(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
            " WHERE key = 'generation'"
        )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
