"""Approval routing: who may approve a group's request, opening and withdrawing requests.

Approvals follow the group, not the asker. A request goes to the supervisors of the group's
unit and of every unit above it (a group without a unit goes to the top-level units'
supervisors), never to the person who asked nor to the group's owner: a supervisor's own
request goes to the next supervisor up. A group's unit is the one it was enrolled or approved
under, which is the roster's unit for its owner; moving it elsewhere is itself a request for
the current unit's supervisors, and the other unit's supervisors are told.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel import Session

from bot.commands.kit import Ctx, clip, short
from bot.core.domain import OutgoingMessage
from bot.core.wording import APPROVE, KIND_CN, REJECT, REQUEST_CN, label_cn
from storage import approvals as approvals_db
from storage import directory as directory_db
from storage import rooms as rooms_db
from storage.models import ApprovalRequest, Contact, Room


def eligible_supervisors(
    session: Session, unit: str | None, exclude: Collection[str | None] = ()
) -> list[Contact]:
    """Supervisors of the unit or an ancestor; a unit-less group falls to the top-level units."""
    sups = [c for c in directory_db.supervisors(session) if c.id not in exclude]
    if unit is None:
        out = []
        for c in sups:
            u = directory_db.get_unit(session, name=c.unit) if c.unit else None
            if c.unit is None or (u is not None and u.parent is None):
                out.append(c)
        return out
    chain = set(directory_db.unit_chain(session, unit=unit))
    return [c for c in sups if c.unit in chain]


def can_approve(session: Session, supervisor_id: str, unit: str | None) -> bool:
    return any(c.id == supervisor_id for c in eligible_supervisors(session, unit))


def interested(session: Session, req: ApprovalRequest) -> set[str | None]:
    """Who may not decide a request: whoever asked, and the group's owner."""
    room = rooms_db.get_room(session, room_id=req.room_id)
    return {req.requested_by, room.owner_id if room is not None else None}


def can_decide(session: Session, supervisor_id: str, req: ApprovalRequest) -> bool:
    if supervisor_id in interested(session, req):
        return False
    return can_approve(session, supervisor_id, scope_unit(req))


def approvable_units(session: Session, supervisor_id: str) -> set[str | None]:
    """Every unit `u` (None: groups without a unit) with `can_approve(session, supervisor_id, u)`,
    found from the supervisor's place in the tree rather than by asking for each unit: their
    unit and every unit below it, and the unit-less groups when they sit at the top (or have
    no unit themselves, which leaves them nothing else)."""
    me = directory_db.get_contact(session, contact_id=supervisor_id)
    if me is None or me.role != "supervisor":
        return set()
    if me.unit is None:
        return {None}
    units: set[str | None] = set(directory_db.unit_subtree(session, root=me.unit))
    top = directory_db.get_unit(session, name=me.unit)
    if top is not None and top.parent is None:
        units.add(None)
    return units


def who_approves(session: Session, unit: str | None, exclude: Collection[str | None] = ()) -> str:
    names = [c.name or c.id for c in eligible_supervisors(session, unit, exclude)][:3]
    where = f"“{unit}”或上级单位的督导" if unit else "上级督导"
    return where + (f"（{'、'.join(names)}）" if names else "")


def request_unit(session: Session, room: Room) -> str | None:
    """The group's current unit: as enrolled or approved, else the roster's unit for its owner."""
    if room.unit:
        return room.unit
    owner = directory_db.get_contact(session, contact_id=room.owner_id)
    return owner.unit if owner is not None else None


def scope_unit(req: ApprovalRequest) -> str | None:
    """The unit whose supervisors decide the request (recorded when it was opened)."""
    unit = approvals_db.request_payload(req).get("unit")
    return str(unit) if unit else None


def request_summary(session: Session, req: ApprovalRequest) -> str:
    """One line a supervisor can act on."""
    p = approvals_db.request_payload(req)
    room = rooms_db.get_room(session, room_id=req.room_id)
    topic = short(room.topic if room else req.room_id)
    who = directory_db.contact_name(session, contact_id=req.requested_by)
    if req.kind == "extend" and p.get("kind") in KIND_CN:  # a registration past the limit
        new, old = p.get("new_end_date", "?"), p.get("old_end_date", "?")
        what = f"登记为{KIND_CN[p['kind']]}，截止 {new}（原截止 {old}）"
    elif req.kind == "extend":
        what = f"延期至 {p.get('new_end_date', '?')}（原 {p.get('old_end_date', '?')}）"
    elif req.kind == "retain":
        labels = "、".join(label_cn(str(c)) for c in p.get("labels", []))
        what = f"申请保留（{labels}）"
    elif req.kind == "move":
        what = f"单位变更：{p.get('from') or '未定'} → {p.get('to', '?')}"
    else:
        what = "常设群登记"
    reason = p.get("reason")
    return f"#{req.id}「{topic}」{what}｜{who}" + (f"｜理由：{short(str(reason), 20)}" if reason else "")


def open_request(
    ctx: Ctx, room: Room, kind: str, payload: dict[str, Any]
) -> tuple[ApprovalRequest, list[OutgoingMessage]]:
    """Create a pending request and a private notice for each supervisor who may decide it."""
    unit = request_unit(ctx.session, room)
    req = approvals_db.create_request(
        ctx.session,
        room_id=room.id,
        kind=kind,
        requested_by=ctx.talker,
        at=ctx.now,
        payload={**payload, "unit": unit},
    )
    notices = []
    line = request_summary(ctx.session, req)
    for sup in eligible_supervisors(ctx.session, unit, interested(ctx.session, req)):
        if not sup.friend:
            continue
        notices.append(
            OutgoingMessage(
                dedupe_key=f"approval|{req.id}|{sup.id}",
                text=clip(f"待审批 {line}。回复“{APPROVE} {req.id}”或“{REJECT} {req.id} 理由”。"),
                kind="approval_notice",
                period=ctx.today.isoformat(),
                recipient_id=sup.id,
            )
        )
    return req, notices


def open_move(ctx: Ctx, room: Room, to: str) -> tuple[ApprovalRequest, list[OutgoingMessage]]:
    """Ask the current unit's supervisors to let the group move to `to`; tell `to`'s supervisors."""
    current = request_unit(ctx.session, room)
    req, notices = open_request(ctx, room, "move", {"from": current, "to": to})
    told = {n.recipient_id for n in notices} | interested(ctx.session, req)
    line = request_summary(ctx.session, req)
    deciders = who_approves(ctx.session, current, interested(ctx.session, req))
    for sup in eligible_supervisors(ctx.session, to, told):
        if sup.friend:
            notices.append(
                OutgoingMessage(
                    dedupe_key=f"move_notice|{req.id}|{sup.id}",
                    text=clip(f"知悉：{line}。将划入你的管辖范围，由{deciders}审批。"),
                    kind="approval_notice",
                    period=ctx.today.isoformat(),
                    recipient_id=sup.id,
                )
            )
    return req, notices


def moved_notices(ctx: Ctx, req: ApprovalRequest) -> list[OutgoingMessage]:
    """An approved move, told to the supervisors of the unit the group now belongs to."""
    to = approvals_db.request_payload(req).get("to")
    skip = {ctx.talker} | interested(ctx.session, req)
    line = request_summary(ctx.session, req)
    return [
        OutgoingMessage(
            dedupe_key=f"moved|{req.id}|{sup.id}",
            text=clip(f"已批准 {line}。该群现归你的管辖范围。"),
            kind="decision_notice",
            period=ctx.today.isoformat(),
            recipient_id=sup.id,
        )
        for sup in eligible_supervisors(ctx.session, str(to) if to else None, skip)
        if sup.friend and to
    ]


def withdraw(ctx: Ctx, room: Room, kind: str) -> str:
    """Withdraw the room's pending requests of `kind`; returns a sentence saying so, or ""."""
    done = []
    for req in approvals_db.pending_for_room(ctx.session, room_id=room.id, kind=kind):
        approvals_db.decide_request(
            ctx.session, req=req, status="withdrawn", by=ctx.talker, at=ctx.now, reason=None
        )
        done.append(f"{REQUEST_CN.get(kind, kind)}申请 #{req.id}")
    return f"原{'、'.join(done)} 已撤回。" if done else ""


def decision_notice(ctx: Ctx, req: ApprovalRequest, text: str) -> OutgoingMessage:
    return OutgoingMessage(
        dedupe_key=f"decision|{req.id}",
        text=clip(text),
        kind="decision_notice",
        period=ctx.today.isoformat(),
        recipient_id=req.requested_by,
    )
