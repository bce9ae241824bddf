"""Ranking in a live stream: one order whatever the limit, relevance first, recency second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.models import Article
from bot.retrieval import FADE_DAYS, Retriever, freshness_bonus
from bot.service import IngestReport, NewsDesk
from bot.settings import Settings
from tests.test_retrieval import seed_articles

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def article(article_id: str, headline: str, body: str, age_days: float) -> Article:
    return Article(id=article_id, headline=headline, body=[body], published=NOW - age_days * DAY)


# Fresh articles that share a word or two with the seed questions without answering them, and
# older look-alikes: the mix a bot fed by live feeds holds beside the seeds.
STREAM = [
    article("oil", "Iraq oil exports rise", "Iraq exported more crude oil in November.", 0.1),
    article("vote", "Iraq parliament votes", "Lawmakers in Baghdad voted on a new budget.", 0.3),
    article("gaza", "Talks on Gaza resume", "Envoys met in Cairo to discuss a ceasefire.", 0.5),
    article(
        "army",
        "What makes armies lose the will to fight",
        "Many Iraqi soldiers did not want to fight in 1991. Iraq's army collapsed in days; "
        "Iraqi troops surrendered by the thousand as the war in Iraq ended.",
        900,
    ),
    article("storm", "Storm hits the coast", "A storm flooded the coast road on Monday.", 2),
    article("storm-old", "Storm hits the coast", "A storm flooded the coast road on Monday.", 20),
]


@pytest.fixture(scope="module")
def stream() -> Retriever:
    retriever = Retriever()
    retriever.add([*seed_articles(), *STREAM])
    return retriever


@pytest.mark.parametrize(
    "question",
    ["How many US troops are in Iraq?", "Iraq", "storm coast", "What happened in Baghdad?"],
)
def test_first_results_do_not_depend_on_how_many_are_asked(
    stream: Retriever, question: str
) -> None:
    longest = [hit.article_id for hit in stream.search(question, as_of=NOW, limit=20).hits]
    assert len(longest) >= 2
    for limit in range(1, len(longest) + 1):
        shorter = stream.search(question, as_of=NOW, limit=limit).hits
        assert [hit.article_id for hit in shorter] == longest[:limit]


def test_an_old_article_that_answers_beats_fresh_ones_sharing_a_word(stream: Retriever) -> None:
    search = stream.search("How many US troops are in Iraq?", as_of=NOW)
    assert search.found
    assert search.hits[0].article_id == "ae91ece1ca3ce3673d67"  # the 2024 Iran visit


def test_freshness_orders_near_ties(stream: Retriever) -> None:
    ranked = [hit.article_id for hit in stream.search("storm coast road", as_of=NOW).hits]
    assert ranked.index("storm") < ranked.index("storm-old")


def test_recency_bonus_is_bounded_and_fades() -> None:
    days = np.array([0.0, 1.0, 7.0, FADE_DAYS, FADE_DAYS + 1, 400.0, 4000.0, np.nan])
    bonus = freshness_bonus(days)
    assert bonus[0] > bonus[1] > bonus[2] > 0
    assert bonus[0] < 30  # bounded: a few BM25 points, not an ever-growing penalty
    assert list(bonus[3:]) == [0.0] * 5  # past FADE_DAYS (and undated): no further cost


def test_a_much_weaker_fresh_match_is_not_lifted_over_a_stronger_old_one() -> None:
    strong = article(
        "strong",
        "Stromboli volcano erupts, lava reaches the sea",
        "The Stromboli volcano erupted and lava from Stromboli reached the sea near the "
        "village, the volcano observatory said.",
        400,
    )
    weak = article("weak", "Weather today", "Sunny, with a small chance of lava jokes.", 0)
    retriever = Retriever()
    retriever.add([strong, weak])
    ranked = retriever.search("Stromboli volcano lava", as_of=NOW).hits
    assert [hit.article_id for hit in ranked] == ["strong", "weak"]


def test_the_desk_shows_the_same_first_results_whatever_top(tmp_path: Path) -> None:
    desk = NewsDesk.open(Settings(db=tmp_path / "news.db"), seed=False)
    try:
        desk.add_articles([*seed_articles(), *STREAM], IngestReport())
        for question in ["Iraq", "What happened in Baghdad?", "storm coast road"]:
            longest = [r.article_id for r in desk.ask(question, as_of=NOW, top=20).results]
            assert longest
            for top in range(1, len(longest) + 1):
                shown = [r.article_id for r in desk.ask(question, as_of=NOW, top=top).results]
                assert shown == longest[:top]
    finally:
        desk.close()


def _paragraphs(*topics: str) -> list[str]:
    """One passage-sized paragraph (40+ words) per topic."""
    filler = "Officials gave more details on {0} during a briefing, and residents described {0}. "
    return [(filler.format(topic) * 4).strip() for topic in topics]


def test_an_item_of_a_roundup_ranks_below_the_report_of_the_event() -> None:
    report = Article(
        id="report",
        headline="Volcano erupts in southern Japan",
        body=[
            "Sakurajima erupted on Sunday and the agency raised its alert to level 5. " * 4,
            # A report comes back to its subject throughout.
            *_paragraphs("the level 5 alert the volcano raised", "the ash the eruption spread"),
        ],
        published=NOW - 2 * DAY,
    )
    roundup = Article(
        id="roundup",
        headline="Five things to know for Monday",
        body=[
            *_paragraphs("wildfires in the west", "talks on grain exports", "a heat wave"),
            "Sakurajima erupted on Sunday, raising the volcano alert to level 5 in Japan. " * 4,
            *_paragraphs("a baseball record", "a new phone"),
        ],
        published=NOW - DAY,  # fresher, and its item holds every word of the question
    )
    retriever = Retriever()
    retriever.add([report, roundup])
    question = "Which country's volcano erupted, raising the alert to level 5?"
    hits = retriever.search(question, as_of=NOW).hits
    assert [hit.article_id for hit in hits] == ["report", "roundup"]
