"""The store on a real PostgreSQL: start-up migration by several processes, a dropped
connection, faults an operator meets (server down, wrong URL), and `newsbot copy`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import FeedSource, Follow, StoryMember, Subscription
from bot.settings import Settings
from bot.store import SCHEMA_VERSION, Store
from tests import postgres
from tests.ports import closed_port
from tests.test_store import make_article
from tests.test_store_tables import card

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)


@pytest.fixture
def url() -> Iterator[str]:
    with postgres.fresh_schema() as fresh:
        yield fresh


def newsbot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def kill_backend(store: Store) -> None:
    """Terminate the store's server process from another connection (a restart, a failover)."""
    import psycopg

    pid = store._db.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(postgres.SERVER, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_a_dropped_connection_is_reopened_on_next_use(url: str) -> None:
    store = Store.open(url)
    store.upsert([make_article(1)])
    kill_backend(store)
    assert store.count() == 1  # a read: retried on a new connection
    kill_backend(store)
    counts, _ = store.upsert([make_article(2)])  # a transaction: its BEGIN is retried
    assert counts.added == 1 and store.count() == 2
    kill_backend(store)
    assert store.claim_delivery(1, "2026-11-28", NOW, 60)
    assert not store.claim_delivery(1, "2026-11-28", NOW, 60)
    store.close()


def test_replicas_starting_together_migrate_once(url: str) -> None:
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "--db", url, "migrate"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], results
    outputs = sorted(out for out, _ in results)
    assert sum(f"0 -> {SCHEMA_VERSION}" in out for out in outputs) == 1, outputs
    assert sum("up to date" in out for out in outputs) == 2, outputs


def test_a_newer_schema_is_refused(url: str) -> None:
    Store.open(url).close()
    store = Store.open(url)
    store._db.set_schema_version(SCHEMA_VERSION + 1)
    store.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(url)


def test_the_url_comes_from_the_environment_and_stays_a_url(url: str) -> None:
    os.environ["NEWSBOT_DB"] = url
    try:
        assert Settings().db == url
    finally:
        del os.environ["NEWSBOT_DB"]
    assert newsbot("--db", url, "check").stdout.startswith("ok: 0 articles in postgresql://")


def test_postgresql_down_at_start_is_one_line_and_a_failure() -> None:
    postgres.require()
    bot = {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9"}
    for command in (["check"], ["migrate"], ["-v", "ask", "dam"], ["run"]):
        with closed_port() as port:
            down = f"postgresql://newsbot:s3cret-pw@127.0.0.1:{port}/news"
            done = newsbot("--db", down, *command, env=bot)
        assert done.returncode == 1
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert lines[0].startswith("newsbot: cannot connect to PostgreSQL at postgresql://")
        assert "s3cret-pw" not in done.stderr and "***" in lines[0]


def test_a_wrong_user_or_database_is_one_line_without_the_password() -> None:
    postgres.require()
    base = postgres.SERVER.rsplit("@", 1)[1]
    for wrong in (
        f"postgresql://nosuchrole:s3cret-pw@{base}",
        f"postgresql://postgres:s3cret-pw@{base.rsplit('/', 1)[0]}/no_such_database_here",
    ):
        done = newsbot("-v", "--db", wrong, "check", env={"NEWSBOT_DB": wrong})
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "does not exist" in lines[0], done.stderr
        assert "s3cret-pw" not in done.stderr + done.stdout


def filled_sqlite_store(path: Path) -> Store:
    """A store with rows in every table family."""
    store = Store.open(path)
    store.upsert([make_article(n, source="Gulf News") for n in range(1, 40)])
    store.save_story_members(
        [StoryMember(article_id="a1", story_id=1, at=NOW, terms={"dam": 2, "سد": 1})]
    )
    store.save_subscription(Subscription(chat_id=-1002345678901, at="07:30", timezone="UTC"))
    assert store.claim_delivery(-1002345678901, "2026-11-28", NOW, 60)
    store.finish_delivery(
        -1002345678901, "2026-11-28", "sent", article_ids=["a1", "a2"], message_ids=[5]
    )
    store.save_chat_language(7, "ar", chosen=True)
    store.save_card(card("c1"))
    store.add_feedback(7, "dam?", "a1", True, card_id="c1", rank=0)
    store.add_feedback(7, "وفي سوريا؟", "a2", False)
    store.save_follow(Follow(chat_id=7, topic="Dam", alert=True, since=NOW), "dam", 5)
    assert store.claim_alert(7, 1, "a1", "2026-11-28", NOW, 60)
    store.save_alert_mark(3)
    store.add_feed_source(FeedSource(url="https://x.test/rss"))
    store.link_feed_articles("https://x.test/rss", ["a1"])
    return store


def test_copy_moves_every_table_and_proves_it(tmp_path: Path, url: str) -> None:
    source = filled_sqlite_store(tmp_path / "news.db")
    done = newsbot("copy", str(tmp_path / "news.db"), url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:-1]}
    for table in ("articles", "feedback", "cards", "follows", "alerts", "meta", "deliveries"):
        count, copied, checksum, copied_checksum = rows[table]
        assert count == copied != "0" and checksum == copied_checksum, lines
    assert lines[-1].startswith("ok: ") and "MISMATCH" not in done.stdout

    # and back into a new SQLite file: every table's checksum is the original's
    back = newsbot("copy", url, str(tmp_path / "back.db"))
    assert back.returncode == 0, back.stderr
    returned = {line.split()[0]: line.split()[1:] for line in back.stdout.splitlines()[1:-1]}
    assert {table: row[2] for table, row in returned.items()} == {
        table: row[2] for table, row in rows.items()
    }

    target = Store.open(url)
    assert target.count() == source.count() == 39
    assert target.get_many([f"a{n}" for n in range(1, 40)]) == source.get_many(
        [f"a{n}" for n in range(1, 40)]
    )
    assert target.generation == source.generation and target.alert_mark == 3
    assert target.feedback() == source.feedback()
    assert target.card("c1") == source.card("c1")
    assert target.follows() == source.follows()
    assert target.alert_states(7) == source.alert_states(7)
    assert target.deliveries() == source.deliveries()
    assert target.story_members(NOW, NOW) == source.story_members(NOW, NOW)
    assert target.repeated_paragraphs(2) == source.repeated_paragraphs(2)
    assert target.passage("a5", 0) == source.passage("a5", 0)
    # the copy goes on where the source stopped: new feedback gets a new id
    target.add_feedback(8, "new", "a3", True)
    assert [v["question"] for v in target.feedback()][-1] == "new"
    target.close()
    source.close()

    again = newsbot("copy", str(tmp_path / "news.db"), url)
    assert again.returncode == 1 and "not empty" in again.stderr
