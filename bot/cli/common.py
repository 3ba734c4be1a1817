"""What every `qingqun` command shares: the settings from --db, the one engine, argument types."""

from __future__ import annotations

import argparse
import os
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from bot.core.config import Settings, load_settings
from bot.core.logs import protect, protect_url
from policies.rules import Rules, load_rules
from storage.db import make_engine, open_existing
from storage.migrate import upgrade


class CliError(Exception):
    """A one-line error for the operator (exit 2)."""


def settings_for(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides: dict[str, Any] = dict(extra)
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    settings = load_settings(**overrides)
    # Whatever logs from now on (python-wechaty included) has these masked.
    protect(settings.gateway_token)
    protect_url(settings.database_url)
    # python-wechaty writes its cache (and a scheduler job store) under CACHE_DIR at import time.
    os.environ.setdefault("CACHE_DIR", str(settings.data_dir / ".wechaty"))
    return settings


ENGINES: list[Engine] = []


def open_engine(settings: Settings, *, readonly: bool = False) -> Engine:
    """The process's one engine, schema upgraded; disposed when the command ends.

    `readonly`: an existing database at this code's schema, or a one-line error; a read-only
    command never creates, migrates or writes.
    """
    if readonly:
        ENGINES.append(open_existing(settings.db_url))
        return ENGINES[-1]
    engine = make_engine(settings.db_url)
    ENGINES.append(engine)
    upgrade(engine)
    return engine


def rules_for(settings: Settings) -> Rules:
    return load_rules(settings.rules_file)


def date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def datetime_arg(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset, e.g. {value}+08:00")
    return dt
