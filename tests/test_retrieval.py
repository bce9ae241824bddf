"""Retriever: ranking, dates, found decision, incremental updates and persistence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.answer import excerpt
from bot.index import INDEX_FILE
from bot.models import Article
from bot.parsing import article_from_json, parse_seed_text
from bot.retrieval import Retriever

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_b8d8923356cbb90d.txt"
DAY = timedelta(days=1)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def seed_articles() -> list[Article]:
    modified = datetime(2025, 1, 1, tzinfo=UTC)
    return parse_seed_text(
        SEED.read_text(encoding="utf-8"), modified=modified, origin="seed"
    ).articles


def article(article_id: str, headline: str, body: str, published: datetime = NOW) -> Article:
    return Article(id=article_id, headline=headline, body=[body], published=published)


VOLCANO = article(
    "volcano",
    "Volcano erupts on Stromboli",
    "The Stromboli volcano in Italy erupted on Sunday, sending lava down its slopes.",
)
BUDGET = article(
    "budget",
    "Parliament passes the budget",
    "Lawmakers approved the national budget after a long night of debate.",
)


@pytest.fixture(scope="module")
def seeds() -> tuple[Retriever, dict[str, Article]]:
    articles = seed_articles()
    retriever = Retriever()
    retriever.add(articles)
    return retriever, {a.id: a for a in articles}


# Questions a reader would ask about the seeds: (question, headline word, answer in excerpt;
# "|" separates acceptable answers).
SEED_QUESTIONS = [
    ("Who did Iran's president meet in Iraq?", "Iran", "Al-Sudani|Rashid"),
    ("How many US troops are in Iraq?", "Iran", "2,500"),
    ("How many Iraqis returned home from Al-Hol?", "Al-Hol", "19,000"),
    ("How many Iraqis still remain in Al-Hol?", "Al-Hol", "3,000"),
    ("What did Iran and Iraq sign?", "Iran", "14 memoranda"),
    ("How many memoranda of understanding were signed?", "Iran", "14 memoranda"),
    ("What was Pezeshkian's first foreign trip?", "Iran", "Iraq"),
    ("How many people does the Al-Hol camp house?", "Al-Hol", "60,000"),
    ("Which camp is Iraq closing?", "Al-Hol", "Al-Hol"),
    ("Whose monument did Pezeshkian visit?", "Iran", "Soleimani"),
]


@pytest.mark.parametrize(("question", "headline", "answer"), SEED_QUESTIONS)
def test_seed_questions_find_the_article_and_the_answer(
    seeds: tuple[Retriever, dict[str, Article]], question: str, headline: str, answer: str
) -> None:
    retriever, articles = seeds
    search = retriever.search(question)
    assert search.found
    best = search.hits[0]
    assert headline in articles[best.article_id].headline
    snippet, marks = excerpt(articles[best.article_id], best.passage, best.terms)
    assert any(option in snippet for option in answer.split("|"))
    assert marks


@pytest.mark.parametrize(
    "question",
    [
        "recipe for chocolate cake",
        "who won the world cup",
        "What is the capital of Australia?",
        "How do I bake bread?",
        "hello",
        "",
        "???",
    ],
)
def test_off_topic_questions_are_not_found(
    seeds: tuple[Retriever, dict[str, Article]], question: str
) -> None:
    search = seeds[0].search(question)
    assert not search.found
    assert search.did_you_mean == search.hits


def test_hits_are_ranked_articles_with_bounded_scores(
    seeds: tuple[Retriever, dict[str, Article]],
) -> None:
    search = seeds[0].search("Iraq", limit=5)
    assert len(search.hits) == 2
    assert len({hit.article_id for hit in search.hits}) == 2
    assert all(0.0 <= hit.score <= 1.0 for hit in search.hits)
    assert search.did_you_mean == [] or not search.found


def test_misspelled_words_are_corrected(seeds: tuple[Retriever, dict[str, Article]]) -> None:
    search = seeds[0].search("How many Iraqis reamin in Al-Hol?")
    assert search.corrections == {"reamin": "remain"}
    assert search.found


def test_articles_published_after_as_of_are_left_out() -> None:
    retriever = Retriever()
    retriever.add([VOLCANO])
    assert retriever.search("Stromboli volcano", as_of=NOW - DAY).hits == []
    assert retriever.search("Stromboli volcano", as_of=NOW + DAY).found


def test_naive_as_of_is_taken_as_utc() -> None:
    retriever = Retriever()
    retriever.add([VOLCANO])
    assert retriever.search("Stromboli volcano", as_of=datetime(2024, 6, 2)).found


def test_newer_of_two_equal_articles_ranks_first() -> None:
    old = VOLCANO.model_copy(update={"id": "old", "published": NOW - 30 * DAY})
    new = VOLCANO.model_copy(update={"id": "new", "published": NOW - DAY})
    retriever = Retriever()
    retriever.add([old, new])
    assert [h.article_id for h in retriever.search("volcano eruption", as_of=NOW).hits] == [
        "new",
        "old",
    ]


def test_readding_an_article_replaces_it() -> None:
    retriever = Retriever()
    retriever.add([VOLCANO, BUDGET])
    retriever.add([VOLCANO.model_copy(update={"body": ["Etna is quiet this year."]})])
    assert len(retriever) == 2
    assert retriever.search("Stromboli lava", as_of=NOW + DAY).hits[0].article_id == "volcano"
    assert not retriever.search("lava slopes erupted", as_of=NOW + DAY).found
    assert retriever.search("Etna quiet", as_of=NOW + DAY).found


def test_remove_forgets_articles() -> None:
    retriever = Retriever()
    retriever.add([VOLCANO, BUDGET])
    assert retriever.remove(["volcano", "unknown"]) == 1
    assert len(retriever) == 1
    assert "volcano" not in retriever
    hits = retriever.search("volcano", as_of=NOW + DAY).hits
    assert [hit.article_id for hit in hits] == []


def test_empty_store_finds_nothing(tmp_path: Path) -> None:
    retriever = Retriever.open(tmp_path / "index")
    assert retriever.generation is None
    assert len(retriever) == 0
    assert retriever.search("anything at all").hits == []


def test_save_and_open_round_trip(tmp_path: Path) -> None:
    retriever = Retriever.open(tmp_path)
    retriever.add([VOLCANO, BUDGET])
    retriever.remove(["budget"])
    retriever.save(7)
    reopened = Retriever.open(tmp_path)
    assert reopened.generation == 7
    assert len(reopened) == 1
    before = retriever.search("Stromboli eruption", as_of=NOW + DAY)
    after = reopened.search("Stromboli eruption", as_of=NOW + DAY)
    assert after == before


def test_incremental_add_after_open_then_save_again(tmp_path: Path) -> None:
    first = Retriever.open(tmp_path)
    first.add([VOLCANO])
    first.save(1)
    second = Retriever.open(tmp_path)
    second.add([BUDGET])
    assert second.search("national budget", as_of=NOW + DAY).hits[0].article_id == "budget"
    second.save(2)
    third = Retriever.open(tmp_path)
    assert (third.generation, len(third)) == (2, 2)
    assert third.search("Stromboli", as_of=NOW + DAY).hits[0].article_id == "volcano"


def test_unreadable_index_opens_empty(tmp_path: Path) -> None:
    (tmp_path / INDEX_FILE).write_bytes(b"not an index")
    retriever = Retriever.open(tmp_path)
    assert (retriever.generation, len(retriever)) == (None, 0)


def test_save_needs_a_directory() -> None:
    with pytest.raises(ValueError, match="directory"):
        Retriever().save(1)


def test_an_old_answer_comes_before_a_fresh_article_that_does_not_answer() -> None:
    old = VOLCANO.model_copy(update={"published": NOW - 800 * DAY})
    fresh = article("fresh", "Italy passes its budget", "Italy passed its budget on Sunday.")
    retriever = Retriever()
    retriever.add([old, fresh])
    search = retriever.search("Which volcano erupted in Italy on Sunday?", as_of=NOW + DAY)
    assert search.found
    assert [hit.article_id for hit in search.hits] == ["volcano", "fresh"]
    assert search.hits[0].score > search.hits[1].score


@pytest.mark.parametrize("cached_forms", [200_000, 10])
def test_an_index_built_in_several_adds_equals_one_built_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached_forms: int
) -> None:
    """Word forms are remembered from one add to the next (and forgotten past a bound):
    term ids, postings and the typo vocabulary come out as from a single add."""
    from bot import index

    fixtures = Path(__file__).parent / "fixtures"
    lines = [
        line
        for name in ("stories/events.jsonl", "arabic/articles.jsonl", "stories/background.jsonl")
        for line in (fixtures / name).read_text(encoding="utf-8").splitlines()
    ]
    articles = seed_articles() + [
        article_from_json(json.loads(line), line=n) for n, line in enumerate(lines, 1)
    ]
    assert len(articles) >= 12
    whole = index.LexicalIndex()
    whole.add(articles)
    monkeypatch.setattr(index, "_MAX_CACHED_FORMS", cached_forms)
    parts = index.LexicalIndex()
    for start in range(0, len(articles), 3):
        parts.add(articles[start : start + 3])
    assert list(parts.words.items()) == list(whole.words.items())
    whole.save(tmp_path / "whole", 1)
    parts.save(tmp_path / "parts", 1)
    with (
        np.load(tmp_path / "whole" / INDEX_FILE) as one,
        np.load(tmp_path / "parts" / INDEX_FILE) as other,
    ):
        assert one.files == other.files
        for name in one.files:
            assert np.array_equal(one[name], other[name], equal_nan=True), name


def test_the_aside_test_reads_each_article_s_best_and_second_passage_on_its_own_text() -> None:
    """`body_top_two` checked against its definition, article by article: BM25 of each
    passage with the headline's counts taken out, then the best and second-best of each."""
    from bot.index import K1, LexicalIndex

    rng = np.random.default_rng(7)
    vocabulary = ["harbour", "ferry", "storm", "keeper", "lamp", "bridge", "council", "tide"]

    def sentence() -> str:
        words = rng.choice([*vocabulary, "the", "quiet", "morning", "market"], 12)
        return " ".join(words).capitalize() + "."

    articles = [
        Article(
            id=f"a{n}",
            headline=" ".join(rng.choice(vocabulary, 3)).capitalize(),
            body=[" ".join(sentence() for _ in range(8)) for _ in range(int(rng.integers(1, 9)))],
        )
        for n in range(40)
    ]
    index = LexicalIndex()
    index.add(articles)
    match = index.match(["harbour", "keeper", "tide", "storm"])
    slots = list(range(len(articles)))
    top, second, sizes = index.body_top_two(match, slots)
    norm = index._passages.norm(index._passage_alive())
    bounds = np.append(index.slot_start, index.n_passages)
    for slot in slots:
        first, end = int(bounds[slot]), int(bounds[slot + 1])
        head = index._headline_counts(slot)
        own = np.maximum(
            match.counts(first, end)
            - [head.get(t, 0) if t is not None else 0 for t in match.term_ids],
            0,
        )
        body = sorted(
            (match.idf * own * (K1 + 1.0) / (own + norm[first:end, None])).sum(axis=1),
            reverse=True,
        )
        best = body[0]
        rest = max([b for b in body if b < best], default=0.0)
        assert sizes[slot] == end - first
        assert top[slot] == pytest.approx(best)
        assert second[slot] == pytest.approx(rest if end - first > 1 else 0.0)
    # The headline's words were taken out: on full scores best passages score more.
    assert (top < np.maximum.reduceat(match.scores, index.slot_start) - 1e-9).any()


def test_best_passages_are_the_same_remembered_or_worked_out_anew() -> None:
    """A hit's best passage is remembered from the aside test's reading of its article: it
    must be the one `best_passage` finds for that article alone, in any batch."""
    from bot.index import LexicalIndex

    rng = np.random.default_rng(11)
    vocabulary = ["harbour", "ferry", "storm", "keeper", "lamp", "bridge", "council", "tide"]
    articles = [
        Article(
            id=f"a{n}",
            headline=" ".join(rng.choice(vocabulary, 3)).capitalize(),
            body=[
                " ".join(rng.choice([*vocabulary, "the", "quiet", "market"], 10)) + "."
                for _ in range(int(rng.integers(1, 12)))
            ],
        )
        for n in range(30)
    ]
    index = LexicalIndex()
    index.add(articles)
    terms = ["harbour", "keeper", "tide", "unheard"]
    alone = [index.best_passage(index.match(terms), slot) for slot in range(len(articles))]
    read = index.match(terms)
    index.body_top_two(read, list(range(0, len(articles), 2)))  # remembers every other one
    assert len(read.best) == len(range(0, len(articles), 2))
    for match in (read, index.match(terms)):
        order = [int(slot) for slot in rng.permutation(len(articles))]
        passages, held = index.best_passages(match, order)
        for slot, passage, terms_held in zip(order, passages, held, strict=True):
            assert (int(passage), list(terms_held)) == alone[slot]
