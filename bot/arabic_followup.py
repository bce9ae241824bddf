"""Arabic follow-up questions: whether an Arabic question leans on the one before (pure).

"وفي سوريا؟" (and in Syria?), "ومتى؟" (and when?), "من غيره؟" (who else?), "كم عدد سكانها؟"
(how many people live there — literally "its people") mean little alone. Arabic marks them
differently from English: "and" is a letter fused to the next word (و, ف), and a pronoun is
usually a suffix ("سكانها", "قصائده") or left out altogether (a verb carries its subject:
"متى توفي؟", "when did [he] die?"). A question that names what it is about stands on its own:
"من هو جمال خاشقجي؟" (who is Jamal Khashoggi?) or "ما هي البيتكوين؟" (what is Bitcoin?).

Words are read normalised (`bot.text.normalize`: أ إ آ → ا, ى → ي, no diacritics).
"""

from __future__ import annotations

from bot import arabic, text


def _listed(words: str) -> frozenset[str]:
    """The normalised words of a space-separated list."""
    return frozenset(arabic.normalize(word) for word in words.split())


# Conjunctions fused to the first word, and openers written apart: "وفي", "ومتى", "ثم".
CONJUNCTIONS = ("و", "ف")
OPENERS = _listed("و ف ثم لكن أيضا كذلك")
# "ماذا عن تركيا؟" (what about Turkey?)
OPENING_PAIRS = frozenset({("ماذا", "عن"), ("ما", "عن")})
QUESTION_WORDS = _listed(
    "متى أين اين كيف لماذا لما كم من ما ماذا هل أي اي ماهو ماهي بماذا لمن مين وين ليش شو ايش إيش"
)
# Words that point back: demonstratives, "there", "else"/"other", "same"; "هذا"/"هذه" before
# a time word mean now ("هذا العام", this year), not something said before. "الآخر" (the
# other) is left out: it follows a noun of the question itself ("الاسم الآخر", the other name).
POINTERS = _listed(
    "ذلك تلك هذا هذه هؤلاء أولئك هناك هنالك غيره غيرها غيرهم غيرهما آخر أخرى آخرون "
    "آخرين نفسه نفسها نفسهم ذاته ذاتها"
)
# Prepositions carrying a pronoun ("فيها", in it/there; "منه", from him).
POINTING_PREPOSITIONS = _listed(
    "له لها لهم لهما به بها بهم فيه فيها فيهم منه منها منهم عنه عنها عنهم عليه "
    "عليها عليهم إليه إليها معه معها معهم عنده عندها عندهم"
)
# Subject pronouns; after a question word they are the copula ("من هو خاشقجي؟", who is).
PRONOUNS = frozenset({"هو", "هي", "هم", "هما", "هن"})
_NOW = frozenset({"هذا", "هذه"})
_TIMES = _listed(
    "العام عام السنة سنة الشهر شهر الأسبوع أسبوع اليوم يوم الموسم موسم الصباح المساء "
    "الليلة الصيف الشتاء الربيع الخريف الفترة الأيام الوقت"
)
# Attached pronouns (his, her, their), longest first; read only on words of MIN_SUFFIXED
# letters or more without the article: "ال" and a possessive suffix never go together, so
# "الثوره" (ة written as ه) is not "its revolution"; "فهم" (understanding) is too short.
SUFFIXES = ("هما", "هم", "هن", "ها", "ه")
MIN_SUFFIXED = 4
# Words whose last letter ه is their own, not a pronoun ("واجه", faced).
WHOLE_WORDS = _listed("واجه وجه اتجه توجه اتجاه شبه أشبه انتبه نبه كره فقه مياه أفواه تافه")
# After a relative pronoun, a pronoun refers to the question's own noun ("ما العلوم التي اشتهر
# بها الشافعي؟", the sciences that al-Shafi'i was known for [them]), not to an earlier answer.
RELATIVES = _listed("الذي التي الذين اللذان اللتان اللذين اللتين اللواتي اللاتي")


def core(word: str) -> str:
    """`word` without a fused "و"/"ف" when what is left is a function or question word."""
    if len(word) > 1 and word[0] in CONJUNCTIONS:
        rest = word[1:]
        if rest in QUESTION_WORDS or rest in POINTERS or text.is_stopword(rest):
            return rest
    return word


def opens_on_previous(words: list[str]) -> bool:
    """Whether the question opens by continuing the conversation: "و"/"ف" alone or fused
    to a function word ("وفي سوريا؟", "ومتى؟"), "ثم", "لكن", or "ماذا عن"."""
    first = words[0]
    if first in OPENERS or tuple(core(word) for word in words[:2]) in OPENING_PAIRS:
        return True
    return core(first) != first


def points_back(words: list[str], i: int) -> bool:
    """Whether words[i] points at something said before (see the module docstring)."""
    word = core(words[i])
    after = words[i + 1] if i + 1 < len(words) else ""
    if word in _NOW:
        return after not in _TIMES
    if word in POINTERS:
        return True
    if word in PRONOUNS:
        return i == 0 or core(words[i - 1]) not in QUESTION_WORDS
    attached = word in POINTING_PREPOSITIONS or has_pronoun_suffix(word)
    return attached and not any(core(earlier) in RELATIVES for earlier in words[:i])


def has_pronoun_suffix(word: str) -> bool:
    """Whether a content word carries an attached pronoun ("سكانها", "قصائده", "زوجته")."""
    if len(word) < MIN_SUFFIXED or word.startswith("ال") or word in WHOLE_WORDS:
        return False
    if text.is_stopword(word):
        return False
    return word.endswith(SUFFIXES)


def is_function_word(word: str) -> bool:
    """Question words, pointers and stopwords: what does not name a subject."""
    word = core(word)
    return (
        word in QUESTION_WORDS
        or word in POINTERS
        or word in POINTING_PREPOSITIONS
        or word in PRONOUNS
        or text.is_stopword(word)
    )


def asks_about_nothing_named(words: list[str]) -> bool:
    """A question word and at most one word of its own that names nothing definite:
    "متى ولد؟" (when was [he] born?), "أين تقع؟"; not "ما هي البيتكوين؟", whose one word
    (with the article, or in Latin letters) is its subject."""
    if core(words[0]) not in QUESTION_WORDS:
        return False
    own = [word for word in words if not is_function_word(word)]
    return len(own) <= 1 and not any(word.startswith("ال") or word.isascii() for word in own)


def leans_on_previous(words: list[str], max_own_with_pointer: int) -> bool:
    """The Arabic reading of `bot.followup.leans_on_previous` over a question's normalised
    words (at most its MAX_WORDS): it opens on the previous question, points back with at
    most `max_own_with_pointer` words of its own, or asks about nothing it names."""
    if opens_on_previous(words):
        return True
    own = [word for word in words if not is_function_word(word)]
    if len(own) <= max_own_with_pointer and any(points_back(words, i) for i in range(len(words))):
        return True
    return asks_about_nothing_named(words)
