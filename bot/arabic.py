"""Arabic text processing for the index and the query: normalisation, stopwords, stemming.

Normalisation (applied to the whole text before words are read from it):
- diacritics (harakat, tanwin, shadda, sukun, superscript alef, Quranic marks) and tatweel
  are removed: "كَتَبَ" and "كتـــب" read as "كتب";
- alef forms أ إ آ ٱ become ا, alef maqsura ى becomes ي (writers use them interchangeably);
- Arabic-Indic digits ٠-٩ and Eastern ۰-۹ become 0-9, the Arabic decimal and thousands
  separators "." and ",": "٢٠٢٤" finds "2024".
Ta marbuta ة is kept: the Snowball stemmer strips it as a feminine suffix ("صحيفة" ->
"صحيف"), which folding it to ه first would defeat ("صحيفه" -> "صحيفه"); a question that writes
ه for ة is matched by the stem anyway when the stemmer strips both, else by typo correction.
Stemming is PyStemmer's Snowball `arabic` (it removes the clitics و ب ل ك ال and suffixes).
Each Arabic word is also indexed by a light stem (`light_terms`), weighed lightly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources

import Stemmer

from bot.lang import has_arabic

# Combining marks of Arabic script; removed, and allowed inside a surface word.
MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
_MARK = re.compile(f"[{MARKS}\u0640]")  # and tatweel
_FOLDS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
        "\u066b": ".",  # Arabic decimal separator
        "\u066c": ",",  # Arabic thousands separator
    }
)
# The definite article with the particles that fuse to it, longest first.
_ARTICLES = ("وبال", "وكال", "وال", "بال", "كال", "فال", "ولل", "لل", "ال")
# Words that only look like article + noun: "الله" is not "ال" + "له".
_KEEP_WHOLE = frozenset({"الله", "بالله", "والله", "لله"})
_FEMININE_PLURAL = "ات"
# Conjunction attached to a stopword ("وفي", "ومن") is still a stopword.
_CONJUNCTION = "و"
# Starts a light-stem term: no word holds it, so a light term never meets a stem.
LIGHT_MARK = "~"
# One-letter particles fused to a word: "and", "so", "with", "for", "like" ("لمنظمة", "وفرنسا").
_PROCLITICS = frozenset("وفبلك")
# Endings a name takes as an adjective or with a pronoun: the nisba ("فلسطيني", "الفلسطينية",
# "الفلسطينيين", "الفلسطينيون") and "his", "her" ("ابنه", "ابنها"). Snowball takes one suffix
# off, so "الفلسطينيين" gives "لسطيني" where "فلسطين" gives "لسط".
_BARE_ENDINGS = ("ي", "ية", "يين", "يون", "يه", "ه", "ها")


def normalize(text: str) -> str:
    """Arabic letter and digit forms folded, diacritics and tatweel removed (see module)."""
    return _MARK.sub("", text).translate(_FOLDS)


def fold_digits(text: str) -> str:
    """Arabic-Indic and Eastern Arabic-Indic digits as 0-9 (all else unchanged)."""
    return text.translate(_FOLDS) if _has_arabic_digit(text) else text


def _has_arabic_digit(text: str) -> bool:
    return any("\u0660" <= ch <= "\u0669" or "\u06f0" <= ch <= "\u06f9" for ch in text)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The Arabic stopwords (normalised), from bot/data/arabic_stopwords.txt."""
    listing = resources.files("bot").joinpath("data/arabic_stopwords.txt").read_text("utf-8")
    words = {
        normalize(line.strip())
        for line in listing.splitlines()
        if line.strip() and not line.startswith("#")
    }
    return frozenset(words | {_CONJUNCTION + word for word in words if len(word) > 1})


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("arabic")


def strip_article(word: str) -> str:
    """`word` without a leading definite article and the particles fused to it.

    Snowball's Arabic stemmer leaves them on short and compound forms ("الكرة" -> "الكر",
    "والكتاب" unchanged), so "الكرة" would not meet "كرة"; a stem of two letters is kept.
    """
    if word in _KEEP_WHOLE:
        return word
    for prefix in _ARTICLES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            return word[len(prefix) :]
    return word


def _light_stem(word: str) -> str:
    """Article and sound feminine plural off: Snowball takes only the "ت" of "ات".

    ("محطات" -> "محطا", yet "محطة" -> "محط"); a stem of three letters is kept.
    """
    word = strip_article(word)
    if word.endswith(_FEMININE_PLURAL) and len(word) >= 5:
        return word[:-2]
    return word


def stem(word: str) -> str:
    """The stem of one normalised Arabic word: article and "ات" stripped, then Snowball Arabic."""
    result: str = _stemmer().stemWord(_light_stem(word))
    return result


def stems(words: Iterable[str]) -> list[str]:
    """`stem` of each normalised Arabic word, in order (batched)."""
    result: list[str] = _stemmer().stemWords([_light_stem(word) for word in words])
    return result


def light_terms(words: Iterable[str]) -> list[str]:
    """Second index terms of normalised Arabic content words, in order: each word with only
    its article and "ات" off, or else one fused particle (`light_form`), marked with
    LIGHT_MARK; other words give none.

    Snowball joins words that only share letters ("مكتبة" library and "مكتب" office both give
    "مكتب"; "ولادة" birth gives "لاد") and leaves some particles on ("لمنظمة" stays apart from
    "منظمة"); the light form keeps the first apart and joins the second, and weighed at a
    fraction of a stem (bot.index.LIGHT_WEIGHT) it orders articles the stems tie on.
    """
    return [
        LIGHT_MARK + light_form(word)
        for word in words
        if not word.isascii() and has_arabic(word) and word not in stopwords()
    ]


def light_form(word: str) -> str:
    """A normalised Arabic word less its article (with the particles fused to it), or else
    less the fused particles و ف ب ل ك while three letters are left (as Light10 does for
    و), and less "ات": "والمحطات" -> "محط", "لمنظمة" -> "منظمة", "ولمنظمة" -> "منظمة".

    A root letter may go too ("وزراء" -> "زراء"); the question's word loses it the same way,
    and as a light term it weighs little, where the stem it would blur weighs in full.
    """
    bare = strip_article(word)
    if bare == word:
        # As many as come ("ولمنظمة"), so that a word opening on one of these letters and
        # the same word after a particle meet: "فرنسا" and "وفرنسا" both give "رنسا".
        while len(bare) >= 4 and bare[0] in _PROCLITICS:
            bare = bare[1:]
    if bare.endswith(_FEMININE_PLURAL) and len(bare) >= 5:
        return bare[:-2]
    return bare


def bare_readings(word: str) -> list[str]:
    """Other ways to read a normalised Arabic word as a bare word: less one or two fused
    particles (و ف ب ل ك, on a word without the article: "لكندا" -> "كندا"), and less a
    nisba or pronoun ending, with or without its article ("الفلسطينيين" -> "فلسطين"); a
    reading of three letters or more, never the word itself (nor its article-less form).

    Each is only a guess ("لبنان" is not "ل" + "بنان"): `bot.retrieval.query_terms` keeps a
    reading whose stem an article's headline holds, a name the question asks about.
    """
    base = strip_article(word)
    heads = [base]
    if base == word:  # a particle comes before the article, never after it
        for letter in base[:2]:
            if letter not in _PROCLITICS:
                break
            heads.append(heads[-1][1:])
    found: list[str] = []
    for head in heads:
        for ending in ("", *_BARE_ENDINGS):
            if head.endswith(ending):
                bare = head[: len(head) - len(ending)]
                if len(bare) >= 3 and bare != base and bare not in found:
                    found.append(bare)
    return found


def split_joined(word: str, known: Callable[[str], bool]) -> tuple[str, str] | None:
    """A normalised word typed without the space before a definite article, as its two words
    ("الاسكندرالاكبر" -> "الاسكندر", "الاكبر"): the first split at an inner "ال" whose two
    parts are both `known`; None when there is none.

    The article is written joined to its noun, so a missed space joins two words whole, which
    no one- or two-letter correction undoes.
    """
    for at in range(2, len(word) - 3):
        if word.startswith(_ARTICLES[-1], at) and known(word[:at]) and known(word[at:]):
            return word[:at], word[at:]
    return None


def is_light_term(term: str) -> bool:
    """Whether an index term is a light stem (see `light_terms`)."""
    return term.startswith(LIGHT_MARK)
