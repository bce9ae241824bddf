"""NewsDesk on a real SQLite file: seeding, index persistence, two processes on one store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.search_engine import EngineName
from bot.service import NewsDesk, index_dir_for
from bot.settings import Settings

VOLCANO = {
    "id": "v1",
    "headline": "Volcano erupts near Grindavik as lava reaches the town",
    "body": "A volcano erupted on the Reykjanes peninsula and lava flowed into Grindavik.",
    "published": "2024-01-14",
}


def test_an_article_stored_by_another_process_is_answered_at_once(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "news.db")
    bot = NewsDesk.open(settings)  # a running bot, say
    assert not bot.ask("Grindavik volcano lava").found
    cli = NewsDesk.open(settings)  # and `newsbot ingest` in another process
    (tmp_path / "new.jsonl").write_text(json.dumps(VOLCANO) + "\n")
    assert cli.ingest([tmp_path / "new.jsonl"]).added == 1
    answer = bot.ask("Grindavik volcano lava")
    assert answer.found
    assert answer.results[0].headline == VOLCANO["headline"]
    bot.close()
    cli.close()


@pytest.mark.parametrize("engine", ["tantivy", "own"])
def test_the_index_is_saved_and_rebuilt_only_when_stale(tmp_path: Path, engine: EngineName) -> None:
    settings = Settings(db=tmp_path / "news.db", search_engine=engine)
    NewsDesk.open(settings).close()  # seeds, builds and saves the index
    marker = "tantivy/engine.json" if engine == "tantivy" else "index.npz"
    saved = index_dir_for(settings.db) / marker  # rewritten by every save
    stamp = saved.stat().st_mtime_ns
    again = NewsDesk.open(settings)
    assert saved.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert again.ask("How many US troops are in Iraq?").found
    again.close()
    saved.write_bytes(b"damaged")
    rebuilt = NewsDesk.open(settings)
    assert rebuilt.ask("How many US troops are in Iraq?").found
    rebuilt.close()
