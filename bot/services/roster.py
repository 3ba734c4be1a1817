"""The roster: the unit tree and people, from a roster file or a scenario's `units`/`contacts`.

WeChat knows neither units nor roles, so the deployment supplies them. One parser reads the
lists for both roster files and scenario files, so both refuse the same mistakes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine

from bot.core.textnorm import clean_name
from storage import accounts as accounts_db
from storage import directory as directory_db
from storage.db import session_scope

ROLES = ("staff", "supervisor")


class RosterError(ValueError):
    """A roster or scenario list is malformed; names the file and the entry."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    unit: str | None = None
    role: str = "staff"
    friend: bool = True
    # The bot accounts this person is a friend of, when the list names them; None: as `friend`
    # says (True: a friend of every account).
    friend_of: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Roster:
    """What the deployment knows beyond WeChat: the unit tree, people's units and roles."""

    units: Sequence[tuple[str, str | None]] = ()
    people: Sequence[Person] = ()
    room_created: Mapping[str, date] = field(default_factory=dict)


def parse_units(raw: Any, where: str) -> list[tuple[str, str | None]]:
    """`[{name, parent?}, …]` -> (name, parent) pairs; every parent must be listed too."""
    units: list[tuple[str, str | None]] = []
    for i, u in enumerate(raw or []):
        if not isinstance(u, dict) or not u.get("name"):
            raise RosterError(f"{where}: units[{i}] needs a name")
        parent = u.get("parent")
        units.append((str(u["name"]), None if parent is None else str(parent)))
    names = {u for u, _ in units}
    for u, parent in units:
        if parent is not None and parent not in names:
            raise RosterError(f"{where}: unit {u!r} has unknown parent {parent!r}")
    return units


def _parse_friend(
    value: Any, where: str, bots: Collection[str] | None
) -> tuple[bool, tuple[str, ...] | None]:
    """`friend`: true (every bot account), false, or a list of bot account ids."""
    if value is None or isinstance(value, bool):  # an empty `friend:` was always false
        return bool(value), None
    if not isinstance(value, list) or not all(isinstance(b, str | int) and str(b) for b in value):
        raise RosterError(f"{where} friend must be true, false or a list of bot ids")
    friend_of = tuple(dict.fromkeys(str(b) for b in value))
    unknown = [b for b in friend_of if bots is not None and b not in bots]
    if unknown:
        raise RosterError(f"{where} friend names unknown bot {unknown[0]!r}")
    return bool(friend_of), friend_of


def parse_people(
    raw: Any,
    where: str,
    units: Sequence[tuple[str, str | None]],
    *,
    strict_units: bool = True,
    bots: Collection[str] | None = None,
) -> list[Person]:
    """`[{id, name?, unit?, role?, friend?}, …]`; a person's unit must be one of `units`.

    `strict_units=False` lets a roster that lists no units name units imported earlier.
    `bots`: the bot account ids a `friend` list may name (None: any, as a roster file cannot
    know which accounts will log in).
    """
    names = {u for u, _ in units}
    people: list[Person] = []
    for i, c in enumerate(raw or []):
        if not isinstance(c, dict) or not c.get("id"):
            raise RosterError(f"{where}: contacts[{i}] needs an id")
        role = str(c.get("role", "staff"))
        if role not in ROLES:
            raise RosterError(f"{where}: contacts[{i}] role must be staff or supervisor")
        unit = c.get("unit")
        if unit is not None and (strict_units or names) and str(unit) not in names:
            raise RosterError(f"{where}: contacts[{i}] has unknown unit {unit!r}")
        friend, friend_of = _parse_friend(c.get("friend", True), f"{where}: contacts[{i}]", bots)
        people.append(
            Person(
                str(c["id"]),
                clean_name(str(c.get("name") or "")) or str(c["id"]),
                None if unit is None else str(unit),
                role,
                friend,
                friend_of,
            )
        )
    return people


def load_roster(path: Path) -> Roster:
    """Read a roster file (YAML with `units:` and `contacts:`); raises RosterError."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RosterError(f"{path}: cannot read roster: {exc}") from exc
    if not isinstance(raw, dict):
        raise RosterError(f"{path}: top level must be a mapping")
    units = parse_units(raw.get("units"), str(path))
    people = parse_people(raw.get("contacts"), str(path), units, strict_units=False)
    return Roster(units=units, people=people)


def apply_roster(engine: Engine, roster: Roster) -> None:
    """Write the roster's units and people (upserts: a re-import updates, never duplicates).

    A person whose `friend` lists bot accounts is a friend of exactly those; `friend: true/false`
    leaves the friendships the accounts themselves reported alone."""
    with session_scope(engine) as s:
        for name, parent in roster.units:
            directory_db.upsert_unit(s, name=name, parent=parent)
        for p in roster.people:
            directory_db.upsert_contact(
                s, contact_id=p.id, name=p.name, unit=p.unit, role=p.role, friend=p.friend
            )
            if p.friend_of is not None:
                accounts_db.set_friends(s, contact_id=p.id, account_ids=p.friend_of)
