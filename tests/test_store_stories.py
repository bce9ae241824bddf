"""The store's story, follow and alert tables on a real SQLite file and a real PostgreSQL
(two connections each)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Follow, StoryMember
from bot.store import Store

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def path(store_location: Path | str) -> Path | str:
    return store_location


def test_story_members_round_trip_and_new_stories_are_numbered_by_the_store(
    path: Path | str,
) -> None:
    store = Store.open(path)
    saved = store.save_story_members(
        [
            StoryMember(article_id="x", story_id=-2, at=NOW, terms={"dam": 2, "lindau": 1}),
            StoryMember(article_id="y", story_id=-2, at=NOW + timedelta(hours=2), terms={}),
            StoryMember(article_id="z", story_id=-1, at=NOW - timedelta(days=3), terms={"a": 1}),
        ]
    )
    assert [(m.article_id, m.story_id) for m in saved] == [("x", 1), ("y", 1), ("z", 2)]
    other = Store.open(path)  # what one process wrote, another reads
    members = other.story_members(NOW - timedelta(hours=1), NOW + timedelta(days=1))
    assert [(m.article_id, m.story_id, m.terms) for m in members] == [
        ("x", 1, {"dam": 2, "lindau": 1}),
        ("y", 1, {}),
    ]
    assert other.stories_of(["x", "z", "nope"]) == {"x": 1, "z": 2}
    # a known id is kept; the next new story follows the last one numbered, by either store
    saved = other.save_story_members(
        [
            StoryMember(article_id="w", story_id=-1, at=NOW, terms={}),
            StoryMember(article_id="v", story_id=2, at=NOW, terms={}),
        ]
    )
    assert [(m.article_id, m.story_id) for m in saved] == [("w", 3), ("v", 2)]
    assert (
        store.save_story_members([StoryMember(article_id="u", story_id=-5, at=NOW, terms={})])[
            0
        ].story_id
        == 4
    )
    assert other.newest_at() == NOW + timedelta(hours=2)
    store.close()
    other.close()


def test_two_connections_numbering_new_stories_at_once_never_share_an_id(
    path: Path | str,
) -> None:
    """Each of two stores (as two replicas would) saves 150 batches of three new stories;
    no id is given twice and every story holds the articles of one batch only."""
    stores = [Store.open(path), Store.open(path)]
    given: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def save(n: int) -> None:
        start.wait()
        for batch in range(150):
            members = [
                StoryMember(article_id=f"{n}-{batch}-{k}", story_id=-1 - k % 3, at=NOW, terms={})
                for k in range(6)
            ]
            given[n] += sorted({m.story_id for m in stores[n].save_story_members(members)})

    threads = [threading.Thread(target=save, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(given[0]) == len(given[1]) == 450
    assert sorted(given[0] + given[1]) == list(range(1, 901))
    ids = [f"{n}-{batch}-{k}" for n in range(2) for batch in range(150) for k in range(6)]
    batches: dict[int, set[str]] = {}
    for article_id, story_id in stores[0].stories_of(ids).items():
        batches.setdefault(story_id, set()).add(article_id.rsplit("-", 1)[0])
    assert len(batches) == 900 and all(len(owners) == 1 for owners in batches.values())
    for store in stores:
        store.close()


def test_the_story_counter_starts_after_the_stories_an_older_store_has(path: Path | str) -> None:
    store = Store.open(path)
    store.save_story_members([StoryMember(article_id="x", story_id=7, at=NOW, terms={})])
    with store.transaction() as db:  # as a store from before the counter (schema 11) was
        db.execute("DELETE FROM meta WHERE key = 'story_id'")
        db.execute("DROP TABLE readings")  # nor the readings of schema 13
        db.execute("DROP TABLE boilerplate_keys")  # nor the kept boilerplate of schema 15
        db.execute("DROP TABLE paragraph_keys")  # its keys were still those of schema 9
        db.execute(
            "CREATE TABLE paragraphs (source TEXT NOT NULL, key TEXT NOT NULL,"
            " article_id TEXT NOT NULL, PRIMARY KEY (source, key, article_id))"
        )
        db.set_schema_version(11)
    store.close()
    store = Store.open(path)
    assert store.migrated_from == 11
    saved = store.save_story_members([StoryMember(article_id="y", story_id=-1, at=NOW, terms={})])
    assert saved[0].story_id == 8
    store.close()


def test_follow_cap_is_checked_in_the_same_transaction(path: Path | str) -> None:
    store = Store.open(path)
    for n in range(3):
        assert store.save_follow(Follow(chat_id=1, topic=f"t{n}", since=NOW), f"t{n}", limit=3)
    assert not store.save_follow(Follow(chat_id=1, topic="t3", since=NOW), "t3", limit=3)
    # changing a topic the chat has is not one more
    assert store.save_follow(Follow(chat_id=1, topic="T0", alert=True, since=NOW), "t0", limit=3)
    assert [(f.topic, f.alert) for f in store.follows(1)] == [
        ("T0", True),
        ("t1", False),
        ("t2", False),
    ]
    assert store.delete_follow(1, "t1") and not store.delete_follow(1, "t1")
    store.move_chat(1, -100)
    assert store.follows(1) == [] and len(store.follows(-100)) == 2
    store.close()


def test_an_alert_is_claimed_once_retried_after_failure_or_a_dead_claim(path: Path | str) -> None:
    first, second = Store.open(path), Store.open(path)  # two bot processes
    assert first.claim_alert(5, 7, "a", "2025-03-03", NOW, lease_seconds=60)
    assert not second.claim_alert(5, 7, "a", "2025-03-03", NOW, lease_seconds=60)
    assert first.alerts_sent_on(5, "2025-03-03") == 1  # a claim counts toward the cap
    assert second.alerted(5, [7, 8]) == {7}
    # the first process died: after the lease the claim is free again
    later = NOW + timedelta(seconds=61)
    assert second.claim_alert(5, 7, "a", "2025-03-03", later, lease_seconds=60)
    second.finish_alert(5, 7, "failed", "timed out")
    assert first.alerted(5, [7]) == set()  # a failed alert may be tried again
    assert first.claim_alert(5, 7, "b", "2025-03-03", later, lease_seconds=60)
    first.finish_alert(5, 7, "sent")
    assert not second.claim_alert(5, 7, "b", "2025-03-04", later + timedelta(days=1), 60)
    assert second.alert_states(5) == [(7, "b", "sent")]
    first.close()
    second.close()


def test_digest_records_covered_articles_as_had_without_numbering_them(path: Path | str) -> None:
    store = Store.open(path)
    assert store.claim_delivery(9, "2025-03-04", NOW, 60)
    store.finish_delivery(
        9, "2025-03-04", "sent", article_ids=["lead"], message_ids=[1], also_sent=["copy"]
    )
    assert store.sent_among(9, ["lead", "copy", "other"]) == {"lead", "copy"}
    assert store.digest_article_ids(9) == ["lead"]
    store.close()


def test_the_alert_mark_is_shared_and_never_moves_back(path: Path | str) -> None:
    store, other = Store.open(path), Store.open(path)
    assert store.alert_mark == 0  # no pass yet
    store.save_alert_mark(7)
    assert other.alert_mark == 7
    other.save_alert_mark(5)  # a slower process finishing an older pass
    assert store.alert_mark == 7
    other.save_alert_mark(9)
    assert store.alert_mark == 9 and store.generation == 0  # the articles' count is apart
    store.close()
    other.close()


def test_the_grouped_mark_is_shared_and_never_moves_back(path: Path | str) -> None:
    store, other = Store.open(path), Store.open(path)
    assert store.grouped_through is None  # never looked
    store.save_grouped_through("2026-12-01T10:00:00.000001+00:00")
    other.save_grouped_through("2026-12-01T09:59:59+00:00")  # an older start-up's check
    assert other.grouped_through == "2026-12-01T10:00:00.000001+00:00"
    other.save_grouped_through("2026-12-01T10:05:00+00:00")
    assert store.grouped_through == "2026-12-01T10:05:00+00:00"
    store.save_alert_mark(10)  # the alert mark compares numbers: "9" is below "10"
    store.save_alert_mark(9)
    assert store.alert_mark == 10
    store.close()
    other.close()
