"""Operator commands on a whole store: migrate it, copy it into another database."""

from __future__ import annotations

from pathlib import Path

from bot.errors import StoreError
from bot.store import Store
from bot.tables.connection import redact
from bot.tables.copy import TableCopy, copy_store


def describe(location: Path | str) -> str:
    """A store's location fit to print or log: a URL's password is never shown."""
    return redact(str(location))


def migrate(location: Path | str) -> tuple[int, int]:
    """Bring the store's schema up to date; returns (version found, version now).

    Raises:
        StoreError: it cannot be opened, or a migration failed (and was rolled back).
    """
    store = Store.open(location)
    try:
        return store.migrated_from, store.schema_version
    finally:
        store.close()


def copy(source: Path | str, target: Path | str) -> list[TableCopy]:
    """Copy every table of the store at `source` into the new store at `target`.

    Both are migrated to SCHEMA_VERSION first (the source too, in place).

    Raises:
        StoreError: either cannot be opened, or the target is not empty.
    """
    if isinstance(source, Path) and not source.exists():
        raise StoreError(f"no store at {source}")
    origin = Store.open(source)
    try:
        destination = Store.open(target)
        try:
            return copy_store(origin, destination)
        finally:
            destination.close()
    finally:
        origin.close()
