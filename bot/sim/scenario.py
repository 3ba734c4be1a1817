"""Scenario files (version 1): parsing and validation, before anything is written."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.services.roster import Person, RosterError, parse_people, parse_units

EVENT_KEYS = ("invite", "say", "join", "leave", "topic", "remove_bot", "dissolve", "burst", "raw")
BOT_KEYED = ("invite", "remove_bot", "raw", "say")  # entries that may name a bot (a say: private)
DEFAULT_BOT = ("qingqun-bot", "清群助手")


class ScenarioError(Exception):
    """Names the file, the entry and (for YAML) the line."""


@dataclass(frozen=True)
class RoomSpec:
    id: str
    topic: str
    owner: str
    members: tuple[str, ...]
    admins: tuple[str, ...] = ()
    created: date | None = None


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # one of EVENT_KEYS, bursts already expanded into "say"
    data: dict[str, Any]
    where: str  # "timeline[3] (line 40)" for error messages


@dataclass
class Scenario:
    start: datetime
    end: datetime | None
    bots: list[tuple[str, str]]  # (id, name) of each bot account; the first is the default
    units: list[tuple[str, str | None]]
    contacts: dict[str, Person]
    rooms: dict[str, RoomSpec]
    settings: dict[str, Any]
    events: list[Event] = field(default_factory=list)

    @property
    def bot_id(self) -> str:
        return self.bots[0][0]

    @property
    def bot_name(self) -> str:
        return self.bots[0][1]


def _parse_dt(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            raise ScenarioError(f"{where}: bad timestamp {value!r} (use ISO 8601 with offset)") from None
    if dt.tzinfo is None:
        raise ScenarioError(f"{where}: timestamp {value!r} has no UTC offset")
    return dt


def _parse_every(value: Any, where: str) -> timedelta:
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", str(value))
    if not m or int(m.group(1)) == 0:
        raise ScenarioError(f"{where}: bad interval {value!r} (e.g. 30s, 5m, 2h, 1d)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


def _parse_bots(raw: dict[str, Any], name: str) -> list[tuple[str, str]]:
    """`bot: {id, name}` or `bots: [{id, name}, …]` (not both) -> (id, name) pairs."""
    if raw.get("bots") is not None and raw.get("bot") is not None:
        raise ScenarioError(f"{name}: give bot or bots, not both")
    if raw.get("bots") is None:
        bot = raw.get("bot") or {}
        if not isinstance(bot, dict):
            raise ScenarioError(f"{name}: bot must be a mapping {{id, name}}")
        return [(str(bot.get("id") or DEFAULT_BOT[0]), str(bot.get("name") or DEFAULT_BOT[1]))]
    listed = raw["bots"]
    if not isinstance(listed, list) or not listed:
        raise ScenarioError(f"{name}: bots must be a non-empty list of {{id, name}}")
    bots: list[tuple[str, str]] = []
    for i, b in enumerate(listed):
        if not isinstance(b, dict) or not b.get("id"):
            raise ScenarioError(f"{name}: bots[{i}] needs an id")
        if any(str(b["id"]) == known for known, _ in bots):
            raise ScenarioError(f"{name}: bots[{i}] repeats the id {b['id']!r}")
        bots.append((str(b["id"]), str(b.get("name") or DEFAULT_BOT[1])))
    return bots


def _lines(text: str) -> list[int]:
    """Line numbers of the timeline items, when the file is YAML."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "timeline" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def load_scenario(path: Path) -> Scenario:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{name}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{name}: top level must be a mapping")
    if raw.get("version") != 1:
        raise ScenarioError(f"{name}: version must be 1")
    lines = _lines(text) if path.suffix != ".json" else []
    bots = _parse_bots(raw, name)
    bot_ids = {b for b, _ in bots}
    start = _parse_dt(raw.get("start"), f"{name}: start")
    end = _parse_dt(raw["end"], f"{name}: end") if raw.get("end") else None
    try:
        units = parse_units(raw.get("units"), name)
        people = parse_people(raw.get("contacts"), name, units, bots=bot_ids)
    except RosterError as exc:
        raise ScenarioError(str(exc)) from None
    contacts = {p.id: p for p in people}
    clash = sorted(bot_ids & set(contacts))
    if clash:
        raise ScenarioError(f"{name}: {clash[0]!r} is a bot and a contact")

    def need_contact(cid: Any, where: str) -> str:
        if str(cid) not in contacts and str(cid) not in bot_ids:
            raise ScenarioError(f"{where}: unknown contact {cid!r}")
        return str(cid)

    def need_bot(e: dict[str, Any], kind: str, where: str) -> str:
        """The bot account an entry is about: its `bot:`, else the first bot."""
        if e.get("bot") is None:
            return bots[0][0]
        if kind not in BOT_KEYED or (kind == "say" and e.get("room")):
            raise ScenarioError(f"{where}: bot: goes only on invite, remove_bot, raw or a private say")
        if str(e["bot"]) not in bot_ids:
            raise ScenarioError(f"{where}: unknown bot {e['bot']!r}")
        return str(e["bot"])

    rooms: dict[str, RoomSpec] = {}
    for i, r in enumerate(raw.get("rooms") or []):
        where = f"{name}: rooms[{i}]"
        if not isinstance(r, dict) or not r.get("id") or not r.get("topic"):
            raise ScenarioError(f"{where} needs an id and a topic")
        members = tuple(need_contact(m, where) for m in r.get("members") or [])
        owner = need_contact(r.get("owner"), where)
        created = r.get("created")
        if created is not None and not isinstance(created, date):
            try:
                created = date.fromisoformat(str(created))
            except ValueError:
                raise ScenarioError(f"{where}: bad created date {created!r}") from None
        rooms[str(r["id"])] = RoomSpec(
            str(r["id"]),
            str(r["topic"]),
            owner,
            members if owner in members else (owner, *members),
            tuple(need_contact(a, where) for a in r.get("admins") or []),
            created,
        )
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise ScenarioError(f"{name}: settings must be a mapping")
    sc = Scenario(start, end, bots, units, contacts, rooms, settings)

    def need_room(rid: Any, where: str) -> str:
        if str(rid) not in rooms:
            raise ScenarioError(f"{where}: unknown room {rid!r}")
        return str(rid)

    events: list[Event] = []
    last: datetime | None = None
    for i, e in enumerate(raw.get("timeline") or []):
        where = f"{name}: timeline[{i}]" + (f" (line {lines[i]})" if i < len(lines) else "")
        if not isinstance(e, dict):
            raise ScenarioError(f"{where}: must be a mapping")
        at = _parse_dt(e.get("at"), where)
        if last is not None and at < last:
            raise ScenarioError(f"{where}: events must be in time order")
        last = at
        kinds = [k for k in EVENT_KEYS if k in e]
        if len(kinds) != 1:
            unknown = sorted(
                set(e)
                - {
                    "at",
                    "by",
                    "from",
                    "room",
                    "members",
                    "to",
                    "count",
                    "every",
                    "mention_all",
                    "payload",
                    "bot",
                    *EVENT_KEYS,
                }
            )
            what = f"unknown event {unknown}" if unknown else f"expected one of {', '.join(EVENT_KEYS)}"
            raise ScenarioError(f"{where}: {what}")
        kind = kinds[0]
        by = need_contact(e["by"], where) if e.get("by") is not None else None
        bot = need_bot(e, kind, where)
        if kind == "say":
            room = need_room(e["room"], where) if e.get("room") else None
            events.append(
                Event(
                    at,
                    "say",
                    {
                        "room": room,
                        "from": need_contact(e.get("from"), where),
                        "text": str(e["say"]),
                        "mention_all": bool(e.get("mention_all")),
                        "bot": bot,
                    },
                    where,
                )
            )
        elif kind == "burst":
            room = need_room(e["burst"], where)
            senders = e.get("from") or []
            senders = [need_contact(s, where) for s in (senders if isinstance(senders, list) else [senders])]
            count = e.get("count")
            if not senders or not isinstance(count, int) or count < 1:
                raise ScenarioError(f"{where}: burst needs from: [ids] and a positive count")
            every = _parse_every(e.get("every", "1m"), where)
            for n in range(count):
                events.append(
                    Event(
                        at + n * every,
                        "say",
                        {
                            "room": room,
                            "from": senders[n % len(senders)],
                            "text": "收到",
                            "mention_all": False,
                            "bot": bot,
                        },
                        where,
                    )
                )
        elif kind in ("invite", "remove_bot", "dissolve"):
            room = need_room(e[kind], where)
            if kind != "invite" and by is None:
                by = rooms[room].owner
            events.append(Event(at, kind, {"room": room, "by": by, "bot": bot}, where))
        elif kind in ("join", "leave"):
            room = need_room(e[kind], where)
            joined = [need_contact(m, where) for m in e.get("members") or []]
            if not joined:
                raise ScenarioError(f"{where}: {kind} needs members")
            events.append(Event(at, kind, {"room": room, "members": joined, "by": by}, where))
        elif kind == "topic":
            room = need_room(e["topic"], where)
            if not e.get("to"):
                raise ScenarioError(f"{where}: topic needs to: <new topic>")
            events.append(
                Event(at, kind, {"room": room, "to": str(e["to"]), "by": by or rooms[room].owner}, where)
            )
        elif kind == "raw":
            if e["raw"] not in ("room-join", "room-leave", "room-topic", "message"):
                raise ScenarioError(f"{where}: raw must be room-join, room-leave, room-topic or message")
            events.append(
                Event(
                    at, kind, {"event": e["raw"], "payload": dict(e.get("payload") or {}), "bot": bot}, where
                )
            )
    events.sort(key=lambda ev: ev.at)  # bursts interleave with later entries
    sc.events = events
    return sc
