"""Four weeks across 中秋/国庆 2026 through `qingqun simulate --transcript` (see the scenario file)."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from policies import workcal

SCENARIO = Path(__file__).parents[1] / "scenarios" / "digests" / "holiday_weeks.yaml"
TZ_DAY = "%Y-%m-%d"


def _run(*args: str) -> str:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(list(args))
    assert code == 0, buf.getvalue()
    return buf.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("holiday")
    db = f"sqlite:///{tmp / 'q.db'}"
    transcript = tmp / "t.jsonl"
    _run("simulate", str(SCENARIO), "--db", db, "--transcript", str(transcript))
    lines = [json.loads(x) for x in transcript.read_text(encoding="utf-8").splitlines()]
    return {"db": db, "lines": lines, "tmp": tmp}


def _at(line: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(line["at"])


def _who(line: dict[str, Any]) -> str:
    return line["to"] or f"{line['room']}@{','.join(line.get('mentions', []))}"


def _kind(text: str) -> str | None:
    for tag, kind in (("【清群周报】", "owner"), ("【清群督导周报】", "supervisor")):
        if tag in text:
            return kind
    if "【清群提醒】" in text:
        return "expiry" if "已于" in text else "ending_soon"
    return None


def _digests(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [x for x in lines if _kind(x["text"]) == kind]


def _topics(text: str) -> set[str]:
    return set(re.findall(r"「(.+?)」", text))


def test_owner_digests_name_the_right_groups(world: dict[str, Any]) -> None:
    got: dict[tuple[str, str], set[str]] = {}
    for x in _digests(world["lines"], "owner"):
        got[(_at(x).strftime(TZ_DAY), _who(x))] = _topics(x["text"])
    fx, zb = "2025年防汛抗旱工作群", "2024年秋季征兵工作群"
    sx, wg = "2025年三夏生产工作群", "黑龙潭村网格工作群"
    tj, gq = "黑龙潭镇征兵体检临时群", "黑龙潭镇国庆安保临时群"
    wang = "r-zb@chatroom@wang"  # not a friend: one @mention in the group concerned
    assert got == {
        ("2026-09-14", "zhang"): {fx}, ("2026-09-14", "zhou"): {sx}, ("2026-09-14", wang): {zb},
        ("2026-09-21", "zhang"): {fx}, ("2026-09-21", "zhou"): {sx, wg}, ("2026-09-21", wang): {zb},
        ("2026-09-28", "chen"): {tj}, ("2026-09-28", "zhang"): {fx}, ("2026-09-28", "zhou"): {sx},
        ("2026-09-28", wang): {zb},
        # 10-08 (Thu) is the first working day of the week after 国庆.
        ("2026-10-08", "chen"): {tj}, ("2026-10-08", "zhang"): {gq, fx}, ("2026-10-08", wang): {zb},
        ("2026-10-12", "chen"): {tj}, ("2026-10-12", "zhang"): {gq, fx}, ("2026-10-12", wang): {zb},
    }
    by = {(_at(x).strftime(TZ_DAY), _who(x)): x["text"] for x in _digests(world["lines"], "owner")}
    assert "登记截止日期 2026-09-24，已过 4 天，建议解散" in by[("2026-09-28", "chen")]
    assert "推定已于 2025-09-30 结束" in by[("2026-09-14", "zhang")]
    assert "入群已 7 天仍未登记" in by[("2026-09-21", "zhou")]
    for text in by.values():
        assert text.split("\n")[-1].startswith('回复"延期 …""保留 … 理由"或解散后回复"已解散 …"')
        assert "@所有人" not in text
    assert all(x["room"] is None for x in _digests(world["lines"], "owner") if x["to"])
    assert all(x.get("mentions") == ["wang"] for x in _digests(world["lines"], "owner") if x["room"])


def test_owners_of_clean_groups_hear_nothing(world: dict[str, Any]) -> None:
    owner_lines = [x for x in world["lines"] if _kind(x["text"]) in ("owner", "ending_soon", "expiry")]
    assert owner_lines, "no owner digest or reminder went out at all: nothing to check"
    for x in owner_lines:
        assert x["to"] not in ("li", "guo")
        assert not {"li", "guo"} & set(x.get("mentions", []))


def test_pushes_only_in_working_time_replies_at_once_and_adjusted_days_count(world: dict[str, Any]) -> None:
    days = set()
    pushes = [x for x in world["lines"] if _kind(x["text"]) is not None]
    assert pushes
    for x in pushes:
        local = _at(x)
        assert workcal.is_working_time(local.replace(tzinfo=None)), x["at"]
        days.add(local.date())
    assert date(2026, 9, 20) in days
    assert date(2026, 10, 10) in days
    assert not {date(2026, 9, 25), *(date(2026, 10, d) for d in range(1, 8))} & days
    # A question asked on 10-03 (国庆) is answered at once: a reply is not a push.
    status = [x for x in world["lines"] if x["room"] == "r-tj@chatroom" and "标签" in x["text"]]
    assert len(status) == 1
    asked = datetime.fromisoformat("2026-10-03T10:00:00+08:00")
    assert timedelta(0) <= _at(status[0]) - asked < timedelta(minutes=1)
    # The greeting to a group that invites the bot at 08:05 goes out at once too.
    greeting = [x for x in world["lines"] if x["room"] == "r-clean@chatroom" and "大家好" in x["text"]]
    assert [x["at"] for x in greeting] == ["2026-09-14T08:05:00+08:00"]


def test_one_digest_per_recipient_and_period(world: dict[str, Any]) -> None:
    keys = Counter()
    for x in world["lines"]:
        kind = _kind(x["text"])
        if kind in ("owner", "supervisor"):
            keys[(kind, _who(x), _at(x).isocalendar()[:2])] += 1
        elif kind is not None:
            keys[(kind, _who(x), frozenset(_topics(x["text"])))] += 1
    assert keys
    assert all(n == 1 for n in keys.values()), keys


def test_supervisor_digest_days_and_reminders(world: dict[str, Any]) -> None:
    sup = _digests(world["lines"], "supervisor")
    days = sorted({_at(x).strftime(TZ_DAY) for x in sup})
    assert days == ["2026-09-20", "2026-09-24", "2026-09-30", "2026-10-10"]
    assert {x["to"] for x in sup} == {"maqiang", "zhaojianguo"}
    assert all(_at(x).strftime("%H:%M") >= "16:30" for x in sup)
    reminders = {(k, _at(x).strftime(TZ_DAY), x["to"]) for k in ("ending_soon", "expiry")
                 for x in _digests(world["lines"], k)}
    assert reminders == {
        ("ending_soon", "2026-09-21", "chen"),  # 3 days before 09-24
        ("expiry", "2026-09-28", "chen"),  # 09-25 中秋, 09-26/27 weekend
        ("ending_soon", "2026-09-30", "zhang"),  # 10-01 is a holiday: the working day before
        ("expiry", "2026-10-08", "zhang"),  # after 国庆
    }
    last = {x["to"]: x["text"] for x in sup if _at(x).strftime(TZ_DAY) == "2026-10-10"}
    assert "两次周报后仍未解散：陈磊「黑龙潭镇征兵体检临时群」" in last["maqiang"]
    assert "机器人被移出但群仍在（可能规避清理）：「黑龙潭村网格工作群」（群主 周军）" in last["maqiang"]
    earlier = [x["text"] for x in sup if _at(x).strftime(TZ_DAY) == "2026-09-30"]
    assert not any("两次周报后仍未解散" in t for t in earlier)


def _scope_counts(
    audit: list[dict[str, Any]], units: set[str], contact_unit: dict[str, str]
) -> dict[str, Any]:
    rows = [r for r in audit if (r["unit"] or contact_unit.get(r["owner_id"])) in units]
    active = [r for r in rows if r["status"] == "active"]
    labels = Counter(lb["code"] for r in active for lb in r["labels"])
    return {"enrolled": len(rows), "active": len(active), "labels": dict(labels)}


def _parse(text: str) -> dict[str, Any]:
    from bot.core.wording import LABEL_CN

    m = re.search(r"在册工作群 (\d+) 个，其中在用 (\d+) 个", text)
    assert m
    names = {v: k for k, v in LABEL_CN.items()}
    labels = {}
    line = next((ln for ln in text.split("\n") if "在用群标记：" in ln), "")
    for name, n in re.findall(r"([^：，。]+?) (\d+) 个", line.split("：", 1)[-1]):
        labels[names[name]] = int(n)
    return {"enrolled": int(m.group(1)), "active": int(m.group(2)), "labels": labels}


def test_supervisor_counts_match_audit(world: dict[str, Any]) -> None:
    db = f"sqlite:///{world['tmp'] / 'until.db'}"
    transcript = world["tmp"] / "until.jsonl"
    _run("simulate", str(SCENARIO), "--db", db, "--transcript", str(transcript),
         "--until", "2026-10-10T17:00:00+08:00")
    audit = json.loads(_run("audit", "--db", db, "--at", "2026-10-10", "--json"))
    sc = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    contact_unit = {c["id"]: c.get("unit") for c in sc["contacts"]}
    scopes = {
        "maqiang": {"黑龙潭镇", "黑龙潭村"},
        "zhaojianguo": {"郾城区", "黑龙潭镇", "黑龙潭村", "裴城镇"},
    }
    lines = [json.loads(x) for x in transcript.read_text(encoding="utf-8").splitlines()]
    sup = {x["to"]: x["text"] for x in _digests(lines, "supervisor") if x["at"].startswith("2026-10-10")}
    assert set(sup) == set(scopes)
    for who, units in scopes.items():
        assert _parse(sup[who]) == _scope_counts(audit, units, contact_unit), who
    assert "待审批申请 1 件" in sup["zhaojianguo"]
    assert "待审批申请" not in sup["maqiang"]


def test_preview_prints_exactly_what_was_sent(world: dict[str, Any]) -> None:
    sent = {x["to"]: x["text"] for x in _digests(world["lines"], "owner") if x["at"].startswith("2026-10-08")}
    out = _run("digest", "preview", "--db", world["db"], "--at", "2026-10-08", "--owner", "zhang")
    assert sent["zhang"] in out
    out = _run("digest", "preview", "--db", world["db"], "--at", "2026-10-10", "--supervisor", "maqiang")
    sup = [x["text"] for x in _digests(world["lines"], "supervisor")
           if x["to"] == "maqiang" and x["at"].startswith("2026-10-10")]
    assert sup[0] in out
