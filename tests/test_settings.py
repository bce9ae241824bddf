"""Settings: precedence of sources, and an example config that documents every setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.errors import ConfigError
from bot.settings import CONFIG_ENV, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "newsbot.example.toml"


def test_example_config_is_valid_and_matches_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLE))
    from_example = load_settings(db=Path("x.db"))
    monkeypatch.delenv(CONFIG_ENV)
    assert from_example == Settings(db=Path("x.db"))


def test_example_config_mentions_every_setting() -> None:
    text = EXAMPLE.read_text()

    def names(model: type[BaseModel], prefix: str = "") -> list[str]:
        found = []
        for name, info in model.model_fields.items():
            found.append(prefix + name)
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found += names(kind, prefix=f"{name}.")
        return found

    missing = [
        name
        for name in names(Settings)
        if name.rsplit(".", 1)[-1] not in text and name.upper() not in text
    ]
    assert missing == []


def test_environment_beats_file_and_flags_beat_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "newsbot.toml"
    config.write_text('top = 2\ntimezone = "Asia/Baghdad"\n[digest]\nsize = 3\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv("NEWSBOT_TOP", "4")
    monkeypatch.setenv("NEWSBOT_DIGEST__SIZE", "6")
    settings = load_settings(db=tmp_path / "flag.db")
    assert settings.top == 4
    assert settings.digest.size == 6
    assert settings.timezone == "Asia/Baghdad"
    assert settings.db == tmp_path / "flag.db"


def test_token_comes_from_the_environment_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret-token")
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:secret-token"
    assert "secret-token" not in repr(settings)
    assert "secret-token" not in str(settings.model_dump())


def test_missing_config_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()
