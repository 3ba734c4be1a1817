"""Campaign rows and their frozen baselines. Callers own the session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from storage.models import Campaign, CampaignBaseline


def get_campaign(session: Session, *, name: str) -> Campaign | None:
    return session.execute(select(Campaign).where(col(Campaign.name) == name)).scalar_one_or_none()


def add_campaign(
    session: Session,
    *,
    name: str,
    scope: str,
    baseline_date: date,
    target_pct: float | None,
    deadline: date | None,
    at: datetime,
    baseline: Sequence[Mapping[str, Any]],
) -> Campaign:
    """Insert a campaign and its baseline groups (one dict of CampaignBaseline fields per group)."""
    campaign = Campaign(
        name=name,
        scope=scope,
        baseline_date=baseline_date,
        target_pct=target_pct,
        deadline=deadline,
        created_at=at,
    )
    session.add(campaign)
    session.flush()
    assert campaign.id is not None
    session.add_all(CampaignBaseline(campaign_id=campaign.id, **dict(row)) for row in baseline)
    return campaign


def baseline_rows(session: Session, *, campaign_id: int) -> list[CampaignBaseline]:
    stmt = (
        select(CampaignBaseline)
        .where(col(CampaignBaseline.campaign_id) == campaign_id)
        .order_by(col(CampaignBaseline.room_id))
    )
    return list(session.execute(stmt).scalars())


def campaigns_with_sizes(session: Session) -> list[tuple[Campaign, int]]:
    """Every campaign with the number of groups in its baseline, oldest first."""
    sizes = dict(
        session.execute(
            select(col(CampaignBaseline.campaign_id), func.count()).group_by(
                col(CampaignBaseline.campaign_id)
            )
        ).all()
    )
    campaigns = session.execute(select(Campaign).order_by(col(Campaign.id))).scalars()
    return [(c, int(sizes.get(c.id, 0))) for c in campaigns]
