"""The one Settings object: `QINGQUN_*` environment variables, an optional TOML file, defaults."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.core.cron import parse_cron
from policies.tz import check_timezone
from storage.db import normalise_url


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line for the operator."""


def _default_data_dir() -> Path:
    return Path(os.environ.get("QINGQUN_DATA_DIR") or Path.cwd() / "data")


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the file named by QINGQUN_CONFIG; environment variables take precedence."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("QINGQUN_CONFIG")
        if not path:
            return {}
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"QINGQUN_CONFIG: cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"QINGQUN_CONFIG: {path} is not valid TOML: {exc}") from exc
        section = data.get("qingqun", data)
        return dict(section) if isinstance(section, dict) else data


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to QINGQUN_<FIELD> (upper case)."""

    model_config = SettingsConfigDict(env_prefix="QINGQUN_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=_default_data_dir)
    # Kept out of repr(): a Settings object in a log line must not carry the password or the token.
    database_url: str = Field(default="", repr=False)
    timezone: str = "Asia/Shanghai"
    bot_name: str = "清群助手"
    gateway_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("QINGQUN_GATEWAY_ENDPOINT", "WECHATY_PUPPET_SERVICE_ENDPOINT"),
    )
    gateway_token: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("QINGQUN_GATEWAY_TOKEN", "WECHATY_PUPPET_SERVICE_TOKEN"),
    )
    rules_file: Path | None = None
    # The bot account (wxid) this instance serves. Several accounts share one PostgreSQL database,
    # each with its own `qingqun run` and gateway; a login as another account is refused. Unset:
    # whichever account logs in (a single-account deployment).
    account: str | None = None
    # How many groups one account may be in: past 90% `qingqun status` and the supervisor digest
    # say so, and at the limit an invited account asks the group to invite another one instead.
    room_limit: int = Field(default=300, ge=1)
    # Activity counters are flushed at least this often (seconds) and on shutdown.
    flush_interval: float = 1.0
    # Outbox pacing: a random gap in [min, max] seconds between sends, and an hourly cap.
    send_interval_min: float = 3.0
    send_interval_max: float = 6.0
    send_hourly_cap: int = 60
    send_max_attempts: int = 5
    # The reply lane (answers and the invite greeting): at any hour, at least this many seconds
    # apart and at most this many a minute; a reply still unsent this many seconds after it was
    # asked for is dropped, not sent late (a stale answer confuses more than it helps).
    reply_interval: float = Field(default=1.0, ge=0.2)
    reply_minute_cap: int = Field(default=20, ge=1)
    reply_max_age: int = Field(default=300, ge=30)
    # Heartbeat of `qingqun run` for `qingqun status` (seconds), and how long the account may
    # stay logged out before status --check fails and the log says so (every hour at most).
    heartbeat_interval: float = Field(default=15.0, gt=0)
    logout_alert_after: int = Field(default=600, ge=1)
    # A room missing from the room list at login is only "unconfirmed"; it counts as removed (the
    # bot was taken out) once it is still missing this many seconds later, or on a leave event.
    # A puppet still syncing can list no rooms at all for a while after login.
    removal_grace: int = Field(default=600, ge=10)
    # Reconnecting to a gateway that went away: the delay doubles from 1 s up to this cap.
    reconnect_max_delay: float = Field(default=8.0, ge=1, le=20)
    work_start: str = "08:30"
    work_end: str = "18:00"
    # Only for conformance tests against a mock gateway: send at any hour. Never turn off in production.
    quiet_hours: bool = True
    # An extension beyond this many days past the original end date needs a supervisor's approval.
    max_extension_days: int = Field(default=90, ge=1, le=730)
    # Scheduled jobs: crontab strings (5 fields, or 6 with seconds first) in `timezone`. The jobs
    # themselves check the statutory calendar (first/last working day of the week), so a daily
    # cron is right even when the week starts on a Thursday after a holiday.
    owner_digest_cron: str = "30 9 * * *"
    supervisor_digest_cron: str = "30 16 * * *"
    reminder_cron: str = "0 10 * * *"
    # The ending-soon reminder goes out on the working day this many calendar days before the end date.
    reminder_days_before: int = Field(default=3, ge=1, le=30)
    # A job missed while no instance was leading still runs if we are back within this many seconds.
    scheduler_misfire_grace: int = Field(default=4 * 3600, ge=1)
    # How often a follower tries to take over scheduler leadership (PostgreSQL advisory lock).
    leader_poll_interval: float = Field(default=5.0, gt=0)
    # Retention (personal data is kept only as long as it is needed). Days, counted back from today.
    # Per-person per-day message counts: enough for a 30-day distinct-sender window.
    senderday_retention_days: int = Field(default=35, ge=30, le=3650)
    # Texts of sent or failed outbox messages; the row itself (its exactly-once key) stays longer.
    outbox_text_retention_days: int = Field(default=180, ge=1, le=3650)
    # Event and command logs, closed memberships, topic history and old outbox rows.
    log_retention_days: int = Field(default=3 * 365, ge=90, le=36500)
    # Per-room daily counters; the audit reads the last 90 days.
    activity_retention_days: int = Field(default=3 * 365, ge=90, le=36500)
    # When the leader purges what is past retention (daily, in `timezone`).
    retention_cron: str = "20 3 * * *"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFileSource(settings_cls)

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("work_start", "work_end")
    @classmethod
    def _check_hhmm(cls, value: str) -> str:
        hh, _, mm = value.partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) < 24 and 0 <= int(mm) < 60):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return value

    @field_validator("owner_digest_cron", "supervisor_digest_cron", "reminder_cron", "retention_cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        parse_cron(value, ZoneInfo("Asia/Shanghai"))  # raises ValueError with the reason
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        """The database URL, normalised so SQLite and PostgreSQL differ by configuration only."""
        if self.database_url:
            return normalise_url(self.database_url)
        return normalise_url(f"sqlite:///{self.data_dir / 'qingqun.db'}")

    def require_gateway(self) -> tuple[str, str]:
        """Endpoint and token for `qingqun run`; python-wechaty silently fails without a token (#397)."""
        if not self.gateway_token:
            raise ConfigError(
                "no gateway token: set QINGQUN_GATEWAY_TOKEN (or WECHATY_PUPPET_SERVICE_TOKEN)"
            )
        if not self.gateway_endpoint:
            raise ConfigError(
                "no gateway endpoint: set QINGQUN_GATEWAY_ENDPOINT (host:port of the puppet-service gateway)"
            )
        return self.gateway_endpoint, self.gateway_token


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one-line ConfigErrors naming the setting."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "QINGQUN_" + str(err["loc"][0]).upper() if err["loc"] else "settings"
        raise ConfigError(f"{name}: {err['msg']}") from exc
