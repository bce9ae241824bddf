"""Leases, heartbeats and the change feed, with two Store connections on one database
(a real SQLite file, and PostgreSQL where it answers) standing for two replicas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import changes
from bot.changes import ChangeFeed
from bot.models import Article
from bot.store import Store
from bot.tables.replicas import ChangedArticle


@pytest.fixture
def pair(store_location: Path | str) -> Iterator[tuple[Store, Store]]:
    first, second = Store.open(store_location), Store.open(store_location)
    yield first, second
    first.close()
    second.close()


def test_a_lease_is_held_by_one_replica_until_it_expires(
    pair: tuple[Store, Store],
) -> None:
    a, b = pair
    assert a.take_lease("feed:x", "a", now=100.0, seconds=60)
    assert not b.take_lease("feed:x", "b", now=120.0, seconds=60)
    assert b.lease_holder("feed:x", now=120.0) == "a"
    assert a.take_lease("feed:x", "a", now=150.0, seconds=60)  # extends: to 210
    assert not b.take_lease("feed:x", "b", now=200.0, seconds=60)
    assert b.take_lease("feed:x", "b", now=210.0, seconds=60)  # expired: b takes over
    assert a.lease_holder("feed:x", now=211.0) == "b"
    assert a.take_lease("feed:y", "a", now=211.0, seconds=60)  # other names are separate


def test_a_released_lease_is_free_at_once_and_only_its_owner_can_release_it(
    pair: tuple[Store, Store],
) -> None:
    a, b = pair
    assert a.take_lease("feed:x", "a", now=0.0, seconds=60)
    b.release_lease("feed:x", "b")  # not b's: nothing happens
    assert a.lease_holder("feed:x", now=1.0) == "a"
    a.release_lease("feed:x", "a")
    assert a.lease_holder("feed:x", now=1.0) is None
    assert b.take_lease("feed:x", "b", now=1.0, seconds=60)


def test_heartbeats_count_live_replicas_and_forget_silent_ones(
    pair: tuple[Store, Store],
) -> None:
    a, b = pair
    assert a.heartbeat("a", now=0.0, alive_within=10) == {"a": 0.0}
    assert b.heartbeat("b", now=1.0, alive_within=10) == {"a": 0.0, "b": 1.0}
    assert len(b.heartbeat("c", now=2.0, alive_within=10)) == 3
    assert a.heartbeat("a", now=11.5, alive_within=10) == {"a": 11.5, "c": 2.0}  # b: silent
    assert a.alive(since=2.5) == {"a": 11.5}
    b.leave("c")
    assert a.heartbeat("a", now=12.0, alive_within=10) == {"a": 12.0}


def article(article_id: str) -> Article:
    return Article(
        id=article_id,
        headline=f"Headline {article_id}",
        published=datetime(2026, 1, 1, tzinfo=UTC),
        body=["A paragraph of the article."],
    )


def test_changed_since_lists_what_another_connection_wrote(
    pair: tuple[Store, Store], store_location: Path | str
) -> None:
    a, _ = pair
    writer = Store.open(store_location)
    writer.upsert([article("one")])
    (first,) = a.changed_since(None)
    assert first.id == "one"
    writer.upsert([article("two")])
    later = a.changed_since(first.updated_at)
    assert [c.id for c in later][-1] == "two"
    assert {c.id for c in a.changed_since(None)} == {"one", "two"}
    writer.close()


def test_a_change_feed_skips_what_was_stored_before_it_and_takes_what_follows(
    pair: tuple[Store, Store],
) -> None:
    a, writer = pair
    assert a.newest_write() is None
    assert ChangeFeed(a).take() == []
    writer.upsert([article("one")])
    writer.upsert([article("two")])
    assert a.newest_write() == max(c.updated_at for c in a.changed_since(None))
    feed = ChangeFeed(a)  # a start-up: both are in its index already
    assert feed.take() == []
    writer.upsert([article("three")])
    assert feed.take() == ["three"]
    assert feed.take() == []


def test_a_bulk_ingest_that_never_takes_forgets_its_own_old_writes_but_not_others(
    pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short margin and room stand for minutes of writes and thousands of articles.
    monkeypatch.setattr(changes, "MARGIN", timedelta(milliseconds=20))
    monkeypatch.setattr(changes, "ROOM", 4)
    mine, other = pair
    feed = ChangeFeed(mine)
    others = []
    for n in range(12):
        since = changes.stamp_now()
        written = [article(f"mine-{n}-{k}") for k in range(3)]
        mine.upsert(written)
        feed.note([a.id for a in written], since)
        if n % 4 == 1:
            other.upsert([article(f"other-{n}")])
            others.append(f"other-{n}")
        time.sleep(0.03)
    assert len(feed._seen) <= 2 * 3 * 4  # not all 36 of its own writes
    assert feed.take() == others
    assert feed.take() == []


def test_a_start_up_long_after_the_last_write_reads_none_and_takes_what_follows(
    pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "MARGIN", timedelta(milliseconds=20))
    mine, other = pair
    other.upsert([article(f"old-{n}") for n in range(4)])
    other.upsert([article("old-4")])
    time.sleep(0.05)  # the last write is older than the margin: settled
    read: list[str] = []
    listed = mine.changed_since

    def counted(since: str | None) -> list[ChangedArticle]:
        found = listed(since)
        read.extend(c.id for c in found)
        return found

    monkeypatch.setattr(mine, "changed_since", counted)
    feed = ChangeFeed(mine)
    assert read == []  # the start-up lists no write
    assert feed.take() == []
    other.upsert([article("new")])
    assert feed.take() == ["new"]
    corrected = article("old-1").model_copy(update={"body": ["A corrected paragraph."]})
    other.upsert([corrected])  # written again: a new write
    assert feed.take() == ["old-1"]
    assert set(read) <= {"old-4", "new", "old-1"}  # only the newest settled one is read again
