"""Evaluate rooms against the rules: facts in, verdicts out, `now` passed in.

Each check is a small function returning at most one Label, so a label's rule id, evidence
and reason are built in one place and read together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from operator import ne

import numpy as np
import numpy.typing as npt

from policies.duplicates import DuplicatePair, coded_duplicates
from policies.members import Memberships
from policies.model import KIND_CN, Burden, Label, NameInference, RoomFacts, RoomVerdict, should_go
from policies.names import ParsedName, parse_name, resolve
from policies.rules import Rules


def _local_date(moment: datetime, rules: Rules) -> date:
    return moment.astimezone(rules.tz).date()


def _window(facts: RoomFacts, today: date, days: int) -> tuple[int, int, int]:
    """(messages, after_hours, mention_all) over the `days` local days ending today."""
    for w in facts.windows:
        if w.days == days and w.today == today:
            return w.messages, w.after_hours, w.mention_all
    first = today - timedelta(days=days - 1)
    msgs = after = mention = 0
    for d in facts.daily:
        if first <= d.day <= today:
            msgs += d.messages
            after += d.after_hours
            mention += d.mention_all
    return msgs, after, mention


def activity_windows(rules: Rules) -> frozenset[int]:
    """Every `days` the checks pass to `_window`: what a reader precomputing WindowTotals needs."""
    return frozenset(
        {rules.after_hours.window_days, rules.mention_all.window_days, rules.duplicate.activity_window_days}
    )


def _quoted(words: Sequence[str]) -> str:
    return "".join(f"“{w}”" for w in words[:4])


def check_expiry(facts: RoomFacts, rules: Rules, today: date) -> Label | None:
    """Registered temporary/phase groups: expired from the day after the inclusive end date."""
    if facts.kind not in ("temporary", "phase") or facts.end_date is None:
        return None
    days_left = (facts.end_date - today).days
    evidence: dict[str, object] = {
        "kind": facts.kind,
        "end_date": facts.end_date.isoformat(),
        "today": today.isoformat(),
    }
    if days_left < 0:
        overdue = -days_left
        return Label(
            code=f"{facts.kind}_expired",
            action="dissolve",
            reason=f"{KIND_CN[facts.kind]}，登记截止日期 {facts.end_date.isoformat()}，"
            f"已过 {overdue} 天，建议解散",
            rule_id=f"expiry.{facts.kind}",
            evidence={**evidence, "days_overdue": overdue},
        )
    if days_left <= rules.expiry.ending_soon_days:
        when = "今天到期" if days_left == 0 else f"将于 {facts.end_date.isoformat()} 到期"
        return Label(
            code="ending_soon",
            action="notice",
            reason=f"{when}（还有 {days_left} 天），请及时解散或申请延期",
            rule_id="expiry.ending_soon",
            evidence={**evidence, "days_left": days_left, "ending_soon_days": rules.expiry.ending_soon_days},
        )
    return None


def check_suspected(facts: RoomFacts, inference: NameInference | None, today: date) -> Label | None:
    """Unregistered group whose name implies a task or phase that has already ended."""
    if facts.kind is not None or inference is None or inference.end_date is None:
        return None
    if inference.kind not in ("temporary", "phase") or inference.end_date >= today:
        return None
    overdue = (today - inference.end_date).days
    end = inference.end_date.isoformat()
    basis = "按建群时间推算，" if inference.end_source == "window" else ""
    return Label(
        code="suspected_phase_expired",
        action="review",
        reason=f"名称含{_quoted(inference.words)}，{basis}推定已于 {end} 结束（已过 {overdue} 天）；"
        "未登记，请群主确认或解散",
        rule_id="names.suspected_expired",
        evidence={
            "topic": facts.topic,
            "inferred_kind": inference.kind,
            "inferred_end_date": end,
            "end_source": inference.end_source,
            "words": list(inference.words),
            "days_overdue": overdue,
        },
    )


def check_unregistered(facts: RoomFacts, rules: Rules, now: datetime) -> Label | None:
    if facts.kind is not None:
        return None
    days = (now - facts.enrolled_at) // timedelta(days=1)
    if days < rules.registration.unregistered_after_days:
        return None
    return Label(
        code="unregistered",
        action="register",
        reason=f"入群已 {days} 天仍未登记，请群主回复“登记 …”",
        rule_id="registration.unregistered",
        evidence={
            "enrolled_at": facts.enrolled_at.isoformat(),
            "days_enrolled": days,
            "unregistered_after_days": rules.registration.unregistered_after_days,
        },
    )


def check_idle(facts: RoomFacts, rules: Rules, now: datetime) -> Label | None:
    """僵尸群: silence counted only from when the bot could see the group."""
    since = facts.enrolled_at if facts.last_activity is None else max(facts.last_activity, facts.enrolled_at)
    days = (now - since) // timedelta(days=1)
    limit = rules.idle.standing_days if facts.kind == "standing" else rules.idle.days
    if days < limit:
        return None
    if facts.last_activity is not None and facts.last_activity >= facts.enrolled_at:
        last = _local_date(facts.last_activity, rules).isoformat()
        reason = f"已 {days} 天无人发言（最后发言 {last}），建议解散"
    else:
        reason = f"已 {days} 天无人发言（自 {_local_date(since, rules).isoformat()} 入群起），建议解散"
    return Label(
        code="idle",
        action="dissolve",
        reason=reason,
        rule_id="idle.standing" if facts.kind == "standing" else "idle.default",
        evidence={
            "last_activity": None if facts.last_activity is None else facts.last_activity.isoformat(),
            "enrolled_at": facts.enrolled_at.isoformat(),
            "idle_days": days,
            "threshold_days": limit,
        },
    )


def check_ownerless(facts: RoomFacts, owner_present: bool | None = None) -> Label | None:
    """`owner_present` when the caller has worked it out for many rooms at once."""
    if owner_present is None:
        owner_present = facts.owner_id is not None and facts.owner_id in facts.member_ids
    if owner_present:
        return None
    reason = "群主未知，请督导确认负责人" if facts.owner_id is None else "群主已不在群内，请督导确认负责人"
    return Label(
        code="ownerless",
        action="review",
        reason=reason,
        rule_id="owner.missing",
        evidence={"owner_id": facts.owner_id, "member_count": len(facts.member_ids)},
    )


def check_after_hours(facts: RoomFacts, rules: Rules, today: date) -> Label | None:
    r = rules.after_hours
    msgs, after, _ = _window(facts, today, r.window_days)
    if msgs < r.min_messages or after <= r.share * msgs:
        return None
    pct = round(100 * after / msgs)
    return Label(
        code="after_hours",
        action="review",
        reason=f"近 {r.window_days} 天 {pct}% 的消息在工作时间以外（共 {msgs} 条），请注意减轻基层负担",
        rule_id="conduct.after_hours",
        evidence={
            "window_days": r.window_days,
            "messages": msgs,
            "after_hours": after,
            "percent": pct,
            "threshold_share": r.share,
        },
    )


def check_mention_all(facts: RoomFacts, rules: Rules, today: date) -> Label | None:
    r = rules.mention_all
    msgs, _, mention = _window(facts, today, r.window_days)
    by_count = mention >= r.count
    by_share = msgs >= r.min_messages and mention >= r.share * msgs
    if mention == 0 or not (by_count or by_share):
        return None
    pct = round(100 * mention / msgs) if msgs else 100
    return Label(
        code="mention_all_heavy",
        action="review",
        reason=f"近 {r.window_days} 天 @所有人 {mention} 次（占消息 {pct}%），请减少不必要的全员提醒",
        rule_id="conduct.mention_all",
        evidence={
            "window_days": r.window_days,
            "mention_all": mention,
            "messages": msgs,
            "percent": pct,
            "threshold_count": r.count,
            "threshold_share": r.share,
        },
    )


def _loser(a: RoomFacts, b: RoomFacts, msgs: dict[str, int]) -> RoomFacts:
    """The room to merge away: the quieter one, then the younger, then the larger id."""

    def key(f: RoomFacts) -> tuple[int, date, datetime, str]:
        born = f.created_on or _naive_day(f.enrolled_at)
        return (-msgs[f.room_id], born, f.enrolled_at, f.room_id)

    return max(a, b, key=key)


def _naive_day(moment: datetime) -> date:
    return moment.date()


def _duplicate_labels(
    facts: Sequence[RoomFacts],
    members: Memberships,
    active: npt.NDArray[np.intp],
    counts: npt.NDArray[np.int64],
    rules: Rules,
    today: date,
) -> dict[str, Label]:
    r = rules.duplicate
    ids = [f.room_id for f in facts]
    pairs = coded_duplicates(
        ids, members, active, threshold=r.jaccard, min_members=r.min_members, rarity=counts
    )
    if not pairs:
        return {}
    by_id = {f.room_id: f for f in facts if f.status == "active"}
    # Activity only of the rooms in some pair: the only ones compared or reported.
    msgs = {rid: _window(by_id[rid], today, r.activity_window_days)[0] for p in pairs for rid in (p.a, p.b)}
    lost: defaultdict[str, list[DuplicatePair]] = defaultdict(list)
    for pair in pairs:
        loser = _loser(by_id[pair.a], by_id[pair.b], msgs)
        lost[loser.room_id].append(pair)
    out: dict[str, Label] = {}
    for room_id, room_pairs in lost.items():
        best = max(room_pairs, key=lambda p: (p.jaccard, p.b if p.a == room_id else p.a))
        twin = by_id[best.b if best.a == room_id else best.a]
        pct = round(100 * best.jaccard)
        out[room_id] = Label(
            code="duplicate",
            action="merge",
            reason=f"与「{twin.topic}」成员重合 {pct}%，建议合并",
            rule_id="duplicate.audience",
            evidence={
                "twin_room_id": twin.room_id,
                "twin_topic": twin.topic,
                "shared_members": best.shared,
                "union_members": best.union,
                "percent": pct,
                "messages_window": msgs[room_id],
                "twin_messages_window": msgs[twin.room_id],
                "other_twins": sorted((p.b if p.a == room_id else p.a) for p in room_pairs if p is not best),
            },
        )
    return out



def evaluate(
    facts: Sequence[RoomFacts], rules: Rules, now: datetime, *, members: Memberships | None = None
) -> list[RoomVerdict]:
    """One verdict per input room, same order. Inactive rooms get a verdict with no labels.

    `members` is `Memberships.of(f.member_ids for f in facts)` when the caller has it already
    (the audit's loader builds it while reading); it is built here otherwise.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = _local_date(now, rules)
    members = _memberships(facts, members)
    active = _active(facts)
    dups = _duplicate_labels(facts, members, active, members.counts(active), rules, today)
    owner_present: list[bool] = members.holds([f.owner_id for f in facts]).tolist()
    verdicts: list[RoomVerdict] = []
    # Many groups share a name (templates, one township's batch of groups): within one
    # evaluation each name is parsed once, and each (name, reference day) resolved once.
    parsed: dict[str, ParsedName] = {}
    inferred: dict[tuple[str, date], NameInference] = {}
    for f, owner_in in zip(facts, owner_present, strict=True):
        if f.status != "active":
            verdicts.append(RoomVerdict(f.room_id, (), None))
            continue
        inference = None
        if f.kind is None:
            since = f.created_on or _local_date(f.enrolled_at, rules)
            key = (f.topic, since)
            inference = inferred.get(key)
            if inference is None:
                name = parsed.get(f.topic)
                if name is None:
                    name = parsed[f.topic] = parse_name(f.topic, today=today, rules=rules)
                inference = inferred[key] = resolve(name, today=today, since=since)
        # The conditions only skip calls that would return None at once (100k rooms: the
        # calls themselves add up); each check still tests everything it needs.
        found = (
            None if f.end_date is None else check_expiry(f, rules, today),
            None if inference is None else check_suspected(f, inference, today),
            check_idle(f, rules, now),
            dups.get(f.room_id),
            None if f.kind is not None else check_unregistered(f, rules, now),
            None if owner_in else check_ownerless(f, owner_in),
            check_after_hours(f, rules, today),
            check_mention_all(f, rules, today),
        )
        labels = tuple(filter(None, found))
        if f.retained:
            # Approval to keep the group answers "should go"; registration and conduct labels stay.
            labels = tuple(x for x in labels if not should_go(x))
        verdicts.append(RoomVerdict(f.room_id, labels, inference))
    return verdicts


def _memberships(facts: Sequence[RoomFacts], members: Memberships | None) -> Memberships:
    if members is None:
        return Memberships.of(f.member_ids for f in facts)
    if len(members) != len(facts):
        raise ValueError(f"memberships of {len(members)} rooms given for {len(facts)} rooms")
    return members


def _active(facts: Sequence[RoomFacts]) -> npt.NDArray[np.intp]:
    """Positions of the active rooms."""
    return np.flatnonzero(np.fromiter((f.status == "active" for f in facts), dtype=bool, count=len(facts)))


def burden(
    facts: Sequence[RoomFacts], verdicts: Sequence[RoomVerdict], *, members: Memberships | None = None
) -> list[Burden]:
    """Per person: active groups they sit in and how many of those should be dissolved/merged.

    `verdicts` are `evaluate(facts, ...)`'s, in the same order. Most groups first, then by
    contact id. `members` as for `evaluate`.
    """
    members = _memberships(facts, members)
    if len(verdicts) != len(facts) or any(
        map(ne, (v.room_id for v in verdicts), (f.room_id for f in facts))
    ):
        raise ValueError("burden needs one verdict per room, in the order of the facts")
    active = _active(facts)
    flagged = np.fromiter(
        (any(map(should_go, v.labels)) for v in verdicts),
        dtype=bool,
        count=len(verdicts),
    )
    groups = members.counts(active)
    bad = members.counts(active[flagged[active]])
    contacts = members.contacts
    # By id (sorted as strings), then stably by most groups first.
    people = np.array(sorted(np.flatnonzero(groups).tolist(), key=contacts.__getitem__), dtype=np.intp)
    people = people[np.argsort(-groups[people], kind="stable")]
    return list(
        map(Burden, map(contacts.__getitem__, people.tolist()), groups[people].tolist(), bad[people].tolist())
    )
