"""Loading articles from files and directories (offline; temporary files only)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.models import Article
from bot.sources import Problem, load_path

FIXTURES = Path(__file__).parent / "fixtures" / "seeds"
REAL_SEED = Path(__file__).parents[1] / "seeds" / "000_b8d8923356cbb90d.txt"
NEWSQA_ARTICLES = Path("/work/shared/newsqa/articles.jsonl")
MTIME = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)

SEED = """Quiet harbour wins a prize

Updated {when}
Follow

Quiet harbour wins a prize

SPLIT: The small harbour won a national award for clean water on Monday.
"""


def split(items: Iterable[Article | Problem]) -> tuple[list[Article], list[Problem]]:
    articles: list[Article] = []
    problems: list[Problem] = []
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            articles.append(item)
    return articles, problems


def write_seed(path: Path, when: str = "1 May 2024", *, mtime: datetime = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SEED.format(when=when), encoding="utf-8")
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


# -- single files -----------------------------------------------------------------------------


def test_jsonl_bad_lines_become_problems_and_the_rest_loads() -> None:
    path = FIXTURES / "mixed.jsonl"

    articles, problems = split(load_path(path))

    assert [article.headline for article in articles] == [
        "Snow closes mountain passes",
        "Flood warnings lifted",
        "A family bakery in the old town won the national bread award on Monday",
        "Squid game season 2",
        "Market hall reopens",
    ]
    assert [(problem.line, problem.path) for problem in problems] == [
        (2, str(path)),
        (4, str(path)),
        (8, str(path)),
    ]
    assert problems[0].reason.startswith("malformed JSON")
    assert problems[1].reason == "expected a JSON object, got an array"
    assert "not an ISO date" in problems[2].reason
    assert articles[0].id == "wx-1"
    assert articles[-1].source == "Example News"


def test_seed_file_relative_date_uses_file_mtime(tmp_path: Path) -> None:
    path = write_seed(tmp_path / "fresh.txt", "2 hours ago")

    (article,) = load_path(path)

    assert isinstance(article, Article)
    assert article.published == MTIME - timedelta(hours=2)


def test_seed_file_broken_article_is_a_problem_with_its_line() -> None:
    path = FIXTURES / "broken_between.txt"

    articles, problems = split(load_path(path))

    assert len(articles) == 2
    assert [(problem.path, problem.line) for problem in problems] == [(str(path), 13)]
    assert str(problems[0]).startswith(f"{path}:13: incomplete article header")


def test_real_seed_file_relative_date_uses_mtime() -> None:
    modified = datetime.fromtimestamp(REAL_SEED.stat().st_mtime, tz=UTC)

    articles, problems = split(load_path(REAL_SEED))

    assert problems == []
    assert [article.dateline for article in articles] == ["TEHRAN", "DUBAI"]
    assert articles[1].published == modified - timedelta(seconds=8)


def test_non_utf8_seed_file_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(SEED.format(when="1 May 2024").replace("SPLIT", "Málaga").encode("latin-1"))

    (problem,) = load_path(path)

    assert isinstance(problem, Problem)
    assert problem.line == 8  # the line holding the bad byte
    assert "not UTF-8" in problem.reason


def test_non_utf8_json_line_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(
        b'\xef\xbb\xbf{"headline": "First", "body": "One."}\n'
        b'{"headline": "M\xe1laga", "body": "Two."}\n'
        b"\n"
        b'{"headline": "Third", "body": "Three."}'
    )

    articles, problems = split(load_path(path))

    assert [article.headline for article in articles] == ["First", "Third"]
    assert [(problem.line, problem.reason) for problem in problems] == [
        (2, "not UTF-8 text (byte 0xe1)")
    ]


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    write_seed(tmp_path / "a.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "missing.txt")  # unreadable even for root

    articles, problems = split(load_path(tmp_path))

    assert len(articles) == 1
    assert [(problem.path, problem.line) for problem in problems] == [
        (str(tmp_path / "b.txt"), None)
    ]
    assert problems[0].reason.startswith("cannot read file")
    assert str(problems[0]) == f"{tmp_path / 'b.txt'}: {problems[0].reason}"


def test_missing_path_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_path(tmp_path / "nowhere")


def test_unsupported_file_raises_source_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# notes\n", encoding="utf-8")

    with pytest.raises(SourceError, match="not a seed"):
        load_path(path)


# -- directories --------------------------------------------------------------------------------


def test_directory_walk_is_recursive_sorted_and_skips_hidden_and_other_files(
    tmp_path: Path,
) -> None:
    write_seed(tmp_path / "b" / "deeper" / "x.txt", "2 May 2024")
    write_seed(tmp_path / "a.txt", "1 May 2024")
    write_seed(tmp_path / "c.TXT", "3 May 2024")
    write_seed(tmp_path / ".hidden.txt", "4 May 2024")
    write_seed(tmp_path / ".git" / "y.txt", "5 May 2024")
    (tmp_path / "b" / "readme.md").write_text("Not an article.\n", encoding="utf-8")
    (tmp_path / "b" / "data.json").write_text("{}\n", encoding="utf-8")

    articles, problems = split(load_path(tmp_path))

    assert problems == []
    assert [article.published for article in articles] == [
        datetime(2024, 5, day, tzinfo=UTC) for day in (1, 2, 3)
    ]


def test_fixture_directory_loads_everything_but_the_broken_parts() -> None:
    articles, problems = split(load_path(FIXTURES))

    assert len(articles) == 16
    assert [(Path(problem.path).name, problem.line) for problem in problems] == [
        ("broken_between.txt", 13),
        ("mixed.jsonl", 2),
        ("mixed.jsonl", 4),
        ("mixed.jsonl", 8),
    ]
    assert all(article.headline.strip() for article in articles)


def test_reloading_gives_the_same_ids(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "copy")
    for path in (tmp_path / "copy").iterdir():
        later = MTIME + timedelta(days=3)
        os.utime(path, (later.timestamp(), later.timestamp()))

    first, _ = split(load_path(FIXTURES))
    again, _ = split(load_path(tmp_path / "copy"))

    assert [article.id for article in first] == [article.id for article in again]


# -- the retrieval corpus -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not NEWSQA_ARTICLES.exists(), reason="shared newsqa corpus not present")
def test_newsqa_corpus_loads_cleanly(record_property: Callable[[str, object], None]) -> None:
    started = time.perf_counter()
    articles, problems = split(load_path(NEWSQA_ARTICLES))
    record_property("load_seconds", round(time.perf_counter() - started, 2))

    assert problems == []
    assert len(articles) == 5000
    assert len({article.id for article in articles}) == 5000
    assert all(article.headline.strip() for article in articles)


def test_unreadable_directory_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod cannot lock out root, so let the walk report the failure itself
    real_walk = os.walk

    def walk_failing_on_b(top: Path, onerror: Callable[[OSError], None]) -> object:
        onerror(PermissionError(13, "Permission denied", str(tmp_path / "b")))
        return real_walk(top, onerror=onerror)

    write_seed(tmp_path / "a.txt")
    monkeypatch.setattr(os, "walk", walk_failing_on_b)

    articles, problems = split(load_path(tmp_path))

    assert len(articles) == 1
    assert problems == [
        Problem(str(tmp_path / "b"), None, "cannot read directory: Permission denied")
    ]
