"""Arabic retrieval benchmark (ARCD dev) beside English (newsqa dev), and a mixed store.

Run by hand from the project root:

    python benchmarks/bench_arabic.py [--arcd ../shared/arcd] [--newsqa ../shared/newsqa]

Prints markdown tables. Arabic: article@1 / @5 / MRR and "answer shown" (the labelled answer
appears, normalised, in the top card: headline + excerpt; bot.evaluation.answer_shown; for
bm25s the headline and whole top passage) for our Retriever, for bm25s given
the same Arabic preprocessing (the index's own terms: normalisation, stopwords, stemming) and
for raw bm25s; the same with ~20 % of words mistyped (one edit with Arabic letters, fixed
seed); each on the whole dev set and on its two halves (split by a hash of the question id:
"tune" is the half the constants were tuned on, "held out" the other). English: newsqa dev
as in bench_retrieval.py. Mixed: both corpora in one store, each language's questions
(as of their dates, and undated). ARCD and newsqa texts are read at run time only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import text  # noqa: E402
from bot.answer import card  # noqa: E402
from bot.evaluation import add_typos, answer_shown, normalise_answer  # noqa: E402
from bot.models import Article  # noqa: E402
from bot.parsing import article_from_json  # noqa: E402
from bot.passages import split_passages  # noqa: E402
from bot.retrieval import Retriever  # noqa: E402
from bot.search_engine import EngineName, SearchEngine, open_engine  # noqa: E402

TYPO_RATE = 0.2
TYPO_SEED = 7


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    gold_id: str
    answer: str
    as_of: datetime

    @property
    def half(self) -> str:
        """ "tune" or "held out", by a fixed hash of the question id."""
        digest = hashlib.sha1(self.qid.encode()).digest()[0]
        return "tune" if digest % 2 == 0 else "held out"


@dataclass
class Scores:
    ranks: list[int | None] = field(default_factory=list)
    shown: list[bool] = field(default_factory=list)

    def add(self, ranked: Sequence[str], gold: str, shown: bool) -> None:
        top = list(ranked[:5])
        self.ranks.append(top.index(gold) + 1 if gold in top else None)
        self.shown.append(shown)

    def at(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / max(len(self.ranks), 1)

    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / max(len(self.ranks), 1)

    def shown_rate(self) -> float:
        return sum(self.shown) / max(len(self.shown), 1)

    def subset(self, keep: Sequence[bool]) -> Scores:
        return Scores(
            [r for r, k in zip(self.ranks, keep, strict=True) if k],
            [s for s, k in zip(self.shown, keep, strict=True) if k],
        )

    def cells(self) -> str:
        return f"{self.at(1):.3f} | {self.at(5):.3f} | {self.mrr():.3f} | {self.shown_rate():.3f}"


def shows(headline: str, shown_text: str, answer: str) -> bool:
    """Whether the labelled answer is in a card (headline and text), as `newsbot eval` reads it."""
    wanted = normalise_answer(answer)
    return bool(wanted) and f" {wanted} " in f" {normalise_answer(f'{headline}. {shown_text}')} "


def load_articles(corpus: Path) -> list[Article]:
    with (corpus / "articles.jsonl").open(encoding="utf-8") as lines:
        return [article_from_json(json.loads(line), line=n) for n, line in enumerate(lines, 1)]


def load_questions(corpus: Path) -> list[Question]:
    questions = []
    with (corpus / "dev.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            as_of = datetime.combine(date.fromisoformat(item["as_of"]), clock.max, tzinfo=UTC)
            questions.append(
                Question(item["qid"], item["question"], item["gold_id"], item["answer"], as_of)
            )
    return questions


Asked = list[tuple[str, Question, datetime | None]]


def conditions(questions: list[Question]) -> dict[str, Asked]:
    rng = random.Random(TYPO_SEED)
    return {
        "as of date": [(q.text, q, q.as_of) for q in questions],
        "20% typos": [(add_typos(q.text, TYPO_RATE, rng), q, q.as_of) for q in questions],
    }


def run_ours(retriever: SearchEngine, articles: dict[str, Article], asked: Asked) -> Scores:
    scores = Scores()
    for asked_text, question, as_of in asked:
        search = retriever.search(asked_text, as_of=as_of, limit=5)
        hits = search.hits
        # The card as the bot shows it (NewsDesk passes the question and its terms).
        shown = bool(hits) and answer_shown(
            question.answer,
            card(articles[hits[0].article_id], hits[0], search.question, search.terms),
        )
        scores.add([hit.article_id for hit in hits], question.gold_id, shown)
    return scores


class Bm25s:
    """bm25s over our passages: with the index's own terms, or its default tokenisation."""

    def __init__(self, articles: list[Article], *, ours: bool) -> None:
        import bm25s

        self._bm25s = bm25s
        self._ours = ours
        self.passage_article: list[str] = []
        self.texts: list[str] = []
        self.headlines: list[str] = []
        for article in articles:
            for passage in split_passages(article):
                self.passage_article.append(article.id)
                self.headlines.append(article.headline)
                self.texts.append(passage.text)
        self.model = bm25s.BM25()
        self.model.index(
            self._tokenize([f"{h}\n{t}" for h, t in zip(self.headlines, self.texts, strict=True)]),
            show_progress=False,
        )

    def _tokenize(self, texts: list[str]) -> object:
        if self._ours:
            return [text.terms(value) or ["\x00"] for value in texts]
        return self._bm25s.tokenize(texts, show_progress=False)

    def search(self, question: str) -> tuple[list[str], int]:
        """Article ids best first (up to 5) and the top passage (-1 for none)."""
        if self._ours:
            terms = text.terms(question)
            vocabulary = self.model.vocab_dict
            query: object = [[t for t in terms if t in vocabulary]]
            if not query[0]:  # type: ignore[index]
                return [], -1
        else:
            query = self._bm25s.tokenize([question], show_progress=False)
            if not query.vocab:  # type: ignore[attr-defined]
                return [], -1
        k = min(200, len(self.texts))
        found, _ = self.model.retrieve(query, k=k, show_progress=False, n_threads=1)
        ranked: list[str] = []
        for index in found[0]:
            article_id = self.passage_article[int(index)]
            if article_id not in ranked:
                ranked.append(article_id)
        return ranked[:5], int(found[0][0])


def run_bm25s(model: Bm25s, articles: dict[str, Article], asked: Asked) -> Scores:
    scores = Scores()
    for asked_text, question, _ in asked:
        ranked, top = model.search(asked_text)
        shown = top >= 0 and shows(model.headlines[top], model.texts[top], question.answer)
        scores.add(ranked, question.gold_id, shown)
    return scores


def table(rows: dict[str, dict[str, Scores]], questions: list[Question]) -> str:
    halves = [q.half for q in questions]
    out = [
        "| system | condition | questions | @1 | @5 | MRR | answer shown |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for system, by_condition in rows.items():
        for condition, scores in by_condition.items():
            out.append(f"| {system} | {condition} | {len(scores.ranks)} | {scores.cells()} |")
            for half in ("tune", "held out"):
                part = scores.subset([h == half for h in halves])
                out.append(f"| | {condition}, {half} half | {len(part.ranks)} | {part.cells()} |")
    return "\n".join(out)


def timed(label: str, function: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = function()
    print(f"<!-- {label}: {time.perf_counter() - started:.1f} s -->", file=sys.stderr)
    return result


def arabic_engine(name: EngineName, folder: Path, articles: list[Article]) -> SearchEngine:
    """The bot's engine `name` over `articles`, its index saved in `folder`."""
    engine = open_engine(name, folder)
    engine.add(articles)
    engine.save(1)
    return engine


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arcd", type=Path, default=ROOT.parent / "shared" / "arcd")
    parser.add_argument("--newsqa", type=Path, default=ROOT.parent / "shared" / "newsqa")
    parser.add_argument("--arabic-only", action="store_true", help="skip English and mixed")
    parser.add_argument("--no-baselines", action="store_true", help="skip bm25s")
    parser.add_argument(
        "--engine",
        choices=("own", "tantivy"),
        default="own",
        help="the bot's search engine for the Arabic rows (English and mixed: own)",
    )
    args = parser.parse_args(argv)
    arcd: Path = args.arcd.resolve()
    if not (arcd / "articles.jsonl").is_file():
        print(f"ARCD not found at {arcd}; nothing to measure", file=sys.stderr)
        return 1
    ar_articles = load_articles(arcd)
    ar_questions = load_questions(arcd)
    ar_by_id = {a.id: a for a in ar_articles}
    ar_asked = conditions(ar_questions)
    with tempfile.TemporaryDirectory() as folder:
        engine = arabic_engine(args.engine, Path(folder), ar_articles)
        ours = {n: run_ours(engine, ar_by_id, a) for n, a in ar_asked.items()}
        engine.close()
    rows = {f"ours ({args.engine} engine)": ours}
    if not args.no_baselines:
        for name, ours in (("bm25s, same Arabic preprocessing", True), ("bm25s raw", False)):
            model = Bm25s(ar_articles, ours=ours)
            rows[name] = {n: run_bm25s(model, ar_by_id, a) for n, a in ar_asked.items()}
    print(f"## Arabic: ARCD dev ({len(ar_questions)} questions, {len(ar_articles)} articles)")
    print()
    print(table(rows, ar_questions))
    newsqa: Path = args.newsqa.resolve()
    if args.arabic_only or not (newsqa / "articles.jsonl").is_file():
        return 0
    en_articles = load_articles(newsqa)
    en_questions = load_questions(newsqa)
    en_by_id = {a.id: a for a in en_articles}
    en_asked = conditions(en_questions)
    en_store = Retriever()
    en_store.add(en_articles)
    ar_store = Retriever()
    ar_store.add(ar_articles)
    mixed = Retriever()
    mixed.add([*en_articles, *ar_articles])
    both = en_by_id | ar_by_id
    undated = {
        "Arabic": [(q.text, q, None) for q in ar_questions],
        "English": [(q.text, q, None) for q in en_questions],
    }
    print()
    print(f"## English beside it: newsqa dev ({len(en_questions)} questions)")
    print()
    print(
        table(
            {"Retriever (ours)": {n: run_ours(en_store, en_by_id, a) for n, a in en_asked.items()}},
            en_questions,
        )
    )
    print()
    print(f"## Mixed store: newsqa + ARCD ({len(en_articles) + len(ar_articles)} articles)")
    print()
    out = ["| questions | store | condition | @1 | @5 | MRR | answer shown |"]
    out.append("|---|---|---|--:|--:|--:|--:|")
    for language, asked, own, own_by_id in (
        ("Arabic", ar_asked, ar_store, ar_by_id),
        ("English", en_asked, en_store, en_by_id),
    ):
        for condition, items in [*asked.items(), ("no dates", undated[language])]:
            for store_name, store, by_id in (("own", own, own_by_id), ("mixed", mixed, both)):
                scores = run_ours(store, by_id, items)
                out.append(f"| {language} | {store_name} | {condition} | {scores.cells()} |")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
