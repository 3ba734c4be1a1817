"""Units and contacts: the jurisdiction tree and the people the roster and WeChat tell us about."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlmodel import Session, col

from storage.models import (
    Contact,
    Unit,
)


def upsert_unit(session: Session, *, name: str, parent: str | None) -> None:
    unit = session.get(Unit, name)
    if unit is None:
        session.add(Unit(name=name, parent=parent))
    else:
        unit.parent = parent


def upsert_contact(
    session: Session,
    *,
    contact_id: str,
    name: str | None = None,
    friend: bool | None = None,
    unit: str | None = None,
    role: str | None = None,
) -> Contact:
    """Create or update a contact; None leaves a field as it is."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        contact = Contact(id=contact_id, name=name or "")
        session.add(contact)
    if name:
        contact.name = name
    if friend is not None:
        contact.friend = friend
    if unit is not None:
        contact.unit = unit
    if role is not None:
        contact.role = role
    return contact


def subtree_of(parents: Mapping[str, str | None], root: str) -> set[str]:
    """The unit and all units below it, given each unit's parent."""
    children: dict[str | None, list[str]] = {}
    for name, parent in parents.items():
        children.setdefault(parent, []).append(name)
    out: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(children.get(name, []))
    return out


def unit_subtree(session: Session, *, root: str) -> set[str]:
    """The unit and all units below it."""
    return subtree_of({u.name: u.parent for u in session.scalars(select(Unit))}, root)


def contacts(session: Session) -> dict[str, Contact]:
    return {c.id: c for c in session.scalars(select(Contact))}


def all_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).order_by(col(Unit.name))).scalars())  # type: ignore[call-overload]


def get_contact(session: Session, *, contact_id: str | None) -> Contact | None:
    return None if contact_id is None else session.get(Contact, contact_id)


def contact_name(session: Session, *, contact_id: str | None) -> str:
    c = get_contact(session, contact_id=contact_id)
    return (c.name or c.id) if c is not None else (contact_id or "")


def has_units(session: Session) -> bool:
    return session.execute(select(func.count()).select_from(Unit)).scalar() != 0


def get_unit(session: Session, *, name: str) -> Unit | None:
    return session.get(Unit, name)


def unit_chain(session: Session, *, unit: str) -> list[str]:
    """The unit and its ancestors, nearest first (cycle-safe)."""
    out: list[str] = []
    cur: str | None = unit
    while cur is not None and cur not in out:
        out.append(cur)
        row = session.get(Unit, cur)
        cur = row.parent if row is not None else None
    return out


def supervisors(session: Session) -> list[Contact]:
    return list(
        session.exec(  # type: ignore[call-overload]
            select(Contact).where(col(Contact.role) == "supervisor").order_by(col(Contact.id))
        ).scalars()
    )
