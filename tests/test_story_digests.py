"""Digests of stories on a real store: each story once with "also in", updates, no repeats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.service import NewsDesk
from bot.settings import Settings
from bot.tg import render

EVENTS = Path(__file__).parent / "fixtures" / "stories" / "events.jsonl"
DAY = date(2025, 3, 8)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[NewsDesk]:
    desk = NewsDesk.open(Settings(db=tmp_path / "news.db"), seed=False)
    desk.ingest([EVENTS])
    yield desk
    desk.close()


def add(desk: NewsDesk, tmp_path: Path, **article: object) -> None:
    path = tmp_path / f"{article['id']}.jsonl"
    path.write_text(json.dumps(article) + "\n")
    assert desk.ingest([path]).added == 1


def test_a_story_from_three_outlets_is_listed_once_with_also_in(desk: NewsDesk) -> None:
    digest = desk.digests.compose(7, DAY)
    headlines = [item.headline for item in digest.items]
    assert len(headlines) == 4  # inquiry, dam (3 articles), rain, bank
    dam = next(item for item in digest.items if item.article_id == "dam-harbor")
    assert dam.also_in == ["Valley Herald", "Wire Daily"]
    assert not dam.update
    assert set(digest.covered) >= {"dam-harbor", "dam-herald", "dam-wire"}
    html = render.digest(digest).html
    assert html.count("Lindau valley") >= 1
    assert "also in: Valley Herald, Wire Daily" in html
    assert "State of emergency as reservoir floods" not in html  # the other versions


def test_a_sent_story_returns_only_as_an_update_with_a_new_headline(
    desk: NewsDesk, tmp_path: Path
) -> None:
    first = desk.digests.compose(7, DAY)
    desk.digests.delivered(first, [10])
    assert desk.digests.compose(7, date(2025, 3, 9)).items == []
    # another outlet's copy under a headline already sent: not news to this chat
    add(
        desk,
        tmp_path,
        id="dam-copy",
        source="Metro Times",
        published="2025-03-03T16:00:00+00:00",
        headline="Kesselbach dam bursts, thousands flee the Lindau valley",
        body="The Kesselbach dam burst before dawn on Monday, sending a wall of water down the "
        "Lindau valley and forcing about 4,000 residents from their homes, officials said.",
    )
    story_of = desk.store.stories_of(["dam-copy", "dam-harbor"])
    assert story_of["dam-copy"] == story_of["dam-harbor"]
    assert desk.digests.compose(7, date(2025, 3, 9)).items == []
    # a newer article with a new headline: the story comes back, marked as an update
    add(
        desk,
        tmp_path,
        id="dam-missing-found",
        source="Valley Herald",
        published="2025-03-03T20:00:00+00:00",
        headline="Two missing Lindau residents found alive as dam waters recede",
        body="Some 4,000 people left their homes in the Lindau valley on Monday after the "
        "Kesselbach dam gave way in the early hours, releasing the swollen reservoir onto the "
        "villages below. Governor Marta Keller declared a state of emergency. Rescue crews in "
        "boats found the two missing residents of Unterlindau alive on Monday evening.",
    )
    update = desk.digests.compose(7, date(2025, 3, 9))
    assert [item.article_id for item in update.items] == ["dam-missing-found"]
    assert update.items[0].update
    assert "Harbor Post" in update.items[0].also_in
    assert "<i>update</i> · " in render.digest(update).html
    desk.digests.delivered(update, [11])
    assert desk.digests.compose(7, date(2025, 3, 10)).items == []
    # another chat has had nothing: it gets the whole story once, by its first headline
    fresh = desk.digests.compose(8, DAY)
    assert sum(1 for item in fresh.items if item.story_id == update.items[0].story_id) == 1


def test_followed_topics_come_first_marked(desk: NewsDesk) -> None:
    rates = desk.store.stories_of(["bank-rates"])["bank-rates"]
    digest = desk.digests.compose(7, DAY, topics={rates: "interest rates"})
    assert digest.items[0].article_id == "bank-rates"
    assert digest.items[0].topic == "interest rates"
    assert "<b>interest rates</b> · " in render.digest(digest).html
