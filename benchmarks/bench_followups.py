"""Follow-up questions: article@1 of a follow-up with and without the previous card's context.

Run by hand from the project root:

    python benchmarks/bench_followups.py [--newsqa ../shared/newsqa] [--arcd ../shared/arcd]
        [--grid] [--arabic-only]

The labelled set is benchmarks/data/followups.jsonl (see docs/benchmarks.md, "Follow-up
questions"): each line a first question (a newsqa dev question by `first_qid`, or a seed
question given as `first`), a short follow-up, and the gold article of the follow-up. Only
ids and questions are kept in the project; newsqa texts are read from `--newsqa` at run
time, with the bundled seeds added to the same index.

A follow-up is asked the way the bot asks it (bot.cards.CardDesk): when
bot.followup.leans_on_previous says it leans on the first question, the search gets the
first question's text and the article its card showed (its top hit, when it found one) as
context; otherwise it is asked alone. Lines are split in two by position: even lines are
"dev" (the context weight and boost were chosen on them with --grid), odd lines "test".

It also checks standalone questions: each newsqa dev question asked right after the one
before it, through the same path, must find the same article first as when asked alone.

Arabic, the same way (`--arcd`): benchmarks/data/followups_ar.jsonl holds Arabic follow-ups
written over ARCD articles, each after an ARCD dev question (`first_qid`) that names its
subject, on a store of the ARCD articles. Those first questions are the standalone set: none
may be taken for a follow-up. ARCD dev asked in file order, each question right after the
one before (its crowd writers asked several questions of one paragraph in a row, some with
no subject: "متى ولد؟"), shows what taking them for follow-ups does to article@1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import followup, retrieval  # noqa: E402
from bot.models import Article, QueryContext  # noqa: E402
from bot.parsing import article_from_json  # noqa: E402
from bot.retrieval import Retriever  # noqa: E402
from bot.sources import load_path  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "followups.jsonl"
ARABIC_DATA = ROOT / "benchmarks" / "data" / "followups_ar.jsonl"


@dataclass(frozen=True)
class Exchange:
    """Two turns: the first question (as of `as_of`), the follow-up and its gold article."""

    first: str
    followup: str
    gold_id: str
    as_of: datetime | None


def end_of_day(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), clock.max, tzinfo=UTC)


def load_dev(newsqa: Path) -> list[dict[str, str]]:
    with (newsqa / "dev.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def load_exchanges(dev: list[dict[str, str]], data: Path = DATA) -> list[Exchange]:
    by_qid = {item["qid"]: item for item in dev}
    exchanges = []
    for line in data.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if "first_qid" in item:
            first = by_qid[item["first_qid"]]
            exchange = Exchange(
                first["question"], item["followup"], item["gold_id"], end_of_day(first["as_of"])
            )
        else:
            exchange = Exchange(item["first"], item["followup"], item["gold_id"], None)
        exchanges.append(exchange)
    return exchanges


def arcd_articles(arcd: Path) -> Iterator[Article]:
    with (arcd / "articles.jsonl").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            yield article_from_json(json.loads(line), line=number)


def articles(newsqa: Path) -> Iterator[Article]:
    with (newsqa / "articles.jsonl").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            yield article_from_json(json.loads(line), line=number)
    yield from load_path(ROOT / "seeds")


def top(retriever: Retriever, question: str, as_of: datetime | None, **kw: object) -> str | None:
    hits = retriever.search(question, as_of=as_of, limit=5, **kw).hits  # type: ignore[arg-type]
    return hits[0].article_id if hits else None


def asked_after(
    retriever: Retriever, previous: str, question: str, as_of: datetime | None
) -> tuple[str | None, bool]:
    """The top article of `question` asked right after `previous`, as the bot asks it, and
    whether it was taken for a follow-up."""
    if not followup.leans_on_previous(question):
        return top(retriever, question, as_of), False
    first = retriever.search(previous, as_of=as_of, limit=5)
    shown = first.hits[0].article_id if first.found else None  # nothing found: words only
    context = QueryContext(text=previous, article_id=shown)
    return top(retriever, question, as_of, context=context), True


@dataclass
class Tally:
    n: int = 0
    detected: int = 0
    first: int = 0
    alone: int = 0
    context: int = 0
    context_first_right: int = 0  # with context, among exchanges whose first card was right

    def row(self, name: str) -> str:
        n = max(self.n, 1)
        return (
            f"| {name} | {self.n} | {self.detected / n:.3f} | {self.first / n:.3f} | "
            f"{self.alone / n:.3f} | {self.context / n:.3f} | "
            f"{self.context_first_right / max(self.first, 1):.3f} |"
        )


def score(retriever: Retriever, exchanges: list[Exchange]) -> dict[str, Tally]:
    tallies = {"dev": Tally(), "test": Tally(), "all": Tally()}
    for number, item in enumerate(exchanges):
        shown = top(retriever, item.first, item.as_of)
        alone = top(retriever, item.followup, item.as_of)
        after, detected = asked_after(retriever, item.first, item.followup, item.as_of)
        for name in ("dev" if number % 2 == 0 else "test", "all"):
            tally = tallies[name]
            tally.n += 1
            tally.detected += detected
            tally.first += shown == item.gold_id
            tally.alone += alone == item.gold_id
            tally.context += after == item.gold_id
            tally.context_first_right += after == item.gold_id and shown == item.gold_id
    return tallies


def standalone(retriever: Retriever, dev: list[dict[str, str]]) -> tuple[int, int, int, int]:
    """(pairs, taken for follow-ups, article@1 alone, article@1 right after another)."""
    pairs = detected = alone_hits = after_hits = 0
    for previous, item in pairwise(dev):
        as_of = end_of_day(item["as_of"])
        alone = top(retriever, item["question"], as_of)
        after, lean = asked_after(retriever, previous["question"], item["question"], as_of)
        pairs += 1
        detected += lean
        alone_hits += alone == item["gold_id"]
        after_hits += after == item["gold_id"]
    return pairs, detected, alone_hits, after_hits


def print_tallies(tallies: dict[str, Tally]) -> None:
    print(
        f"Context: weight {retrieval.CONTEXT_WEIGHT}, boost {retrieval.CONTEXT_BOOST}.\n\n"
        "| split | exchanges | taken for follow-ups | first question @1 | "
        "follow-up @1 alone | follow-up @1 with context | with context, first card right |"
        "\n|---|---|---|---|---|---|---|"
    )
    for name, tally in tallies.items():
        print(tally.row(name))


def print_standalone(pairs: int, detected: int, alone_hits: int, after_hits: int) -> None:
    print(
        "\n| pairs | taken for follow-ups | @1 asked alone | @1 asked after another |"
        f"\n|---|---|---|---|\n| {pairs} | {detected} | {alone_hits / pairs:.3f} "
        f"({alone_hits}) | {after_hits / pairs:.3f} ({after_hits}) |"
    )


def arabic(arcd: Path) -> None:
    """The Arabic follow-ups, their standalone first questions, and ARCD dev in order."""
    dev = load_dev(arcd)
    exchanges = load_exchanges(dev, ARABIC_DATA)
    retriever = Retriever()
    retriever.add(arcd_articles(arcd))
    print(f"## Arabic: {len(exchanges)} follow-ups over {len(retriever)} ARCD articles\n")
    print_tallies(score(retriever, exchanges))
    firsts = [item.first for item in exchanges]
    taken = [question for question in firsts if followup.leans_on_previous(question)]
    print(f"\nStandalone first questions taken for follow-ups: {len(taken)} of {len(firsts)}")
    for question in taken:
        print(f"- {question}")
    print("\nARCD dev, each question asked right after the one before it:")
    print_standalone(*standalone(retriever, dev))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--newsqa", type=Path, default=ROOT.parent / "shared" / "newsqa")
    parser.add_argument("--arcd", type=Path, default=ROOT.parent / "shared" / "arcd")
    parser.add_argument("--grid", action="store_true", help="try context weights and boosts")
    parser.add_argument("--arabic-only", action="store_true", help="skip the English set")
    args = parser.parse_args()
    if args.arabic_only:
        arabic(args.arcd)
        return
    if not (args.newsqa / "articles.jsonl").is_file():
        sys.exit(f"no newsqa corpus at {args.newsqa} (see --newsqa)")
    dev = load_dev(args.newsqa)
    exchanges = load_exchanges(dev)
    started = time.perf_counter()
    retriever = Retriever()
    retriever.add(articles(args.newsqa))
    print(f"indexed {len(retriever)} articles in {time.perf_counter() - started:.1f} s\n")

    if args.grid:
        print("| weight | boost | dev follow-up @1 with context |\n|---|---|---|")
        for weight in (0.3, 0.5, 0.7, 1.0):
            for boost in (0.0, 2.0, 4.0, 8.0):
                retrieval.CONTEXT_WEIGHT, retrieval.CONTEXT_BOOST = weight, boost
                tally = score(retriever, exchanges)["dev"]
                print(f"| {weight} | {boost} | {tally.context / max(tally.n, 1):.3f} |")
        return

    print_tallies(score(retriever, exchanges))
    print("\nStandalone: newsqa dev, each question asked right after the one before it:")
    print_standalone(*standalone(retriever, dev))
    if (args.arcd / "articles.jsonl").is_file():
        print()
        arabic(args.arcd)


if __name__ == "__main__":
    main()
