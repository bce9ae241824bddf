"""Followed topics and alerts on a real SQLite file, with an injected clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from bot.follows import TopicError, in_quiet_hours
from bot.service import NewsDesk
from bot.settings import AlertSettings, Settings

EVENTS = Path(__file__).parent / "fixtures" / "stories" / "events.jsonl"
BACKGROUND = EVENTS.with_name("background.jsonl")
FOLLOWED = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
AFTERNOON = datetime(2025, 3, 3, 16, 0, tzinfo=UTC)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[NewsDesk]:
    desk = NewsDesk.open(Settings(db=tmp_path / "news.db", timezone="UTC"), seed=False)
    desk.ingest([EVENTS, BACKGROUND])  # other news, so a word's rarity means something
    yield desk
    desk.close()


def test_follow_unfollow_and_list(desk: NewsDesk) -> None:
    follows = desk.follows
    follows.follow(1, "  Kesselbach   dam ", now=FOLLOWED)
    follows.follow(1, "interest rates", alert=True, now=FOLLOWED)
    assert [(f.topic, f.alert) for f in follows.following(1)] == [
        ("Kesselbach dam", False),
        ("interest rates", True),
    ]
    again = follows.follow(1, "KESSELBACH DAM", alert=True, now=AFTERNOON)  # same topic
    assert again.alert and again.since == FOLLOWED
    assert len(follows.following(1)) == 2
    assert follows.following(2) == []
    assert follows.unfollow(1, "kesselbach dam")
    assert not follows.unfollow(1, "kesselbach dam")
    assert [f.topic for f in follows.following(1)] == ["interest rates"]


def test_a_huge_topic_and_too_many_topics_are_refused_and_change_nothing(desk: NewsDesk) -> None:
    follows = desk.follows
    follows.follow(3, "Kesselbach dam", now=FOLLOWED)
    with pytest.raises(TopicError) as long:
        follows.follow(3, "dam " * 500, now=FOLLOWED)  # 2,000 characters
    assert long.value.kind == "long" and long.value.limit == 100
    with pytest.raises(TopicError) as empty:
        follows.follow(3, " \n ", now=FOLLOWED)
    assert empty.value.kind == "empty"
    refused = 0
    for n in range(500):
        try:
            follows.follow(3, f"topic number {n}", now=FOLLOWED)
        except TopicError as exc:
            assert exc.kind == "many" and exc.limit == 50
            refused += 1
    assert refused == 500 - 49  # 50 in all, the first one included
    topics = [f.topic for f in follows.following(3)]
    assert len(topics) == 50 and topics[0] == "Kesselbach dam"
    follows.follow(3, "Kesselbach dam", alert=True, now=FOLLOWED)  # a known one may change


def test_matching_is_the_retrievals_confidence_not_a_substring(desk: NewsDesk) -> None:
    story_of = desk.store.stories_of(["dam-harbor", "bank-rates", "rain-coast"])
    desk.follows.follow(4, "central bank interest rates", now=FOLLOWED)
    desk.follows.follow(4, "rat", now=FOLLOWED)  # a substring of "rates" but no match
    topics = desk.follows.story_topics(4, set(story_of.values()))
    assert topics == {story_of["bank-rates"]: "central bank interest rates"}
    digest = desk.digests.compose(4, date(2025, 3, 8))
    assert digest.items[0].article_id == "bank-rates"
    assert digest.items[0].topic == "central bank interest rates"
    assert all(item.topic is None for item in digest.items[1:])


def test_quiet_hours_span_midnight() -> None:
    quiet = AlertSettings().quiet_hours
    assert quiet == "22:00-07:00"
    assert in_quiet_hours(time(23, 30), quiet) and in_quiet_hours(time(6, 59), quiet)
    assert not in_quiet_hours(time(7, 0), quiet) and not in_quiet_hours(time(21, 59), quiet)
    assert in_quiet_hours(time(13, 0), "12:00-14:00")
    assert not in_quiet_hours(time(13, 0), "00:00-00:00")


def test_alerts_once_per_story_within_the_daily_cap_and_never_at_night(
    desk: NewsDesk, tmp_path: Path
) -> None:
    follows = desk.follows
    follows.follow(5, "Kesselbach dam Lindau valley", alert=True, now=FOLLOWED)
    follows.follow(6, "Kesselbach dam Lindau valley", now=FOLLOWED)  # no alerts asked
    assert follows.due_alerts(datetime(2025, 3, 3, 23, 0, tzinfo=UTC)) == []  # quiet hours
    due = follows.due_alerts(AFTERNOON)
    assert [a.chat_id for a in due] == [5]
    (alert,) = due
    assert alert.article_id == "dam-harbor" and alert.also_in == ["Valley Herald", "Wire Daily"]
    assert follows.claim(alert, AFTERNOON)
    assert not follows.claim(alert, AFTERNOON)  # a second sender gets nothing
    assert follows.due_alerts(AFTERNOON) == []  # being sent: not offered again
    follows.sent(alert)
    assert follows.due_alerts(AFTERNOON) == []
    assert desk.store.alert_states(5) == [(alert.story_id, "dam-harbor", "sent")]
    # five new matching stories the same day: the cap (3) is reached after two more
    lines = []
    for n in range(5):
        lines.append(
            json.dumps(
                {
                    "id": f"dam-extra-{n}",
                    "source": "Harbor Post",
                    "published": f"2025-03-03T{10 + n}:00:00+00:00",
                    "headline": f"Kesselbach dam Lindau valley: separate item number {n}",
                    "body": f"Item {n} about the Kesselbach dam and the Lindau valley: "
                    + " ".join(f"fact{n}x{k}" for k in range(40)),
                }
            )
        )
    (tmp_path / "extra.jsonl").write_text("\n".join(lines) + "\n")
    desk.ingest([tmp_path / "extra.jsonl"])
    later = follows.due_alerts(AFTERNOON)
    assert len(later) == 2
    for extra in later:
        assert follows.claim(extra, AFTERNOON)
        follows.sent(extra)
    assert follows.due_alerts(AFTERNOON) == []  # 3 today
    # the next morning the cap starts again: the three left, still fresh, are due
    next_morning = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    assert len(follows.due_alerts(next_morning)) == 3
    assert follows.due_alerts(datetime(2025, 3, 5, 8, 0, tzinfo=UTC)) == []  # old news by then
