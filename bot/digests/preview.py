"""What the digests for a date would contain, for `qingqun digest preview`: nothing is queued."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.core.domain import OutgoingMessage
from bot.digests.loading import load_campaigns, load_world
from bot.digests.owner import owner_digests
from bot.digests.supervisor import supervisor_digest, supervisors
from bot.services.context import AppContext
from storage import directory as directory_db
from storage import rooms as rooms_db
from storage.db import session_scope


def preview(
    services: AppContext, now: datetime, owner: str | None = None, supervisor: str | None = None
) -> list[OutgoingMessage]:
    """What the digests for `now`'s date would contain, without queueing anything."""
    world = load_world(services.engine, services.rules, now, services.settings.tz)
    out: list[OutgoingMessage] = []
    if supervisor is None:
        out += [d.message for d in owner_digests(world, only=owner)]
    if owner is None:
        sids = [supervisor] if supervisor else supervisors(world)
        units = {s: c.unit for s in sids if (c := world.contacts.get(s)) is not None and c.unit}
        tz = services.settings.tz
        coverage = load_campaigns(services.engine, services.rules, now, tz, units.values())
        msgs = (supervisor_digest(world, s, coverage.get(units.get(s, ""), ())) for s in sids)
        out += [m for m in msgs if m is not None]
    return out


def format_preview(engine: Engine, msgs: Sequence[OutgoingMessage]) -> str:
    """Each message under a line saying where it goes, as the operator would read it."""
    with session_scope(engine) as s:
        contacts = directory_db.contacts(s)
        topics = {r.id: r.topic for r in rooms_db.all_rooms(s)}

    def name(cid: str) -> str:
        c = contacts.get(cid)
        return f"{c.name}（{cid}）" if c is not None and c.name else cid

    parts = []
    for m in msgs:
        if m.room_id:
            where = f"群「{topics.get(m.room_id, m.room_id)}」，@" + "、".join(name(c) for c in m.mentions)
        else:
            where = f"{name(m.recipient_id or '')}，私聊"
        parts.append(f"—— {where} · {m.kind} {m.period} ——\n{m.text}\n")
    return "\n".join(parts)
