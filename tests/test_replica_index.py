"""Two replicas on one store, each with its own search index (as on two machines): what
one stores, the other's index takes in from the store alone, and a deletion too."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.retrieval import Retriever
from bot.service import NewsDesk
from bot.settings import Settings
from bot.store import Store

VOLCANO = {
    "id": "v1",
    "headline": "Volcano erupts near Grindavik as lava reaches the town",
    "body": "A volcano erupted on the Reykjanes peninsula and lava flowed into Grindavik.",
    "published": "2024-01-14",
}


def replica(settings: Settings, index_dir: Path) -> NewsDesk:
    """A desk whose index lives in `index_dir`, not beside the store."""
    desk = NewsDesk(settings, Store.open(settings.db), Retriever.open(index_dir))
    desk.retriever.add(desk.store.iter_articles())  # built from the store at start-up
    return desk


def test_each_replica_indexes_what_another_stored_without_sharing_index_files(
    tmp_path: Path,
) -> None:
    settings = Settings(db=tmp_path / "news.db")
    NewsDesk.open(settings).close()  # seeds the store
    a = replica(settings, tmp_path / "a.index")
    b = replica(settings, tmp_path / "b.index")
    assert not b.ask("Grindavik volcano lava").found
    (tmp_path / "new.jsonl").write_text(json.dumps(VOLCANO) + "\n")
    assert a.ingest([tmp_path / "new.jsonl"]).added == 1
    assert not (tmp_path / "b.index").exists()  # b never reads a's index
    answer = b.ask("Grindavik volcano lava")
    assert answer.found and answer.results[0].headline == VOLCANO["headline"]
    assert len(b.retriever) == len(a.retriever)

    # a changed article is re-indexed, not doubled
    changed = {**VOLCANO, "headline": "Lava flows into Grindavik; volcano still erupting"}
    (tmp_path / "new.jsonl").write_text(json.dumps(changed) + "\n")
    assert a.ingest([tmp_path / "new.jsonl"]).updated == 1
    answer = b.ask("Grindavik volcano lava")
    assert answer.results[0].headline == changed["headline"]
    assert len(b.retriever) == len(a.retriever)

    # deleted by a (retention): gone from b's answers too
    assert a.prune(datetime(2030, 1, 1, tzinfo=UTC)) >= 1
    assert not b.ask("Grindavik volcano lava").found
    assert len(b.retriever) == len(a.retriever) == a.store.count()
    a.close()
    b.close()


def test_a_replicas_own_writes_are_not_indexed_twice(tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "news.db")
    desk = NewsDesk.open(settings)
    (tmp_path / "new.jsonl").write_text(json.dumps(VOLCANO) + "\n")
    desk.ingest([tmp_path / "new.jsonl"])
    passages = desk.retriever._index.n_passages
    assert desk.ask("Grindavik volcano lava").found  # catches up: nothing new to it
    assert desk.retriever._index.n_passages == passages
    desk.close()
