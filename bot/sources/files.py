"""Articles from files on disk: seed text files and JSON lines, one file or a directory tree."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import SourceError
from bot.models import Article
from bot.parsing import ArticleParseError, article_from_json, parse_seed_text
from bot.sources.feeds import parse_feed

log = logging.getLogger(__name__)

SEED_SUFFIXES = frozenset({".txt"})
JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom"})


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in an input that did not become an article; everything else still loads.

    `path` is the file; `line` is 1-based, or None when the whole file is concerned (it
    cannot be read); `reason` is one line for a person.
    """

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


def load_path(path: Path) -> Iterator[Article | Problem]:
    """Load the articles in a file, or in every supported file under a directory.

    `.txt` files use the seed layout (relative dates resolve against the file's mtime);
    `.jsonl` and `.ndjson` files hold one JSON object a line. A directory is walked
    recursively in sorted path order; hidden files and directories, and files with other
    extensions, are skipped. Each unreadable or non-UTF-8 file, malformed line or invalid
    article is yielded as a `Problem` and the rest still loads.

    Raises:
        SourceError: at call time, when `path` does not exist or is a file of an
            unsupported type (nothing could be loaded from it).
    """
    if path.is_dir():
        files, problems = _walk(path)
        return _load_files(files, problems)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if _kind(path) is None:
        raise SourceError(
            f"{path}: not a seed (.txt), JSON lines (.jsonl, .ndjson) or feed (.xml, .rss, "
            ".atom) file"
        )
    return _load_files([path], [])


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in SEED_SUFFIXES:
        return "seed"
    if suffix in JSON_LINES_SUFFIXES:
        return "jsonl"
    if suffix in FEED_SUFFIXES:
        return "feed"
    return None


def _walk(root: Path) -> tuple[list[Path], list[Problem]]:
    """Supported, non-hidden files under `root`, sorted, and a problem per unreadable folder.

    Symlinked directories are not followed (no loops); symlinked files are read.
    """
    found: list[Path] = []
    problems: list[Problem] = []

    def unreadable(exc: OSError) -> None:
        where = str(exc.filename) if exc.filename else str(root)
        problems.append(Problem(where, None, f"cannot read directory: {exc.strerror or exc}"))

    for folder, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            file = Path(folder, name)
            if _kind(file) is None:
                log.debug("skipping %s: unsupported file type", file)
                continue
            found.append(file)
    return sorted(found), problems


def _load_files(files: Iterable[Path], problems: Iterable[Problem]) -> Iterator[Article | Problem]:
    yield from problems
    for file in files:
        kind = _kind(file)
        if kind == "seed":
            yield from _load_seed(file)
        elif kind == "feed":
            yield from _load_feed(file)
        else:
            yield from _load_json_lines(file)


def _load_feed(path: Path) -> Iterator[Article | Problem]:
    """A saved RSS/Atom file: all its items or, if it is not a usable feed, one problem."""
    try:
        raw = path.read_bytes()
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        feed = parse_feed(raw, url=None, fetched_at=modified)
    except OSError as exc:
        yield Problem(str(path), None, f"cannot read file: {exc.strerror or exc}")
        return
    except SourceError as exc:
        yield Problem(str(path), None, str(exc))
        return
    yield from feed.articles


def _load_seed(path: Path) -> Iterator[Article | Problem]:
    try:
        raw = path.read_bytes()
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError as exc:
        yield Problem(str(path), None, f"cannot read file: {exc.strerror or exc}")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        yield Problem(str(path), line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
        return
    articles, errors = parse_seed_text(text, modified=modified, origin=str(path))
    yield from articles
    for error in errors:
        yield Problem(str(path), error.line, error.reason)


def _load_json_lines(path: Path) -> Iterator[Article | Problem]:
    number = 0
    try:
        with path.open("rb") as stream:
            for number, raw in enumerate(stream, start=1):
                item = _json_line(str(path), number, raw)
                if item is not None:
                    yield item
    except OSError as exc:
        yield Problem(str(path), number or None, f"cannot read file: {exc.strerror or exc}")


def _json_line(path: str, number: int, raw: bytes) -> Article | Problem | None:
    """One line of a JSON lines file as an article or a problem; None for a blank line."""
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        return Problem(path, number, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
    if not text:
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Problem(path, number, f"malformed JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(obj, dict):
        return Problem(path, number, f"expected a JSON object, got {_json_type(obj)}")
    try:
        return article_from_json(obj, line=number)
    except ArticleParseError as exc:
        return Problem(path, exc.line, exc.reason)


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
