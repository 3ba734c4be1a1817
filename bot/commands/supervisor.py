"""Commands a supervisor sends privately: pending requests, approve, reject, summary, progress."""

from __future__ import annotations

from datetime import date

from bot.commands.approvals import (
    approvable_units,
    can_approve,
    can_decide,
    decision_notice,
    interested,
    moved_notices,
    request_summary,
    scope_unit,
    who_approves,
)
from bot.commands.kit import (
    PAGE_SIZE,
    Ctx,
    Refusal,
    Reply,
    audit_rows,
    clip,
    free_text,
    parse_number,
    parse_page,
)
from bot.core.wording import (
    APPROVE_EXAMPLE,
    KIND_CN,
    PENDING_EXAMPLE,
    PROGRESS,
    REJECT_EXAMPLE,
    REQUEST_STATUS_CN,
    label_cn,
)
from bot.reports.progress import progress_text
from bot.services.campaigns import campaigns_covering
from policies.model import should_go
from storage import approvals as approvals_db
from storage import directory as directory_db
from storage import history
from storage import rooms as rooms_db
from storage.models import ApprovalRequest


def pending_list(ctx: Ctx, args: list[str]) -> Reply:
    page = parse_page(args, PENDING_EXAMPLE)
    mine = [r for r in approvals_db.pending_requests(ctx.session) if can_decide(ctx.session, ctx.talker, r)]
    if not mine:
        return Reply("目前没有待你审批的申请。", args={"page": page, "count": 0})
    pages = (len(mine) + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise Refusal("bad_page", f"只有 {pages} 页。发送“待审批”看第 1 页。", {"page": page})
    lines = [f"待审批（共 {len(mine)} 件，第 {page}/{pages} 页）："]
    lines += [request_summary(ctx.session, r) for r in mine[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    tail = f"发送“待审批 {page + 1}”看下一页。" if page < pages else ""
    lines.append(tail + "回复“批准 编号”或“驳回 编号 理由”。")
    return Reply(clip("\n".join(lines)), args={"page": page, "count": len(mine)})


def _my_request(ctx: Ctx, args: list[str], example: str) -> ApprovalRequest:
    number = parse_number(args, "申请编号", example)
    req = approvals_db.get_request(ctx.session, request_id=number)
    if req is None or req.status != "pending":
        state = REQUEST_STATUS_CN.get(req.status if req else "", "不存在")
        raise Refusal(
            "no_such_request",
            f"申请 #{number} {state}，不在待审批列表中。发送“待审批”查看。",
            {"request_id": number},
        )
    unit = scope_unit(req)
    if ctx.talker in interested(ctx.session, req):
        # Approvals follow the group, not the asker: nobody decides their own or their group's.
        mine = "你提交的" if req.requested_by == ctx.talker else "你名下群的"
        raise Refusal(
            "own_request",
            f"申请 #{number} 是{mine}申请，不能由你审批，"
            f"应由{who_approves(ctx.session, unit, interested(ctx.session, req))}审批。",
            {"request_id": number},
        )
    if not can_approve(ctx.session, ctx.talker, unit):
        raise Refusal(
            "outside_unit",
            f"申请 #{number} 不在你的管辖范围，应由{who_approves(ctx.session, unit)}审批。",
            {"request_id": number},
        )
    return req


def approve(ctx: Ctx, args: list[str]) -> Reply:
    req = _my_request(ctx, args, APPROVE_EXAMPLE)
    room = rooms_db.get_room(ctx.session, room_id=req.room_id)
    history.record_room(ctx.session, room=room, at=ctx.now)
    p = approvals_db.request_payload(req)
    notices = []
    if room is not None:
        if req.kind == "extend":
            new_end = date.fromisoformat(str(p["new_end_date"]))
            if p.get("kind") in KIND_CN:  # a registration past the extension limit
                room.kind, room.approved = str(p["kind"]), False
            room.end_date, room.extension_count = new_end, room.extension_count + 1
        elif req.kind == "standing":
            room.approved = True
        elif req.kind == "move":
            room.unit = str(p["to"])
            notices += moved_notices(ctx, req)
        # An approved "retain" request is itself the record; the audit reads it (RoomFacts.retained).
    approvals_db.decide_request(
        ctx.session, req=req, status="approved", by=ctx.talker, at=ctx.now, reason=None
    )
    line = request_summary(ctx.session, req)
    notices.append(decision_notice(ctx, req, f"你的申请已批准：{line}"))
    return Reply(clip(f"已批准 {line}"), args={"request_id": req.id, "kind": req.kind}, notices=notices)


def reject(ctx: Ctx, args: list[str]) -> Reply:
    req = _my_request(ctx, args, REJECT_EXAMPLE)
    assert req.id is not None
    if len(args) < 2:
        raise Refusal(
            "missing_reason", f"驳回请写明理由。正确写法：驳回 {req.id} 理由", {"request_id": req.id}
        )
    reason = free_text(args[1:], "理由", REJECT_EXAMPLE)
    room = rooms_db.get_room(ctx.session, room_id=req.room_id)
    history.record_room(ctx.session, room=room, at=ctx.now)
    if room is not None and req.kind == "standing" and room.kind == "standing":
        prev = approvals_db.request_payload(req).get("prev") or {}
        room.kind = prev.get("kind") if prev.get("kind") in KIND_CN else None
        room.end_date = date.fromisoformat(prev["end_date"]) if prev.get("end_date") else None
        room.approved = False
    approvals_db.decide_request(
        ctx.session, req=req, status="rejected", by=ctx.talker, at=ctx.now, reason=reason
    )
    line = request_summary(ctx.session, req)
    notices = [decision_notice(ctx, req, f"你的申请被驳回：{line}。驳回理由：{reason}")]
    return Reply(clip(f"已驳回 {line}"), args={"request_id": req.id, "kind": req.kind}, notices=notices)


def summary(ctx: Ctx, args: list[str]) -> Reply:
    me = directory_db.get_contact(ctx.session, contact_id=ctx.talker)
    unit = me.unit if me else None
    units = approvable_units(ctx.session, ctx.talker)
    in_scope = rooms_db.active_room_ids_in_units(ctx.session, units=units)
    rows = [r for r in audit_rows(ctx, in_scope).values() if r.room.status == "active"]
    kinds = {k: sum(1 for r in rows if r.room.kind == k) for k in KIND_CN}
    unregistered = sum(1 for r in rows if r.room.kind is None)
    flagged = [r for r in rows if any(map(should_go, r.verdict.labels))]
    by_code: dict[str, int] = {}
    for r in flagged:
        for lb in r.verdict.labels:
            if should_go(lb):
                by_code[lb.code] = by_code.get(lb.code, 0) + 1
    pending = [
        r
        for r in approvals_db.pending_requests(ctx.session)
        if scope_unit(r) in units and ctx.talker not in interested(ctx.session, r)
    ]
    claimed = sum(1 for r in rows if r.room.claimed_dissolved_at is not None)
    codes = "、".join(f"{label_cn(c)} {n}" for c, n in sorted(by_code.items(), key=lambda x: -x[1]))
    text = (
        f"{unit or '全部'}工作群汇总（{ctx.today.isoformat()}）：在管 {len(rows)} 个；"
        f"常设 {kinds['standing']}、临时 {kinds['temporary']}、阶段性 {kinds['phase']}、"
        f"未登记 {unregistered}；"
        f"建议清理 {len(flagged)} 个"
        + (f"（{codes}）" if codes else "")
        + f"；待审批 {len(pending)} 件；已报解散待确认 {claimed} 个。"
    )
    return Reply(clip(text), args={"groups": len(rows), "flagged": len(flagged), "pending": len(pending)})


def progress(ctx: Ctx, args: list[str]) -> Reply:
    """The campaigns whose scope covers the supervisor's unit, with that unit's subtree's figures."""
    me = directory_db.get_contact(ctx.session, contact_id=ctx.talker)
    unit = me.unit if me else None
    if not unit:
        raise Refusal("no_unit", f"名册里没有你的单位，无法查看{PROGRESS}。请联系管理员在名册中补上单位。")
    covering = campaigns_covering(
        ctx.services.engine, unit=unit, at=ctx.today, now=ctx.now, rules=ctx.services.rules, tz=ctx.tz
    )
    if not covering:
        return Reply(f"目前没有覆盖{unit}的专项行动。", args={"campaigns": 0})
    lines = [f"{unit}及下辖单位专项行动进度（{ctx.today.isoformat()}）："]
    lines += [progress_text(c, ctx.today) for c in covering]
    return Reply(clip("\n".join(lines)), args={"campaigns": len(covering)})
