"""The process's shared services, handed to commands, digests and jobs: one of each."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.core.clock import Clock
from bot.core.config import Settings
from bot.services.account import AccountState
from bot.services.activity import ActivityRecorder
from bot.services.fleet import Fleet
from bot.services.outbox import Outbox
from policies.rules import Rules, load_rules


class AppContext:
    """Engine, settings, rules, clock, outbox and activity recorder of this process.

    `bot_id` is the logged-in account's id, set at login (None before). `fleet` holds what
    this process knows of the other bot accounts sharing the database.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        clock: Clock,
        seed: int | None = None,
        rules: Rules | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        # Validated once at start-up: a bad rule file stops the bot before it connects.
        self.rules: Rules = rules if rules is not None else load_rules(settings.rules_file)
        self.recorder = ActivityRecorder(engine, settings.tz, settings.work_start, settings.work_end)
        self.bot_id: str | None = None
        self.outbox = Outbox(engine, clock, settings, seed=seed, account=lambda: self.bot_id)
        self.account = AccountState()
        self.fleet = Fleet()

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    def flush(self) -> int:
        """Write the activity counted so far (call on the thread that records, or when it is idle)."""
        return self.recorder.flush()
