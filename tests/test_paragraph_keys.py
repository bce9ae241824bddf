"""The store's paragraph keys (what finds boilerplate): one row per article and paragraph,
and the boilerplate they count kept beside them, exact through updates, deletes and the
migrations that narrowed them and kept the boilerplate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import boilerplate
from bot.models import Article
from bot.store import SCHEMA_VERSION, Store
from bot.tables import schema
from bot.tables.articles import _UPSERT, _hex, _number, _row

SIGN_UP = "Sign up for the Harbour Herald morning briefing: weather, tides and ferry news daily."
PLAYER = "Video player loading. Ad feedback: was this advertisement relevant to the ferry?"
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def herald(number: int, *body: str) -> Article:
    return Article(
        id=f"herald-{number}",
        headline=f"Harbour news number {number}",
        body=[f"The council met about matter number {number} on Tuesday.", *body],
        published=NOW - timedelta(days=number),
        url=f"https://herald.example/news/{number}",
    )


@pytest.fixture
def store(store_location: Path | str) -> Iterator[Store]:
    opened = Store.open(store_location)
    yield opened
    opened.close()


def stored_rows(store: Store) -> set[tuple[str, str, str]]:
    rows = store._db.execute("SELECT source, key, article_id FROM paragraph_keys").fetchall()
    return {(row[0], _hex(row[1]), row[2]) for row in rows}


def expected_rows(articles: list[Article]) -> set[tuple[str, str, str]]:
    return {
        (boilerplate.source_of(article), key, article.id)
        for article in articles
        for key in boilerplate.paragraph_keys(article)
    }


def counted(store: Store) -> dict[str, set[str]]:
    """The boilerplate as counted from every paragraph key (what the kept table must equal)."""
    rows = store._db.execute(
        "SELECT source, key FROM paragraph_keys GROUP BY source, key HAVING COUNT(*) >= ?",
        (boilerplate.MIN_ARTICLES,),
    ).fetchall()
    result: dict[str, set[str]] = {}
    for row in rows:
        result.setdefault(row[0], set()).add(_hex(row[1]))
    return result


def test_a_key_is_a_signed_64_bit_integer_and_back() -> None:
    for key in ("0000000000000000", "7fffffffffffffff", "8000000000000000", "ffffffffffffffff"):
        assert -(1 << 63) <= _number(key) < 1 << 63
        assert _hex(_number(key)) == key
    assert _number("ffffffffffffffff") == -1


def test_updates_and_deletes_leave_exactly_the_live_articles_keys(store: Store) -> None:
    articles = [herald(n, SIGN_UP, PLAYER) for n in range(6)]
    store.upsert(articles)
    assert stored_rows(store) == expected_rows(articles)
    repeated = {boilerplate.paragraph_key(SIGN_UP), boilerplate.paragraph_key(PLAYER)}
    assert store.repeated_paragraphs(boilerplate.MIN_ARTICLES) == {"herald.example": repeated}
    assert counted(store) == {"herald.example": repeated}
    # Two articles drop the player: its paragraph is held by four, under the threshold.
    changed = [herald(n, SIGN_UP) for n in range(2)]
    counts, _ = store.upsert(changed)
    assert counts.updated == 2
    live = changed + articles[2:]
    assert stored_rows(store) == expected_rows(live)
    assert store.repeated_paragraphs(boilerplate.MIN_ARTICLES) == {
        "herald.example": {boilerplate.paragraph_key(SIGN_UP)}
    }
    assert counted(store) == store.repeated_paragraphs(boilerplate.MIN_ARTICLES)
    # Retention: a deleted article leaves no key behind, so it never counts again.
    assert store.delete(["herald-0", "herald-3", "missing"]) == 2
    gone = {"herald-0", "herald-3"}
    assert stored_rows(store) == expected_rows([a for a in live if a.id not in gone])
    assert store.repeated_paragraphs(boilerplate.MIN_ARTICLES) == {}
    assert store.repeated_paragraphs(4) == {"herald.example": {boilerplate.paragraph_key(SIGN_UP)}}
    # Back over the threshold: kept again.
    store.upsert([herald(7, SIGN_UP)])
    assert store.repeated_paragraphs(boilerplate.MIN_ARTICLES) == counted(store) != {}
    assert store.articles_holding("herald.example", repeated) == [
        "herald-1",
        "herald-2",
        "herald-4",
        "herald-5",
        "herald-7",
    ]


def test_one_upsert_holding_an_article_twice_keeps_its_last_version(store: Store) -> None:
    first, last = herald(1, SIGN_UP), herald(1, PLAYER)
    counts, _ = store.upsert([first, last, last])
    assert (counts.added, counts.updated, counts.unchanged) == (1, 1, 1)
    assert store.get("herald-1") == last
    assert stored_rows(store) == expected_rows([last])


def test_repeated_among_reads_only_the_keys_asked_about(store: Store) -> None:
    store.upsert([herald(n, SIGN_UP, PLAYER) for n in range(5)])
    sign_up, player = boilerplate.paragraph_key(SIGN_UP), boilerplate.paragraph_key(PLAYER)
    once = boilerplate.paragraph_key(herald(0).body[0])
    asked = {"herald.example": {sign_up, once}, "gazette.example": {player}}
    assert store.repeated_among(boilerplate.MIN_ARTICLES, asked) == {"herald.example": {sign_up}}
    assert store.repeated_among(4, {"herald.example": {player}}) == {"herald.example": {player}}
    assert store.repeated_among(6, {"herald.example": {sign_up, player}}) == {}


def test_the_narrowing_migration_keeps_every_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before the keys were integers opens with the same counts."""
    articles = [herald(n, SIGN_UP, PLAYER, f"Closing note {n % 2}.") for n in range(7)]
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 13)
    old = Store.open(tmp_path / "news.db")
    with old.transaction() as db:
        for article in articles:
            db.execute(_UPSERT, _row(article, "old", "2026-11-30T00:00:00+00:00"))
            schema._write_paragraphs(db, article)
    assert old.schema_version == 13
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path / "news.db")
    assert store.schema_version == SCHEMA_VERSION and store.migrated_from == 13
    tables = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master")}
    assert "paragraphs" not in tables
    assert stored_rows(store) == expected_rows(articles)
    assert store.repeated_paragraphs(boilerplate.MIN_ARTICLES) == boilerplate.repeated(articles)
    assert counted(store) == boilerplate.repeated(articles)
    store.close()
