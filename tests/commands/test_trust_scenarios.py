"""Approvals follow the group, not the asker: each bypass found by probing the bot is replayed
through `qingqun simulate` and must now be refused with a Chinese reason, changing nothing."""

from __future__ import annotations

from pathlib import Path

from command_helpers import Cli, registration, run

R1, R2, R3 = "r1@chatroom", "r2@chatroom", "r3@chatroom"


def test_a_supervisor_cannot_approve_his_own_request(cli: Cli, tmp_path: Path) -> None:
    """sun, a supervisor, owns r3 and registers it 常设: the request goes to the next supervisor up."""
    r = run(cli, tmp_path, "bypass_self_approval")
    own = "申请 #1 是你提交的申请，不能由你审批，应由“黑龙潭镇”或上级单位的督导（赵书记）审批。"
    assert r.replies(to="sun") == [
        own,  # 批准 1
        own,  # 驳回 1 …
        "目前没有待你审批的申请。",  # his own request is not in his list
        "你的申请已批准：#1「黑龙潭镇综治工作群」常设群登记｜孙镇长",
        # li, an admin of sun's r4, asks: sun owns the group, so he may not decide either.
        "申请 #2 是你名下群的申请，不能由你审批，应由“黑龙潭镇”或上级单位的督导（赵书记）审批。",
    ]
    notice, bad_digit, approved, notice2 = r.replies(to="zhao")
    assert notice2.startswith("待审批 #2「黑龙潭镇信访工作群」常设群登记｜李四")
    assert notice.startswith("待审批 #1「黑龙潭镇综治工作群」常设群登记｜孙镇长")
    assert bad_digit == "申请编号须是数字。正确写法：批准 12"  # "批准 ١" (Arabic-Indic one)
    assert approved == "已批准 #1「黑龙潭镇综治工作群」常设群登记｜孙镇长"
    assert [(e[0], e[2], e[4], e[5]) for e in r.log() if e[2] in ("approve", "reject")] == [
        ("sun", "approve", "refused", "own_request"),
        ("sun", "reject", "refused", "own_request"),
        ("zhao", "approve", "refused", "bad_number"),
        ("zhao", "approve", "ok", ""),
        ("sun", "approve", "refused", "own_request"),
    ]
    assert registration(r.rooms[R3]) == ("standing", None, [])
    assert registration(r.rooms["r4@chatroom"]) == ("standing", None, ["standing"])


def test_a_group_cannot_be_moved_to_a_friendlier_unit(cli: Cli, tmp_path: Path) -> None:
    """zhang (黑龙潭镇) registers with 单位 城关镇: 城关镇's supervisor may not decide, 黑龙潭镇's is told."""
    r = run(cli, tmp_path, "bypass_unit_move")
    [reply] = r.replies(room=R2)
    assert reply == (
        "已提交：常设群登记，单位 黑龙潭镇，用途 党建日常工作。常设群需督导审批（申请 #2），"
        "审批前本群显示为“待审批”。单位改为 城关镇 须经“黑龙潭镇”或上级单位的督导审批（申请 #1），"
        "审批前本群仍归黑龙潭镇。"
    )
    move = "#1「黑龙潭镇党建工作群」单位变更：黑龙潭镇 → 城关镇｜张三"
    elsewhere = "不在你的管辖范围，应由“黑龙潭镇”或上级单位的督导（孙镇长、赵书记）审批。"
    assert r.replies(to="qian") == [
        f"知悉：{move}。将划入你的管辖范围，由“黑龙潭镇”或上级单位的督导（孙镇长、赵书记）审批。",
        f"申请 #1 {elsewhere}",
        f"申请 #2 {elsewhere}",
        f"已批准 {move}。该群现归你的管辖范围。",
    ]
    sun = r.replies(to="sun")
    assert f"待审批 {move}。回复“批准 1”或“驳回 1 理由”。" in sun
    assert sun[-1] == f"已批准 {move}"
    assert [e[5] for e in r.log() if e[0] == "qian"] == ["outside_unit", "outside_unit"]
    assert registration(r.rooms[R2]) == ("standing", None, [])
    assert r.rooms[R2]["unit"] == "城关镇"  # moved, with the current unit's approval


def test_reregistering_cannot_lift_the_extension_cap_while_a_request_waits(cli: Cli, tmp_path: Path) -> None:
    """延期 past the limit opens a request; 登记 常设 then 登记 临时 far away no longer escapes it."""
    r = run(cli, tmp_path, "bypass_reregister_cap")
    replies = r.replies(room=R1)
    assert replies[2].endswith("原延期申请 #1 已撤回。")
    assert replies[3] == (
        "截止日期 2028-10-31（周二） 超过原截止日期 2026-12-31 90 天，需督导审批；"
        "本群已有申请（常设群登记 #2）在等待审批，请等审批结果后再登记。"
    )
    assert r.log()[-1][2:] == (
        "register",
        {"kind": "temporary", "end_date": "2028-10-31", "unit": "黑龙潭镇", "purpose_given": False},
        "refused",
        "pending_past_limit",
    )
    assert registration(r.rooms[R1]) == ("standing", None, ["standing"])  # the standing request still waits


def test_a_registration_past_the_limit_goes_through_the_same_approval_as_extend(
    cli: Cli, tmp_path: Path
) -> None:
    r = run(cli, tmp_path, "register_past_limit")
    assert r.replies(room=R1)[2] == (
        "登记申请已提交（#2）：临时群，截止 2028-10-31（周二），因超过原截止日期 2026-12-31 90 天需督导审批；"
        "审批前本群登记不变（常设群）。"
    )
    assert (
        "待审批 #2「2026年冬季征兵工作群」登记为临时群，截止 2028-10-31（原截止 2026-12-31）｜张三。"
        in (r.replies(to="sun")[2])
    )
    assert registration(r.rooms[R1]) == ("temporary", "2028-10-31", [])  # after sun approved it
