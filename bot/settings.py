"""Settings: `bot.toml`, overridden by ONRAMP_<SECTION>__<KEY> environment variables.

Secrets never live in bot.toml: they come from the environment under the names the platforms'
own SDKs use (see `Secrets`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG = Path("bot.toml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///data/onramp.db"
    # SQLite durability: NORMAL survives any process crash in WAL mode; FULL survives power loss.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    migrate_on_start: bool = True
    echo: bool = False


class ContentSettings(Section):
    path: Path = Path("content")


class AdaptersSettings(Section):
    # Unset: every platform whose secrets are in the environment (SLACK_BOT_TOKEN and its
    # signing secret or app token, TELEGRAM_BOT_TOKEN…), or the console when there are none.
    enabled: list[str] | None = None


class ConsoleSettings(Section):
    # Who you are in the console chat: --as NAME, else your login name. With neither (in a
    # container, say) you are an anonymous "newcomer" whom the bot greets without a name.
    user: str | None = None
    display_name: str | None = None


class SenderSettings(Section):
    max_attempts: int = Field(default=8, ge=1)
    backoff_seconds: float = Field(default=2.0, gt=0)
    max_backoff_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    sweep_seconds: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=500, ge=1)
    concurrency: int = Field(default=32, ge=1)


class ClockSettings(Section):
    tick_seconds: float = Field(default=5.0, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    batch_size: int = Field(default=100, ge=1)
    # Nudges never reach a member in their local night.
    quiet_hours_start: int = Field(default=21, ge=0, le=23)
    quiet_hours_end: int = Field(default=8, ge=0, le=23)


class RetentionSettings(Section):
    processed_events_days: int = Field(default=30, ge=1)
    sent_messages_days: int = Field(default=90, ge=1)


class WebSettings(Section):
    # Every interface: a container's own 127.0.0.1 cannot be reached from outside it. Behind a
    # reverse proxy on the same machine, 127.0.0.1 keeps the port private.
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    # auto: serve when an enabled adapter has web routes (webhooks); always: also for health
    # and metrics alone; never: not even then.
    enabled: Literal["auto", "always", "never"] = "auto"
    # Larger request bodies are answered 413 before any adapter sees them.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)


class TelegramSettings(Section):
    # polling: getUpdates from whichever replica leads (no public URL needed); webhook: Telegram
    # POSTs to /telegram/webhook on any replica (needs HTTPS and TELEGRAM_WEBHOOK_SECRET).
    mode: Literal["webhook", "polling"] = "polling"
    # The Bot API's address, before the token: a self-hosted Bot API server's, or a test's.
    api_url: str = "https://api.telegram.org/bot"
    # The public HTTPS address Telegram should POST to (ports 443, 80, 88 or 8443); set at
    # start-up with setWebhook. Leave empty when the webhook is registered some other way.
    webhook_url: str | None = None
    poll_timeout_seconds: int = Field(default=30, ge=0, le=50)  # long-poll length
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    # Telegram's flood limits, which the sender keeps to.
    per_chat_per_second: int = Field(default=1, ge=1)
    per_group_per_minute: int = Field(default=20, ge=1)
    overall_per_second: int = Field(default=30, ge=1)


class SlackSettings(Section):
    # http: Slack POSTs events, commands and button presses to /slack/events on any replica
    # (needs a public HTTPS URL and SLACK_SIGNING_SECRET); socket: the bot opens a websocket to
    # Slack (no public URL; needs SLACK_APP_TOKEN; one connection per process).
    mode: Literal["http", "socket"] = "http"
    # The Web API's address (with its trailing slash): Slack's, or a test's.
    api_url: str = "https://slack.com/api/"
    # Welcome everyone who joins the workspace (team_join) ...
    welcome_workspace_joins: bool = True
    # ... and everyone who joins one of these channels (ids such as C0123ABCD).
    welcome_channels: list[str] = Field(default_factory=list)
    # chat.postMessage limits the sender keeps to: (messages, per seconds).
    channel_limit: tuple[PositiveInt, PositiveFloat] = (1, 1.0)
    workspace_limit: tuple[PositiveInt, PositiveFloat] = (300, 60.0)
    # How long an event may take to be committed before Slack is answered; Slack waits 3 s.
    ack_budget_seconds: float = Field(default=2.0, gt=0, lt=3)
    request_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("api_url")
    @classmethod
    def _ends_with_slash(cls, url: str) -> str:
        return url if url.endswith("/") else f"{url}/"

    @field_validator("welcome_channels")
    @classmethod
    def _channel_ids(cls, channels: list[str]) -> list[str]:
        for channel in channels:
            if not re.fullmatch(r"[CG][A-Z0-9]{2,}", channel):
                raise ValueError(f"{channel!r} is not a channel id such as C0123ABCD")
        return channels


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "text"
    # Where logs go; empty means standard error, except with the console adapter, whose chat
    # would drown in them: then data/onramp.log.
    file: Path | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONRAMP_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )
    config_file: ClassVar[Path] = DEFAULT_CONFIG

    database: DatabaseSettings = DatabaseSettings()
    content: ContentSettings = ContentSettings()
    adapters: AdaptersSettings = AdaptersSettings()
    console: ConsoleSettings = ConsoleSettings()
    sender: SenderSettings = SenderSettings()
    clock: ClockSettings = ClockSettings()
    retention: RetentionSettings = RetentionSettings()
    web: WebSettings = WebSettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=cls.config_file)
        return (init_settings, env_settings, toml)


class Secrets(BaseSettings):
    """Platform credentials, read only from the environment, under the SDKs' own names."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    zulip_email: str | None = None
    zulip_api_key: SecretStr | None = None
    zulip_site: str | None = None
    zulip_webhook_token: SecretStr | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Settings from `config_file` (default ./bot.toml, or ONRAMP_CONFIG), env and overrides."""
    chosen = config_file or Path(os.environ.get("ONRAMP_CONFIG", DEFAULT_CONFIG))
    if config_file is not None and not chosen.is_file():
        raise FileNotFoundError(f"settings file {chosen} not found")

    class _Loaded(Settings):
        config_file: ClassVar[Path] = chosen

    return _Loaded(**overrides)  # type: ignore[arg-type]
