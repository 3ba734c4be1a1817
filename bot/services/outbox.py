"""The one way out: every message the bot sends is a row here first.

Rows are keyed by `dedupe_key` (recipient|kind|period) with a unique constraint, so enqueueing
the same digest twice — from a restart or a second instance — adds nothing. Delivery:

* claim a due row (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and mark it `sending` in the same
  transaction, so intent is recorded before the network call;
* send, then mark `sent`; a refusal is retried with backoff and ends `failed` after a bounded
  number of attempts, so the queue never stalls behind one recipient;
* a row found `sending` at start-up belongs to a process that died mid-send. The gateway gives
  no delivery receipts, so we cannot tell whether it went out; we treat it as sent. A user may
  miss one message in a crash, but never gets the same digest twice (the account-safety choice).

Several accounts: every row names the account that sends it (bot.services.routing picks one
that can reach the recipient; a reply goes back through the account that was written to). Each
`qingqun run` delivers only its own account's rows (and rows no account was named for), so
pacing, the hourly cap and the reply lane are per account. The unique key keeps a digest from
being queued twice anywhere in the fleet, and SKIP LOCKED claims keep a row from being sent twice.

Pacing protects the account. Two lanes: replies to a person who just wrote, and the greeting on
invite, go out at once at any hour, still paced (a minimum gap and a per-minute cap) and ahead
of queued pushes; a reply that could not leave within minutes is dropped, not sent late. Pushes
(digests, reminders, notices) keep a random gap between sends, an hourly cap, and nothing
outside working hours on statutory working days (deferred to the next allowed minute).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol

from loguru import logger
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.core.clock import Clock
from bot.core.config import Settings
from bot.core.domain import OutgoingFile, OutgoingMessage
from bot.services.routing import Route, Routes
from policies import workcal
from storage import outbox as outbox_db
from storage.accounts import UNREACHABLE
from storage.db import session_scope
from storage.models import Outbox as OutboxRow


class SendError(Exception):
    """The gateway refused or failed a send; `str()` is the reason kept on the row."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed row, handed to the transport: text, or a file when `file` is set."""

    row_id: int
    text: str
    recipient_id: str | None
    room_id: str | None
    mentions: tuple[str, ...]
    file: OutgoingFile | None = None


class Transport(Protocol):
    async def send(self, delivery: Delivery) -> None: ...


def _hhmm(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


class Outbox:
    """The queue of one process. `account` says which bot account this process sends as (None
    before login, or in tools that only queue: then routing alone decides)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        seed: int | None = None,
        account: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._account = account
        self._engine = engine
        self._clock = clock
        self._settings = settings
        self._tz = settings.tz
        self._start = _hhmm(settings.work_start)
        self._end = _hhmm(settings.work_end)
        self._rng = random.Random(seed)
        self._next_allowed: datetime | None = None

    # ------------------------------------------------------------ enqueue

    def enqueue(self, msg: OutgoingMessage, session: Session | None = None) -> bool:
        """Queue a message; returns False when its key was queued before (exactly-once)."""
        return self.enqueue_many([msg], session)[0]

    def enqueue_many(self, msgs: Iterable[OutgoingMessage], session: Session | None = None) -> list[bool]:
        """Route and queue messages in one transaction; for each, whether it was new."""
        if session is None:
            with session_scope(self._engine) as s:
                return self.enqueue_many(msgs, s)
        todo = list(msgs)
        now = self._clock.now()
        me = self._account()
        # An answer goes back through the account that was written to (or invited): only the
        # rest is routed, so a reply costs no reading of the fleet.
        answers = [m.account_id is None and m.lane == "reply" and me is not None for m in todo]
        routed = [m for m, answer in zip(todo, answers, strict=True) if not answer]
        fresh = timedelta(seconds=3 * self._settings.heartbeat_interval)
        routes = Routes.load_for(session, routed, now, fresh) if routed else None
        rows: list[outbox_db.NewRow] = []
        for msg, answer in zip(todo, answers, strict=True):
            route = routes.pick(msg) if routes is not None and not answer else Route(me)
            rows.append(
                outbox_db.NewRow(
                    dedupe_key=msg.dedupe_key,
                    text=msg.text,
                    kind=msg.kind,
                    period=msg.period,
                    recipient_id=msg.recipient_id,
                    room_id=msg.room_id,
                    mentions=msg.mentions,
                    at=now,
                    file_name=msg.file.name if msg.file else None,
                    file_data=msg.file.data if msg.file else None,
                    lane=msg.lane,
                    account_id=route.account_id,
                    status="failed" if route.unreachable else "pending",
                    error=UNREACHABLE if route.unreachable else None,
                )
            )
        inserted = outbox_db.enqueue_outbox(session, rows)
        # A key given twice in one batch went in once: the first of them counts as new.
        added: list[bool] = []
        for msg in todo:
            added.append(msg.dedupe_key in inserted)
            inserted.discard(msg.dedupe_key)
        return added

    def recover(self, account: str | None = None) -> int:
        """At start-up: rows left `sending` by a dead process count as sent (see module doc).

        With `account`, only that account's rows: another account's process may be mid-send."""
        stmt = update(OutboxRow).where(col(OutboxRow.status) == "sending")
        if account is not None:
            stmt = stmt.where(or_(col(OutboxRow.account_id) == account, col(OutboxRow.account_id).is_(None)))
        with session_scope(self._engine) as s:
            result = s.execute(stmt.values(status="sent", error="unconfirmed: process stopped during send"))
            n = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if n:
            logger.warning("outbox: {} message(s) were mid-send at the last stop; not resending", n)
        return n

    # ------------------------------------------------------------ delivery

    def allowed_at(self, now: datetime) -> datetime:
        """The earliest moment at or after `now` inside working hours."""
        if not self._settings.quiet_hours:
            return now
        local = now.astimezone(self._tz)
        nxt = workcal.next_working_time(local, self._start, self._end)
        return nxt if nxt == local else nxt.astimezone(now.tzinfo)

    async def step(self, transport: Transport) -> datetime | None:
        """Send at most one due message. Returns when to call again (None: nothing queued).

        Replies first, at any hour, at least `reply_interval` apart and `reply_minute_cap` a
        minute; a reply older than `reply_max_age` is dropped. Then pushes, in working time,
        a random 3-6 s apart and `send_hourly_cap` an hour (replies count towards both caps).
        """
        now = self._clock.now()
        cfg = self._settings
        me = self._account()
        with session_scope(self._engine) as s:
            self._drop_stale_replies(s, now)
            last = outbox_db.last_sent_at(s, account=me)
            paced = now if last is None else max(now, last + timedelta(seconds=cfg.reply_interval))
            reply_due = outbox_db.next_outbox_due(s, lane="reply", account=me)
            push_due = outbox_db.next_outbox_due(s, lane="push", account=me)
            if reply_due is None and push_due is None:
                return None
            row = None
            lane_wait: list[datetime] = []
            if reply_due is not None:
                minute = outbox_db.sent_since(s, since=now - timedelta(minutes=1), account=me)
                if minute >= cfg.reply_minute_cap:
                    oldest = outbox_db.oldest_sent_since(s, since=now - timedelta(minutes=1), account=me)
                    paced = max(paced, (oldest or now) + timedelta(minutes=1))
                ready = max(reply_due, paced)
                if ready <= now:
                    row = outbox_db.claim_next_outbox(s, now=now, lane="reply", account=me)
                lane_wait.append(ready)
            if row is None and push_due is not None:
                ready = max(push_due, paced, self._next_allowed or now)
                ready = self.allowed_at(ready) if ready > now else self.allowed_at(now)
                hour_ago = now - timedelta(hours=1)
                capped = outbox_db.sent_since(s, since=hour_ago, account=me) >= cfg.send_hourly_cap
                if ready <= now and capped:
                    # At the cap: wait until the oldest send of the last hour leaves the window.
                    oldest = outbox_db.oldest_sent_since(s, since=hour_ago, account=me) or now
                    ready = max(oldest + timedelta(hours=1), now + timedelta(seconds=1))
                if ready <= now:
                    row = outbox_db.claim_next_outbox(s, now=now, lane="push", account=me)
                lane_wait.append(ready)
            if row is None:
                later = [t for t in lane_wait if t > now]
                return min(later) if later else now + timedelta(seconds=cfg.reply_interval)
            row.status, row.attempts = "sending", row.attempts + 1
            if me is not None:
                row.account_id = me  # a row no account was named for is this account's now
            assert row.id is not None
            delivery = Delivery(
                row_id=row.id,
                text=row.text,
                recipient_id=row.recipient_id,
                room_id=row.room_id,
                mentions=tuple(json.loads(row.mentions)),
                file=OutgoingFile(row.file_name, row.file_data) if row.file_name and row.file_data else None,
            )
            if row.file_name and not row.file_data:
                # Only a row sent before (and recovered as pending by hand) lacks its bytes.
                row.status, row.error = "failed", "file bytes are gone"
                return self._clock.now()
            attempts, lane = row.attempts, row.lane
        try:
            await transport.send(delivery)
        except SendError as exc:
            self._after_failure(delivery.row_id, attempts, str(exc), now)
        else:
            with session_scope(self._engine) as s:
                sent = s.get(OutboxRow, delivery.row_id)
                if sent is not None:
                    sent.status, sent.sent_at, sent.error = "sent", self._clock.now(), None
                    # The bytes are not needed any more (the name stays); a chart names people.
                    sent.file_data = None
        after = self._clock.now()
        if lane == "push":
            gap = self._rng.uniform(cfg.send_interval_min, cfg.send_interval_max)
            self._next_allowed = after + timedelta(seconds=gap)
        return after + timedelta(seconds=cfg.reply_interval)

    def _drop_stale_replies(self, s: Session, now: datetime) -> None:
        """A reply that could not leave in time is dropped: an answer hours late misleads."""
        limit = self._settings.reply_max_age
        dropped = outbox_db.drop_stale(
            s,
            lane="reply",
            created_before=now - timedelta(seconds=limit),
            reason=f"stale: not sent within {limit} s of being asked",
        )
        if dropped:
            logger.warning(
                "outbox: dropped {} reply(ies) not sent within {} s: {}", len(dropped), limit, dropped
            )

    def _after_failure(self, row_id: int, attempts: int, reason: str, now: datetime) -> None:
        with session_scope(self._engine) as s:
            row = s.get(OutboxRow, row_id)
            if row is None:
                return
            row.error = reason[:500]
            if attempts >= self._settings.send_max_attempts:
                row.status = "failed"
                logger.warning("outbox: message {} failed for good after {} attempts", row_id, attempts)
            else:
                row.status = "pending"
                # Polite retries: 1, 2, 4, 8… minutes.
                row.not_before = now + timedelta(minutes=2 ** (attempts - 1))
                logger.info("outbox: message {} refused ({}), retry {}", row_id, reason, attempts)
