"""Retrieval benchmark on newsqa: our Retriever against raw bm25s and brute-force rapidfuzz.

Run by hand from the project root:

    python benchmarks/bench_retrieval.py [--newsqa ../shared/newsqa] [--fuzzy-every 4]
                                         [--engine own|tantivy] [--no-calibration]

The bot's index is measured on the engine it ships with by default (`own`, the setting
`search_engine`) unless `--engine tantivy`;
the calibration of `found` uses many small in-memory stores, so it runs on `own` (the
confidence formula is the same in both engines).

Prints markdown tables: article@1, article@5 and MRR on dev.jsonl answered as of each
question's date, the same with ~20 % of words mistyped (one character edited in each chosen
word, fixed seed), the same without dates (as_of=None, i.e. now); latency per question in
batch (index loaded once); index build time; peak RSS of the process building the index and
of the process serving questions from the saved index (each measured in its own process);
CPU time of whole answers from a bot store of the same articles on the same engine (a card's
answer, More, the answer with all five excerpts; see `serve_answers`; readings kept at ingest
with NEWSBOT_STORE_READINGS=true); then "answer shown" (the labelled
answer on the top card, and on any of the top five cards, headline and excerpt as the user
sees them) for dev, its tuning part and its held-out part, and why the top card misses
it (`misses_table`); then the calibration of the
`found` threshold. newsqa texts are read at run time only.

Held-out split: every third dev question (the 3rd, 6th, ...) was set aside before the
ranking and excerpts were tuned on the others, so its figures say how well the tuning carries.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import boilerplate, reading  # noqa: E402
from bot.answer import card  # noqa: E402
from bot.evaluation import add_typos, answer_shown  # noqa: E402
from bot.models import Article, Hit, Result  # noqa: E402
from bot.parsing import article_from_json  # noqa: E402
from bot.passages import split_passages  # noqa: E402
from bot.retrieval import FOUND_THRESHOLD, Retriever  # noqa: E402
from bot.search_engine import EngineName, open_engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.sources.files import load_path  # noqa: E402

TYPO_RATE = 0.2
TYPO_SEED = 7

# Questions no news store should answer: negatives for calibrating `found`.
OFF_TOPIC = [
    "What is a good recipe for chocolate cake?",
    "How do I reset my router password?",
    "What is the capital of Australia?",
    "How many legs does a spider have?",
    "What is the boiling point of water at sea level?",
    "Can you recommend a good book about gardening?",
    "How do I bake sourdough bread at home?",
    "What is the meaning of life?",
    "Who painted the Mona Lisa?",
    "How long should I boil an egg?",
    "What's the best way to learn Python programming?",
    "Tell me a joke about cats",
    "How do you tie a bowline knot?",
    "Which planet is closest to the sun?",
    "What is the square root of 144?",
    "How do I get rid of ants in my kitchen?",
    "What are the rules of castling in chess?",
    "Who wrote Pride and Prejudice?",
    "How tall is Mount Everest?",
    "What should I name my new puppy?",
    "How do I change a flat tyre on a bicycle?",
    "What is photosynthesis?",
    "How many calories are in a banana?",
    "Translate good morning into Spanish",
    "What's the plot of Hamlet?",
    "How do I knit a scarf?",
    "Which wine goes best with salmon?",
    "How to make homemade pasta dough?",
    "Why is the sky blue?",
    "What is the speed of light?",
    "How can I improve my sleep?",
    "Who discovered penicillin?",
    "What does DNA stand for?",
    "best pizza toppings",
    "how to fold a fitted sheet",
    "hello",
]


@dataclass(frozen=True)
class Question:
    text: str
    gold_id: str
    as_of: datetime
    answer: str = ""
    held_out: bool = False


@dataclass
class Scores:
    """Ranking quality over a question set; `ranks` hold the gold's rank (None: not in top 5)."""

    ranks: list[int | None] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    hits: list[list[dict[str, Any]]] = field(default_factory=list)
    terms: list[list[str]] = field(default_factory=list)

    def add(self, ranked: Sequence[str], gold: str, seconds: float) -> None:
        top = list(ranked[:5])
        self.ranks.append(top.index(gold) + 1 if gold in top else None)
        self.latencies_ms.append(seconds * 1000)

    def at(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / max(len(self.ranks), 1)

    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / max(len(self.ranks), 1)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ----------------------------------------------------------------------------- data


def load_articles(newsqa: Path) -> list[Article]:
    """newsqa articles through the product's own JSON parser (headline fallbacks included),
    without the paragraphs each site repeats (as the bot indexes and shows them)."""
    with (newsqa / "articles.jsonl").open(encoding="utf-8") as lines:
        articles = [article_from_json(json.loads(line), line=n) for n, line in enumerate(lines, 1)]
    known = boilerplate.repeated(articles)
    return [boilerplate.strip(a, known.get(boilerplate.source_of(a), ())) for a in articles]


def load_questions(newsqa: Path) -> list[Question]:
    questions = []
    with (newsqa / "dev.jsonl").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            item = json.loads(line)
            day = date.fromisoformat(item["as_of"])
            as_of = datetime.combine(day, clock.max, tzinfo=UTC)
            held_out = number % 3 == 2
            questions.append(
                Question(item["question"], item["gold_id"], as_of, item["answer"], held_out)
            )
    return questions


def conditions(questions: list[Question]) -> dict[str, list[tuple[str, Question, datetime | None]]]:
    """(asked text, question, as_of) per condition: dated, dated with typos, undated."""
    rng = random.Random(TYPO_SEED)
    return {
        "as of date": [(q.text, q, q.as_of) for q in questions],
        "as of date, 20% typos": [
            (add_typos(q.text, TYPO_RATE, rng), q, q.as_of) for q in questions
        ],
        "no dates": [(q.text, q, None) for q in questions],
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- our retriever


def build_index(newsqa: Path, index_dir: Path, engine: EngineName) -> dict[str, float]:
    """Child process: parse, index and save; report times and peak RSS."""
    started = time.perf_counter()
    articles = load_articles(newsqa)
    parsed = time.perf_counter()
    retriever = open_engine(engine, index_dir)
    passages = retriever.add(articles)
    retriever.save(1)
    built = time.perf_counter()
    return {
        "parse_s": parsed - started,
        "build_s": built - parsed,
        "passages": passages,
        "rss_mb": peak_rss_mb(),
    }


def serve_questions(newsqa: Path, index_dir: Path, engine: EngineName) -> dict[str, Any]:
    """Child process: load the saved index once, answer every condition; report all."""
    started = time.perf_counter()
    retriever = open_engine(engine, index_dir)
    load_s = time.perf_counter() - started
    results: dict[str, Scores] = {}
    for name, asked in conditions(load_questions(newsqa)).items():
        scores = Scores()
        for text, question, as_of in asked:
            begin = time.perf_counter()
            search = retriever.search(text, as_of=as_of, limit=5)
            scores.add([hit.article_id for hit in search.hits], question.gold_id, begin)
            scores.latencies_ms[-1] = (time.perf_counter() - begin) * 1000
            scores.hits.append([hit.model_dump() for hit in search.hits])
            scores.terms.append(list(search.terms))
        results[name] = scores
    # Plain values cross the process boundary (classes of __main__ do not unpickle there).
    plain = {
        name: (scores.ranks, scores.latencies_ms, scores.hits, scores.terms)
        for name, scores in results.items()
    }
    return {"load_s": load_s, "results": plain, "rss_mb": peak_rss_mb()}


# ----------------------------------------------------------------------------- whole answers


def build_store(newsqa: Path, db: Path, engine: EngineName) -> float:
    """Child process: ingest newsqa into a bot store (and its index); CPU seconds spent."""
    from bot.service import NewsDesk
    from bot.settings import Settings

    started = time.process_time()
    desk = NewsDesk.open(Settings(db=db, search_engine=engine), seed=False)
    desk.ingest([newsqa / "articles.jsonl"])
    desk.close()
    return time.process_time() - started


def serve_answers(newsqa: Path, db: Path, engine: EngineName) -> dict[str, list[float]]:
    """Child process: CPU ms (process_time) of whole answers from the bot's own store, on
    `engine` (settings as the environment gives them: NEWSBOT_STORE_READINGS and the like).

    A card answer is what a chat gets: the search (SPREAD_WINDOW hits, for the story spread
    and the More order), the store reads and the excerpt of the result it shows; the other
    results' excerpts are built when More shows them ("More"). First asked with nothing
    read before, then each question again (its articles read: the reading cache); then the
    answer with all five excerpts (CLI, inline queries) with the cache emptied first.
    """
    from bot import reading
    from bot.service import NewsDesk
    from bot.settings import Settings

    desk = NewsDesk.open(Settings(db=db, search_engine=engine), seed=False)
    asked = [(q.text, q.as_of) for q in load_questions(newsqa)]
    desk.ask(asked[0][0], as_of=asked[0][1], excerpts=1)  # index loaded, caches of code warm
    reading.clear_cache()
    spent: dict[str, list[float]] = {}

    def timed(name: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        value = work(*args, **kwargs)
        spent.setdefault(name, []).append((time.process_time() - started) * 1000)
        return value

    more = "More: the next result's excerpt"
    for rounds, name in ((1, "card answer, first asked"), (2, "card answer, asked again")):
        for _ in range(rounds):
            for text, as_of in asked:
                answer = timed(name, desk.ask, text, as_of=as_of, excerpts=1)
                if rounds == 1 and len(answer.results) > 1:
                    timed(more, desk.complete, answer.results[1])
    reading.clear_cache()
    for text, as_of in asked:
        timed("answer with all five excerpts", desk.ask, text, as_of=as_of)
    for text, as_of in asked:
        timed("search alone (5 hits)", desk.retriever.search, text, as_of=as_of, limit=5)
    desk.close()
    return spent


def answers_table(spent: dict[str, list[float]]) -> str:
    rows = ["| whole answer, CPU ms per question | n | p50 | p99 |", "|---|--:|--:|--:|"]
    for name, values in spent.items():
        ordered = sorted(values)
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        rows.append(f"| {name} | {len(values)} | {p50:.2f} | {p99:.2f} |")
    return "\n".join(rows)


def in_child(function: Callable[..., Any], *args: Any) -> Any:
    """Run `function` in a fresh process, so its peak RSS is its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


# ----------------------------------------------------------------------------- baselines


class Baseline:
    """Article ranking from passage scores: best passage per article, no future articles."""

    def __init__(self, articles: list[Article]) -> None:
        self.passage_article: list[str] = []
        self.texts: list[str] = []
        self.published = {a.id: a.published for a in articles}
        for article in articles:
            for passage in split_passages(article):
                self.passage_article.append(article.id)
                self.texts.append(passage.text)

    def rank(self, passages: Sequence[int], as_of: datetime | None) -> list[str]:
        ranked: list[str] = []
        for index in passages:
            article_id = self.passage_article[index]
            published = self.published[article_id]
            if as_of is not None and published is not None and published > as_of:
                continue
            if article_id not in ranked:
                ranked.append(article_id)
            if len(ranked) == 5:
                break
        return ranked


class Bm25sBaseline(Baseline):
    """Raw bm25s (English stopwords, Snowball stemmer) over the same passages."""

    def __init__(self, articles: list[Article]) -> None:
        import bm25s
        import Stemmer

        super().__init__(articles)
        started = time.perf_counter()
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(
            self.texts, stopwords="en", stemmer=self._stemmer, show_progress=False
        )
        self.model = bm25s.BM25()
        self.model.index(tokens, show_progress=False)
        self.build_s = time.perf_counter() - started

    def search(self, text: str, as_of: datetime | None) -> list[str]:
        query = self._bm25s.tokenize(
            [text], stopwords="en", stemmer=self._stemmer, show_progress=False
        )
        if not query.vocab:
            return []
        found, _ = self.model.retrieve(query, k=300, show_progress=False, n_threads=1)
        return self.rank([int(i) for i in found[0]], as_of)


class FuzzyBaseline(Baseline):
    """Brute force: rapidfuzz token_set_ratio of the question against every passage."""

    def search(self, text: str, as_of: datetime | None) -> list[str]:
        from rapidfuzz import fuzz, process, utils

        best = process.extract(
            text,
            self.texts,
            scorer=fuzz.token_set_ratio,
            processor=utils.default_process,
            limit=300,
        )
        return self.rank([index for _, _, index in best], as_of)


def run_baseline(
    search: Callable[[str, datetime | None], list[str]],
    asked: list[tuple[str, Question, datetime | None]],
) -> Scores:
    scores = Scores()
    for text, question, as_of in asked:
        begin = time.perf_counter()
        ranked = search(text, as_of)
        scores.add(ranked, question.gold_id, begin)
        scores.latencies_ms[-1] = (time.perf_counter() - begin) * 1000
    return scores


# ----------------------------------------------------------------------------- calibration


def top_confidence(retriever: Retriever, text: str, as_of: datetime | None) -> float:
    hits = retriever.search(text, as_of=as_of, limit=1).hits
    return hits[0].score if hits else 0.0


THRESHOLDS = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60]
CHAT = ROOT / "benchmarks" / "data" / "chat_questions.jsonl"


@dataclass
class Confidences:
    """Top-hit confidences of questions that should be found and of ones that should not."""

    answerable: dict[str, list[float]] = field(default_factory=dict)
    unanswerable: dict[str, list[float]] = field(default_factory=dict)

    def add(self, answerable: bool, group: str, value: float) -> None:
        bucket = self.answerable if answerable else self.unanswerable
        bucket.setdefault(group, []).append(value)


def load_chat(path: Path) -> list[tuple[str, str | None, datetime | None]]:
    """The chat-style questions: (question, gold id or None for off-topic, as_of or None)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        day = item.get("as_of")
        as_of = datetime.combine(date.fromisoformat(day), clock.max, tzinfo=UTC) if day else None
        rows.append((item["question"], item.get("gold_id"), as_of))
    return rows


def confidences(
    articles: list[Article],
    seeds: list[Article],
    questions: list[Question],
    chat: list[tuple[str, str | None, datetime | None]],
) -> Confidences:
    """Answerable: dev and chat questions whose top hit is right, on the mixed store (newsqa
    and seeds), on small stores (the gold plus 30 random articles) and, for the seeds' own
    questions, on the seeds alone. Unanswerable: off-topic questions (OFF_TOPIC and the chat
    set's) on the mixed store and on the seeds alone, and dev and chat questions on small
    stores of random articles without their gold."""
    rng = random.Random(11)
    found = Confidences()
    mixed, alone = Retriever(), Retriever()
    mixed.add([*articles, *seeds])
    alone.add(seeds)
    seed_ids = {article.id for article in seeds}
    asked = [(q.text, q.gold_id, q.as_of, "dev") for q in questions]
    asked += [(text, gold, as_of, "chat") for text, gold, as_of in chat if gold]
    for text, gold, as_of, group in asked:
        hits = mixed.search(text, as_of=as_of, limit=1).hits
        if hits and hits[0].article_id == gold:
            found.add(True, f"{group}, mixed store", hits[0].score)
        if gold in seed_ids:
            hits = alone.search(text, as_of=as_of, limit=1).hits
            if hits and hits[0].article_id == gold:
                found.add(True, f"{group}, seeds alone", hits[0].score)
    off_topic = [(text, q.as_of, "off-topic") for text in OFF_TOPIC for q in questions[::24]]
    off_topic += [(text, None, "chat off-topic") for text, gold, _ in chat if not gold]
    for text, as_of, group in off_topic:
        found.add(False, f"{group}, mixed store", top_confidence(mixed, text, as_of))
        found.add(False, f"{group}, seeds alone", top_confidence(alone, text, as_of))
    by_id = {article.id: article for article in [*articles, *seeds]}
    for text, gold, as_of, group in asked:
        others = [a for a in rng.sample(articles, 32) if a.id != gold][:30]
        small = Retriever()
        small.add([*others, by_id[gold]])
        hits = small.search(text, as_of=as_of, limit=1).hits
        if hits and hits[0].article_id == gold:
            found.add(True, f"{group}, small stores", hits[0].score)
        empty = Retriever()
        empty.add([*others, *[a for a in rng.sample(articles, 2) if a.id != gold]])
        found.add(False, f"{group}, small stores", top_confidence(empty, text, as_of))
    return found


def calibration(found: Confidences) -> str:
    """Threshold sweep: share found of each group; balanced accuracy over all."""
    groups = [("+", name, values) for name, values in found.answerable.items()]
    groups += [("-", name, values) for name, values in found.unanswerable.items()]
    rows = ["| group | n | " + " | ".join(f"{t:.2f}" for t in THRESHOLDS) + " |"]
    rows.append("|---|--:|" + "--:|" * len(THRESHOLDS))
    for sign, name, values in groups:
        shares = [float(np.mean(np.array(values) >= t)) for t in THRESHOLDS]
        label = ("found: " if sign == "+" else "refused wrongly: ") + name
        rows.append(f"| {label} | {len(values)} | " + " | ".join(f"{x:.2f}" for x in shares) + " |")
    positives = np.array([v for values in found.answerable.values() for v in values])
    negatives = np.array([v for values in found.unanswerable.values() for v in values])
    balanced = [
        (float(np.mean(positives >= t)) + 1 - float(np.mean(negatives >= t))) / 2
        for t in THRESHOLDS
    ]
    rows.append("| **balanced accuracy (all)** | | " + " | ".join(f"{b:.3f}" for b in balanced))
    best = THRESHOLDS[int(np.argmax(balanced))]
    rows.append("")
    rows.append(
        f"answerable n={len(positives)}, unanswerable n={len(negatives)}; best balanced "
        f"accuracy at {best:.2f}; FOUND_THRESHOLD in code = {FOUND_THRESHOLD}. Rows of "
        "unanswerable questions give the share wrongly found."
    )
    return "\n".join(rows)


# ----------------------------------------------------------------------------- report


def shown_table(served: dict[str, Scores], asked: list[Question], by_id: dict[str, Article]) -> str:
    """Ranking and answer shown, as of each date, for dev, its tuning part and held-out part."""
    dated, typos = served["as of date"], served["as of date, 20% typos"]
    rows = [
        "| questions | n | @1 | @5 | MRR | answer shown (top card) | answer shown (top 5) "
        "| typos @1 | typos @5 |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    parts = {
        "dev (all)": lambda q: True,
        "tuning part (2/3)": lambda q: not q.held_out,
        "held-out part (1/3)": lambda q: q.held_out,
    }
    for label, keep in parts.items():
        chosen = [i for i, q in enumerate(asked) if keep(q)]
        part = Scores([dated.ranks[i] for i in chosen])
        part_typos = Scores([typos.ranks[i] for i in chosen])
        top = top5 = 0
        for i in chosen:
            cards = [
                card(by_id[hit.article_id], hit, asked[i].text, dated.terms[i])
                for hit in (Hit.model_validate(plain) for plain in dated.hits[i])
            ]
            shown = [answer_shown(asked[i].answer, c) for c in cards]
            top += bool(shown) and shown[0]
            top5 += any(shown)
        n = max(len(chosen), 1)
        rows.append(
            f"| {label} | {len(chosen)} | {part.at(1):.3f} | {part.at(5):.3f} | "
            f"{part.mrr():.3f} | {top / n:.3f} | {top5 / n:.3f} | "
            f"{part_typos.at(1):.3f} | {part_typos.at(5):.3f} |"
        )
    return "\n".join(rows)


def misses_table(
    served: dict[str, Scores], asked: list[Question], by_id: dict[str, Article]
) -> str:
    """Why the top card misses the answer, per part of dev: (a) the right article is first and
    holds the answer among the sentences an excerpt may show, but the excerpt shows another;
    (b) another article is first (split by whether the right one holds the answer); (c) the
    right article is first but does not hold the answer word for word (a paraphrase)."""
    dated = served["as of date"]
    kinds = {
        "shown": "answer shown",
        "a": "(a) right article first, holds the answer, excerpt shows another sentence",
        "b": "(b) another article first, the right one holds the answer",
        "b-": "(b') another article first, the right one does not hold it word for word",
        "c": "(c) right article first, does not hold the answer word for word",
    }
    counts = {kind: [0, 0, 0] for kind in kinds}
    for i, question in enumerate(asked):
        hits = [Hit.model_validate(plain) for plain in dated.hits[i]]
        gold = by_id[question.gold_id]
        text = " ".join([gold.headline, *reading.read(gold).sentences])
        holds = answer_shown(
            question.answer, Result(article_id=gold.id, headline="", excerpt=text, score=0.0)
        )
        if hits and answer_shown(
            question.answer, card(by_id[hits[0].article_id], hits[0], question.text, dated.terms[i])
        ):
            kind = "shown"
        elif hits and hits[0].article_id == question.gold_id:
            kind = "a" if holds else "c"
        else:
            kind = "b" if holds else "b-"
        for column in (0, 2 if question.held_out else 1):
            counts[kind][column] += 1
    rows = ["| top card | dev | tuning part | held-out part |", "|---|--:|--:|--:|"]
    rows += [f"| {label} | {' | '.join(map(str, counts[kind]))} |" for kind, label in kinds.items()]
    return "\n".join(rows)


def table(systems: dict[str, dict[str, Scores]], notes: dict[str, str]) -> str:
    names = ["as of date", "as of date, 20% typos", "no dates"]
    header = "| system | " + " | ".join(f"{n}: @1 / @5 / MRR" for n in names)
    header += " | p50 ms | p99 ms | notes |"
    rows = [header, "|" + "---|" * (len(names) + 4)]
    for system, results in systems.items():
        cells = [
            f"{results[n].at(1):.3f} / {results[n].at(5):.3f} / {results[n].mrr():.3f}"
            for n in names
        ]
        latency = results[names[0]]
        rows.append(
            f"| {system} | {' | '.join(cells)} | {latency.percentile(50):.2f} | "
            f"{latency.percentile(99):.2f} | {notes.get(system, '')} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--newsqa", type=Path, default=ROOT.parent / "shared" / "newsqa")
    parser.add_argument(
        "--fuzzy-every", type=int, default=4, help="rapidfuzz on every n-th question only"
    )
    parser.add_argument("--no-calibration", action="store_true")
    parser.add_argument(
        "--engine",
        choices=("own", "tantivy"),
        default=Settings.model_fields["search_engine"].default,
        help="the bot's index (default: the bot's own default)",
    )
    args = parser.parse_args(argv)
    newsqa: Path = args.newsqa.resolve()
    if not (newsqa / "articles.jsonl").is_file():
        print(f"newsqa not found at {newsqa}; nothing to measure", file=sys.stderr)
        return 1
    questions = load_questions(newsqa)
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        index_dir = Path(tmp)
        build = in_child(build_index, newsqa, index_dir, args.engine)
        served = in_child(serve_questions, newsqa, index_dir, args.engine)
        store_cpu = in_child(build_store, newsqa, index_dir / "news.db", args.engine)
        whole = in_child(serve_answers, newsqa, index_dir / "news.db", args.engine)
        articles = load_articles(newsqa)
        bm25 = Bm25sBaseline(articles)
        fuzzy = FuzzyBaseline(articles)
        asked = conditions(questions)
        subset = {name: items[:: args.fuzzy_every] for name, items in asked.items()}
        ours = {
            name: Scores(ranks, latencies, hits, terms)
            for name, (ranks, latencies, hits, terms) in served["results"].items()
        }
        systems = {
            "Retriever (ours)": ours,
            "bm25s raw": {name: run_baseline(bm25.search, items) for name, items in asked.items()},
            "rapidfuzz brute force": {
                name: run_baseline(fuzzy.search, items) for name, items in subset.items()
            },
        }
        notes = {
            "Retriever (ours)": f"{len(questions)} questions",
            "bm25s raw": f"{len(questions)} questions; index built in {bm25.build_s:.1f} s",
            "rapidfuzz brute force": f"every {args.fuzzy_every}th question "
            f"({len(subset['as of date'])})",
        }
        print(f"## Retrieval on newsqa dev ({len(questions)} questions, {len(articles)} articles)")
        print()
        print(table(systems, notes))
        print()
        print(
            f"Retriever: index of {build['passages']:.0f} passages built in "
            f"{build['build_s']:.1f} s (+{build['parse_s']:.1f} s parsing JSON), "
            f"peak RSS {build['rss_mb']:.0f} MB while building; serving process: index "
            f"loaded in {served['load_s'] * 1000:.0f} ms, peak RSS {served['rss_mb']:.0f} MB."
        )
        print()
        print(f"## Whole answers from the bot's store ({args.engine}; CPU time, as of each date)")
        print()
        print(answers_table(whole))
        print()
        print(f"Store of {len(articles)} articles ingested in {store_cpu:.1f} CPU s.")
        print()
        print("## Answer shown (as of each date)")
        print()
        by_id = {article.id: article for article in articles}
        print(shown_table(ours, questions, by_id))
        print()
        print(misses_table(ours, questions, by_id))
        if not args.no_calibration:
            print()
            print("## Calibration of found (confidence of the top hit)")
            print()
            seeds = list(load_path(ROOT / "seeds"))
            print(calibration(confidences(articles, seeds, questions, load_chat(CHAT))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
