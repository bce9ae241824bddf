"""The search of the last 30 days, by archive size: a date filter against the indexed day.

Run by hand from the project root:

    python benchmarks/bench_window.py [--sizes 100k,400k,1600k] [--work DIR]

Every question's search of the bot's tantivy engine includes the best passages of the last
FADE_DAYS (bot.tantivy_index `_candidates`). Filtering on `published`, a fast field, reads
every passage's date; the indexed `day` reads the postings of the window's days only
(`_window`). This builds tantivy indexes with the bot's schema (`bot.tantivy_index._schema`)
of N synthetic passages (40 words each from a Zipf vocabulary of 50,000, dated over two
years in order of publication, as a bot reads its feeds), then times 300 four-word
questions (words of middling frequency) on one core: no date filter, the filter on
`published`, and the indexed day range. Prints one table; CPU milliseconds per search.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path

import tantivy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.retrieval import FADE_DAYS  # noqa: E402
from bot.tantivy_index import CANDIDATE_PASSAGES, _schema  # noqa: E402

DAY = 86_400
DAYS = 730
VOCABULARY = 50_000
WORDS = 40
QUESTIONS = 300
START = 1_600_000_000  # 2020-09-13: any fixed moment


def parse_size(label: str) -> int:
    label = label.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(label[-1], 1)
    return int(float(label.rstrip("km")) * scale)


def build(folder: Path, n: int, schema: tantivy.Schema) -> float:
    """An index of `n` passages in `folder`; returns the seconds it took."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    index = tantivy.Index(schema, path=str(folder))
    writer = index.writer(heap_size=256_000_000, num_threads=1)
    rng = random.Random(1)
    vocabulary = [f"w{i}" for i in range(VOCABULARY)]
    cumulative = list(accumulate(1 / (i + 1) for i in range(VOCABULARY)))
    started = time.perf_counter()
    for i in range(n):
        published = START + i * DAYS * DAY // n
        doc = tantivy.Document()
        doc.add_text("terms", " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=WORDS)))
        doc.add_integer("published", published)
        doc.add_integer("day", published // DAY)
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()
    return time.perf_counter() - started


def timings(searcher: tantivy.Searcher, make: Callable[[list[str]], tantivy.Query]) -> list[float]:
    rng = random.Random(2)
    questions = [[f"w{rng.randrange(5, 3_000)}" for _ in range(4)] for _ in range(QUESTIONS)]
    spent = []
    for round_ in range(2):  # the first round warms the caches
        for words in questions:
            query = make(words)
            started = time.process_time()
            searcher.search(query, CANDIDATE_PASSAGES, count=False)
            if round_:
                spent.append((time.process_time() - started) * 1000)
    return sorted(spent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100k,400k,1600k")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-window")
    args = parser.parse_args(argv)
    schema = _schema()
    high = START + DAYS * DAY
    low = high - int(FADE_DAYS * DAY)

    def words(terms: list[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", term))
                for term in terms
            ]
        )

    def within(terms: list[str], field: str, first: int, last: int) -> tantivy.Query:
        dates = tantivy.Query.range_query(
            schema, field, tantivy.FieldType.Integer, first, last, True, True
        )
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, words(terms)),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(dates, 0.0)),
            ]
        )

    ways: dict[str, Callable[[list[str]], tantivy.Query]] = {
        "no date filter": words,
        "filter on published": lambda terms: within(terms, "published", low, high),
        "indexed day": lambda terms: within(terms, "day", low // DAY, high // DAY),
    }
    print("| passages | build s | search | p50 ms CPU | p99 ms CPU |")
    print("|--:|--:|---|--:|--:|")
    for label in args.sizes.split(","):
        n = parse_size(label)
        folder = args.work / f"{n}"
        built = build(folder, n, schema)
        searcher = tantivy.Index.open(str(folder)).searcher()
        for name, make in ways.items():
            spent = timings(searcher, make)
            p50, p99 = spent[len(spent) // 2], spent[int(len(spent) * 0.99)]
            print(f"| {n:,} | {built:.0f} | {name} | {p50:.2f} | {p99:.2f} |", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
