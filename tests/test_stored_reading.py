"""Readings made at ingest: the same as reading the article when asked, and used only then."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import reading, stored_reading
from bot.models import Article
from bot.service import IngestReport, NewsDesk
from bot.settings import Settings

SIGN_UP = "Sign up for the Harbour Herald morning briefing: weather, tides and ferry news daily."
NOW = datetime(2026, 11, 30, tzinfo=UTC)
TOPICS = ["lighthouse repairs", "fishing quotas", "bridge tolls", "sailing regatta", "dock strike"]
ASKED = "When is the vote on the bridge tolls?"
QUESTIONS = [
    "What did Iran's president do in Iraq?",
    "How many people returned from al hol",
    "Who did Pezeshkian meet in Baghdad?",
    "what happened with the dock strike?",
]


def herald(number: int, topic: str) -> Article:
    return Article(
        id=f"herald-{number}",
        headline=f"Council debates the {topic}",
        body=[
            f"The council debated the {topic} on Tuesday evening, and 12 members spoke.",
            SIGN_UP,
            f"A vote on the {topic} is expected next month, the mayor said on Wednesday.",
        ],
        published=NOW - timedelta(days=number),
        url=f"https://herald.example/news/{number}",
    )


@pytest.fixture
def desk(store_location: Path | str) -> Iterator[NewsDesk]:
    """The seeds, then Harbour Herald articles one at a time: their sign-up paragraph
    becomes boilerplate with the fifth, after the first four were stored."""
    desk = NewsDesk.open(Settings(db=store_location, store_readings=True))
    for number, topic in enumerate(TOPICS):
        desk.add_articles([herald(number, topic)], IngestReport())
    reading.clear_cache()
    yield desk
    desk.close()


def articles(desk: NewsDesk) -> list[Article]:
    return desk._stripped(list(desk.store.iter_articles()))


def test_each_article_s_stored_reading_is_its_reading_as_stripped_now(desk: NewsDesk) -> None:
    stripped = articles(desk)
    stored = desk.store.readings([article.id for article in stripped])
    assert len(stored) == len(stripped) > len(TOPICS)
    for article in stripped:
        key, encoded = stored[article.id]
        assert key == stored_reading.key(article)
        assert stored_reading.decode(encoded) == reading._reading(article)
    # The herald's sign-up form, boilerplate since the fifth, is read in none of them.
    heralds = [article for article in stripped if article.id.startswith("herald-")]
    assert all(SIGN_UP not in article.body for article in heralds)


def test_answers_from_stored_readings_are_the_answers_read_live(
    desk: NewsDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = QUESTIONS + [f"When is the vote on the {topic}?" for topic in TOPICS]
    with monkeypatch.context() as patch:

        def unread(article: Article) -> reading.Reading:
            raise AssertionError(f"{article.id} was read again")

        patch.setattr(reading, "_reading", unread)
        stored = [desk.ask(question, excerpts=1) for question in questions]
        more = [desk.complete(answer.results[1]) for answer in stored if len(answer.results) > 1]
    reading.clear_cache()
    monkeypatch.setattr(desk.store, "readings", lambda ids: {})
    live = [desk.ask(question, excerpts=1) for question in questions]
    assert stored == live
    assert more == [desk.complete(answer.results[1]) for answer in live if len(answer.results) > 1]
    assert all(answer.results and answer.results[0].excerpt for answer in stored)


def test_a_reading_of_other_text_or_code_is_not_used(desk: NewsDesk) -> None:
    article = next(a for a in articles(desk) if a.id == "herald-2")
    elsewhere = "Nothing in this sentence is like the article at all."
    other = reading._reading(article.model_copy(update={"body": [elsewhere]}))
    desk.store.save_readings([(article.id, "another key", stored_reading.encode(other))])
    shown = desk.result(article.id, ASKED)
    assert shown is not None and shown == card_read_live(desk, article.id)
    assert shown.excerpt != elsewhere
    # Under the article's key, what is stored is what is read.
    desk.store.save_readings(
        [(article.id, stored_reading.key(article), stored_reading.encode(other))]
    )
    shown = desk.result(article.id, ASKED)
    assert shown is not None and shown.excerpt == elsewhere


def card_read_live(desk: NewsDesk, article_id: str) -> object:
    reading.clear_cache()
    saved = desk.store.readings
    try:
        desk.store.readings = lambda ids: {}  # type: ignore[method-assign]
        return desk.result(article_id, ASKED)
    finally:
        desk.store.readings = saved  # type: ignore[method-assign]
        reading.clear_cache()


def test_a_deleted_article_leaves_no_reading(desk: NewsDesk) -> None:
    assert desk.store.readings(["herald-1"])
    desk.store.delete(["herald-1"])
    assert desk.store.readings(["herald-1"]) == {}


def test_results_shown_later_are_read_without_their_text_until_shown(desk: NewsDesk) -> None:
    headers = desk.store.get_many(["herald-1"], text=False)["herald-1"]
    full = desk.store.get("herald-1")
    assert full is not None and headers.body == [] and full.body
    assert headers == full.model_copy(update={"body": [], "summary": [], "subheadings": []})
    several = 0
    for question in QUESTIONS + [f"What about the {topic}?" for topic in TOPICS]:
        card = desk.ask(question, excerpts=1)
        assert [desk.complete(result) for result in card.results] == desk.ask(question).results
        several += len(card.results) > 1
    assert several >= 3


def test_without_store_readings_none_are_kept_and_the_answers_are_the_same(
    tmp_path: Path,
) -> None:
    """The default keeps no readings: cards read the article when asked, alike."""
    answers = {}
    for kept in (False, True):
        desk = NewsDesk.open(Settings(db=tmp_path / f"{kept}.db", store_readings=kept))
        for number, topic in enumerate(TOPICS):
            desk.add_articles([herald(number, topic)], IngestReport())
        ids = [article.id for article in desk.store.iter_articles()]
        assert bool(desk.store.readings(ids)) is kept
        reading.clear_cache()
        answers[kept] = [desk.ask(question) for question in [*QUESTIONS, ASKED]]
        desk.close()
    assert answers[False] == answers[True]
    assert all(answer.results for answer in answers[False])
