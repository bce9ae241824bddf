"""Split an article into passages: the units the index scores and the excerpts come from.

Deterministic, so a passage is found again from (article, ordinal) without storing its text:
summary bullets first (one passage each), then the body packed into windows of whole
sentences of about 40-80 words. A window closes at a paragraph end once it holds 40 words,
so short news paragraphs are merged and long ones are cut between sentences; a subheading
opens a new window and stays attached to the text under it. The caption, if any, comes last.
An article with no text at all gets one passage holding its headline, so that every article
has at least one passage. The headline is indexed as its own field, not repeated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from bot.lang import ARABIC_LETTER
from bot.models import Article, Passage

MIN_WORDS = 40
MAX_WORDS = 80
# A sentence longer than this (a list, a table flattened to text) is cut every CHUNK_WORDS.
LONG_SENTENCE_WORDS = 120
CHUNK_WORDS = 60
# An Arabic comma or semicolon ends a sentence only after this many words (see _clause_ends).
MIN_CLAUSE_WORDS = 8

# End of a sentence: . ! or ? (closing quotes/brackets allowed), space, then what can open one.
# Arabic has no capitals: a full stop (. or ۔), ! or ? (? or ؟) then an Arabic letter or digit
# ends a sentence, and so does the Arabic comma or semicolon (، ؛), with which Arabic writing
# strings together what English would write as sentences ("clause" below).
_BOUNDARY = re.compile(
    r"[.!?…][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])"
    rf"|[.!?…؟۔][\"'”’)\]»]*\s+(?=[\"'“‘(\[«]?[{ARABIC_LETTER}\d])"
    r"|(?P<clause>[،؛])[\"'”’)\]»]*\s+"
)
# The Latin part of _BOUNDARY alone. It finds the same boundaries in a paragraph with none
# of the marks below (an Arabic letter, « », ؟ ۔ ، ؛, a digit other than 0-9), and runs
# much faster: most paragraphs take this path.
_LATIN_BOUNDARY = re.compile(r"[.!?…][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
# A digit other than 0-9 is never ASCII: testing that the character is a digit only after
# it matched as non-ASCII is much faster than "(?![0-9])\d" at every position.
_ARABIC_MARKS = re.compile(rf"[{ARABIC_LETTER}«»؟۔،؛]|[^\x00-\x7f](?<=\d)")
# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof gen maj lt col capt cpt sgt adm cmdr gov sen rep rev st jr sr no nos
    vs etc inc corp co ltd dept univ est approx fig jan feb mar apr jun jul aug sep sept
    oct nov dec
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, in order, whitespace-trimmed; never empty strings."""
    sentences: list[str] = []
    start = 0
    arabic = not paragraph.isascii() and _ARABIC_MARKS.search(paragraph) is not None
    for match in (_BOUNDARY if arabic else _LATIN_BOUNDARY).finditer(paragraph):
        if _is_abbreviation(paragraph[start : match.start() + 1]):
            continue
        if arabic and match.group("clause") and not _clause_ends(paragraph[start : match.start()]):
            continue
        sentences.append(paragraph[start : match.end()].strip())
        start = match.end()
    sentences.append(paragraph[start:].strip())
    return [sentence for sentence in sentences if sentence]


def _clause_ends(clause: str) -> bool:
    """Whether an Arabic comma or semicolon after `clause` ends it as a sentence.

    Not inside brackets, as in "(13 أكتوبر 1958، المدينة)", and not after a few words only: a
    list ("مصر، الأردن، ...") or a short aside stays with what follows.
    """
    return clause.count("(") <= clause.count(")") and len(clause.split()) >= MIN_CLAUSE_WORDS


def _is_abbreviation(text: str) -> bool:
    """Whether `text`, which ends with the candidate full stop, ends with an abbreviation."""
    if not text.endswith("."):
        return False
    last = text[:-1].rsplit(None, 1)[-1] if text[:-1].strip() else ""
    last = last.lstrip("\"'“‘([")
    # Initials and dotted acronyms: "F.", "U.S.", "D.C."
    if len(last) == 1 and last.isalpha():
        return True
    if "." in last and all(len(part) <= 2 for part in last.split(".")):
        return True
    return last.casefold() in _ABBREVIATIONS


def _pieces(sentence: str) -> Iterator[tuple[str, int]]:
    """A sentence, or chunks of CHUNK_WORDS words of it when it is absurdly long; each
    with its number of words."""
    words = sentence.split()
    if len(words) <= LONG_SENTENCE_WORDS:
        yield sentence, len(words)
        return
    for start in range(0, len(words), CHUNK_WORDS):
        chunk = words[start : start + CHUNK_WORDS]
        yield " ".join(chunk), len(chunk)


class _Packer:
    """Greedy packing of sentences into windows of MIN_WORDS..MAX_WORDS words."""

    def __init__(self) -> None:
        self.windows: list[str] = []
        self._current: list[str] = []
        self._count = 0

    def add_sentence(self, sentence: str) -> None:
        for piece, size in _pieces(sentence):
            if self._count >= MIN_WORDS and self._count + size > MAX_WORDS:
                self.close()
            self._current.append(piece)
            self._count += size

    def end_paragraph(self) -> None:
        if self._count >= MIN_WORDS:
            self.close()

    def close(self) -> None:
        if self._current:
            self.windows.append(" ".join(self._current))
        self._current = []
        self._count = 0


class BodyParagraph(NamedTuple):
    """One non-empty body paragraph, stripped, and its sentences (a subheading is one)."""

    text: str
    heading: bool
    sentences: list[str]


def body_paragraphs(article: Article) -> list[BodyParagraph]:
    """The body's non-empty paragraphs in order, each split into sentences once.

    Passages and excerpts are both made from these, so an article is split only once.
    """
    subheadings = set(article.subheadings)
    paragraphs = []
    for paragraph in article.body:
        text = paragraph.strip()
        if not text:
            continue
        heading = text in subheadings
        sentences = [text] if heading else split_sentences(text)
        paragraphs.append(BodyParagraph(text, heading, sentences))
    return paragraphs


def _body_windows(paragraphs: Sequence[BodyParagraph]) -> list[str]:
    packer = _Packer()
    for paragraph in paragraphs:
        if paragraph.heading:
            packer.close()
            packer.add_sentence(paragraph.text)
            continue
        for sentence in paragraph.sentences:
            packer.add_sentence(sentence)
        packer.end_paragraph()
    packer.close()
    return packer.windows


def split_passages(
    article: Article, paragraphs: Sequence[BodyParagraph] | None = None
) -> list[Passage]:
    """Passages of `article` in reading order; ordinals are 0..n-1; never empty.

    Args:
        article: the article to split.
        paragraphs: its `body_paragraphs`, when the caller has them already.

    Returns:
        Summary bullets (kind "summary"), body windows ("body"), the caption ("caption");
        or, for an article without any text, a single passage of its headline ("headline").
    """
    parts: list[tuple[str, str]] = [
        ("summary", bullet.strip()) for bullet in article.summary if bullet.strip()
    ]
    if paragraphs is None:
        paragraphs = body_paragraphs(article)
    parts += [("body", window) for window in _body_windows(paragraphs)]
    if article.caption and article.caption.strip():
        parts.append(("caption", article.caption.strip()))
    if not parts:
        parts.append(("headline", article.headline.strip() or article.headline))
    return [
        Passage(article_id=article.id, ordinal=ordinal, kind=kind, text=text)
        for ordinal, (kind, text) in enumerate(parts)
    ]
