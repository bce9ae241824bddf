"""The store on a real SQLite file and a real PostgreSQL: schema, upserts, generation, crash
safety. Tests taking `store` run on both; the rest are about SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import Article
from bot.store import SCHEMA_VERSION, Store


def make_article(n: int, **changes: object) -> Article:
    fields: dict[str, object] = {
        "id": f"a{n}",
        "headline": f"Headline number {n}",
        "published": datetime(2024, 9, 1, tzinfo=UTC) + timedelta(days=n),
        "summary": [f"Bullet {n}"],
        "dateline": "DUBAI",
        "body": [f"DUBAI: Paragraph one of {n}.", "Second paragraph."],
    }
    fields.update(changes)
    return Article.model_validate(fields)


@pytest.fixture
def store(store_location: Path | str) -> Iterator[Store]:
    opened = Store.open(store_location)
    yield opened
    opened.close()


def test_new_store_has_current_schema_and_wal(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "deep" / "news.db")
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    db = sqlite3.connect(tmp_path / "deep" / "news.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_upsert_round_trips_every_field(store: Store) -> None:
    article = make_article(1, caption="A caption", url="https://x.test/a", source="X")
    counts, changed = store.upsert([article])
    assert (counts.added, counts.updated, counts.unchanged) == (1, 0, 0)
    assert changed == [article]
    assert store.get("a1") == article


def test_reingest_updates_never_duplicates(store: Store) -> None:
    store.upsert([make_article(1), make_article(2)])
    generation = store.generation
    counts, changed = store.upsert([make_article(1), make_article(2)])
    assert (counts.added, counts.updated, counts.unchanged) == (0, 0, 2)
    assert changed == []
    assert store.generation == generation  # nothing changed: the index stays valid

    counts, changed = store.upsert([make_article(1, headline="Corrected headline")])
    assert (counts.added, counts.updated) == (0, 1)
    assert store.count() == 2
    assert store.get("a1").headline == "Corrected headline"  # type: ignore[union-attr]
    assert store.generation == generation + 1


def test_latest_is_newest_first_with_undated_last(store: Store) -> None:
    store.upsert([make_article(1), make_article(3), make_article(2, published=None)])
    assert [a.id for a in store.latest(10)] == ["a3", "a1", "a2"]
    since = datetime(2024, 9, 3, tzinfo=UTC)
    assert [a.id for a in store.latest(10, since)] == ["a3"]


def test_failed_transaction_leaves_store_unchanged(store: Store) -> None:
    store.upsert([make_article(1)])

    def articles() -> object:
        yield make_article(2)
        raise RuntimeError("source broke mid-way")

    with pytest.raises(RuntimeError):
        store.upsert(articles())  # type: ignore[arg-type]
    assert store.count() == 1


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    path.write_text("this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store.open(path)


def test_killed_ingest_leaves_no_half_ingest(tmp_path: Path) -> None:
    """kill -9 in the middle of a large upsert: on reopen, none of it is there."""
    path = tmp_path / "news.db"
    store = Store.open(path)
    store.upsert([make_article(0)])
    store.close()
    ready = tmp_path / "ready"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from tests.test_store import make_article
        from bot.store import Store

        def articles():
            for n in range(1, 10_000):
                if n == 500:
                    Path({str(ready)!r}).write_text("mid-ingest")
                    time.sleep(60)
                yield make_article(n)

        Store.open({str(path)!r}).upsert(articles())
        """
    )
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-c", script], cwd=root)
    try:
        for _ in range(600):
            if ready.exists() or child.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert ready.exists(), "the child never reached the middle of its ingest"
        child.kill()
    finally:
        child.wait(timeout=10)
    store = Store.open(path)
    assert store.count() == 1
    assert store.get("a0") is not None
    assert store.generation == 1


NOW = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)


def test_a_day_is_claimed_once_until_the_lease_runs_out(store: Store) -> None:
    assert store.claim_delivery(1, "2026-11-28", NOW, lease_seconds=30)
    assert not store.claim_delivery(1, "2026-11-28", NOW + timedelta(seconds=5), 30)
    # The claimer died before recording: after the lease the day is free again.
    assert store.claim_delivery(1, "2026-11-28", NOW + timedelta(seconds=31), 30)
    store.finish_delivery(1, "2026-11-28", "sent", article_ids=["a1"], message_ids=[77])
    assert not store.claim_delivery(1, "2026-11-28", NOW + timedelta(days=1), 30)
    assert store.delivery_state(1, "2026-11-28") == "sent"
    # Other chats and other days are independent.
    assert store.claim_delivery(2, "2026-11-28", NOW, 30)
    assert store.claim_delivery(1, "2026-11-29", NOW, 30)


def test_a_failed_day_may_be_claimed_again(store: Store) -> None:
    assert store.claim_delivery(1, "2026-11-28", NOW, 30)
    store.finish_delivery(1, "2026-11-28", "failed", detail="timed out")
    assert store.claim_delivery(1, "2026-11-28", NOW, 30)


def test_unsent_articles_and_digest_messages(store: Store) -> None:
    store.upsert([make_article(n) for n in range(1, 5)])
    assert [a.id for a in store.unsent_articles(9, 2)] == ["a4", "a3"]
    store.claim_delivery(9, "2026-11-28", NOW, 30)
    store.finish_delivery(9, "2026-11-28", "sent", article_ids=["a4", "a3"], message_ids=[5])
    assert [a.id for a in store.unsent_articles(9, 10)] == ["a2", "a1"]
    assert [a.id for a in store.unsent_articles(8, 1)] == ["a4"]
    assert store.digest_article_ids(9, 5) == ["a4", "a3"]
    assert store.digest_article_ids(9) == ["a4", "a3"]
    assert store.digest_article_ids(9, 6) == []


def test_move_chat_carries_subscription_and_history(store: Store) -> None:
    from bot.models import Subscription

    store.upsert([make_article(1)])
    store.save_subscription(Subscription(chat_id=-1, at="07:30", timezone="UTC"))
    store.claim_delivery(-1, "2026-11-28", NOW, 30)
    store.finish_delivery(-1, "2026-11-28", "sent", article_ids=["a1"], message_ids=[3])
    store.move_chat(-1, -100)
    assert store.subscription(-1) is None
    moved = store.subscription(-100)
    assert moved is not None and moved.at == "07:30"
    assert store.delivery_state(-100, "2026-11-28") == "sent"
    assert store.unsent_articles(-100, 5) == []
    assert [s.chat_id for s in store.active_subscriptions()] == [-100]


def test_migration_from_v2_backfills_passages(tmp_path: Path) -> None:
    """A store written by an older newsbot opens, upgraded, with nothing lost."""
    from bot.store import MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        assert isinstance(step, str)
        db.executescript(step)
    db.execute(
        "INSERT INTO articles VALUES ('a1', 'Old headline', NULL, '[]', NULL,"
        " '[\"An old first paragraph.\"]', '[]', NULL, NULL, NULL, 'x', 'now', 'now')"
    )
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    store = Store.open(path)
    assert store.schema_version == SCHEMA_VERSION
    assert store.get("a1") is not None
    assert store.passage("a1", 0) == "An old first paragraph."
    tables = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master")}
    assert "passages" not in tables  # its copies of the bodies are gone


def _holding(store: Store, marker: str) -> int:
    """How many text values in the whole store contain `marker`."""
    found = 0
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if store.dialect == "sqlite"
        else "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema()"
    )
    tables = [row[0] for row in store._db.execute(query)]
    for table in tables:
        for row in store._db.execute(f"SELECT * FROM {table}"):
            found += sum(isinstance(value, str) and marker in value for value in row)
    return found


def test_a_body_is_kept_once_and_its_passages_are_split_from_it(store: Store) -> None:
    marker = "Zanzibar-quokka"
    body = [f"The {marker} story begins here. " + "Words follow on. " * 30, "A second one."]
    store.upsert([make_article(1, body=body, summary=[])])
    assert _holding(store, marker) == 1
    assert store.passage("a1", 0) is not None and marker in (store.passage("a1", 0) or "")
    assert store.passage("a1", 99) is None and store.passage("a1", -1) is None
    assert store.passage("nope", 0) is None
    # Retention: a deleted article leaves no passage behind.
    assert store.delete(["a1"]) == 1
    assert store.passage("a1", 0) is None
    assert _holding(store, marker) == 0
