"""Copy a whole store into another (say SQLite into PostgreSQL), verified table by table."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.errors import StoreError
from bot.tables.connection import Database
from bot.tables.db import StoreBase

BATCH = 1000
# Tables without SQLite's implicit rowid (WITHOUT ROWID), by their primary key's columns:
# copied without a rowid and read in key order on both sides.
KEYED = {
    "paragraph_keys": ("source", "key", "article_id"),
    "boilerplate_keys": ("source", "key"),
}


@dataclass(frozen=True)
class TableCopy:
    """One table copied: rows and checksum read back from each side after the copy."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.target_rows, self.target_checksum)


def copy_store(source: StoreBase, target: StoreBase) -> list[TableCopy]:
    """Copy every table of `source` into `target`, replacing what `target` held.

    Both stores are at the same schema version (opening them migrated them). Every row keeps
    its values and its insertion order (`rowid`). One transaction on the target: a failure
    leaves it as it was. Then both sides are read back and compared.

    Raises:
        StoreError: the schemas differ, or the target already holds articles or chats.
    """
    if source.schema_version != target.schema_version:
        raise StoreError(
            f"schema versions differ: {source.schema_version} and {target.schema_version}"
        )
    tables = _tables(source._db)
    with target._lock:
        if any(
            target._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("articles", "subscriptions", "cards", "feedback")
        ):
            raise StoreError("the target store is not empty; copy into a new database")
        with target.transaction() as db, source._lock:
            for table in tables:
                columns = _columns(source._db, table)
                if set(columns) != set(_columns(db, table)):
                    raise StoreError(f"table {table} has other columns in the target")
                db.execute(f"DELETE FROM {table}")
                names = ", ".join(_ordered(table, columns))
                marks = ", ".join("?" * len(_ordered(table, columns)))
                insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"
                for batch in _batches(_rows(source._db, table, columns)):
                    db.executemany(insert, batch)
            if db.dialect == "postgresql":
                _advance_identities(db, tables)
    report = []
    for table in tables:
        columns = _columns(source._db, table)
        with source._lock:
            source_rows, source_sum = _checksum(source._db, table, columns)
        with target._lock:
            target_rows, target_sum = _checksum(target._db, table, columns)
        report.append(TableCopy(table, source_rows, target_rows, source_sum, target_sum))
    return report


def _tables(db: Database) -> list[str]:
    if db.dialect == "sqlite":
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    else:
        query = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_name != 'newsbot_schema' ORDER BY table_name"
        )
    return [str(row[0]) for row in db.execute(query).fetchall()]


def _columns(db: Database, table: str) -> list[str]:
    if db.dialect == "sqlite":
        names = [str(row["name"]) for row in db.execute(f"PRAGMA table_info({table})")]
    else:
        names = [
            str(row[0])
            for row in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND table_name = ? ORDER BY ordinal_position",
                (table,),
            )
        ]
    return [name for name in names if name != "rowid"]


def _ordered(table: str, columns: list[str]) -> list[str]:
    """The columns a copy reads and writes: the order's key columns first, then the others."""
    key = list(KEYED.get(table, ("rowid",)))
    return key + [column for column in columns if column not in key]


def _rows(db: Database, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    """The table's rows, in the order of its key (`_ordered`'s first columns)."""
    names = _ordered(table, columns)
    width = len(KEYED.get(table, ("rowid",)))
    key = ", ".join(names[:width])
    last: tuple[Any, ...] | None = None
    while True:  # in pages, so a large table never sits in memory at once
        where = "" if last is None else f" WHERE ({key}) > ({', '.join('?' * width)})"
        rows = db.execute(
            f"SELECT {', '.join(names)} FROM {table}{where} ORDER BY {key} LIMIT {BATCH}",
            () if last is None else last,
        ).fetchall()
        if not rows:
            return
        yield from (tuple(row) for row in rows)
        last = tuple(rows[-1])[:width]


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _checksum(db: Database, table: str, columns: list[str]) -> tuple[int, str]:
    """Rows and a SHA-256 over every value, in rowid order (names sorted: any column order)."""
    ordered = sorted(columns)
    digest = hashlib.sha256()
    count = 0
    for row in _rows(db, table, ordered):
        digest.update(json.dumps(list(row), ensure_ascii=False, default=str).encode())
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()[:16]


def _advance_identities(db: Database, tables: list[str]) -> None:
    """Rows were written with their ids: move each identity's sequence past the largest.

    (Keys that are ids given by Telegram, say a chat's, may be negative; a sequence starts at 1.)
    """
    rows = db.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND is_identity = 'YES'"
    ).fetchall()
    for table, column in rows:
        if table in tables:
            db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" GREATEST(COALESCE((SELECT MAX({column}) FROM {table}), 0), 0) + 1, false)"
            )
