"""Roster files: the unit tree and people (same shape as a scenario's units/contacts)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.scenario import ScenarioError
from bot.services import Roster


def load_roster(path: Path) -> Roster:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read roster: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: top level must be a mapping")
    units: list[tuple[str, str | None]] = []
    for i, u in enumerate(raw.get("units") or []):
        if not isinstance(u, dict) or not u.get("name"):
            raise ScenarioError(f"{path}: units[{i}] needs a name")
        units.append((str(u["name"]), u.get("parent")))
    contacts = []
    for i, c in enumerate(raw.get("contacts") or []):
        if not isinstance(c, dict) or not c.get("id"):
            raise ScenarioError(f"{path}: contacts[{i}] needs an id")
        role = str(c.get("role", "staff"))
        if role not in ("staff", "supervisor"):
            raise ScenarioError(f"{path}: contacts[{i}] role must be staff or supervisor")
        contacts.append(
            (str(c["id"]), str(c.get("name") or c["id"]), c.get("unit"), role, bool(c.get("friend", True)))
        )
    return Roster(units=units, contacts=contacts)
