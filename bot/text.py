"""Text normalisation and tokenisation shared by the index, the query and excerpt marking.

One pipeline for every caller, so a word marked in an excerpt is exactly a word the index
matched: NFKC, case folding, curly quotes and apostrophes folded to ASCII, accents stripped,
possessive "'s" dropped, thousands separators removed from numbers ("19,000" -> "19000"),
English stopwords removed, Snowball English stemming (PyStemmer).
Arabic words go their own way (`bot.arabic`): diacritics and tatweel removed, letter and
digit forms folded, Arabic stopwords, Snowball Arabic stemming. Each word is stemmed by its
own script, so a mixed text ("ما هو NATO") reads each word in its language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import NamedTuple

import Stemmer

from bot import arabic
from bot.lang import has_arabic

# A number with separators ("19,000", "2.5") or a run of letters/digits that may hold
# apostrophes ("Iran's", "O’Neill"): what `tokens` reports offsets for.
# A letter may carry Arabic diacritics, which are not word characters to `re`.
_LETTER = f"(?:[^\\W_]|[{arabic.MARKS}])"
_SURFACE = re.compile(
    rf"(?:[^\W\d_]\.){{2,}}|\d+(?:[.,\u066b\u066c]\d+)+|{_LETTER}+(?:['’‘ʼ]{_LETTER}+)*"
)
# Dotted acronyms are read as one word: "U.S." -> "us", "U.N." -> "un".
_ACRONYM = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]\.){2,}")
# What every dotted acronym holds (".s." of "u.s."): a cheap test that skips the slow
# search above in the many texts without one (a pattern opening with a literal is scanned
# for that character first).
_ACRONYM_HINT = re.compile(r"\.[^\W\d_]\.")
# The same, read from normalised text once apostrophes and thousands separators are gone.
# Hyphens split words: "Al-Hol" -> "al", "hol".
_WORD = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
# In ASCII text without a dot between digits, _WORD's words are the runs of letters and
# digits: every other character made a space and the text split there, a third cheaper.
_DECIMAL_POINT = re.compile(r"\.(?<=\d\.)(?=\d)")  # opens with its literal: scanned fast
_ASCII_GAPS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})
# Each opens with its literal ("'", ",") and looks behind after it: the same matches as
# "(?<=[^\W_])'s\b" and "(?<=\d),(?=\d{3}\b)", found several times faster.
_POSSESSIVE = re.compile(r"'(?<=[^\W_]')s\b")
_THOUSANDS = re.compile(r",(?<=\d,)(?=\d{3}\b)")
_FOLDS = (("’", "'"), ("‘", "'"), ("ʼ", "'"), ("`", "'"), ("´", "'"), ("“", '"'), ("”", '"'))
_ACCENTED = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")
_COMBINING = re.compile(r"[\u0300-\u036f]")
# Arabic script, digits and marks included: text holding any goes through `arabic.normalize`.
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")

# Function words, light verbs ("go", "get") and the words that frame a quiz or chat question
# ("which", "recently") rather than name what it is about: absent from a small store, they
# would count as rare and sink the confidence of a fair question. "us" stays: in news it is
# mostly the United States.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom whose why will with
    would you your yours yourself yourselves dont doesnt didnt isnt wasnt arent werent cant
    couldnt wont wouldnt shouldnt many much according recently reportedly
    go goes going went gone get gets got getting tell told know knew happen happened
    please thanks thank hi hello
    """.split()  # noqa: SIM905 - a word list reads better as text
)


# News names one place by its country, its people and its adjective ("Iran", "Iranians",
# "Iranian president"): folded to one form at index and query time alike, so a question
# need not use the article's word. Kept to unambiguous pairs; plus "soldiers" for "troops".
_SAME_AS: dict[str, tuple[str, ...]] = {
    "us": ("america", "american", "americans"),
    "iran": ("iranian", "iranians"),
    "iraq": ("iraqi", "iraqis"),
    "syria": ("syrian", "syrians"),
    "israel": ("israeli", "israelis"),
    "russia": ("russian", "russians"),
    "ukraine": ("ukrainian", "ukrainians"),
    "china": ("chinese",),
    "france": ("french",),
    "germany": ("german", "germans"),
    "turkey": ("turkish", "turks"),
    "egypt": ("egyptian", "egyptians"),
    "lebanon": ("lebanese",),
    "afghanistan": ("afghan", "afghans"),
    "pakistan": ("pakistani", "pakistanis"),
    "japan": ("japanese",),
    "mexico": ("mexican", "mexicans"),
    "canada": ("canadian", "canadians"),
    "europe": ("european", "europeans"),
    "troops": ("soldier", "soldiers"),
}
ALIASES: dict[str, str] = {form: word for word, forms in _SAME_AS.items() for form in forms}
_UNITED_STATES = re.compile(r"\bunited states\b")


class Token(NamedTuple):
    """A content word of a text: its stem and its (start, end) offsets in that text."""

    term: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def normalize(text: str) -> str:
    """Fold a text to the form words are read from: NFKC, casefold, ASCII quotes, no accents.

    Arabic script is normalised too (see `bot.arabic.normalize`).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        for curly, plain in _FOLDS:  # str.replace beats str.translate by far here
            text = text.replace(curly, plain)
        if _ACCENTED.search(text):
            text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
            text = unicodedata.normalize("NFC", text)  # recompose Arabic hamza letters
        if _ARABIC_SCRIPT.search(text):
            text = arabic.normalize(text)
    return text


def words(text: str) -> list[str]:
    """All word forms of `text` in order, stopwords included (e.g. for typo vocabularies).

    Possessives are dropped ("iran's" -> "iran"), other apostrophes removed ("o'neill" ->
    "oneill"), thousands separators too ("19,000" -> "19000"); dotted acronyms are joined
    ("U.S." -> "us"); demonyms become their country ("Iranians" -> "iran", see ALIASES).
    """
    folded = normalize(text)
    if "." in folded and _ACRONYM_HINT.search(folded):
        folded = _ACRONYM.sub(lambda match: match.group().replace(".", ""), folded)
    if "'" in folded:
        folded = _POSSESSIVE.sub("", folded).replace("'", "")
    if "," in folded:
        folded = _THOUSANDS.sub("", folded)
    if "united" in folded:
        folded = _UNITED_STATES.sub("us", folded)
    found = _word_forms(folded)
    return list(map(ALIASES.get, found, found))  # get(word, word) for each, at C speed


def _word_forms(folded: str) -> list[str]:
    """`_WORD.findall(folded)`: split on other characters when that gives the same."""
    if folded.isascii() and _DECIMAL_POINT.search(folded) is None:
        return folded.translate(_ASCII_GAPS).split()
    return _WORD.findall(folded)


def is_stopword(word: str) -> bool:
    """Whether a normalised word form carries no topic ("the", "which", "recently", "متى")."""
    return word in STOPWORDS or (not word.isascii() and word in arabic.stopwords())


def stem(word: str) -> str:
    """The stem of one normalised word form: Arabic for a word with Arabic letters, else English."""
    if not word.isascii() and has_arabic(word):
        return arabic.stem(word)
    result: str = _stemmer().stemWord(word)
    return result


def stems(word_forms: Iterable[str]) -> list[str]:
    """Stems of normalised word forms, in order (batched: much faster than `stem` per word)."""
    forms = list(word_forms)
    arabic_at = [i for i, form in enumerate(forms) if not form.isascii() and has_arabic(form)]
    if not arabic_at:
        result: list[str] = _stemmer().stemWords(forms)
        return result
    english_at = sorted(set(range(len(forms))) - set(arabic_at))
    stemmed = [""] * len(forms)
    for at, stemmer in ((arabic_at, arabic.stems), (english_at, _stemmer().stemWords)):
        for i, value in zip(at, stemmer([forms[i] for i in at]), strict=True):
            stemmed[i] = value
    return stemmed


def content_words(text: str) -> list[str]:
    """Word forms of `text` without stopwords, in order."""
    return [word for word in words(text) if not is_stopword(word)]


def terms(text: str) -> list[str]:
    """Index terms of `text`: stems of its content words, in order, repeats kept."""
    return stems(content_words(text))


def tokens(text: str) -> Iterator[Token]:
    """Content words of `text` with their offsets in `text` itself (for marking excerpts).

    Offsets refer to the original string and cover the whole surface word ("Iran's",
    "19,000"); for text in composed (NFC) form the terms are those of `terms(text)`.
    """
    for match in _SURFACE.finditer(text):
        for term in _surface_terms(match.group()):
            yield Token(term, match.start(), match.end())


def term_set(text: str) -> set[str]:
    """The distinct terms of `text` (as `tokens` would give them, without offsets)."""
    return {term for word in _SURFACE.findall(text) for term in _surface_terms(word)}


def spans(text: str, wanted: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) offsets of the surface words of `text` that hold a term in `wanted`."""
    return [
        match.span()
        for match in _SURFACE.finditer(text)
        if not wanted.isdisjoint(_surface_terms(match.group()))
    ]


@lru_cache(maxsize=65536)
def _surface_terms(surface: str) -> tuple[str, ...]:
    """Terms of one surface word; cached, as excerpts tokenise the same words over and over."""
    return tuple(stem(word) for word in words(surface) if not is_stopword(word))
