"""Boilerplate: a paragraph many articles of one source repeat is neither indexed nor shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import boilerplate
from bot.models import Article
from bot.search_engine import EngineName
from bot.service import IngestReport, NewsDesk
from bot.settings import Settings
from bot.store import Store

SIGN_UP = "Sign up for the Harbour Herald morning briefing: weather, tides and ferry news daily."
PLAYER = "Video player loading. Ad feedback: was this advertisement relevant to the ferry?"
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def herald(number: int, body: list[str], headline: str | None = None) -> Article:
    return Article(
        id=f"herald-{number}",
        headline=headline or f"Harbour news number {number}",
        body=body,
        published=NOW - timedelta(days=number),
        url=f"https://herald.example/news/{number}",
    )


TOPICS = ["lighthouse repairs", "fishing quotas", "bridge tolls", "sailing regatta", "dock strike"]
STORIES = [
    herald(n, [f"The council debated the {topic} on Tuesday evening.", SIGN_UP, PLAYER])
    for n, topic in enumerate(TOPICS)
]
# Nothing but boilerplate in its body: found by its headline alone.
EMPTY = herald(9, [SIGN_UP, PLAYER], headline="Ferry timetable changes for the winter season")
# Another site may say the same once: it is not that site's boilerplate.
OTHER = Article(
    id="gazette-1",
    headline="Gazette launches a briefing",
    body=[SIGN_UP, "The gazette now sends a morning briefing about the harbour."],
    url="https://gazette.example/1",
)


def desk(tmp_path: Path) -> NewsDesk:
    return NewsDesk.open(Settings(db=tmp_path / "news.db"), seed=False)


def test_keys_ignore_case_and_spacing_and_strip_keeps_the_rest() -> None:
    assert boilerplate.paragraph_key("Follow  us") == boilerplate.paragraph_key("follow us")
    article = STORIES[0]
    stripped = boilerplate.strip(article, {boilerplate.paragraph_key(SIGN_UP)})
    assert stripped.body == [article.body[0], PLAYER]
    assert boilerplate.source_of(article) == "herald.example"


def test_keys_computed_once_strip_the_same_and_blank_paragraphs_have_none() -> None:
    article = STORIES[0].model_copy(update={"body": [*STORIES[0].body, "  "]})
    keys = boilerplate.body_keys(article)
    assert len(keys) == len(article.body) and keys[-1] is None
    assert set(keys) - {None} == boilerplate.paragraph_keys(article)
    repeated = {boilerplate.paragraph_key(SIGN_UP)}
    assert boilerplate.strip(article, repeated, keys) == boilerplate.strip(article, repeated)
    assert boilerplate.strip(article, repeated, keys).body[-1] == "  "


def test_repeated_paragraphs_are_not_indexed_nor_shown(tmp_path: Path) -> None:
    news = desk(tmp_path)
    # One at a time, as a feed delivers them: the first ones were indexed before their
    # paragraphs were known to repeat, and are indexed again once they are.
    for article in [*STORIES, EMPTY, OTHER]:
        add(news, article)
    answer = news.ask("morning briefing tides ferry", as_of=NOW)
    assert answer.found and answer.results[0].article_id == "gazette-1"  # its own paragraph
    herald = [result for result in answer.results if result.article_id.startswith("herald-")]
    assert all(result.score < answer.results[0].score for result in herald)
    for result in herald:
        assert "Sign up" not in result.excerpt and "Ad feedback" not in result.excerpt
    news.close()


def test_an_article_of_boilerplate_only_is_found_by_its_headline(tmp_path: Path) -> None:
    news = desk(tmp_path)
    for article in [*STORIES, EMPTY]:
        add(news, article)
    answer = news.ask("ferry timetable winter", as_of=NOW)
    assert answer.found and answer.results[0].article_id == "herald-9"
    assert "Sign up" not in answer.results[0].excerpt
    news.close()


def test_the_store_counts_paragraphs_per_source(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "news.db")
    store.upsert([*STORIES, OTHER])
    repeated = store.repeated_paragraphs(boilerplate.MIN_ARTICLES)
    keys = {boilerplate.paragraph_key(SIGN_UP), boilerplate.paragraph_key(PLAYER)}
    assert repeated == {"herald.example": keys}
    assert store.articles_holding("gazette.example", keys) == ["gazette-1"]
    store.delete(["herald-0"])
    assert store.repeated_paragraphs(boilerplate.MIN_ARTICLES) == {}
    store.close()


def add(news: NewsDesk, article: Article) -> None:
    news.add_articles([article], IngestReport())


@pytest.mark.parametrize("engine", ["own", "tantivy"])
def test_a_bulk_ingest_leaves_no_boilerplate_in_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: EngineName
) -> None:
    # Batches of two: the first articles are stored before their paragraphs are known to
    # repeat, and the ingest indexes them again before it ends.
    monkeypatch.setattr("bot.service.INGEST_BATCH", 2)
    lines = [
        json.dumps(
            {
                "id": article.id,
                "headline": article.headline,
                "body": "\n\n".join(article.body),
                "url": article.url,
                "published": article.published.isoformat() if article.published else None,
            }
        )
        for article in [*STORIES, EMPTY, OTHER]
    ]
    (tmp_path / "news.jsonl").write_text("\n".join(lines) + "\n")
    news = NewsDesk.open(Settings(db=tmp_path / "news.db", search_engine=engine), seed=False)
    assert news.ingest([tmp_path / "news.jsonl"]).added == len(lines)
    hits = news.retriever.search("advertisement relevant sign up", as_of=NOW).hits
    assert [hit.article_id for hit in hits] == ["gazette-1"]
    news.close()
