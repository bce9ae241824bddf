"""Story grouping on newsqa: pairwise precision and recall on labelled pairs, and its cost.

Run by hand: `python benchmarks/bench_stories.py [--newsqa ../shared/newsqa] [--sweep]`.
Ingests the 5,000 newsqa articles into a new store in a temporary folder (grouping as the
bot does), then reads `benchmarks/story_pairs.jsonl`: pairs of article ids labelled `same`
(one event) or not, see that file's section in docs/benchmarks.md for how they were chosen
and labelled. A pair is predicted `same` when both articles landed in one story. Prints a
markdown table per split and kind; `--sweep` adds the pairwise decision (cosine >= t and
within the window) for other thresholds, which is how SAME_EVENT was picked.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import stories  # noqa: E402
from bot.models import Article  # noqa: E402
from bot.service import NewsDesk  # noqa: E402
from bot.settings import Settings  # noqa: E402

PAIRS = Path(__file__).with_name("story_pairs.jsonl")


def prf(outcomes: Sequence[tuple[bool, bool]]) -> str:
    """'P / R / n' of (predicted, labelled) pairs."""
    tp = sum(1 for p, g in outcomes if p and g)
    fp = sum(1 for p, g in outcomes if p and not g)
    fn = sum(1 for p, g in outcomes if g and not p)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return f"{precision:.3f} | {recall:.3f} | {len(outcomes)} ({tp + fn} same)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--newsqa", type=Path, default=ROOT.parent / "shared" / "newsqa")
    parser.add_argument("--sweep", action="store_true", help="also try other thresholds")
    args = parser.parse_args()
    corpus = args.newsqa / "articles.jsonl"
    if not corpus.exists():
        sys.exit(f"no newsqa corpus at {args.newsqa}: pass --newsqa")
    labels = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as folder:
        desk = NewsDesk.open(Settings(db=Path(folder) / "news.db"), seed=False)
        grouping = 0.0
        group = desk._group  # timed apart from the rest of the ingest

        def timed(articles: Sequence[Article]) -> None:
            nonlocal grouping
            started = time.perf_counter()
            group(articles)
            grouping += time.perf_counter() - started

        desk._group = timed  # type: ignore[method-assign]
        started = time.perf_counter()
        report = desk.ingest([corpus])
        total = time.perf_counter() - started
        ids = [p[k] for p in labels for k in ("a", "b")]
        story_of = desk.store.stories_of(ids)
        articles = desk.store.get_many(ids)
        every = [article.id for article in desk.store.iter_articles()]
        n_stories = len(set(desk.store.stories_of(every).values()))
        print(
            f"ingest of {report.added} articles: {total:.1f} s in all, grouping "
            f"{grouping:.2f} s ({grouping / max(report.added, 1) * 1000:.2f} ms/article, "
            f"{grouping / total:.0%} of the ingest); {len(every)} articles in {n_stories} stories\n"
        )
        by: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
        for pair in labels:
            predicted = story_of.get(pair["a"]) == story_of.get(pair["b"]) is not None
            for key in ((pair["split"], "all"), (pair["split"], pair["kind"])):
                by[key].append((predicted, pair["same"]))
        print("| split | kind | precision | recall | pairs |\n|---|---|---|---|---|")
        for (split, kind), outcomes in sorted(by.items()):
            print(f"| {split} | {kind} | {prf(outcomes)} |")
        if args.sweep:
            sweep(desk, labels, articles)
        desk.close()


def sweep(desk: NewsDesk, labels: list[dict[str, object]], articles: dict[str, Article]) -> None:
    """Pairwise decisions at other thresholds (no single-link chaining: an approximation)."""
    print("\n| threshold | split | precision | recall | pairs |\n|---|---|---|---|---|")
    cosines = []
    for pair in labels:
        a, b = articles[str(pair["a"])], articles[str(pair["b"])]
        terms_a, terms_b = stories.signature(a), stories.signature(b)
        idf = desk.retriever.idf(set(terms_a) | set(terms_b))
        cosine = stories.similarity(stories.weigh(terms_a, idf), stories.weigh(terms_b, idf))
        close = (
            a.published is not None
            and b.published is not None
            and abs(a.published - b.published) <= stories.WINDOW
        )
        cosines.append((cosine if close else 0.0, pair))
    for threshold in (0.25, 0.28, 0.30, 0.33, 0.36, 0.40, 0.45):
        for split in sorted({str(p["split"]) for p in labels}):
            outcomes = [
                (c >= threshold, bool(p["same"])) for c, p in cosines if p["split"] == split
            ]
            print(f"| {threshold:.2f} | {split} | {prf(outcomes)} |")


if __name__ == "__main__":
    main()
