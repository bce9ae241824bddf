"""Excerpts: the best sentences of a passage, at most ~500 characters, terms marked."""

from __future__ import annotations

from bot import text
from bot.answer import MAX_EXCERPT_CHARS, excerpt
from bot.models import Article

BODY = [
    "Iranian President Masoud Pezeshkian visited Iraq on Wednesday on his first foreign trip. "
    "He met Iraqi Prime Minister Mohammed Shia Al-Sudani at the start of a three-day visit. "
    "A rare partner of both the United States and Iran, Iraq hosts 2,500 US troops. "
    "The two countries signed 14 memoranda of understanding in different fields.",
]
ARTICLE = Article(id="a", headline="Iran’s president visits Iraq", body=BODY)


def marked(snippet: str, marks: tuple[tuple[int, int], ...]) -> list[str]:
    return [snippet[start:end] for start, end in marks]


def test_excerpt_holds_the_best_sentence_and_marks_its_terms() -> None:
    snippet, marks = excerpt(ARTICLE, 0, text.terms("How many US troops are in Iraq?"))
    assert "Iraq hosts 2,500 US troops." in snippet
    assert len(snippet) <= MAX_EXCERPT_CHARS
    assert {"troops", "US", "Iraq"} <= set(marked(snippet, marks))
    assert marks == tuple(sorted(marks))


def test_marks_cover_inflected_and_possessive_forms() -> None:
    snippet, marks = excerpt(ARTICLE, 0, text.terms("Which memorandum did they sign?"))
    assert "signed" in marked(snippet, marks)


def test_excerpt_without_terms_is_the_passage_lead() -> None:
    snippet, marks = excerpt(ARTICLE, 0, ())
    assert snippet.startswith("Iranian President Masoud Pezeshkian visited Iraq")
    assert marks == ()


def test_out_of_range_passage_falls_back_to_the_first() -> None:
    assert excerpt(ARTICLE, 99, ()) == excerpt(ARTICLE, 0, ())


def test_excerpt_stays_within_the_limit_with_context() -> None:
    sentences = [f"Sentence number {n} talks about nothing in particular at all." for n in range(9)]
    sentences[5] = "The volcano erupted at dawn."
    article = Article(id="b", headline="Long", body=[" ".join(sentences)])
    snippet, marks = excerpt(article, 0, text.terms("volcano"))
    assert "The volcano erupted at dawn." in snippet
    assert len(snippet) <= MAX_EXCERPT_CHARS
    assert marked(snippet, marks) == ["volcano"]


def test_a_huge_sentence_is_cut_around_the_first_match() -> None:
    words = ["fillerwords"] * 50 + ["Stromboli"] + ["fillerwords"] * 50  # one 101-word sentence
    article = Article(id="c", headline="Huge", body=[" ".join(words) + "."])
    snippet, marks = excerpt(article, 0, text.terms("Stromboli"))
    assert len(snippet) <= MAX_EXCERPT_CHARS
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert marked(snippet, marks) == ["Stromboli"]
