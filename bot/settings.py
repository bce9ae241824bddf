"""Settings: one typed model from defaults < TOML file (NEWSBOT_CONFIG) < environment < flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platformdirs import user_data_path
from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.errors import ConfigError
from bot.tables.connection import is_postgres

CONFIG_ENV = "NEWSBOT_CONFIG"


def default_db_path() -> Path:
    """`$XDG_DATA_HOME/newsbot/newsbot.db`, i.e. `~/.local/share/newsbot/newsbot.db` by default."""
    return user_data_path("newsbot", appauthor=False) / "newsbot.db"


class FeedSettings(BaseModel):
    """One RSS/Atom feed refreshed by the running bot."""

    url: str
    name: str | None = None
    refresh_minutes: int | None = Field(default=None, ge=1, description="Overrides the default.")
    full_text: bool = False


class WebhookSettings(BaseModel):
    """Webhook mode: used instead of long polling when `url` is set."""

    url: str | None = None
    listen: str = "0.0.0.0"  # a webhook must accept outside connections
    port: int = Field(default=8443, ge=1, le=65535)
    secret_token: SecretStr | None = None


class DigestSettings(BaseModel):
    """Daily headline pushes."""

    default_time: str = "08:00"
    size: int = Field(default=8, ge=1, le=20)
    send_when_empty: bool = True
    grace_hours: float = Field(default=6.0, ge=0)
    group_admins_only: bool = True
    claim_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A claim older than this is taken to be from a dead process and retried.",
    )


class CardSettings(BaseModel):
    """Answer cards: how long their buttons keep working."""

    keep_days: int = Field(
        default=30, ge=1, description="A card older than this has expired and is pruned."
    )


class FollowUpSettings(BaseModel):
    """Follow-up questions in private chats."""

    window_minutes: float = Field(
        default=10.0,
        gt=0,
        description="A short question this soon after the last card may lean on it.",
    )


class FollowSettings(BaseModel):
    """Followed topics (/follow): caps, so one chat cannot grow without bound."""

    max_topics: int = Field(default=50, ge=1, le=500, description="Topics one chat may follow.")
    max_topic_chars: int = Field(default=100, ge=10, le=500)


class AlertSettings(BaseModel):
    """Alerts of followed topics (/follow TOPIC --alert)."""

    max_per_day: int = Field(default=3, ge=0, description="Alerts one chat gets a local day.")
    quiet_hours: str = Field(
        default="22:00-07:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
        description="Local HH:MM-HH:MM when no alert is sent (equal ends: never quiet).",
    )
    claim_lease_seconds: float = Field(default=60.0, gt=0)
    check_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the running bot looks for stories stored since its last alert "
        "pass (by itself, `newsbot ingest` or another process).",
    )


class Settings(BaseSettings):
    """Everything a user may change. Tests construct it directly."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    db: Path | str = Field(
        default_factory=default_db_path,
        description="The store: a SQLite file, or a postgresql://user@host/dbname URL.",
    )
    index_dir: Path | None = Field(
        default=None,
        description="The search index's folder (default: beside a SQLite store; in the data "
        "dir, named after the database, for PostgreSQL).",
    )
    seeds: Path | None = Field(
        default=None, description="Articles ingested into an empty store; default: bundled seeds."
    )
    timezone: str = Field(default="UTC", description="Default timezone for chats and dates.")
    top: int = Field(default=5, ge=1, le=50, description="Results per question.")
    search_engine: Literal["own", "tantivy"] = Field(
        default="own",
        description="own: in memory, small stores; tantivy: on disk, memory-mapped, any size.",
    )
    ingest_processes: int | None = Field(
        default=0,
        ge=0,
        description="Worker processes reading articles' text in a bulk ingest (from 200 "
        "articles); None: one per CPU; 0 (default): none, read in the ingest's own process.",
    )
    store_readings: bool = Field(
        default=False,
        description="Keep each article's reading (its sentences, for excerpts) in the store, "
        "made at ingest: a first question about an article costs ~1 ms less CPU, ingest "
        "~35 % more CPU and the store ~16 KB more an article (bot.stored_reading).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    telegram_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "telegram_bot_token"),
    )
    telegram_api_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TELEGRAM_API_BASE_URL", "telegram_api_base_url"),
        description="Bot API server root, e.g. http://127.0.0.1:8081 (default: Telegram's).",
    )
    admin_ids: list[int] = Field(default_factory=list)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    cards: CardSettings = Field(default_factory=CardSettings)
    followup: FollowUpSettings = Field(default_factory=FollowUpSettings)
    follows: FollowSettings = Field(default_factory=FollowSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    feeds: list[FeedSettings] = Field(default_factory=list)
    feed_refresh_minutes: int = Field(default=15, ge=1)
    feed_timeout: float = Field(default=20.0, gt=0, description="Seconds per feed request.")
    retention_days: int | None = Field(default=None, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}: use an IANA name such as Europe/London"
            ) from None
        return value

    @field_validator("db", mode="before")
    @classmethod
    def _db_location(cls, value: object) -> object:
        """A postgresql:// URL stays a string (a Path would fold its '//'); else a path."""
        if isinstance(value, str) and not is_postgres(value):
            return Path(value).expanduser()
        return value.expanduser() if isinstance(value, Path) else value

    @field_validator("seeds", "index_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get(CONFIG_ENV)
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build settings; `overrides` are command-line flags (None values are ignored).

    Raises:
        ConfigError: the config file is missing or unreadable, or a value is invalid (the
            message names the setting and why, in one line).
    """
    config = os.environ.get(CONFIG_ENV)
    if config and not Path(config).is_file():
        raise ConfigError(f"{CONFIG_ENV} points to {config}, which is not a file")
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed TOML file
        raise ConfigError(f"cannot read the settings in {config}: {exc}") from None
