"""Stories on a real SQLite file: grouping at ingest, backfill, listing, and answers spread."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.changes import stamp_now
from bot.cli import main
from bot.models import Article, StoryRow
from bot.service import NewsDesk
from bot.settings import Settings
from bot.sources import load_path
from bot.store import Store
from bot.stories import (
    SAME_EVENT,
    WINDOW,
    build_stories,
    group_articles,
    outlet,
    score,
    similarity,
    spread,
    weigh,
)

EVENTS = Path(__file__).parent / "fixtures" / "stories" / "events.jsonl"
DAM = ["dam-harbor", "dam-herald", "dam-wire"]


@pytest.fixture
def desk(tmp_path: Path) -> NewsDesk:
    opened = NewsDesk.open(Settings(db=tmp_path / "news.db"), seed=False)
    opened.ingest([EVENTS])
    return opened


def test_one_event_from_three_outlets_is_one_story(desk: NewsDesk) -> None:
    story_of = desk.store.stories_of([*DAM, "dam-inquiry", "rain-coast", "bank-rates"])
    assert story_of["dam-harbor"] == story_of["dam-herald"] == story_of["dam-wire"]
    # a follow-up with new facts four days on, and other news of the same day, stay apart
    others = {story_of["dam-inquiry"], story_of["rain-coast"], story_of["bank-rates"]}
    assert story_of["dam-harbor"] not in others
    assert len(others) == 3


def test_top_stories_rank_by_sources_and_show_the_first_headline(desk: NewsDesk) -> None:
    stories = desk.stories(since=datetime(2025, 3, 1, tzinfo=UTC))
    # the newest story first; of the 3rd, three sources outrank one source's later articles
    assert [s.article_ids[0] for s in stories] == [
        "dam-inquiry",
        "dam-harbor",
        "rain-coast",
        "bank-rates",
    ]
    top = stories[1]
    assert top.article_ids == DAM  # oldest first
    assert top.headline == "Kesselbach dam bursts, thousands flee the Lindau valley"
    assert top.sources == ["Harbor Post", "Valley Herald", "Wire Daily"]
    assert top.first_seen == datetime(2025, 3, 3, 8, tzinfo=UTC)
    scores = [s.score for s in stories]
    assert scores == sorted(scores, reverse=True)
    line = json.loads(top.json_line())
    assert set(line) == {"story_id", "headline", "article_ids", "sources", "first_seen", "score"}
    # the window: nothing before the dam burst when asked from the 4th on
    later = desk.stories(since=datetime(2025, 3, 4, tzinfo=UTC))
    assert [s.article_ids for s in later] == [["dam-inquiry"]]


def test_an_updated_article_keeps_its_story_and_a_reingest_changes_nothing(
    desk: NewsDesk, tmp_path: Path
) -> None:
    before = desk.store.stories_of(DAM)
    update = json.loads(EVENTS.read_text().splitlines()[0])
    update["headline"] = "Kesselbach dam: two missing, 4,000 evacuated (updated)"
    (tmp_path / "update.jsonl").write_text(json.dumps(update) + "\n")
    assert desk.ingest([tmp_path / "update.jsonl"]).updated == 1
    assert desk.ingest([EVENTS]).unchanged == 5
    assert desk.store.stories_of(DAM) == before


def test_a_store_from_before_stories_is_grouped_when_opened(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "news.db")
    NewsDesk.open(settings, seed=False).close()
    # articles written straight into the store, as an older newsbot did (no stories)
    store = Store.open(settings.db)
    store.upsert([a for a in load_path(EVENTS) if isinstance(a, Article)])
    assert store.ungrouped(100)
    store.close()
    desk = NewsDesk.open(settings, seed=False)
    assert desk.store.ungrouped(100) == []
    story_of = desk.store.stories_of(DAM)
    assert len(set(story_of.values())) == 1
    desk.close()


def test_a_start_up_checks_only_the_articles_written_since_the_last_check(
    tmp_path: Path,
) -> None:
    settings = Settings(db=tmp_path / "news.db")
    NewsDesk.open(settings, seed=False).close()
    store = Store.open(settings.db)
    first = store.grouped_through
    assert first is not None  # the first start-up looked at every article
    events = [a for a in load_path(EVENTS) if isinstance(a, Article)]
    store.upsert(events[:2])  # an ingest that stopped before grouping
    later = stamp_now()
    store.upsert(events[2:])
    assert {a.id for a in store.ungrouped(100)} == {a.id for a in events}
    assert {a.id for a in store.ungrouped(100, later)} == {a.id for a in events[2:]}
    store.save_grouped_through(first)  # the mark never moves back
    assert store.grouped_through == first
    store.close()
    desk = NewsDesk.open(settings, seed=False)  # written after the last check: grouped now
    assert desk.store.ungrouped(100) == []
    mark = desk.store.grouped_through
    assert mark is not None and mark > first
    desk.close()
    NewsDesk.open(settings, seed=False).close()  # nothing written since: nothing to record
    store = Store.open(settings.db)
    assert store.grouped_through == mark
    store.close()


def test_deleting_articles_drops_them_from_their_story(desk: NewsDesk) -> None:
    desk.prune(datetime(2025, 3, 3, 9, tzinfo=UTC))  # drops dam-harbor (08:00)
    top = desk.stories(since=datetime(2025, 3, 1, tzinfo=UTC))[1]
    assert top.article_ids == ["dam-herald", "dam-wire"]
    assert top.headline == "State of emergency as reservoir floods valley villages"


def test_answers_never_show_two_articles_of_one_story_in_a_row(desk: NewsDesk) -> None:
    answer = desk.ask("Kesselbach dam Lindau valley flood", as_of=datetime(2025, 3, 8, tzinfo=UTC))
    ids = [r.article_id for r in answer.results]
    story_of = desk.store.stories_of(ids)
    assert "dam-inquiry" in ids and len(set(ids) & set(DAM)) >= 2
    neighbours = list(itertools.pairwise(ids))
    same = [(a, b) for a, b in neighbours if story_of.get(a) == story_of.get(b)]
    # only the tail may repeat a story, when nothing else is left to put between
    assert all(ids.index(b) > ids.index("dam-inquiry") for _, b in same)


def test_spread_moves_as_little_as_it_can() -> None:
    story_of = {"a1": 1, "a2": 1, "a3": 1, "b1": 2, "c1": 3}
    assert spread(["a1", "a2", "b1", "a3", "c1"], story_of) == ["a1", "b1", "a2", "c1", "a3"]
    assert spread(["a1", "a2", "a3"], story_of) == ["a1", "a2", "a3"]  # nothing to interleave
    assert spread(["x", "y", "a1"], story_of) == ["x", "y", "a1"]  # no story: never moved


def test_score_counts_sources_and_halves_each_day() -> None:
    now = datetime(2025, 3, 3, 12, tzinfo=UTC)
    assert score(3, now, now) == 3.0
    assert score(3, now - timedelta(days=1), now) == pytest.approx(1.5)
    assert score(0, now, now) == 1.0  # an article without a known source is one source
    assert outlet(None, "https://www.example.org/a") == "example.org"
    assert outlet("Harbor Post", "https://x.example/") == "Harbor Post"
    assert outlet(None, None) is None


def test_build_stories_ranks_wider_coverage_first() -> None:
    at = datetime(2025, 3, 3, 12, tzinfo=UTC)
    rows = [
        StoryRow(story_id=1, article_id="x", at=at, headline="Small", source="A"),
        StoryRow(
            story_id=2,
            article_id="y",
            at=at - timedelta(hours=2),
            headline="Big",
            url="https://b.example/1",
        ),
        StoryRow(
            story_id=2, article_id="z", at=at - timedelta(hours=1), headline="Big 2", source="C"
        ),
    ]
    built = build_stories(rows)
    assert [s.story_id for s in built] == [2, 1]
    assert built[0].headline == "Big" and built[0].sources == ["b.example", "C"]


def test_newsbot_stories_lists_and_prints_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "news.db")
    assert main(["--db", db, "ingest", str(EVENTS)]) == 0
    capsys.readouterr()
    assert main(["--db", db, "stories", "--since", "2025-03-03", "--json", "--limit", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["article_ids"] for line in lines] == [["dam-inquiry"], DAM]
    assert lines[1]["sources"] == ["Harbor Post", "Valley Herald", "Wire Daily"]
    assert lines[1]["first_seen"] == "2025-03-03T08:00:00+00:00"
    assert main(["--db", db, "stories", "--since", "2025-03-03"]) == 0
    text = capsys.readouterr().out
    assert "3 sources: Harbor Post, Valley Herald, Wire Daily" in text
    with pytest.raises(SystemExit):
        main(["--db", db, "stories", "--since", "March"])
    assert "not a date" in capsys.readouterr().err


def test_stories_until_a_moment_show_them_as_they_stood(
    desk: NewsDesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at_eleven = desk.stories(
        since=datetime(2025, 3, 3, tzinfo=UTC), until=datetime(2025, 3, 3, 11, tzinfo=UTC)
    )
    # the wire copy (12:00), the 14:00 and 15:00 news and the inquiry came later
    assert [s.article_ids for s in at_eleven] == [["dam-harbor", "dam-herald"]]
    assert at_eleven[0].sources == ["Harbor Post", "Valley Herald"]

    db = str(tmp_path / "news.db")
    assert main(["--db", db, "stories", "--until", "2025-03-03", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # the end of the 3rd: the day's three stories; the inquiry of the 7th is not yet there
    assert [line["article_ids"][0] for line in lines] == ["dam-harbor", "rain-coast", "bank-rates"]
    args = ["--db", db, "stories", "--since", "2025-03-01", "--until", "2025-03-06", "--json"]
    assert main(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    with pytest.raises(SystemExit):
        main(["--db", db, "stories", "--until", "tomorrow"])
    assert "not a date" in capsys.readouterr().err


def test_grouping_chooses_what_comparing_every_article_in_turn_chooses() -> None:
    # Many near-duplicates and look-alikes in two busy days: the estimate that leaves out
    # articles far from SAME_EVENT must pick the story the exact cosine picks, ties included.
    rng = random.Random(5)
    vocabulary = [f"w{n}" for n in range(60)]
    start = datetime(2024, 3, 1, tzinfo=UTC)
    articles, signatures = [], {}
    for n in range(400):
        at = start + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        article = Article(id=f"a{n:03}", headline="x", published=at)
        articles.append(article)
        base = rng.randrange(8)  # articles of one base share many stems
        stems = vocabulary[base * 6 : base * 6 + 10] + rng.sample(vocabulary, 6)
        signatures[article.id] = {s: rng.randrange(1, 3) for s in stems}
    idf = {t: 1.0 + (int(t[1:]) % 7) / 3 for t in vocabulary}

    def lookup(terms: Iterable[str]) -> dict[str, float]:
        return {t: idf[t] for t in terms}

    placed = group_articles(
        articles, known={}, pool=[], idf=lookup, next_id=1, now=start, signatures=signatures
    )
    expected: dict[str, int] = {}
    seen: list[tuple[datetime, str, int]] = []  # the articles placed so far, oldest first
    fresh = 1
    for article in sorted(articles, key=lambda a: (a.published, a.id)):
        assert article.published is not None
        vector = weigh(signatures[article.id], idf)
        best, story = SAME_EVENT, None
        for at, other, their_story in sorted(seen, key=lambda s: s[0].timestamp() // 86_400):
            if abs(at - article.published) <= WINDOW:
                cosine = similarity(vector, weigh(signatures[other], idf))
                if cosine >= best:
                    best, story = cosine, their_story
        if story is None:
            story, fresh = fresh, fresh + 1
        expected[article.id] = story
        seen.append((article.published, article.id, story))
    assert {m.article_id: m.story_id for m in placed} == expected
    assert len(set(expected.values())) < len(articles) / 2  # many were grouped
