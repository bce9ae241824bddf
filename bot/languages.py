"""Which language each chat speaks: its /language choice, else the person's Telegram one."""

from __future__ import annotations

from bot.i18n import DEFAULT_LANGUAGE, languages, resolve
from bot.store import Store


class LanguageDesk:
    """Per-chat languages over the store. Codes are catalogue languages (see bot.i18n)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def chosen(self, chat_id: int) -> str | None:
        """The language the chat chose with /language; None when it follows each person."""
        saved = self._store.chat_language(chat_id)
        return resolve(saved[0]) if saved and saved[1] else None

    def choose(self, chat_id: int, code: str | None) -> str | None:
        """Make the chat speak `code` ("ar", "en"...); None goes back to each person's
        Telegram language. Returns the language chosen, or None.

        Raises:
            ValueError: `code` has no catalogue.
        """
        if code is None:
            self._store.save_chat_language(chat_id, None, chosen=False)
            return None
        language = code.strip().lower()
        if language not in languages():
            raise ValueError(f"no catalogue for language {code!r}")
        self._store.save_chat_language(chat_id, language, chosen=True)
        return language

    def note(self, chat_id: int, telegram_code: str | None) -> None:
        """Remember a person's Telegram language for messages the bot sends unasked (the
        digest), unless the chat chose a language."""
        saved = self._store.chat_language(chat_id)
        if (saved and saved[1]) or not telegram_code:
            return
        language = resolve(telegram_code)
        if saved is None or saved[0] != language:
            self._store.save_chat_language(chat_id, language, chosen=False)

    def language(self, chat_id: int | None, telegram_code: str | None = None) -> str:
        """What to speak in `chat_id` to someone whose Telegram language is `telegram_code`:
        the chat's choice, else that language, else the one noted for the chat, else the
        default (English)."""
        saved = self._store.chat_language(chat_id) if chat_id is not None else None
        if saved and saved[1]:
            return resolve(saved[0])
        if telegram_code:
            return resolve(telegram_code)
        return resolve(saved[0]) if saved else DEFAULT_LANGUAGE
