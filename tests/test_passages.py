"""Passage splitting: deterministic sentence windows, bullets on their own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Article
from bot.parsing import parse_seed_text
from bot.passages import MAX_WORDS, MIN_WORDS, split_passages, split_sentences

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_b8d8923356cbb90d.txt"


def sentence(n: int, words: int = 12) -> str:
    return " ".join(f"w{n}x{i}" for i in range(words - 1)).capitalize() + " end."


def make(**fields: object) -> Article:
    return Article.model_validate({"id": "a1", "headline": "A headline", **fields})


def seed_articles() -> list[Article]:
    modified = datetime(2025, 1, 1, tzinfo=UTC)
    return parse_seed_text(
        SEED.read_text(encoding="utf-8"), modified=modified, origin="seed"
    ).articles


def test_sentences_survive_abbreviations_and_initials() -> None:
    paragraph = (
        "Pezeshkian visited a monument for Iranian Maj. Gen. Qassem Soleimani. "
        "The U.S. drone attack killed him in 2020. “It was a crime,” he said! Was it? Yes."
    )
    assert split_sentences(paragraph) == [
        "Pezeshkian visited a monument for Iranian Maj. Gen. Qassem Soleimani.",
        "The U.S. drone attack killed him in 2020.",
        "“It was a crime,” he said!",
        "Was it?",
        "Yes.",
    ]


def test_summary_bullets_are_passages_of_their_own() -> None:
    article = make(summary=["First bullet", "Second bullet"], body=[sentence(1)])
    passages = split_passages(article)
    assert [(p.kind, p.text) for p in passages[:2]] == [
        ("summary", "First bullet"),
        ("summary", "Second bullet"),
    ]
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    assert {p.article_id for p in passages} == {"a1"}


def test_short_paragraphs_merge_and_long_ones_split_between_sentences() -> None:
    body = [sentence(n) for n in range(6)]  # six paragraphs of one 12-word sentence
    body.append(" ".join(sentence(n) for n in range(10, 22)))  # one paragraph of 144 words
    passages = split_passages(make(body=body))
    sizes = [len(p.text.split()) for p in passages]
    assert all(MIN_WORDS <= size <= MAX_WORDS for size in sizes[:-1])
    assert sum(sizes) == 6 * 12 + 144
    joined = " ".join(p.text for p in passages)
    assert joined == " ".join(body)  # nothing lost, nothing reordered, no sentence cut


def test_subheading_opens_a_passage() -> None:
    body = [sentence(1), "Relations with US", sentence(2)]
    passages = split_passages(make(body=body, subheadings=["Relations with US"]))
    assert [p.text for p in passages] == [body[0], f"{body[1]} {body[2]}"]


def test_article_without_text_gets_its_headline_as_passage() -> None:
    (passage,) = split_passages(make())
    assert (passage.kind, passage.text, passage.ordinal) == ("headline", "A headline", 0)


def test_caption_comes_last() -> None:
    passages = split_passages(make(body=[sentence(1)], caption="A photo caption."))
    assert (passages[-1].kind, passages[-1].text) == ("caption", "A photo caption.")


def test_absurdly_long_sentence_is_cut() -> None:
    passages = split_passages(make(body=[" ".join(["word"] * 300)]))
    assert len(passages) == 5
    assert all(len(p.text.split()) == 60 for p in passages)


@pytest.mark.parametrize("article", seed_articles(), ids=lambda a: a.id)
def test_seed_articles_split_deterministically(article: Article) -> None:
    passages = split_passages(article)
    assert passages == split_passages(article)
    assert all(p.text.strip() for p in passages)
    assert all(len(p.text.split()) <= 2 * MAX_WORDS for p in passages)
    kinds = [p.kind for p in passages]
    assert kinds[: len(article.summary)] == ["summary"] * len(article.summary)


@pytest.mark.parametrize(
    "paragraph",
    [
        "He left at 5 p.m. Then he came back. “Why?” she asked. 2019 was a year.",
        "Prices rose… Markets fell! Did they? (Yes.) [Maybe.] Ok",
        "He said. «3 men» came. Then 3 more.",
        "It ended.» ٣ men left. Then another.",
        "قال المتحدث إن الحكومة ستعلن القرار غدا في مؤتمر صحفي عام، وأضاف أن الأمر مهم."
        " Then English.",
        "Mr. Smith met Gen. Jones in the U.S. capital. They talked.",
    ],
)
def test_the_latin_shortcut_finds_the_boundaries_of_the_full_pattern(paragraph: str) -> None:
    """A paragraph without Arabic marks takes a faster pattern; the split is the same."""
    from bot import passages

    reference: list[str] = []
    start = 0
    for match in passages._BOUNDARY.finditer(paragraph):
        if passages._is_abbreviation(paragraph[start : match.start() + 1]):
            continue
        clause = paragraph[start : match.start()]
        if match.group("clause") and not passages._clause_ends(clause):
            continue
        reference.append(paragraph[start : match.end()].strip())
        start = match.end()
    reference = [s for s in [*reference, paragraph[start:].strip()] if s]
    assert split_sentences(paragraph) == reference
