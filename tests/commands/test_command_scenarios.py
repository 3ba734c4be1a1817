"""Each command and each refusal path, end to end through `qingqun simulate` (real Wechaty class),
checked on the reply text in the transcript and on `qingqun audit --json`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from command_helpers import UNREGISTERED, Cli, registration, run

R1, R2 = "r1@chatroom", "r2@chatroom"


# ---------------------------------------------------------------- room commands


def test_register_temporary(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "register_temporary")
    assert r.replies(room=R1) == [
        "已登记：临时群，截止 2026-12-31（周四），单位 黑龙潭镇，用途 征兵体检。到期后请及时解散本群。"
    ]
    assert registration(r.rooms[R1]) == ("temporary", "2026-12-31", [])
    assert r.rooms[R1]["unit"] == "黑龙潭镇"
    [entry] = r.log()
    assert entry == (
        "zhang", R1, "register",
        {"kind": "temporary", "end_date": "2026-12-31", "unit": "黑龙潭镇", "purpose_given": True},
        "ok", "",
    )  # fmt: skip


def test_register_phase_with_chinese_date_and_another_unit(cli: Cli, tmp_path: Path) -> None:
    """The group is registered; naming another unit than its owner's is a request to move it,
    decided by the current unit's supervisors, and the other unit's supervisor is told."""
    r = run(cli, tmp_path, "register_phase")
    assert r.replies(room=R1) == [
        "已登记：阶段性群，截止 2027-03-31（周三），单位 黑龙潭镇，用途 冬季征兵。到期后请及时解散本群。"
        "单位改为 城关镇 须经“黑龙潭镇”或上级单位的督导审批（申请 #1），审批前本群仍归黑龙潭镇。"
    ]
    assert registration(r.rooms[R1]) == ("phase", "2027-03-31", ["move"])
    assert r.rooms[R1]["unit"] == "黑龙潭镇"
    line = "#1「2026年冬季征兵工作群」单位变更：黑龙潭镇 → 城关镇｜张三"
    for sup in ("sun", "zhao"):
        assert r.replies(to=sup) == [f"待审批 {line}。回复“批准 1”或“驳回 1 理由”。"]
    assert r.replies(to="qian") == [
        f"知悉：{line}。将划入你的管辖范围，由“黑龙潭镇”或上级单位的督导（孙镇长、赵书记）审批。"
    ]


def test_register_standing_is_pending_until_approved(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "register_standing")
    [reply] = r.replies(room=R2)
    assert reply.startswith("已提交：常设群登记，单位 黑龙潭镇")
    assert "需督导审批（申请 #1）" in reply
    assert registration(r.rooms[R2]) == ("standing", None, ["standing"])
    # Supervisors of the unit and its ancestors hear of it; the one of a sibling unit does not.
    for sup in ("sun", "zhao"):
        assert r.replies(to=sup) == [
            "待审批 #1「黑龙潭镇党建工作群」常设群登记｜张三。回复“批准 1”或“驳回 1 理由”。"
        ]
    assert r.replies(to="qian") == []
    assert r.log()[0][4] == "pending"


def test_extend_within_limits_then_third_extension_needs_approval(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "extend")
    assert r.replies(room=R1)[1:] == [
        "已延期：临时群，截止 2027-01-15（周五）（第 1 次延期）。",
        "已延期：临时群，截止 2027-01-31（周日）（第 2 次延期）。",
        "延期申请已提交（#1）：截止改为 2027-02-10（周三），因第 3 次延期需督导审批；"
        "审批前截止日期仍为 2027-01-31（周日）。",
    ]
    assert registration(r.rooms[R1]) == ("temporary", "2027-01-31", ["extend"])


def test_extend_beyond_max_extension_days_needs_approval(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "extend_beyond_limit")
    assert r.replies(room=R1)[1] == (
        "延期申请已提交（#1）：截止改为 2027-06-30（周三），因超过原截止日期 2026-12-31 90 天需督导审批；"
        "审批前截止日期仍为 2026-12-31（周四）。"
    )
    assert registration(r.rooms[R1]) == ("temporary", "2026-12-31", ["extend"])


def test_status_shows_kind_labels_with_reasons_and_activity(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "status", at="2026-11-10")
    assert r.replies(room=R1) == [
        "「2026年冬季征兵工作群」未登记\n单位：黑龙潭镇\n本月消息 5 条\n"
        "标签：未登记：入群已 8 天仍未登记，请群主回复“登记 …”"
    ]


def test_help_is_generated_for_where_and_who(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "help")
    [room_help] = r.replies(room=R1)
    assert room_help.startswith("在群里@清群助手发送：\n登记 <常设|临时|阶段性> [截止日期]")
    owner_help, topic_help = r.replies(to="zhang")
    assert "我的群 [页码]" in owner_help
    assert "批准" not in owner_help
    [supervisor_help] = r.replies(to="zhao")
    assert "批准 <申请号>" in supervisor_help
    assert "汇总" in supervisor_help
    assert topic_help.endswith("例：登记 临时 12月31日 征兵体检")
    assert all(len(text) <= 300 for text in (room_help, owner_help, supervisor_help, topic_help))


# ---------------------------------------------------------------- private: owners


def test_my_groups_lists_numbered_groups_with_labels(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "my_groups", at="2026-11-10")
    assert r.replies(to="zhang") == [
        "你的群（共 2 个，第 1/1 页）：\n"
        "1. 2026年冬季征兵工作群｜临时 截止12-31｜无\n"
        "2. 黑龙潭镇党建工作群｜未登记｜无\n"
        "可回复“已解散 编号”或“保留 编号 理由”。"
    ]
    assert r.replies(to="li") == ["你名下没有我所在的群（群主、管理员或邀请我入群的人才能看到）。"]


def test_claim_dissolved_is_recorded_as_a_claim(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "claim_dissolved")
    assert r.replies(to="zhang")[1] == (
        "已记录：「黑龙潭镇党建工作群」已报解散。我确认群已解散后会从台账中移除，谢谢配合！"
    )
    assert r.rooms[R2]["status"] == "active"  # a claim, until the bot sees the dissolution
    assert r.log()[1][2:5] == ("claim_dissolved", {"number": 2, "room_id": R2}, "ok")


def test_retain_only_a_labelled_group_and_it_goes_to_approval(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "retain", at="2026-12-07")
    refused, listing, accepted = r.replies(to="zhang")
    assert refused == "「2026年冬季征兵工作群」目前没有被标记清理，无需申请保留。"
    assert "2. 黑龙潭镇党建工作群｜未登记｜僵尸群" in listing
    assert accepted == (
        "保留申请已提交（#1）：「黑龙潭镇党建工作群」（僵尸群），需督导审批，结果会私聊告诉你。"
    )
    assert r.rooms[R2]["pending"] == ["retain"]
    assert r.rooms[R1]["pending"] == []
    assert r.replies(to="sun")[0].startswith(
        "待审批 #1「黑龙潭镇党建工作群」申请保留（僵尸群）｜张三｜理由：党建工作长期需要"
    )


def test_approved_retention_clears_the_dissolve_label_but_not_registration(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "retain_approved", at="2026-12-07")
    assert r.replies(to="sun")[-1] == (
        "已批准 #1「黑龙潭镇党建工作群」申请保留（僵尸群）｜张三｜理由：党建工作长期需要"
    )
    row = r.rooms[R2]
    assert row["pending"] == []
    codes = {label["code"] for label in row["labels"]}
    assert "idle" not in codes  # the supervisor decided to keep it
    assert "unregistered" in codes  # it still should be registered
    assert row["kind"] is None


# ---------------------------------------------------------------- private: supervisors


def test_supervisor_lists_and_approves(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "approve")
    listing, approved = r.replies(to="sun")[1:]
    assert listing == (
        "待审批（共 1 件，第 1/1 页）：\n#1「黑龙潭镇党建工作群」常设群登记｜张三\n"
        "回复“批准 编号”或“驳回 编号 理由”。"
    )
    assert approved == "已批准 #1「黑龙潭镇党建工作群」常设群登记｜张三"
    assert r.replies(to="zhang") == ["你的申请已批准：#1「黑龙潭镇党建工作群」常设群登记｜张三"]
    assert registration(r.rooms[R2]) == ("standing", None, [])


def test_supervisor_rejects_with_a_reason(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "reject")
    no_reason, rejected = r.replies(to="zhao")[1:]
    assert no_reason == "驳回请写明理由。正确写法：驳回 1 理由"
    assert rejected.startswith("已驳回 #1「2026年冬季征兵工作群」延期至 2027-06-30")
    assert r.replies(to="zhang")[0].endswith("驳回理由：延期时间过长,请按期完成")
    assert registration(r.rooms[R1]) == ("temporary", "2026-12-31", [])


def test_summary_counts_the_supervisors_subtree(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "summary", at="2026-11-10")
    assert r.replies(to="zhao")[-1] == (
        "郾城区工作群汇总（2026-11-10）：在管 2 个；常设 1、临时 1、阶段性 0、未登记 0；"
        "建议清理 0 个；待审批 1 件；已报解散待确认 0 个。"
    )


# ---------------------------------------------------------------- refusals (storage unchanged)


def test_refuse_non_owner_registering(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_non_owner")
    assert r.replies(room=R1) == ["抱歉，只有群主（张三）、群管理员或邀请我入群的人可以使用“登记”。"]
    assert registration(r.rooms[R1]) == UNREGISTERED
    assert r.log() == [("li", R1, "register", {}, "refused", "not_manager")]


def test_refuse_non_supervisor_approving(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_non_supervisor")
    assert r.replies(to="li") == [
        "抱歉，“批准”仅限督导使用，请联系“黑龙潭镇”或上级单位的督导（孙镇长、赵书记）。"
    ]
    assert r.replies(to="zhang")[0].startswith("抱歉，“待审批”仅限督导使用")
    assert registration(r.rooms[R2]) == ("standing", None, ["standing"])


def test_refuse_supervisor_outside_the_unit(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_outside_unit")
    assert r.replies(to="qian") == [
        "目前没有待你审批的申请。",
        "申请 #1 不在你的管辖范围，应由“黑龙潭镇”或上级单位的督导（孙镇长、赵书记）审批。",
    ]
    assert registration(r.rooms[R2]) == ("standing", None, ["standing"])
    assert r.log()[-1][4:] == ("refused", "outside_unit")


def test_refuse_past_and_too_distant_dates(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_past_date")
    assert r.replies(room=R1) == [
        "截止日期 2026-10-31（周六） 是过去的日期，不能早于今天 2026-11-02（周一）。"
        "正确写法：登记 临时 12月31日 用途",
        "截止日期 2029-01-01（周一） 超过两年，最晚只能到 2028-11-02（周四）。"
        "正确写法：登记 临时 12月31日 用途",
    ]
    assert registration(r.rooms[R1]) == UNREGISTERED
    assert [e[5] for e in r.log()] == ["past_date", "too_far"]


def test_refuse_nonsense_dates(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_nonsense_date")
    nonsense, impossible, missing = r.replies(room=R1)
    assert nonsense.startswith("无法识别日期，请写成 2026-12-31 或 12月31日")
    assert "猴年" not in nonsense  # what the user typed is not echoed (replies are stored)
    assert impossible == "日期不存在：2月没有30日。正确写法：登记 临时 12月31日 用途"
    assert missing == "缺少截止日期。正确写法：登记 临时 12月31日 用途"
    assert registration(r.rooms[R1]) == UNREGISTERED


def test_refuse_unknown_command_and_hint_once_per_room_per_day(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_unknown_command")
    assert r.replies(to="zhang") == ["没有这个指令。私聊我可用：我的群、已解散、保留、帮助。例如：我的群"]
    hint, wrong_place = r.replies(room=R1)  # the second non-command mention got no second hint
    assert hint.startswith("我是清群助手，负责工作群登记清理。")
    assert wrong_place == "“我的群”请私聊我发送，例如：我的群"
    assert [(e[2], e[5]) for e in r.log()] == [
        ("unknown", "unknown_command"),
        ("unknown", "not_a_command"),
        ("unknown", "not_a_command"),
        ("my_groups", "wrong_place"),
    ]


def test_refuse_missing_number(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_missing_number")
    assert r.replies(to="zhang") == [
        "缺少群编号。正确写法：已解散 2",
        "缺少群编号。正确写法：保留 2 全年防汛值班需要",
    ]
    assert r.replies(to="zhao") == ["缺少申请编号。正确写法：批准 12"]
    assert {e[5] for e in r.log()} == {"missing_number"}


def test_refuse_number_that_is_not_the_senders(cli: Cli, tmp_path: Path) -> None:
    r = run(cli, tmp_path, "refuse_not_yours")
    assert r.replies(to="zhang") == [
        "编号 3 不在你的群列表里（共 2 个）。请先发送“我的群”查看编号，再发送：已解散 2",
        "编号 9 不在你的群列表里（共 2 个）。请先发送“我的群”查看编号，再发送：保留 2 全年防汛值班需要",
    ]
    assert r.replies(to="li") == ["你名下没有我所在的群（群主、管理员或邀请我入群的人才能管理）。"]
    assert registration(r.rooms[R1]) == registration(r.rooms[R2]) == UNREGISTERED


def test_retain_is_refused_for_labels_that_do_not_ask_the_group_to_go(cli: Cli, tmp_path: Path) -> None:
    """保留 answers "should go" (dissolve, merge) only; a review label is not cleared by it,
    so it is not offered: the reply says what the label asks instead, and nothing is opened."""
    r = run(cli, tmp_path, "retain_review_only", at="2026-11-03")
    listing, suspected, ownerless = r.replies(to="zhang")
    assert "1. 2024年秋季征兵工作群｜未登记｜疑似任务已结束" in listing
    assert "2. 黑龙潭镇值班群｜未登记｜群主缺失" in listing
    assert suspected == (
        "「2024年秋季征兵工作群」的标记（疑似任务已结束）不是建议解散，无需申请保留；未登记的群请在群里@我登记。"
    )
    assert ownerless == (
        "「黑龙潭镇值班群」的标记（群主缺失）不是建议解散，无需申请保留；未登记的群请在群里@我登记。"
    )
    for room in (R1, R2):
        assert r.rooms[room]["pending"] == []
    assert {c for c in (label["code"] for label in r.rooms[R1]["labels"])} == {"suspected_phase_expired"}
    assert {c for c in (label["code"] for label in r.rooms[R2]["labels"])} == {"ownerless"}
    assert [entry[4:6] for entry in r.log() if entry[2] == "retain"] == [
        ("refused", "not_going"),
        ("refused", "not_going"),
    ]


def test_replies_come_at_once_at_any_hour_while_digests_wait_for_working_time(
    cli: Cli, tmp_path: Path
) -> None:
    """A 登记 at 19:05 on a working day, 状态 during 国庆, 我的群 on a Saturday: each answered within
    a minute. The greeting to a group that invites the bot at 19:00 goes out at once too."""
    from datetime import datetime, timedelta

    from policies import workcal

    r = run(cli, tmp_path, "off_hours", at="2026-10-19")

    def at(line: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(line["at"])

    def answered(asked: str, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        t = datetime.fromisoformat(asked)
        found = [x for x in r.sent if pred(x) and t <= at(x) < t + timedelta(minutes=1)]
        assert len(found) == 1, (asked, [x["at"] for x in r.sent if pred(x)])
        return found[0]

    greeting = answered("2026-09-30T19:00:00+08:00", lambda x: x["room"] == R1 and "大家好" in x["text"])
    assert "登记 临时" in greeting["text"]
    registered = answered("2026-09-30T19:05:00+08:00", lambda x: x["room"] == R1 and "已登记" in x["text"])
    assert "截止 2026-10-20" in registered["text"]
    status = answered("2026-10-03T10:00:00+08:00", lambda x: x["room"] == R1 and "标签" in x["text"])
    assert "2026年秋季征兵工作群" in status["text"]
    listing = answered("2026-10-17T10:00:00+08:00", lambda x: x["to"] == "zhang" and "你的群" in x["text"])
    assert "2024年防汛值班群" in listing["text"]
    # The pushes (owner digests, reminders) all went out in working time, and there were some.
    pushes = [x for x in r.sent if "【清群" in x["text"]]
    assert pushes
    for x in pushes:
        assert workcal.is_working_time(at(x).replace(tzinfo=None)), x["at"]
