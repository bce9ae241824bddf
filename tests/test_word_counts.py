"""The speller's word counts on disk (`bot.word_counts`): summed, bounded, shared."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot import word_counts
from bot.models import Article
from bot.search_engine import open_engine

WORDS = {f"word{n}": 1 for n in range(500)}


def _bytes(folder: Path) -> int:
    return sum((folder / name).stat().st_size for name in (word_counts.SUMMED, word_counts.LOG))


def test_counts_are_summed_over_saves(tmp_path: Path) -> None:
    word_counts.append(tmp_path, {"ferry": 2, "storm": 1})
    word_counts.append(tmp_path, {"ferry": 3, "harbour": 1})
    assert word_counts.read(tmp_path) == {"ferry": 5, "storm": 1, "harbour": 1}


def test_many_saves_keep_the_files_about_the_vocabularys_size(tmp_path: Path) -> None:
    word_counts.append(tmp_path, WORDS)
    once = (tmp_path / word_counts.SUMMED).stat().st_size
    for _ in range(200):  # a bot that saves on every feed refresh
        word_counts.append(tmp_path, WORDS)
        # the summed counts' digits grow a little; the log never passes the summed file
        assert _bytes(tmp_path) <= 2 * once + 4 * len(WORDS)
    assert word_counts.read(tmp_path) == {word: 201 for word in WORDS}


def test_a_word_with_a_tab_or_no_count_is_not_kept(tmp_path: Path) -> None:
    word_counts.append(tmp_path, {"bad\tword": 1, "none": 0, "kept": 1})
    assert word_counts.read(tmp_path) == {"kept": 1}


def test_no_file_reads_as_no_words(tmp_path: Path) -> None:
    assert word_counts.read(tmp_path) == {}


def _save_many(folder: str, offset: int) -> None:
    for n in range(60):
        word_counts.append(Path(folder), {f"w{(n + offset) % 90}": 1, "shared": 1})


def test_processes_saving_at_once_lose_no_count(tmp_path: Path) -> None:
    # `newsbot ingest` beside `newsbot run`: appends and compactions interleave.
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_save_many, args=(str(tmp_path), k)) for k in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    expected: Counter[str] = Counter()
    for k in range(3):
        for n in range(60):
            expected.update({f"w{(n + k) % 90}": 1, "shared": 1})
    assert word_counts.read(tmp_path) == dict(expected)


def test_the_speller_reads_what_many_saves_kept(tmp_path: Path) -> None:
    engine = open_engine("tantivy", tmp_path)
    for day in range(1, 29):  # a save per small batch, as feed refreshes make them
        published = datetime(2022, 6, day, tzinfo=UTC)
        engine.add(
            [
                Article(
                    id=f"a{day}",
                    headline=f"Estuary crossing, day {day}",
                    body=["The Portwen ferry crossed the estuary in a gale."],
                    published=published,
                )
            ]
        )
        engine.save(day)
    summed = word_counts.read(tmp_path / "tantivy")
    assert summed["estuary"] == 28 * 2 and summed["ferry"] == 28
    assert _bytes(tmp_path / "tantivy") <= 2 * (tmp_path / "tantivy" / "words.tsv").stat().st_size
    reopened = open_engine("tantivy", tmp_path)
    assert reopened.search("estaury ferry").corrections == {"estaury": "estuary"}
