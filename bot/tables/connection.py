"""One connection to SQLite or PostgreSQL behind one small interface (the dialect layer).

The table families write one SQL text for both databases: `?` placeholders, `ON CONFLICT`
upserts, `CAST`, no `INSERT OR …` and no SQLite-only functions. What still differs is here:
placeholders (`%s`), the column types a migration's DDL names (PostgreSQL gets BIGINT for
INTEGER, since Telegram chat ids exceed 32 bits, identity columns for autoincrement keys, a
`rowid` column SQLite has implicitly, and byte-order text so ISO dates compare as in SQLite),
how the schema version is kept, how migrations are serialised between processes, and how a
dropped connection is reopened.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from bot.errors import StoreError

log = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# A row: both `row["column"]` and `row[0]` work, and `dict(row)` gives the columns.
Row = Any


class Cursor(Protocol):
    """What a statement returns: its rows and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row: ...

    def fetchall(self) -> list[Row]: ...

    def __iter__(self) -> Iterator[Row]: ...


class Database(Protocol):
    """A connection the store owns; not thread-safe by itself (the store holds a lock)."""

    dialect: str  # "sqlite" or "postgresql"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    def set_schema_version(self, version: int) -> None: ...

    @contextmanager
    def migration_lock(self) -> Iterator[None]: ...


def is_postgres(location: Path | str) -> bool:
    """Whether a `--db` value names a PostgreSQL database (else it is a SQLite path)."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def redact(url: str) -> str:
    """The URL with its password (if any) replaced by `***`, fit to print or log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def open_database(location: Path | str) -> Database:
    """Connect to the store at `location`: a PostgreSQL URL, a SQLite path or ':memory:'.

    Raises:
        StoreError: it cannot be reached or opened (one line; a password is never in it).
    """
    if is_postgres(location):
        return PostgresDatabase(str(location))
    return SqliteDatabase.open(location)


class SqliteDatabase:
    """A SQLite file in WAL mode; the SQL is SQLite's already."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection

    @classmethod
    def open(cls, path: Path | str) -> SqliteDatabase:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc
        return cls(db)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def begin(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not at first write

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()

    def schema_version(self) -> int:
        try:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"not a newsbot store: {exc}") from exc

    def set_schema_version(self, version: int) -> None:
        self._conn.execute(f"PRAGMA user_version = {int(version)}")

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        yield  # each step's BEGIN IMMEDIATE already excludes other processes


class PostgresDatabase:
    """One psycopg 3 connection in autocommit mode, with explicit BEGIN/COMMIT.

    A connection that dropped (server restart, a killed backend) is reopened on next use:
    a read outside a transaction, or the BEGIN of a transaction, is retried once on a new
    connection. A statement inside a transaction is not retried; the transaction fails and
    the store is as it was.
    """

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = self._connect()
        self._in_transaction = False

    def _connect(self) -> Any:
        try:
            import psycopg  # only operators of PostgreSQL need it installed
        except ImportError:
            raise StoreError(
                f"{redact(self.url)} is a PostgreSQL store, and PostgreSQL support is not "
                "installed: pip install 'newsbot[postgres]'"
            ) from None
        try:
            connection = psycopg.connect(
                self.url, autocommit=True, row_factory=_row_factory, connect_timeout=10
            )
            connection.adapters.register_dumper(str, _nul_safe_dumper())
            return connection
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {redact(self.url)}: {_first_line(exc)}"
            ) from None

    def _live(self) -> Any:
        if self._conn.closed:
            log.warning("PostgreSQL connection lost; reconnecting to %s", redact(self.url))
            self._conn = self._connect()
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        query = _postgres_sql(sql)
        if self._in_transaction:
            return self._conn.execute(query, params)  # type: ignore[no-any-return]
        return self._retrying(query, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(_postgres_sql(sql), rows)

    def _retrying(self, query: str, params: Sequence[Any]) -> Cursor:
        import psycopg

        try:
            return self._live().execute(query, params)  # type: ignore[no-any-return]
        except psycopg.OperationalError:
            if not self._conn.closed:
                raise
        return self._live().execute(query, params)  # type: ignore[no-any-return]

    def begin(self) -> None:
        self._retrying("BEGIN", ())
        self._in_transaction = True

    def commit(self) -> None:
        self._in_transaction = False
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        self._in_transaction = False
        if not self._conn.closed:  # a dropped connection rolled back by itself
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()

    def schema_version(self) -> int:
        self.execute("CREATE TABLE IF NOT EXISTS newsbot_schema (version BIGINT NOT NULL)")
        row = self.execute("SELECT version FROM newsbot_schema").fetchone()
        return int(row[0]) if row else 0

    def set_schema_version(self, version: int) -> None:
        cursor = self.execute("UPDATE newsbot_schema SET version = ?", (version,))
        if cursor.rowcount == 0:
            self.execute("INSERT INTO newsbot_schema (version) VALUES (?)", (version,))

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Held while migrating: replicas starting together migrate once, one after another.

        A session-level advisory lock keyed by the schema, so stores in other schemas of the
        same database do not wait for each other.
        """
        self.execute("SELECT pg_advisory_lock(hashtext('newsbot:' || current_schema()))")
        try:
            yield
        finally:
            if not self._conn.closed:
                self.execute("SELECT pg_advisory_unlock(hashtext('newsbot:' || current_schema()))")


def _nul_safe_dumper() -> type:
    """psycopg's text dumper, but a NUL (which PostgreSQL text cannot hold, while SQLite's
    can) is stored as U+FFFD instead of failing the whole write: a feed item with a NUL in
    its headline is stored, as on SQLite, with that one character replaced."""
    from psycopg.types.string import StrDumperUnknown

    class NulSafeStrDumper(StrDumperUnknown):
        def dump(self, obj: str) -> Any:
            return super().dump(obj.replace("\x00", "\ufffd") if "\x00" in obj else obj)

    return NulSafeStrDumper


def _first_line(exc: BaseException) -> str:
    """libpq's reason in one line: "Connection refused", "FATAL: role … does not exist"."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    failed = [line for line in lines if "failed:" in line]
    reason = failed[-1].rsplit("failed:", 1)[1] if failed else lines[-1]
    return " ".join(reason.split()) or lines[-1]


_SQL_CACHE: dict[str, str] = {}
_DDL = re.compile(r"^\s*(CREATE TABLE|ALTER TABLE)", re.IGNORECASE)


def _postgres_sql(sql: str) -> str:
    """SQLite-flavoured SQL for psycopg: `%s` placeholders, and PostgreSQL's DDL types."""
    cached = _SQL_CACHE.get(sql)
    if cached is None:
        text = postgres_ddl(sql) if _DDL.match(sql) else sql
        cached = text.replace("%", "%%").replace("?", "%s")
        _SQL_CACHE[sql] = cached
    return cached


def postgres_ddl(sql: str) -> str:
    """A migration's CREATE/ALTER TABLE with PostgreSQL's types.

    INTEGER becomes BIGINT; `INTEGER PRIMARY KEY` (SQLite's rowid alias) an identity column;
    TEXT compares by bytes (COLLATE "C"), as SQLite's does; and each new table gets the
    `rowid` column SQLite gives it implicitly, which queries order by for insertion order.
    """
    text = re.sub(r"--[^\n]*", "", sql)
    text = re.sub(
        r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", text
    )
    text = re.sub(r"\bINTEGER\b", "BIGINT", text)
    text = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', text)
    return re.sub(
        r"^(\s*CREATE TABLE\s+\w+\s*\()",
        r"\1rowid BIGINT GENERATED BY DEFAULT AS IDENTITY, ",
        text,
        flags=re.IGNORECASE,
    )


class _PgRow(tuple[Any, ...]):
    """A result row like sqlite3.Row: by column name or position; `dict(row)` works."""

    _index: dict[str, int] = {}  # noqa: RUF012  (set per query shape)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


_ROW_CLASSES: dict[tuple[str, ...], type[_PgRow]] = {}


def _row_factory(cursor: Any) -> Any:
    names = tuple(column.name for column in cursor.description or ())
    row_class = _ROW_CLASSES.get(names)
    if row_class is None:
        index = {name: i for i, name in reversed(list(enumerate(names)))}
        row_class = type("Row", (_PgRow,), {"_index": index})
        _ROW_CLASSES[names] = row_class
    return row_class
