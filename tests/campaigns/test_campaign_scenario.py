"""A campaign over several weeks (data/campaign.yaml) through `qingqun simulate` and `qingqun campaign`.

Baseline day Mon 2026-10-12, checked on 2026-11-20; run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
NAME = "2026冬季清理"
BASELINE_DAY = "2026-10-12"
AT = "2026-11-20"
SCOPE_UNITS = {"郾城区", "黑龙潭镇", "黑龙潭村", "新店镇"}

# a3 was disbanded and re-created as a9: by the duplicate rule its members live on in a9 (still
# active on the check day), so the contract counts it as merged, and a9 is both new and recreated.
EXPECTED_STATUS: dict[str, Any] = {
    "campaign": NAME,
    "scope": "郾城区",
    "baseline_date": BASELINE_DAY,
    "at": AT,
    "target_pct": 40.0,
    "deadline": "2026-12-31",
    "units": [
        {
            "unit": "新店镇",
            "baseline": 3,
            "dissolved": 1,
            "merged": 0,
            "removed": 0,
            "new": 1,
            "active": 3,
            "reduction_pct": 0.0,
        },
        {
            "unit": "黑龙潭镇",
            "baseline": 5,
            "dissolved": 0,
            "merged": 2,
            "removed": 1,
            "new": 1,
            "active": 4,
            "reduction_pct": 20.0,
        },
        {
            "unit": "郾城区",
            "baseline": 1,
            "dissolved": 0,
            "merged": 0,
            "removed": 0,
            "new": 0,
            "active": 1,
            "reduction_pct": 0.0,
        },
    ],
    "total": {
        "unit": "郾城区",
        "baseline": 9,
        "dissolved": 1,
        "merged": 2,
        "removed": 1,
        "new": 2,
        "active": 8,
        "reduction_pct": 11.11,
    },
}

# (finding, room, related room, fragments of the reason), in the output's order.
EXPECTED_FINDINGS = [
    ("new", "a8@chatroom", None, ("2026-10-12", "2026-11-05", "4 人")),
    ("recreated", "a9@chatroom", "a3@chatroom", ("2026-10-22", "黑龙潭镇迎检材料群", "100%", "5/5")),
    (
        "renamed",
        "a5@chatroom",
        None,
        ("2026-10-15", "2026年国庆假期值班群", "黑龙潭镇值班群", "2026-10-07", "44 天"),
    ),
    ("revived", "a6@chatroom", None, ("2026-10-12", "1 条消息")),
    ("removed_alive", "a4@chatroom", None, ("2026-10-25",)),
    ("expired_active", "a7@chatroom", None, ("临时", "2026-10-31", "20 天")),
]


def _json(cli: Any, *args: str) -> Any:
    code, out = cli(*args)
    assert code == 0, out
    return json.loads(out)


@pytest.fixture
def campaign_db(cli: Any, db_url: str) -> str:
    code, out = cli("simulate", str(DATA / "campaign.yaml"), "--db", db_url)
    assert code == 0, out
    code, out = cli(
        "campaign",
        "start",
        NAME,
        "--scope",
        "郾城区",
        "--at",
        BASELINE_DAY,
        "--target",
        "40",
        "--deadline",
        "2026-12-31",
        "--db",
        db_url,
    )
    assert code == 0
    assert "基线 9 个群" in out
    return db_url


def test_status_recheck_and_audit_agree(cli: Any, campaign_db: str) -> None:
    db = campaign_db
    status = _json(cli, "campaign", "status", NAME, "--at", AT, "--json", "--db", db)
    assert status == EXPECTED_STATUS

    findings = _json(cli, "campaign", "recheck", NAME, "--at", AT, "--json", "--db", db)
    assert [(f["finding"], f["room_id"], f["related_room_id"]) for f in findings] == [
        (kind, room, related) for kind, room, related, _ in EXPECTED_FINDINGS
    ]
    from policies.campaign import FINDING_KINDS

    assert {f["finding"] for f in findings} == set(FINDING_KINDS)
    for f, (_, _, _, fragments) in zip(findings, EXPECTED_FINDINGS, strict=True):
        assert set(f) == {"finding", "room_id", "topic", "unit", "owner_id", "related_room_id", "reason"}
        for fragment in fragments:
            assert fragment in f["reason"], (f["room_id"], fragment, f["reason"])
    assert findings[1]["topic"] == "迎检材料报送群"
    assert findings[1]["owner_id"] == "li"

    # The campaign's groups are the audit's groups of the same day.
    audit = {r["room_id"]: r for r in _json(cli, "audit", "--at", AT, "--json", "--db", db)}
    alive = [r for r in audit.values() if r["unit"] in SCOPE_UNITS and r["status"] != "dissolved"]
    assert len(alive) == status["total"]["active"]
    removed = {r["room_id"] for r in alive if r["status"] == "removed"}
    assert removed == {f["room_id"] for f in findings if f["finding"] == "removed_alive"}
    codes = {rid: {lb["code"] for lb in r["labels"]} for rid, r in audit.items()}
    assert "idle" not in codes["a6@chatroom"]
    assert "temporary_expired" in codes["a7@chatroom"]
    # … and the baseline is the audit of the baseline day.
    then = {r["room_id"]: r for r in _json(cli, "audit", "--at", BASELINE_DAY, "--json", "--db", db)}
    baseline = [r for r in then.values() if r["unit"] in SCOPE_UNITS and r["status"] == "active"]
    assert len(baseline) == status["total"]["baseline"]
    assert "idle" in {lb["code"] for lb in then["a6@chatroom"]["labels"]}
    on_day = _json(cli, "campaign", "status", NAME, "--at", BASELINE_DAY, "--json", "--db", db)
    assert on_day["total"] == {
        "unit": "郾城区",
        "baseline": 9,
        "dissolved": 0,
        "merged": 0,
        "removed": 0,
        "new": 0,
        "active": 9,
        "reduction_pct": 0.0,
    }
    # Nothing to find on the baseline day itself: a6 is still idle, a7 not yet expired.
    assert _json(cli, "campaign", "recheck", NAME, "--at", BASELINE_DAY, "--json", "--db", db) == []

    # The text table carries each row's progress against the target and the days left.
    code, table = cli("campaign", "status", NAME, "--at", AT, "--db", db)
    assert code == 0
    assert "50%（20.00/40）" in table
    assert "还有 41 天" in table
    assert "合计（郾城区）" in table
    code, text = cli("campaign", "recheck", NAME, "--at", AT, "--db", db)
    assert code == 0
    assert "换名重建" in text
    listed = _json(cli, "campaign", "list", "--json", "--db", db)
    assert listed == [
        {
            "campaign": NAME,
            "scope": "郾城区",
            "baseline_date": BASELINE_DAY,
            "target_pct": 40.0,
            "deadline": "2026-12-31",
            "baseline": 9,
        }
    ]


def test_audit_at_a_past_day_shows_the_groups_as_they_were(cli: Any, campaign_db: str) -> None:
    db = campaign_db
    then = {r["room_id"]: r for r in _json(cli, "audit", "--at", BASELINE_DAY, "--json", "--db", db)}
    # Enrolled later: absent. Removed, renamed, disbanded later: as they were.
    assert set(then) == {
        "a1@chatroom",
        "a2@chatroom",
        "a3@chatroom",
        "a4@chatroom",
        "a5@chatroom",
        "a6@chatroom",
        "a7@chatroom",
        "a11@chatroom",
        "s1@chatroom",
        "x1@chatroom",
    }
    assert then["a4@chatroom"]["status"] == "active"
    assert then["a5@chatroom"]["topic"] == "2026年国庆假期值班群"
    assert then["a2@chatroom"]["status"] == "active"
    assert then["a2@chatroom"]["member_count"] == 7
    assert {lb["code"] for lb in then["a2@chatroom"]["labels"]} >= {"duplicate"}
    assert then["a7@chatroom"]["kind"] == "temporary"
    assert then["a7@chatroom"]["end_date"] == "2026-10-31"
    day = {r["room_id"]: r for r in _json(cli, "audit", "--at", "2026-10-21", "--json", "--db", db)}
    assert day["a2@chatroom"]["status"] == "dissolved"
    assert day["a2@chatroom"]["member_count"] == 0
    assert day["a10@chatroom"]["status"] == "active"
    assert "a9@chatroom" not in day
    assert day["a5@chatroom"]["topic"] == "黑龙潭镇值班群"
    # Before its registration, a7 was unregistered.
    first = {r["room_id"]: r for r in _json(cli, "audit", "--at", "2026-09-01", "--json", "--db", db)}
    assert first["a7@chatroom"]["kind"] == "temporary"  # registered on its first day, 10:00
    assert "a7@chatroom" not in _json(cli, "audit", "--at", "2026-08-31", "--json", "--db", db)


def test_figures_recomputed_later_are_the_same(cli: Any, campaign_db: str) -> None:
    """Everything after the check day (another login, a rename, a disbanding) leaves it unchanged."""
    db = campaign_db
    asked = [
        ("campaign", "status", NAME, "--at", AT, "--json"),
        ("campaign", "recheck", NAME, "--at", AT, "--json"),
        ("campaign", "status", NAME, "--at", "2026-10-25", "--json"),
        ("audit", "--at", AT, "--json"),
        ("audit", "--at", BASELINE_DAY, "--json"),
    ]
    before = [cli(*a, "--db", db) for a in asked]
    code, out = cli("simulate", str(DATA / "later.yaml"), "--db", db)
    assert code == 0, out
    after = [cli(*a, "--db", db) for a in asked]
    assert after == before
    assert json.loads(before[0][1]) == EXPECTED_STATUS
    # The later day does see the changes: every old group lost the bot on 11-25, a1 is gone.
    later = _json(cli, "campaign", "status", NAME, "--at", "2026-11-27", "--json", "--db", db)
    assert later["total"]["removed"] == 5
    assert later["total"]["new"] == 3


def test_campaigns_covering_a_unit(campaign_db: str) -> None:
    from bot.services.campaigns import campaign_recheck, campaigns_covering
    from policies.rules import load_rules
    from storage.db import make_engine

    rules = load_rules(Path(__file__).parents[2] / "policies" / "rules.toml")
    now = datetime(2026, 11, 20, 10, tzinfo=UTC)
    engine = make_engine(campaign_db)
    try:
        at = date(2026, 11, 20)
        found = campaigns_covering(engine, unit="黑龙潭镇", at=at, now=now, rules=rules)
        assert [c.campaign.name for c in found] == [NAME]
        cov = found[0]
        assert cov.figures.as_json() == dict(EXPECTED_STATUS["units"][1])
        assert [u.unit for u in cov.units] == ["黑龙潭村", "黑龙潭镇"]
        assert cov.units[0].as_json() == {
            "unit": "黑龙潭村",
            "baseline": 1,
            "dissolved": 0,
            "merged": 0,
            "removed": 1,
            "new": 0,
            "active": 1,
            "reduction_pct": 0.0,
        }
        assert [u.unit for u in cov.behind] == ["黑龙潭村", "黑龙潭镇"]
        _, _, every = campaign_recheck(engine, name=NAME, at=at, now=now, rules=rules)
        assert (
            cov.findings
            == 3
            == sum(1 for f in every if f.room_id in {"a4@chatroom", "a5@chatroom", "a9@chatroom"})
        )
        assert campaigns_covering(engine, unit="西平县", at=at, now=now, rules=rules) == []
        # The registration by chat command (09-01 10:00) is in the history: unregistered before it.
        from storage import past as past_db
        from storage.db import session_scope

        cols = ("id", "kind", "end_date")
        with session_scope(engine) as s:
            before = dict(
                (r[0], r[1:])
                for r in past_db.room_rows_as_of(s, at=datetime(2026, 9, 1, 1, 30, tzinfo=UTC), columns=cols)
            )
            after = dict(
                (r[0], r[1:])
                for r in past_db.room_rows_as_of(s, at=datetime(2026, 9, 1, 2, 30, tzinfo=UTC), columns=cols)
            )
        assert before["a7@chatroom"] == (None, None)
        assert after["a7@chatroom"] == ("temporary", date(2026, 10, 31))
        assert campaigns_covering(engine, unit="黑龙潭镇", at=date(2026, 10, 1), now=now, rules=rules) == []
    finally:
        engine.dispose()
