"""benchmarks/tantivy_engine.py, the engine bench_scale measures beside ours, on a few articles."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bot.models import Article

pytest.importorskip("tantivy")

JUNE_30 = datetime(2022, 6, 30, tzinfo=UTC)
SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "tantivy_engine.py"


@pytest.fixture(scope="module")
def engine() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tantivy_engine", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tantivy_engine"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _article(key: str, headline: str, body: str, day: int | None) -> Article:
    published = datetime(2022, 6, day, 12, tzinfo=UTC) if day else None
    return Article(id=key, headline=headline, body=[body], published=published)


ARTICLES = [
    _article(
        "ferry",
        "Harbour town gets a new ferry",
        "The council of Portwen bought an electric ferry that crosses the estuary twice a day.",
        3,
    ),
    _article(
        "storm",
        "Storm closes the estuary crossing",
        "Gales kept the Portwen ferry in harbour on Friday; the crossing reopens on Monday.",
        20,
    ),
    _article(
        "budget",
        "Council budget approved",
        "Councillors approved a budget for schools and roads after a long debate.",
        None,
    ),
    # The same id again, rewritten: it replaces the first version.
    _article(
        "budget",
        "Council budget approved after debate",
        "Councillors approved spending on schools, roads and the library after a debate.",
        None,
    ),
]


@pytest.fixture(scope="module")
def search(engine: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("tantivy") / "index"
    assert engine.build(folder, ARTICLES) == (4, 4)
    return engine.TantivySearch(folder)


def test_finds_the_article_and_says_found(search: Any) -> None:
    answer = search.ask("electric ferry estuary", JUNE_30)
    assert answer.article_ids[0] == "ferry"
    assert answer.found
    assert "electric ferry" in answer.excerpts[0]


def test_as_of_leaves_later_articles_out(search: Any) -> None:
    answer = search.ask("Portwen ferry", datetime(2022, 6, 10, tzinfo=UTC))
    assert answer.article_ids == ["ferry"]


def test_misspelled_word_is_corrected(search: Any) -> None:
    answer = search.ask("estaury gales", JUNE_30)
    assert answer.article_ids[0] == "storm"


def test_readded_article_replaces_the_old_one(search: Any) -> None:
    answer = search.ask("council budget library", JUNE_30)
    assert answer.article_ids[0] == "budget"
    assert answer.article_ids.count("budget") == 1  # once, and the new text
    assert "library" in answer.excerpts[0]


def test_unknown_question_is_not_found(search: Any) -> None:
    answer = search.ask("volcano eruption Iceland", JUNE_30)
    assert not answer.found
