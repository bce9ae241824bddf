"""DigestDesk on a real store, with an injected clock: what is due, missed, composed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.schedule import ScheduleError
from bot.service import NewsDesk
from bot.settings import Settings

MORNING = datetime(2024, 9, 11, 8, 0, tzinfo=UTC)
AFTERNOON = datetime(2024, 9, 11, 14, 30, tzinfo=UTC)  # 08:00 + 6.5 h: past the grace window


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[NewsDesk]:
    desk = NewsDesk.open(Settings(db=tmp_path / "news.db", timezone="Asia/Baghdad"))
    yield desk
    desk.close()


def test_subscribe_defaults_and_keeps_the_chat_timezone(desk: NewsDesk) -> None:
    first = desk.digests.subscribe(1)
    assert (first.at, first.timezone) == ("08:00", "Asia/Baghdad")
    moved = desk.digests.subscribe(1, "06:00", "Europe/London")
    assert (moved.at, moved.timezone) == ("06:00", "Europe/London")
    later = desk.digests.subscribe(1, "18:00")
    assert (later.at, later.timezone) == ("18:00", "Europe/London")
    with pytest.raises(ScheduleError):
        desk.digests.subscribe(1, "25:99")
    with pytest.raises(ScheduleError):
        desk.digests.subscribe(1, "07:00", "Mars/Olympus")
    assert desk.digests.unsubscribe(1)
    assert not desk.digests.unsubscribe(1)
    assert desk.digests.active() == []


def test_a_digest_missed_while_down_is_skipped_but_not_one_before_subscribing(
    desk: NewsDesk,
) -> None:
    old = desk.digests.subscribe(1, "08:00", "UTC", now=datetime(2024, 9, 1, tzinfo=UTC))
    new = desk.digests.subscribe(2, "08:00", "UTC", now=datetime(2024, 9, 11, 12, tzinfo=UTC))
    assert desk.digests.skip_missed(old, AFTERNOON) is not None
    assert desk.digests.skip_missed(new, AFTERNOON) is None
    assert desk.digests.deliveries() == [(1, "2024-09-11", "skipped")]


def test_due_claim_compose_and_record_once(desk: NewsDesk) -> None:
    subscription = desk.digests.subscribe(7, "08:00", "UTC", now=datetime(2024, 9, 1, tzinfo=UTC))
    due = desk.digests.due(subscription, MORNING)
    assert due is not None and due.day == date(2024, 9, 11)
    assert desk.digests.claim(7, due.day, MORNING)
    digest = desk.digests.compose(7, due.day)
    assert [item.number for item in digest.items] == [1, 2]  # the two seed articles
    desk.digests.delivered(digest, [100])
    assert desk.digests.due(subscription, MORNING) is None
    assert not desk.digests.claim(7, due.day, MORNING)
    # Nothing is new tomorrow: the seed stories were sent.
    assert desk.digests.compose(7, date(2024, 9, 12)).items == []


def test_ask_with_a_story_number_and_without_a_digest(desk: NewsDesk) -> None:
    # No digest yet: "3,000" is part of the question, not story 3.
    answer = desk.digests.ask(5, "Iraqis still remain in Al-Hol", number=3)
    assert answer.question == "3 Iraqis still remain in Al-Hol"
    assert answer.found
    subscription = desk.digests.subscribe(5, "08:00", "UTC", now=datetime(2024, 9, 1, tzinfo=UTC))
    due = desk.digests.due(subscription, MORNING)
    assert due is not None and desk.digests.claim(5, due.day, MORNING)
    digest = desk.digests.compose(5, due.day)
    desk.digests.delivered(digest, [41])
    second = digest.items[1]
    story = desk.digests.ask(5, "what happened?", number=2)
    assert story.found and story.results[0].article_id == second.article_id
    replied = desk.digests.ask(5, "How many US troops are in Iraq?", message_id=41)
    assert replied.found and replied.results[0].article_id in digest.article_ids
