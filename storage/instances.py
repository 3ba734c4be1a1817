"""Instance heartbeats: one row per running `qingqun run`, read by `qingqun status`."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, select

from storage.models import Instance


def upsert_instance(session: Session, *, row: Instance) -> None:
    """Write this process's heartbeat (insert the first time, update afterwards)."""
    session.merge(row)


def delete_instance(session: Session, *, instance_id: str) -> None:
    session.exec(delete(Instance).where(col(Instance.id) == instance_id))


def instances_since(session: Session, *, since: datetime) -> list[Instance]:
    """Instances heard from at or after `since`, most recent first."""
    stmt = select(Instance).where(col(Instance.updated_at) >= since).order_by(col(Instance.updated_at).desc())
    return list(session.exec(stmt).all())
