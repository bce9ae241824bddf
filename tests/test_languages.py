"""Per-chat languages: a /language choice beats the person's Telegram language; digests
speak the choice, else the subscriber's language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.languages import LanguageDesk
from bot.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "news.db")
    yield opened
    opened.close()


def test_a_chosen_language_beats_the_telegram_one(store: Store) -> None:
    languages = LanguageDesk(store)
    assert languages.language(1) == "en"  # nothing known: the default
    assert languages.language(1, "ar-SA") == "ar"
    assert languages.language(1, "pt-BR") == "en"  # no catalogue: the default
    assert languages.choose(1, "AR") == "ar"
    assert languages.chosen(1) == "ar"
    assert languages.language(1, "en-GB") == "ar"
    assert languages.language(2, "en-GB") == "en"  # other chats are not touched
    assert languages.choose(1, None) is None
    assert languages.chosen(1) is None and languages.language(1, "en") == "en"
    with pytest.raises(ValueError):
        languages.choose(1, "xx")


def test_digests_speak_the_subscribers_language_unless_the_chat_chose(store: Store) -> None:
    languages = LanguageDesk(store)
    languages.note(5, "ar")
    assert languages.language(5) == "ar"  # no person to ask: the noted language
    assert languages.chosen(5) is None
    assert languages.language(5, "en") == "en"  # a person's own language wins over a note
    languages.choose(5, "en")
    languages.note(5, "ar")  # a later subscriber does not undo the chat's choice
    assert languages.language(5) == "en"
    languages.note(6, None)
    assert store.chat_language(6) is None


def test_the_choice_survives_a_restart_and_moves_with_the_group(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "news.db")
    LanguageDesk(store).choose(-100, "ar")
    store.move_chat(-100, -1_001_000)  # the group became a supergroup
    store.close()
    reopened = Store.open(tmp_path / "news.db")
    try:
        assert LanguageDesk(reopened).chosen(-1_001_000) == "ar"
        assert LanguageDesk(reopened).chosen(-100) is None
    finally:
        reopened.close()
