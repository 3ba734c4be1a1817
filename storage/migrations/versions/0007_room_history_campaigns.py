"""Room history (audits of past days) and campaigns with their frozen baselines

`roomhistory` keeps a row each time a room's status, topic or registration changes, so an audit
as of a past day shows the room as it was then. Rooms enrolled before this revision get their
history backfilled from what is known: the enrolment (active, under the first topic the topic
log names, registration only when it came before enrolment) and, when the room changed later,
its current values at the latest change (status, topic or registration). Changes between those
two moments were not recorded before and cannot be recovered.

`membership` gains indexes on joined_at and left_at: an audit asks first whether anything
happened after its moment, and only then reads the slower history path.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REGISTRATION = (
    "kind",
    "end_date",
    "original_end_date",
    "extension_count",
    "purpose",
    "unit",
    "registered_by",
    "registered_at",
    "approved",
)


def _backfill() -> None:
    bind = op.get_bind()
    utc = storage.models.UTCDateTime()
    room = sa.table(
        "room",
        sa.column("id", sa.String()),
        sa.column("topic", sa.String()),
        sa.column("owner_id", sa.String()),
        sa.column("status", sa.String()),
        sa.column("status_at", utc),
        sa.column("enrolled_at", utc),
        sa.column("kind", sa.String()),
        sa.column("end_date", sa.Date()),
        sa.column("original_end_date", sa.Date()),
        sa.column("extension_count", sa.Integer()),
        sa.column("purpose", sa.String()),
        sa.column("unit", sa.String()),
        sa.column("registered_by", sa.String()),
        sa.column("registered_at", utc),
        sa.column("approved", sa.Boolean()),
    )
    change = sa.table(
        "topicchange",
        sa.column("id", sa.Integer()),
        sa.column("room_id", sa.String()),
        sa.column("at", utc),
        sa.column("old_topic", sa.String()),
    )
    history = sa.table("roomhistory", *(sa.column(c.name, c.type) for c in _columns() if c.name != "id"))
    first_topic: dict[str, str] = {}
    last_change: dict[str, datetime] = {}
    for room_id, at, old in bind.execute(
        sa.select(change.c.room_id, change.c.at, change.c.old_topic).order_by(change.c.at, change.c.id)
    ):
        first_topic.setdefault(room_id, old)
        if at is not None:
            last_change[room_id] = at
    rows: list[dict[str, Any]] = []
    for r in bind.execute(sa.select(room)).mappings():
        enrolled = r["enrolled_at"] or r["status_at"]
        if enrolled is None:
            continue  # never enrolled: audits take its current values (storage/history.py)
        now = {k: r[k] for k in ("topic", "owner_id", "status", "status_at", *_REGISTRATION)}
        now["extension_count"] = now["extension_count"] or 0
        now["approved"] = bool(now["approved"])
        first = dict(now, status="active", status_at=enrolled, topic=first_topic.get(r["id"], r["topic"]))
        if r["registered_at"] is not None and r["registered_at"] > enrolled:
            first.update({k: None for k in _REGISTRATION}, extension_count=0, approved=False)
        rows.append(dict(first, room_id=r["id"], at=enrolled))
        moments = [m for m in (r["status_at"], r["registered_at"], last_change.get(r["id"])) if m is not None]
        latest = max(moments, default=enrolled)
        if latest > enrolled and now != first:
            rows.append(dict(now, room_id=r["id"], at=latest))
    if rows:
        bind.execute(history.insert(), rows)


def _columns() -> list[sa.Column[Any]]:
    utc = storage.models.UTCDateTime
    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("room_id", sa.String(), nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("status_at", utc(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("original_end_date", sa.Date(), nullable=True),
        sa.Column("extension_count", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=True),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("registered_by", sa.String(), nullable=True),
        sa.Column("registered_at", utc(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table("roomhistory", *_columns())
    op.create_index("ix_roomhistory_at", "roomhistory", ["at"])
    op.create_index("ix_roomhistory_room_at", "roomhistory", ["room_id", "at"])
    op.create_index("ix_membership_joined_at", "membership", ["joined_at"])
    op.create_index("ix_membership_left_at", "membership", ["left_at"])
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("baseline_date", sa.Date(), nullable=False),
        sa.Column("target_pct", sa.Float(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=True),
        sa.UniqueConstraint("name", name="uq_campaign_name"),
    )
    op.create_table(
        "campaignbaseline",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("labels", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "room_id"),
    )
    _backfill()


def downgrade() -> None:
    op.drop_table("campaignbaseline")
    op.drop_table("campaign")
    op.drop_index("ix_membership_left_at", table_name="membership")
    op.drop_index("ix_membership_joined_at", table_name="membership")
    op.drop_index("ix_roomhistory_room_at", table_name="roomhistory")
    op.drop_index("ix_roomhistory_at", table_name="roomhistory")
    op.drop_table("roomhistory")
