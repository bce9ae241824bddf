"""Normalisation and tokenisation: one pipeline for the index, queries and excerpt marks."""

from __future__ import annotations

import random

from bot import text


def test_normalize_folds_case_quotes_and_accents() -> None:
    assert text.normalize("Día de los “Muertos” – Iran’s") == 'dia de los "muertos" – iran\'s'


def test_words_drop_possessives_separators_and_dots() -> None:
    words = text.words("Iran’s president: 19,000 Iraqis, 2.5% and the U.S. in Al-Hol")
    assert words == [
        "iran", "president", "19000", "iraq", "2.5", "and", "the", "us", "in", "al", "hol",
    ]  # fmt: skip


def test_separators_possessives_and_dots_are_read_only_where_they_belong() -> None:
    """A comma joins digits only before three of them, "'s" goes only after a letter or a
    digit, and dots join single letters only."""
    words = text.words("1,000,000 people, 12,34 or ,123 in x,123; _'s 3's rock'n'roll; e.g. U.S.A.")
    assert words == [
        "1000000", "people", "12", "34", "or", "123", "in", "x", "123", "s", "3", "rocknroll",
        "eg", "usa",
    ]  # fmt: skip


def test_terms_drop_stopwords_and_stem() -> None:
    assert text.terms("Which Iraqis returned home recently?") == ["iraq", "return", "home"]
    assert text.terms("How many US troops?") == ["us", "troop"]


def test_demonyms_and_the_united_states_fold_to_one_word() -> None:
    assert text.words("Iranian officials met Americans from the United States") == [
        "iran", "officials", "met", "us", "from", "the", "us",
    ]  # fmt: skip
    assert text.terms("How many soldiers?") == text.terms("How many troops?")
    # Marking an excerpt sees the same terms as the index.
    assert [t.term for t in text.tokens("Iraqi troops")] == ["iraq", "troop"]


def test_terms_of_a_question_of_stopwords_only_are_empty() -> None:
    assert text.terms("What is it? Who did that?") == []


def test_stems_match_across_inflections() -> None:
    assert text.terms("signed") == text.terms("signing") == ["sign"]


def test_tokens_give_offsets_of_the_surface_words() -> None:
    sample = "Iran’s U.S. troops: 2,500 remain."
    found = list(text.tokens(sample))
    assert [t.term for t in found] == text.terms(sample)
    assert [sample[t.start : t.end] for t in found] == [
        "Iran’s",
        "U.S.",
        "troops",
        "2,500",
        "remain",
    ]


def test_tokens_skip_stopwords_but_keep_positions() -> None:
    sample = "What did the minister sign?"
    assert [(t.term, sample[t.start : t.end]) for t in text.tokens(sample)] == [
        ("minist", "minister"),
        ("sign", "sign"),
    ]


def test_word_forms_split_as_the_word_pattern_finds_them() -> None:
    """ASCII text without a decimal point is split on its other characters instead of
    searched with the pattern: the same words, whatever the characters."""
    rng = random.Random(5)
    alphabet = [chr(c) for c in range(128)] + list("aZ09..__ ") * 8
    samples = ["3.5 or 3. 5 or .5 and 1.2.3a", "a_b\x1cc\x1fd\x7fe", "", "..", "née 2.5"]
    samples += ["".join(rng.choices(alphabet, k=rng.randrange(40))) for _ in range(3000)]
    for sample in samples:
        assert text._word_forms(sample) == text._WORD.findall(sample), repr(sample)
