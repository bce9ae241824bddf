"""Each table family of the store (chats, cards, feedback, feeds), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import Card, FeedSource, FeedStatus, Follow, Subscription
from bot.store import SCHEMA_VERSION, Store
from tests.test_store import make_article

NOW = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
BIG = -1_002_345_678_901  # a supergroup id: more than 32 bits


@pytest.fixture
def store(store_location: Path | str) -> Iterator[Store]:
    opened = Store.open(store_location)
    yield opened
    opened.close()


def card(card_id: str, chat_id: int = BIG, asked_at: datetime = NOW, **changes: object) -> Card:
    fields: dict[str, object] = {
        "id": card_id,
        "chat_id": chat_id,
        "kind": "answer",
        "question": "what about the dam? «سد»",
        "topic": "dam",
        "asked_at": asked_at,
    }
    fields.update(changes)
    return Card.model_validate(fields)


def test_cards_round_trip_and_the_latest_is_the_last_saved_on_a_tie(store: Store) -> None:
    store.save_card(card("c1"))
    store.save_card(card("c2"))  # asked at the same instant: insertion order decides
    assert store.card("c1") == card("c1")
    assert store.latest_card(BIG) == card("c2")
    store.set_card_message("c1", 2**31 + 5)
    assert store.card_by_message(BIG, 2**31 + 5) == card("c1", message_id=2**31 + 5)
    store.set_card_shown("c1", 3)
    shown = store.card("c1")
    assert shown is not None and shown.shown == 3 and shown.question == card("c1").question
    store.set_card_shown("nope", 1)  # an unknown card: nothing to do
    store.save_card(card("old", asked_at=NOW - timedelta(days=40)))
    assert store.delete_cards_before(NOW - timedelta(days=30)) == 1
    assert store.card("old") is None and store.card("c2") is not None


def test_feedback_keeps_every_verdict_in_order(store: Store) -> None:
    store.add_feedback(BIG, "dam?", "a1", True, card_id="c1", rank=0)
    store.add_feedback(7, "وفي سوريا؟", "a2", False)
    assert store.feedback_counts() == (1, 1)
    verdicts = store.feedback()
    assert [(v["chat_id"], v["question"], v["helpful"], v["rank"]) for v in verdicts] == [
        (BIG, "dam?", True, 0),
        (7, "وفي سوريا؟", False, None),
    ]
    assert verdicts[0]["card_id"] == "c1" and verdicts[1]["card_id"] is None


def test_feed_status_is_replaced_whole(store: Store) -> None:
    first = FeedStatus(url="https://x.test/rss", name="X", etag='"e1"', items=3, added=3)
    store.save_feed_status(first)
    failed = FeedStatus(url="https://x.test/rss", last_error="HTTP 500", last_error_at=NOW, items=3)
    store.save_feed_status(failed)
    assert store.feed_status("https://x.test/rss") == failed
    assert store.feed_statuses() == [failed]
    assert store.feed_status("https://y.test/rss") is None


def test_feed_sources_links_and_removal_with_purge(store: Store) -> None:
    source = FeedSource(url="https://x.test/rss", name="X", full_text=True, added_at=NOW)
    assert store.add_feed_source(source)
    assert not store.add_feed_source(source.model_copy(update={"name": "Y"}))
    assert [(s.url, s.name, s.full_text) for s in store.feed_sources()] == [
        ("https://x.test/rss", "X", True)
    ]
    store.upsert([make_article(1), make_article(2)])
    store.link_feed_articles("https://x.test/rss", ["a1", "a2"])
    store.link_feed_articles("https://x.test/rss", ["a1"])  # again: no duplicate
    store.link_feed_articles("https://other.test/rss", ["a2"])
    assert store.feed_article_ids("https://x.test/rss") == (["a1"], ["a2"])
    generation = store.generation
    assert store.remove_feed_source("https://x.test/rss", purge=["a1"]) == 1
    assert store.feed_sources() == [] and store.get("a1") is None and store.get("a2")
    assert store.generation == generation + 1
    assert store.feed_article_ids("https://other.test/rss") == (["a2"], [])


def test_subscriptions_and_languages(store: Store) -> None:
    store.save_subscription(Subscription(chat_id=BIG, at="07:30", timezone="Asia/Dubai"))
    store.save_subscription(Subscription(chat_id=BIG, at="08:00", timezone="UTC"))
    store.save_subscription(Subscription(chat_id=5, at="09:00", timezone="UTC", active=False))
    saved = store.subscription(BIG)
    assert saved is not None and (saved.at, saved.timezone) == ("08:00", "UTC")
    assert [s.chat_id for s in store.active_subscriptions()] == [BIG]
    assert store.chat_language(BIG) is None
    store.save_chat_language(BIG, "ar", chosen=False)
    store.save_chat_language(BIG, "en", chosen=True)
    assert store.chat_language(BIG) == ("en", True)
    store.save_chat_language(BIG, None, chosen=False)
    assert store.chat_language(BIG) is None


def test_moving_a_chat_onto_one_with_history_keeps_the_moved_rows(store: Store) -> None:
    day = "2026-11-28"
    for chat in (-1, BIG):  # the new id already has some rows of its own
        store.save_subscription(Subscription(chat_id=chat, at=f"0{-chat % 7}:00", timezone="UTC"))
        store.save_chat_language(chat, "ar" if chat == -1 else "en", chosen=True)
        assert store.claim_delivery(chat, day, NOW, 30)
        store.save_follow(Follow(chat_id=chat, topic="dam", since=NOW), "dam", limit=5)
    store.finish_delivery(-1, day, "sent", article_ids=["a1"], message_ids=[9])
    store.save_card(card("c-old", chat_id=-1))
    store.move_chat(-1, BIG)
    assert store.subscription(-1) is None and store.chat_language(-1) is None
    moved = store.subscription(BIG)
    assert moved is not None and moved.at == "01:00"
    assert store.chat_language(BIG) == ("ar", True)
    assert store.deliveries() == [(BIG, day, "sent")]
    assert store.digest_article_ids(BIG) == ["a1"]
    assert [f.chat_id for f in store.follows()] == [BIG]
    assert store.latest_card(BIG) == card("c-old", chat_id=BIG)


def test_claims_race_between_two_connections_exactly_once(store_location: Path | str) -> None:
    """Two processes' connections claim the same 300 digests and 300 alerts at once."""
    stores = [Store.open(store_location), Store.open(store_location)]
    won: list[list[tuple[str, int]]] = [[], []]
    start = threading.Barrier(2)

    def claim(n: int) -> None:
        start.wait()
        for chat in range(300):
            if stores[n].claim_delivery(chat, "2026-11-28", NOW, 60):
                won[n].append(("digest", chat))
            if stores[n].claim_alert(chat, 1, "a1", "2026-11-28", NOW, 60):
                won[n].append(("alert", chat))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claims = won[0] + won[1]
    assert len(claims) == len(set(claims)) == 600  # each claimed, none twice
    assert len(stores[0].deliveries()) == 300
    for opened in stores:
        opened.close()


def test_a_failed_migration_is_rolled_back_whole(
    store_location: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.tables import schema

    Store.open(store_location).close()
    broken = (
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY);"
        " INSERT INTO half_done (id) VALUES (1);"
        " INSERT INTO no_such_table (id) VALUES (1)"
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"migration to schema version {SCHEMA_VERSION + 1}"):
        Store.open(store_location)
    monkeypatch.undo()
    store = Store.open(store_location)  # as it was: the table is not there, the version is
    assert store.schema_version == SCHEMA_VERSION
    with pytest.raises(Exception, match="half_done"), store.transaction() as db:
        db.execute("SELECT * FROM half_done")
    store.close()


def test_a_nul_in_an_article_does_not_fail_its_write(store: Store) -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite's can): it is stored as U+FFFD there."""
    store.upsert([make_article(1, headline="Dam\x00 breaks", source="Gulf\x00News")])
    stored = store.get("a1")
    assert stored is not None
    expected = "Dam\x00 breaks" if store.dialect == "sqlite" else "Dam\ufffd breaks"
    assert stored.headline == expected
    store.add_feedback(1, "what\x00?", "a1", True)
    assert store.feedback()[0]["question"].startswith("what")
