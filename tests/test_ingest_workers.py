"""A bulk ingest that reads its articles' text in worker processes ends the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import analysis
from bot.search_engine import EngineName
from bot.service import NewsDesk
from bot.settings import Settings

NOW = datetime(2026, 11, 30, tzinfo=UTC)
SIGN_UP = "Sign up for the Harbour Herald morning briefing: weather, tides and ferry news."
TOPICS = ["lighthouse repairs", "fishing quotas", "bridge tolls", "sailing regatta", "dock strike"]


def lines() -> list[str]:
    found = []
    for n in range(24):
        topic = TOPICS[n % len(TOPICS)]
        site = "herald" if n % 3 else "gazette"
        body = [f"The council debated the {topic} on Tuesday, said Mayor Ana O'Neill ({n})."]
        body += [SIGN_UP] if site == "herald" else []  # becomes the herald's boilerplate
        body += [f"About 1,{n:03d} residents of the U.S. town wrote to the {topic} panel."]
        found.append(
            json.dumps(
                {
                    "id": f"{site}-{n}",
                    "headline": f"Debate on {topic} goes on, day {n}",
                    "body": "\n\n".join(body),
                    "url": f"https://{site}.example/{n}",
                    "published": (NOW - timedelta(days=n % 4)).isoformat(),
                }
            )
        )
    return found


def ingest(tmp_path: Path, engine: EngineName, processes: int) -> NewsDesk:
    folder = tmp_path / f"{engine}-{processes}"
    folder.mkdir()
    (folder / "news.jsonl").write_text("\n".join(lines()) + "\n")
    settings = Settings(db=folder / "news.db", search_engine=engine, ingest_processes=processes)
    news = NewsDesk.open(settings, seed=False)
    assert news.ingest([folder / "news.jsonl"]).added == 24
    return news


@pytest.mark.parametrize("engine", ["own", "tantivy"])
def test_reading_in_worker_processes_gives_the_same_index_and_stories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: EngineName
) -> None:
    # Batches of four, each read ahead: boilerplate is learned while later batches are
    # already read, and the first articles are indexed again before the ingest ends.
    monkeypatch.setattr("bot.service.INGEST_BATCH", 4)
    monkeypatch.setattr(analysis, "MIN_BATCH", 1)
    used: list[int] = []
    fits = analysis.fits
    monkeypatch.setattr(
        analysis, "fits", lambda made, article: used.append(1) or fits(made, article)
    )
    alone, helped = ingest(tmp_path, engine, 0), ingest(tmp_path, engine, 2)
    assert used  # the second ingest took readings made by the workers
    for question in ["lighthouse repairs", "residents wrote to the panel", "O'Neill", "us"]:
        expected = alone.retriever.search(question, as_of=NOW, limit=10).hits
        found = helped.retriever.search(question, as_of=NOW, limit=10).hits
        assert [(h.article_id, h.score, h.passage) for h in found] == [
            (h.article_id, h.score, h.passage) for h in expected
        ]
    assert [(s.article_ids, s.headline) for s in helped.stories(limit=50)] == [
        (s.article_ids, s.headline) for s in alone.stories(limit=50)
    ]
    if engine == "own":  # the saved index, byte for byte
        files = [tmp_path / f"own-{n}" / "news.db.index" / "index.npz" for n in (0, 2)]
        assert files[0].read_bytes() == files[1].read_bytes()
    alone.close()
    helped.close()


def test_a_worker_failure_is_raised_in_the_ingest() -> None:
    ahead = analysis.read_ahead([[object()] * 3, ["not an article"]], 1, {})
    assert next(ahead)[1] == {}  # a batch without articles: nothing to read, no workers
    worker = analysis._Worker()
    try:
        worker.send(("not a list of articles", {}))  # type: ignore[arg-type]
        with pytest.raises(AttributeError):  # the worker's error, as if read in-process
            worker.receive()
    finally:
        worker.close()
