"""A real PostgreSQL for the store's tests: one fresh schema per test, dropped after it.

The server is `NEWSBOT_TEST_POSTGRES` (default: the `test` database on 127.0.0.1:5432, trust
authentication). Where none answers, the PostgreSQL half of the store's tests skips with
`SKIP_REASON`, and the run's summary says so (see conftest.py).
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

SERVER = os.environ.get("NEWSBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run here (None when the server answers)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(SERVER, connect_timeout=3, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if "failed:" in line]
        reason = lines[-1].rsplit("failed:", 1)[1].strip() if lines else type(exc).__name__
        return f"no PostgreSQL answers at {SERVER} ({reason}); set NEWSBOT_TEST_POSTGRES"
    return None


def require() -> None:
    """Skip the calling test, with the reason, where no PostgreSQL answers."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"PostgreSQL half skipped: {reason}")


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A store URL on a new, empty schema of the test database; the schema is dropped after."""
    require()
    import psycopg

    name = f"newsbot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in SERVER else "?"
    try:
        yield f"{SERVER}{separator}options={quote(f'-csearch_path={name}')}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {name} CASCADE")
