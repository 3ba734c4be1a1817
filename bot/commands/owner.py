"""Commands an owner sends privately: my groups, report one dissolved, ask to keep one."""

from __future__ import annotations

from typing import Any

from bot.commands.approvals import open_request
from bot.commands.kit import (
    PAGE_SIZE,
    Ctx,
    Refusal,
    Reply,
    audit_rows,
    clip,
    free_text,
    labels_text,
    parse_number,
    parse_page,
    short,
)
from bot.core.wording import CLAIM_EXAMPLE, MY_GROUPS_EXAMPLE, RETAIN_EXAMPLE, kind_short
from policies.model import should_go
from storage import approvals as approvals_db
from storage import eventlog as eventlog_db
from storage import rooms as rooms_db
from storage.models import Room


def _my_room(ctx: Ctx, args: list[str], example: str) -> tuple[Room, int]:
    number = parse_number(args, "群编号", example)
    rooms = rooms_db.managed_rooms(ctx.session, contact_id=ctx.talker)
    if not rooms:
        raise Refusal(
            "no_groups", "你名下没有我所在的群（群主、管理员或邀请我入群的人才能管理）。", {"number": number}
        )
    if number > len(rooms):
        raise Refusal(
            "not_yours",
            f"编号 {number} 不在你的群列表里（共 {len(rooms)} 个）。"
            f"请先发送“我的群”查看编号，再发送：{example}",
            {"number": number},
        )
    return rooms[number - 1], number


def my_groups(ctx: Ctx, args: list[str]) -> Reply:
    page = parse_page(args, MY_GROUPS_EXAMPLE)
    rooms = rooms_db.managed_rooms(ctx.session, contact_id=ctx.talker)
    if not rooms:
        return Reply("你名下没有我所在的群（群主、管理员或邀请我入群的人才能看到）。", args={"page": page})
    pages = (len(rooms) + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise Refusal("bad_page", f"只有 {pages} 页。发送“我的群”看第 1 页。", {"page": page})
    start = (page - 1) * PAGE_SIZE
    shown_rooms = rooms[start : start + PAGE_SIZE]
    rows = audit_rows(ctx, [room.id for room in shown_rooms])  # only the page's groups
    lines = [f"你的群（共 {len(rooms)} 个，第 {page}/{pages} 页）："]
    for n, room in enumerate(shown_rooms, start=start + 1):
        kind = kind_short(room.kind)
        if room.end_date:
            kind += f" 截止{room.end_date.strftime('%m-%d')}"
        row = rows.get(room.id)
        shown = [lb for lb in (row.verdict.labels if row else ()) if lb.code != "unregistered"]
        labels = labels_text(shown, with_reason=False)
        extra = ""
        if row is not None and row.pending:
            extra += "｜待审批"
        if room.claimed_dissolved_at is not None:
            extra += "｜已报解散"
        lines.append(f"{n}. {short(room.topic)}｜{kind}｜{labels}{extra}")
    tail = f"发送“我的群 {page + 1}”看下一页。" if page < pages else ""
    lines.append(tail + "可回复“已解散 编号”或“保留 编号 理由”。")
    return Reply(clip("\n".join(lines)), args={"page": page, "count": len(rooms)})


def claim_dissolved(ctx: Ctx, args: list[str]) -> Reply:
    room, number = _my_room(ctx, args, CLAIM_EXAMPLE)
    logged = {"number": number, "room_id": room.id}
    if room.claimed_dissolved_at is None:
        room.claimed_dissolved_at = ctx.now
        eventlog_db.log_event(
            ctx.session, kind="dissolve_claimed", at=ctx.now, room_id=room.id, actor_id=ctx.talker
        )
    return Reply(
        f"已记录：「{short(room.topic, 20)}」已报解散。我确认群已解散后会从台账中移除，谢谢配合！",
        args=logged,
    )


def retain(ctx: Ctx, args: list[str]) -> Reply:
    room, number = _my_room(ctx, args, RETAIN_EXAMPLE)
    logged: dict[str, Any] = {"number": number, "room_id": room.id}
    if len(args) < 2:
        raise Refusal("missing_reason", f"请写明保留理由。正确写法：{RETAIN_EXAMPLE}", logged)
    reason = free_text(args[1:], "理由", RETAIN_EXAMPLE)
    if approvals_db.pending_for_room(ctx.session, room_id=room.id, kind="retain"):
        raise Refusal("already_pending", f"「{short(room.topic)}」的保留申请已在等待督导审批。", logged)
    row = audit_rows(ctx, [room.id]).get(room.id)
    found = row.verdict.labels if row else ()
    labels = [lb for lb in found if should_go(lb)]
    if not labels:
        # Only a label that asks the group to go can be answered by keeping it; the others ask
        # the owner to confirm or fix something, and an approval would change nothing.
        others = [lb for lb in found if lb.code != "unregistered"]
        head = (
            f"「{short(room.topic)}」的标记（{labels_text(others, with_reason=False)}）不是建议解散"
            if others
            else f"「{short(room.topic)}」目前没有被标记清理"
        )
        raise Refusal(
            "not_going" if others else "not_labelled",
            head + "，无需申请保留" + ("；未登记的群请在群里@我登记。" if room.kind is None else "。"),
            {**logged, "labels": [lb.code for lb in others]},
        )
    req, notices = open_request(ctx, room, "retain", {"reason": reason, "labels": [lb.code for lb in labels]})
    logged["request_id"] = req.id
    return Reply(
        f"保留申请已提交（#{req.id}）：「{short(room.topic)}」（{labels_text(labels, with_reason=False)}），"
        "需督导审批，结果会私聊告诉你。",
        outcome="pending",
        args=logged,
        notices=notices,
    )
