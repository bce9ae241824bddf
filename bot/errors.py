"""Exceptions the core raises; adapters (CLI, Telegram) translate them for users."""


class NewsbotError(Exception):
    """Base class: a user-facing problem with a one-line message."""


class ConfigError(NewsbotError):
    """Settings are missing or invalid."""


class StoreError(NewsbotError):
    """The article store cannot be opened or is from an unknown schema version."""


class SourceError(NewsbotError):
    """An input (file, feed URL) cannot be read at all."""
