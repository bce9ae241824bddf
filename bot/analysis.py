"""What an ingest reads from each article's text, apart from the store and the index.

Everything here is a pure function of one article: its body paragraphs' keys (for the
boilerplate counts), its passages with their word forms (what both engines index) and its
story signature. It is about half of an ingest's CPU, so a bulk ingest can read its
articles in worker processes (setting `ingest_processes`), a batch ahead, while its own
process writes the store and the index (`read_ahead`). The engines and story grouping
take the same values whether they were made in a worker or where they are used, so the
index and the stories do not depend on it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

from bot import boilerplate, text
from bot.models import Article
from bot.passages import split_passages
from bot.stories import signature

T = TypeVar("T")


class Reading(NamedTuple):
    """An article's text as the index reads it."""

    # Word forms (`text.words`, which never hold a space) are joined by spaces: one string
    # to keep and to pass between processes instead of hundreds; `str.split` gives them back.
    headline: str  # the headline's word forms
    passages: list[tuple[int, str, str]]  # each passage's ordinal, text and word forms


class Analysis(NamedTuple):
    """All an ingest reads from one article's text."""

    keys: list[str | None]  # `boilerplate.body_keys`
    # Of the article without the boilerplate known when it was read: good for the article
    # stripped later when that leaves as many body paragraphs (boilerplate only grows).
    reading: Reading
    paragraphs: int  # the body paragraphs left in what `reading` read
    signature: dict[str, int]  # `bot.stories.signature`


class Forms(NamedTuple):
    """What a `Reading` holds, each passage's word forms a list as `text.words` made it."""

    headline: list[str]
    passages: list[tuple[int, str, list[str]]]


def read(article: Article) -> Reading:
    """The article's headline and passages (`split_passages`) with their word forms."""
    made = forms(article)
    return Reading(
        " ".join(made.headline), [(o, body, " ".join(words)) for o, body, words in made.passages]
    )


def forms(article: Article) -> Forms:
    """`read` for a reading used where it is made: joining its word forms only to split
    them again cost about a tenth of what indexing an article costs."""
    return Forms(
        text.words(article.headline),
        [(p.ordinal, p.text, text.words(p.text)) for p in split_passages(article)],
    )


def forms_of(reading: Reading) -> Forms:
    """The word forms a `Reading` holds, split again."""
    return Forms(
        reading.headline.split(), [(o, body, words.split()) for o, body, words in reading.passages]
    )


def analyse(article: Article, repeated: Collection[str] = ()) -> Analysis:
    """What an ingest reads from `article`, whose source's boilerplate keys are `repeated`."""
    keys = boilerplate.body_keys(article)
    kept = boilerplate.strip(article, repeated, keys)
    return Analysis(keys, read(kept), len(kept.body), signature(article))


def analyse_all(
    articles: Sequence[Article], repeated: Mapping[str, Collection[str]]
) -> list[Analysis]:
    """`analyse` of each article, `repeated` by source (what a worker is given to do)."""
    return [analyse(a, repeated.get(boilerplate.source_of(a), ())) for a in articles]


def fits(made: Analysis | None, article: Article) -> Reading | None:
    """`made.reading` when it read `article` as it is now stripped, else None."""
    return made.reading if made is not None and made.paragraphs == len(article.body) else None


def workers(wanted: int | None) -> int:
    """How many worker processes to read with: `wanted`, or one per CPU the process may use."""
    if wanted is not None:
        return max(wanted, 0)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


MIN_BATCH = 200  # a first batch smaller than this (a small ingest) is read where it is used


def read_ahead(
    batches: Iterable[list[T]],
    processes: int,
    boilerplate: Mapping[str, Collection[str]],
    *,
    depth: int = 1,
) -> Iterator[tuple[list[T], dict[str, Analysis]]]:
    """Each batch with the analyses of its articles by id, made in `processes` worker
    processes up to `depth` batches ahead of the one handed out, without the `boilerplate`
    keys (by source) known when it is sent.

    Items that are not articles (an ingest's problems) pass through. When an id comes twice
    in a batch the last one's analysis is kept, as the ingest keeps the last article. When
    the first batch holds fewer than MIN_BATCH articles (a small ingest), the batches come
    without analyses: starting the workers would cost more than it saves.
    """
    source = iter(batches)
    first = next(source, None)
    if first is None:
        return
    if processes < 1 or sum(isinstance(item, Article) for item in first) < MIN_BATCH:
        yield first, {}
        for batch in source:
            yield batch, {}
        return
    pool = [_Worker() for _ in range(processes)]
    waiting: deque[tuple[list[T], list[list[str]]]] = deque()
    try:
        for batch in _chain(first, source):
            waiting.append((batch, _send(pool, batch, boilerplate)))
            if len(waiting) > depth:
                yield _receive(pool, *waiting.popleft())
        while waiting:
            yield _receive(pool, *waiting.popleft())
    finally:
        for worker in pool:
            worker.close()


def _chain(first: list[T], rest: Iterator[list[T]]) -> Iterator[list[T]]:
    yield first
    yield from rest


def _send(
    pool: Sequence[_Worker], batch: Sequence[object], known: Mapping[str, Collection[str]]
) -> list[list[str]]:
    """Share the batch's articles among the workers; returns the ids each was given."""
    articles = [item for item in batch if isinstance(item, Article)]
    size = -(-len(articles) // len(pool))
    given = []
    for at, worker in enumerate(pool):
        part = articles[at * size : (at + 1) * size]
        sources = {boilerplate.source_of(article) for article in part}
        worker.send((part, {source: set(known[source]) for source in sources if source in known}))
        given.append([article.id for article in part])
    return given


def _receive(
    pool: Sequence[_Worker], batch: list[T], given: list[list[str]]
) -> tuple[list[T], dict[str, Analysis]]:
    found: dict[str, Analysis] = {}
    for worker, ids in zip(pool, given, strict=True):
        found.update(zip(ids, worker.receive(), strict=True))
    return batch, found


class _Worker:
    """A process running `python -m bot.analysis`: pickled lists of articles in on its
    stdin, their analyses out on its stdout, in order.

    A thread drains its stdout as results come, so neither side waits on a full pipe.
    Started as a fresh interpreter (not forked: the ingesting process may hold threads
    and locks; not multiprocessing's spawn: it would run the caller's main script again).
    """

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)  # where `bot` is imported from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bot.analysis"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._results: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        out = self._process.stdout
        assert out is not None
        try:
            while True:
                self._results.put(pickle.load(out))
        except (EOFError, OSError, pickle.UnpicklingError) as error:
            self._results.put(_Stopped(repr(error)))

    def send(self, work: tuple[list[Article], dict[str, set[str]]]) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        pickle.dump(work, stdin, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.flush()

    def receive(self) -> list[Analysis]:
        result = self._results.get()
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, _Stopped):
            raise RuntimeError(f"an ingest worker process stopped: {result.reason}")
        return result  # type: ignore[return-value]

    def close(self) -> None:
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()


class _Stopped(NamedTuple):
    reason: str


def _serve() -> None:
    """The worker's loop: analyse each (articles, boilerplate) read from stdin, until it closes."""
    source, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the results: anything printed goes elsewhere
    while True:
        try:
            articles, known = pickle.load(source)
        except EOFError:
            return
        try:
            result: object = analyse_all(articles, known)
        except Exception as error:  # handed to the ingest, which fails as it would in-process
            result = error
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    from bot.analysis import _serve as serve  # this module's own copy, whose types pickle

    serve()
