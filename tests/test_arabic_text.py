"""Arabic text processing: normalisation, digits, stopwords, stemming, sentences, language."""

from __future__ import annotations

import pytest

from bot import arabic, text
from bot.lang import detect
from bot.passages import split_sentences


def test_diacritics_and_tatweel_are_removed() -> None:
    assert text.normalize("كَتَبَ") == "كتب"
    assert text.normalize("كتـــب") == "كتب"
    assert text.terms("المُدَرِّسُونَ") == text.terms("المدرسون")


def test_alef_forms_and_alef_maqsura_are_folded() -> None:
    assert text.normalize("أحمد إبراهيم آمنة ٱلله") == "احمد ابراهيم امنة الله"
    assert text.normalize("مستشفى") == "مستشفي"
    assert text.terms("مستشفى") == text.terms("مستشفي")


def test_ta_marbuta_is_kept_and_stripped_by_the_stemmer() -> None:
    assert text.normalize("صحيفة") == "صحيفة"
    assert text.terms("الصحيفة") == text.terms("صحيفة") == text.terms("صحيفه")


@pytest.mark.parametrize("digits", ["٢٠٢٤", "۲۰۲۴"])
def test_arabic_indic_digits_read_as_latin_digits(digits: str) -> None:
    assert text.words(f"عام {digits}") == ["عام", "2024"]
    assert text.terms(f"عام {digits}") == text.terms("عام 2024")


def test_arabic_separators_in_numbers() -> None:
    assert text.words("١٬٥٠٠ و ٢٫٥") == ["1500", "و", "2.5"]


def test_question_words_and_particles_are_stopwords() -> None:
    assert text.terms("متى ولد خاشقجي؟") == text.terms("ولد خاشقجي")
    for word in ("متى", "من", "في", "ماذا", "هو", "وفي", "ومن", "أين", "إلى"):
        assert text.is_stopword(text.normalize(word)), word
    assert not text.is_stopword("خاشقجي")
    assert "في" in arabic.stopwords()
    # "amounts to" frames a figure as "how many" does.
    assert text.terms("كم يبلغ عدد سكان مصر؟") == text.terms("عدد سكان مصر")
    assert text.terms("تبلغ مساحتها") == text.terms("مساحتها")
    # Spoken question words and the doubled-lam spelling people type in a chat.
    assert text.terms("مين رئيس مصر؟") == text.terms("وين رئيس مصر") == text.terms("رئيس مصر")
    assert text.terms("الدولة اللتي وضعت القوانين") == text.terms("الدولة التي وضعت القوانين")


def test_clitics_and_article_are_stripped() -> None:
    stem = text.terms("كتاب")[0]
    for form in ("الكتاب", "بالكتاب", "والكتاب", "وكتاب", "فالكتاب"):
        assert text.terms(form) == [stem], form
    assert text.terms("الكرة") == text.terms("كرة")
    assert text.terms("وكتبوا") == text.terms("كتب")


def test_bare_readings_take_off_particles_and_nisba_or_pronoun_endings() -> None:
    assert arabic.bare_readings("لكندا") == ["كندا", "ندا"]
    assert arabic.bare_readings("الفلسطينيين") == ["فلسطين"]
    assert arabic.bare_readings("والاندلسية") == ["اندلس"]
    assert arabic.bare_readings("ابنها") == ["ابن"]
    # No particle after the article; nothing under three letters; never the word itself.
    assert arabic.bare_readings("البطولة") == []
    assert arabic.bare_readings("لكل") == []
    assert "كندا" not in arabic.bare_readings("كندا")


def test_a_mixed_question_stems_each_word_in_its_language() -> None:
    assert text.terms("ما هو NATO troops؟") == ["nato", "troop"]
    assert text.terms("troops والكتاب") == ["troop", text.terms("كتاب")[0]]


def test_tokens_cover_diacritised_words_whole() -> None:
    sample = "كَتَبَ الصحفيُّ مقالاً في ١٩٥٨"
    tokens = list(text.tokens(sample))
    assert [sample[t.start : t.end] for t in tokens] == ["كَتَبَ", "الصحفيُّ", "مقالاً", "١٩٥٨"]
    assert [t.term for t in tokens] == text.terms(sample)


def test_english_is_untouched() -> None:
    assert text.terms("The U.S. troops in Iran's capital, 19,000 soldiers") == [
        "us", "troop", "iran", "capit", "19000", "troop",
    ]  # fmt: skip


def test_sentences_split_on_arabic_punctuation() -> None:
    paragraph = (
        "غادر السعودية في 2017. هل عاد؟ لم يعد إلى بلده الأم بعد ذلك أبدا، "
        "بل بقي في تركيا حتى نهاية حياته الطويلة؛ ثم كتب مقالا۔ وانتهى"
    )
    assert split_sentences(paragraph) == [
        "غادر السعودية في 2017.",
        "هل عاد؟",
        "لم يعد إلى بلده الأم بعد ذلك أبدا،",
        "بل بقي في تركيا حتى نهاية حياته الطويلة؛",
        "ثم كتب مقالا۔",
        "وانتهى",
    ]


def test_a_comma_after_a_few_words_or_inside_brackets_does_not_split() -> None:
    # A list or a short aside stays with what follows; so does a comma inside brackets.
    assert split_sentences("مصر، الأردن، لبنان وسوريا دول عربية.") == [
        "مصر، الأردن، لبنان وسوريا دول عربية."
    ]
    paragraph = (
        "جمال خاشقجي (13 أكتوبر 1958، المدينة المنورة - 2 أكتوبر 2018 في إسطنبول)، "
        "صحفي وإعلامي سعودي."
    )
    assert split_sentences(paragraph) == [
        "جمال خاشقجي (13 أكتوبر 1958، المدينة المنورة - 2 أكتوبر 2018 في إسطنبول)،",
        "صحفي وإعلامي سعودي.",
    ]


def test_english_sentences_still_split_as_before() -> None:
    assert split_sentences("He left, then came back. The U.S. army stayed. Why? No.") == [
        "He left, then came back.", "The U.S. army stayed.", "Why?", "No.",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("sample", "language"),
    [
        ("متى ولد خاشقجي؟", "ar"),
        ("When was Khashoggi born?", "en"),
        ("ما هو iPhone؟", "ar"),  # mostly Arabic words
        ("Who is Mohammed محمد?", "en"),  # mostly Latin words
        ("ab اب", "ar"),  # a tie goes to Arabic
        ("٢٠٢٤ 😀 ؟!", None),
        ("", None),
        ("َ ُ ِ", None),  # diacritics are not letters
    ],
)
def test_language_by_script(sample: str, language: str | None) -> None:
    assert detect(sample) == language
