"""Settings: `bot.toml`, overridden by ONRAMP_<SECTION>__<KEY> environment variables.

Secrets never live in bot.toml: they come from the environment under the names the platforms'
own SDKs use (see `Secrets`).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot import settings_problems
from bot.settings_problems import SettingsError
from storage.database import DatabaseUrlError, async_url

DEFAULT_CONFIG = Path("bot.toml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _comma_list(value: Any) -> Any:
    """A list from the environment as an operator writes it, `slack,telegram`, or as JSON,
    `["slack", "telegram"]`; bot.toml's own lists pass through."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            return value  # reported as "expected a list"
    return [item.strip() for item in value.split(",") if item.strip()]


# NoDecode: pydantic-settings would otherwise insist on JSON for a list in the environment.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


class DatabaseSettings(Section):
    # postgres:// and postgresql:// (as hosting providers give them) mean asyncpg; sqlite:///
    # means aiosqlite.
    url: str = "sqlite+aiosqlite:///data/onramp.db"
    # SQLite durability: NORMAL survives any process crash in WAL mode; FULL survives power loss.
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    migrate_on_start: bool = True
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        try:
            return async_url(url)
        except DatabaseUrlError as exc:
            raise ValueError(str(exc)) from None


class ContentSettings(Section):
    path: Path = Path("content")
    # The least share (percent) of the content's texts each declared locale must translate
    # for the content to load; 0 lets a new language go live with a few texts (the rest is
    # shown in the default locale). `onramp i18n status` shows each locale's share.
    min_coverage: float = Field(default=0, ge=0, le=100)


class AdaptersSettings(Section):
    # Unset: every platform whose secrets are in the environment (SLACK_BOT_TOKEN and its
    # signing secret or app token, TELEGRAM_BOT_TOKEN…), or the console when there are none.
    # In the environment, a comma list: ONRAMP_ADAPTERS__ENABLED=slack,telegram (or JSON).
    enabled: CommaList | None = None


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


class CampaignSettings(Section):
    # A send needs a second manager's approval (the two-person rule).
    require_approval: bool = False
    # `onramp campaign send` asks "are you sure?" above this many recipients (--yes skips).
    confirm_above: int = Field(default=100, ge=0)
    # The share of each platform's rate kept for one-to-one conversations while members are
    # chatting; a campaign may use all of it while nobody is.
    reserve_share: float = Field(default=0.2, ge=0, lt=1)
    # How many seconds of each platform's rate a campaign keeps queued ahead of the sender.
    backlog_seconds: float = Field(default=30.0, gt=0)
    # How often a campaign that is sending queues its next messages.
    feed_seconds: float = Field(default=5.0, gt=0)
    # Members planned per transaction.
    planning_batch: int = Field(default=5000, ge=1)
    # The time zone of members who never gave theirs, for "10:00 in each one's own time".
    default_timezone: str = "UTC"

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not a time zone such as UTC or Africa/Nairobi") from None
        return zone


class EventSettings(Section):
    # How many times an event whose handling raises is tried before it is recorded as failed
    # (`onramp events failed`), acknowledged, and the events after it handled.
    attempts: int = Field(default=3, ge=1, le=10)


KEEP = "keep"  # a retention setting that keeps the rows until the member is erased


def _days(minimum: int) -> Callable[[Any], Any]:
    """A number of days (at least `minimum`), or "keep", read as None (no limit)."""

    def days(value: Any) -> int | None:
        if isinstance(value, str) and value.strip().lower() == KEEP:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())  # from the environment: ONRAMP_RETENTION__..._DAYS=30
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return value
        shown = json.dumps(value) if isinstance(value, str | int | float | bool) else "a table"
        raise ValueError(f'expected a number of days ({minimum} or more) or "{KEEP}", got {shown}')

    return days


# A retention in days; None (written "keep") keeps the rows until the member is erased.
Days = Annotated[int | None, BeforeValidator(_days(1))]
# Activity must outlive the four weeks after a finished flow, which decide whether the member
# was retained (storage/activity.py), and the hour before a day's summaries are stored.
ActivityDays = Annotated[int | None, BeforeValidator(_days(35))]


class RetentionSettings(Section):
    """How long each kind of data is kept, applied every 6 hours by one replica (bot/retention.py);
    `onramp privacy policy` prints the result in words."""

    # Platform event ids, kept to recognise a redelivered event.
    processed_events_days: Days = 30
    # Messages delivered (`sent`), cancelled before sending, and given up on (`failed`),
    # counted from when they were sent (or queued). Messages still to send are never pruned.
    sent_messages_days: Days = 90
    cancelled_messages_days: Days = 30
    failed_messages_days: Days = 30
    # Failed events, and the events kept to run them again (`onramp events retry`).
    failed_events_days: Days = 14
    # What members answered in flows, counted from when the run finished; what a flow saved
    # to the member's profile stays with the member. Open runs keep their answers.
    answers_days: Days = 180
    # Finished runs (completed, cancelled, expired), with their answers; each member's last
    # completed run of each flow stays, as the record that they finished it.
    finished_runs_days: Days = 400
    # The days each member was active, and the health metrics' summaries of them.
    activity_days: ActivityDays = 400
    # Who did what (manager actions, erasures, role changes), without the data itself.
    audit_log_days: Days = 730


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
    # Webhook requests handled at once; more wait their turn, first come first served, so a
    # burst is answered in order instead of all at once too late, and /healthz, /readyz and
    # /metrics (which never wait) still answer in milliseconds.
    max_concurrent_webhooks: int = Field(default=64, ge=1)
    # The address people reach this server at, as the dashboard's sign-in links begin:
    # https://bot.example.org behind a reverse proxy. Unset: http://127.0.0.1:<port>. Sign-in
    # cookies are marked Secure when it begins with https.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError(f"{url!r} is not an address such as https://bot.example.org")
        return url.rstrip("/")

    def base_url(self) -> str:
        """Where the dashboard's links point: `public_url`, else this machine at `port`."""
        return self.public_url or f"http://127.0.0.1:{self.port}"


class DashboardSettings(Section):
    # How long a sign-in link sent by /dashboard (or printed by `onramp dashboard`) works.
    link_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # How long a manager stays signed in; their role is checked again at every request.
    session_hours: float = Field(default=12, gt=0, le=24 * 90)


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
    welcome_channels: CommaList = Field(default_factory=list)
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


class WhatsAppSettings(Section):
    # The business phone number's id (WhatsApp Manager > API Setup), not the number itself.
    # Notifications for the account's other numbers are ignored.
    phone_number_id: str | None = None
    # The Graph API: Meta's address and the version in every path, or a test's.
    graph_url: str = "https://graph.facebook.com"
    api_version: str = "v23.0"
    # Limits the sender keeps to, (messages, per seconds): per business number (Meta's default
    # throughput), and to one member (Meta's "pair rate", unverified: about 1 per 6 seconds).
    number_limit: tuple[PositiveInt, PositiveFloat] = (80, 1.0)
    pair_limit: tuple[PositiveInt, PositiveFloat] = (1, 6.0)
    # How long to wait after Meta says "slow down": throughput (130429) and pair (131056).
    throughput_retry_seconds: float = Field(default=1.0, gt=0)
    pair_retry_seconds: float = Field(default=6.0, gt=0)
    # The label of the button that opens a list of choices (at most 20 characters), by locale;
    # a locale without one gets its base language's, then the first entry's.
    list_button: dict[str, str] = Field(
        default_factory=lambda: {"en": "Choose", "fr": "Choisir", "es": "Elegir"}
    )
    request_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("phone_number_id", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        # Written unquoted in bot.toml it is a number; it is an id, and ids are text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("graph_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, version: str) -> str:
        if not re.fullmatch(r"v\d+\.\d+", version):
            raise ValueError(f"{version!r} is not a Graph API version such as v23.0")
        return version

    @field_validator("list_button")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels:
            raise ValueError('name at least one label, e.g. {en = "Choose"}')
        for locale, label in labels.items():
            if not 1 <= len(label.strip()) <= 20:
                raise ValueError(f"the {locale!r} label must be 1 to 20 characters")
        return labels


class ZulipSettings(Section):
    # events: the bot reads its event queue from whichever replica leads (no public URL
    # needed; welcomes everyone who joins); webhook: an "Outgoing webhook" bot, to which Zulip
    # POSTs direct messages and @-mentions at /zulip/webhook on any replica (needs
    # ZULIP_WEBHOOK_TOKEN; members start by writing to the bot).
    mode: Literal["events", "webhook"] = "events"
    # The server's address, e.g. https://your-org.zulipchat.com (a self-hosted server's, or a
    # test's); overrides ZULIP_SITE.
    site: str | None = None
    # A zuliprc file (the bot's "Download zuliprc") instead of ZULIP_EMAIL and ZULIP_API_KEY.
    zuliprc: Path | None = None
    # Events mode: welcome everyone who joins the organization.
    welcome_joins: bool = True
    # Events mode: after registering a new event queue (at start, after Zulip dropped the old
    # one, on a replica taking over), also hand over the joins, direct messages and @-mentions
    # of this many seconds before it, which no queue may have seen. 0: none.
    catch_up_seconds: float = Field(default=600.0, ge=0)
    # Messages the sender sends per window (Zulip allows 200 requests a minute per user).
    send_limit: tuple[PositiveInt, PositiveFloat] = (200, 60.0)
    # Webhook mode: how long the replies may take to go back in the answer to Zulip (which
    # waits 10 s); later ones are sent through the API.
    reply_budget_seconds: float = Field(default=2.0, gt=0, lt=10)
    request_timeout_seconds: float = Field(default=15.0, gt=0)
    # The largest file the server takes, in MiB (its MAX_FILE_UPLOAD_SIZE, 25 by default): a
    # member's /privacy export bigger than this is a download link instead of a file.
    max_upload_mib: PositiveInt = 25


class RuntimeSettings(Section):
    # On SIGTERM or SIGINT the bot stops taking events, lets the turns and sends in flight
    # finish, and exits; whatever is still running after this long is abandoned (and redone
    # after the next start: nothing was committed or marked sent for it). Keep it below what
    # the supervisor waits before it kills: 10 s for `docker stop`, 30 s on Kubernetes.
    stop_timeout_seconds: float = Field(default=8.0, gt=0)


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
    events: EventSettings = EventSettings()
    retention: RetentionSettings = RetentionSettings()
    campaigns: CampaignSettings = CampaignSettings()
    web: WebSettings = WebSettings()
    dashboard: DashboardSettings = DashboardSettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    whatsapp: WhatsAppSettings = WhatsAppSettings()
    zulip: ZulipSettings = ZulipSettings()
    runtime: RuntimeSettings = RuntimeSettings()
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
    """Settings from `config_file` (default ./bot.toml, or ONRAMP_CONFIG), env and overrides.

    Raises `SettingsError` with one line per problem, in bot.toml's words."""
    chosen = config_file or Path(os.environ.get("ONRAMP_CONFIG", DEFAULT_CONFIG))
    if config_file is not None and not chosen.is_file():
        raise SettingsError([f"settings file {chosen} not found"])

    class _Loaded(Settings):
        config_file: ClassVar[Path] = chosen

    try:
        return _Loaded(**overrides)  # type: ignore[arg-type]
    except tomllib.TOMLDecodeError as exc:
        raise settings_problems.toml_syntax(chosen, exc) from None
    except ValidationError as exc:
        raise settings_problems.from_validation(exc, Settings, chosen) from None
