"""A store of Arabic and English articles answers each question from its own language first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.index import LexicalIndex, language_code
from bot.models import Article
from bot.parsing import article_from_json
from bot.retrieval import Retriever
from bot.text import terms as terms_of

ARABIC = Path(__file__).parent / "fixtures" / "arabic" / "articles.jsonl"
ENGLISH = [
    {
        "id": "en-metro",
        "headline": "Riyadh Metro opens to passengers",
        "published": "2024-12-02",
        "body": "The Riyadh Metro opened its first lines on Sunday. The driverless trains "
        "serve 85 stations.",
    },
    {
        "id": "en-coffee",
        "headline": "Arabica coffee: 2024 prices",
        "published": "2024-12-11",
        "body": "Arabica coffee prices rose 30 percent in 2024 after drought in Brazil and "
        "Vietnam, traders said.",
    },
]


def articles() -> list[Article]:
    lines = ARABIC.read_text(encoding="utf-8").splitlines()
    arabic = [article_from_json(json.loads(line), line=n) for n, line in enumerate(lines, 1)]
    return arabic + [article_from_json(item, line=1) for item in ENGLISH]


@pytest.fixture(scope="module")
def mixed() -> Retriever:
    retriever = Retriever()
    retriever.add(articles())
    return retriever


def ranked(retriever: Retriever, question: str, *, found: bool = True) -> list[str]:
    search = retriever.search(question)
    assert search.found or not found, question
    return [hit.article_id for hit in search.hits]


def test_each_article_knows_its_language(tmp_path: Path) -> None:
    retriever = Retriever(index_dir=tmp_path)
    retriever.add(articles())
    retriever.save(1)
    index = LexicalIndex.load(tmp_path)
    by_article = {
        index.slot_article(slot): int(code) for slot, code in enumerate(index.slot_language)
    }
    assert by_article["ar-metro"] == by_article["ar-coffee"] == language_code("ar")
    assert by_article["en-metro"] == by_article["en-coffee"] == language_code("en")


def test_the_question_language_goes_first_when_both_answer(mixed: Retriever) -> None:
    # The same words; whichever language has more of them decides. Each article holds half
    # the words, which is not enough to call either an answer: the order still holds.
    arabic = ranked(mixed, "مترو الرياض Riyadh Metro", found=False)
    english = ranked(mixed, "Riyadh Metro مترو", found=False)
    assert arabic[:2] == ["ar-metro", "en-metro"]
    assert english[:2] == ["en-metro", "ar-metro"]


def test_numbers_shared_by_both_languages_rank_each_language_first(mixed: Retriever) -> None:
    assert ranked(mixed, "أسعار القهوة 2024")[0] == "ar-coffee"
    assert ranked(mixed, "coffee prices 2024")[0] == "en-coffee"
    assert ranked(mixed, "coffee prices ٢٠٢٤")[0] == "en-coffee"


def test_only_the_other_language_answering_still_answers(mixed: Retriever) -> None:
    # An Arabic question that only the English article answers.
    assert ranked(mixed, "ما هي Riyadh Metro؟")[0] == "en-metro"
    # An English question that only an Arabic article answers.
    assert ranked(mixed, "What about الدوسري")[0] == "ar-football"


def test_a_question_without_language_is_ranked_as_one_list(mixed: Retriever) -> None:
    hits = mixed.search("2024").hits
    assert {hit.article_id for hit in hits} >= {"en-coffee", "ar-coffee"}


def test_english_articles_do_not_change_how_arabic_words_weigh() -> None:
    # Every word is weighed among the passages of its own language: in a store of both,
    # Arabic words would otherwise all look rare (few of the passages hold any) and weigh
    # alike, and the English passages' lengths would set the Arabic ones' normalisation.
    arabic = [article for article in articles() if article.id.startswith("ar-")]
    english = [article for article in articles() if article.id.startswith("en-")]
    english += [
        article_from_json(
            {"id": f"en-{n}", "headline": f"Story {n}", "body": "A long day of news. " * n},
            line=n,
        )
        for n in range(1, 40)
    ]
    alone, both = LexicalIndex(), LexicalIndex()
    alone.add(arabic)
    both.add([*arabic, *english])
    for question in ("أسعار القهوة في جدة", "مترو الرياض", "كأس العالم الأرجنتين"):
        terms = list(dict.fromkeys(terms_of(question)))
        mine, mixed = alone.match(terms), both.match(terms)
        assert mine.scores.max() > 0
        assert np.allclose(mixed.scores[: alone.n_passages], mine.scores)
        assert np.allclose(mixed.idf, mine.idf)
    # And English words among English passages, as in a store of English alone.
    english_only = LexicalIndex()
    english_only.add(english)
    assert both.idf(["coffe", "metro"]) == english_only.idf(["coffe", "metro"])
