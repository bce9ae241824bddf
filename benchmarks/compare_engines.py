"""Both search engines side by side on newsqa dev: article@1/@5 and the questions they differ on.

Run by hand from the project root:

    python benchmarks/compare_engines.py [--newsqa ../shared/newsqa] [--work DIR]

Each engine indexes the same articles (newsqa's 5,000, boilerplate stripped, as
benchmarks/bench_retrieval.py loads them) into WORK/<engine>, made once and reused, and is
asked the 96 dev questions as of their dates (top 5). Prints article@1/@5 for dev, its
tuning two thirds and its held-out third (every third question), then each question whose
top article differs, with both engines' top five ids.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_retrieval import load_articles, load_questions  # noqa: E402

from bot.search_engine import EngineName, open_engine  # noqa: E402

ENGINES: tuple[EngineName, ...] = ("own", "tantivy")


def ranked(engine: EngineName, folder: Path, newsqa: Path) -> list[list[str]]:
    """Top-five article ids of every dev question, from the engine's index in `folder`."""
    if not folder.exists():
        folder.mkdir(parents=True)
        built = open_engine(engine, folder)
        built.add(load_articles(newsqa))
        built.save(1)
        built.close()
    index = open_engine(engine, folder)
    return [
        [hit.article_id for hit in index.search(q.text, as_of=q.as_of, limit=5).hits]
        for q in load_questions(newsqa)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--newsqa", type=Path, default=ROOT.parent / "shared" / "newsqa")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-compare-engines"
    )
    args = parser.parse_args(argv)
    questions = load_questions(args.newsqa)
    tops = {engine: ranked(engine, args.work / engine, args.newsqa) for engine in ENGINES}
    parts = {
        "dev": range(len(questions)),
        "tuning two thirds": [i for i in range(len(questions)) if i % 3 != 2],
        "held-out third": [i for i in range(len(questions)) if i % 3 == 2],
    }
    print("| engine | " + " | ".join(f"{part} @1 / @5" for part in parts) + " |")
    print("|---|" + "--:|" * len(parts))
    for engine, top in tops.items():
        cells = []
        for chosen in parts.values():
            at1 = sum(top[i][:1] == [questions[i].gold_id] for i in chosen) / len(chosen)
            at5 = sum(questions[i].gold_id in top[i] for i in chosen) / len(chosen)
            cells.append(f"{at1:.3f} / {at5:.3f}")
        print(f"| {engine} | " + " | ".join(cells) + " |")
    print()
    for i, question in enumerate(questions):
        if len({tuple(top[i][:1]) for top in tops.values()}) > 1:
            print(f"question {i} (gold {question.gold_id}): {question.text[:80]}")
            for engine, top in tops.items():
                print(f"  {engine}: {', '.join(top[i])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
