"""The word forms an index has seen, with their counts, on disk beside it (the speller's
vocabulary): a summed file and a log that each save appends to.

A save appends a line per word form it counted (cheap, whatever the vocabulary's size). Once
the log holds more bytes than the summed file, that save sums both into the file again and
empties the log, so the two stay within about twice the vocabulary's size however many saves
a bot makes (one per feed refresh), and reading them costs what the vocabulary does. The
compaction costs about what the appends since the last one did.

Processes that share the index (`newsbot ingest` beside `newsbot run`) take an flock on a
lock file: appends and compactions one at a time, and a reader never sees the summed file
already holding a log it still reads. A crash between writing the summed file and emptying
the log counts that log twice: counts only order the speller's candidates.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

SUMMED = "words.tsv"
LOG = "words.log.tsv"
LOCK = "words.lock"


def append(folder: Path, counts: Mapping[str, int]) -> None:
    """Add `counts` to the word counts kept in `folder`, compacting them when due."""
    lines = [f"{word}\t{n}\n" for word, n in counts.items() if "\t" not in word and n]
    if not lines:
        return
    with _locked(folder, fcntl.LOCK_EX):
        with (folder / LOG).open("a", encoding="utf-8") as log:
            log.writelines(lines)
            logged = log.tell()
        if logged > _size(folder / SUMMED):
            _compact(folder)


def read(folder: Path) -> dict[str, int]:
    """Every word form kept in `folder` with its count (empty when there is none)."""
    with _locked(folder, fcntl.LOCK_SH):
        return _sum(folder)


def _compact(folder: Path) -> None:
    words = _sum(folder)
    partial = folder / f"{SUMMED}.{os.getpid()}.partial"
    with partial.open("w", encoding="utf-8") as out:
        out.writelines(f"{word}\t{n}\n" for word, n in words.items())
    partial.replace(folder / SUMMED)
    (folder / LOG).write_bytes(b"")


def _sum(folder: Path) -> dict[str, int]:
    words: dict[str, int] = {}
    for name in (SUMMED, LOG):
        try:
            with (folder / name).open(encoding="utf-8") as lines:
                for line in lines:
                    word, _, number = line.rstrip("\n").partition("\t")
                    if word:
                        words[word] = words.get(word, 0) + int(number or 0)
        except FileNotFoundError:
            pass
    return words


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@contextmanager
def _locked(folder: Path, mode: int) -> Iterator[None]:
    with (folder / LOCK).open("a") as lock:
        fcntl.flock(lock, mode)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
