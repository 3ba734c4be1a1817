"""A contact's `friend` may list the bot accounts it is a friend of, in roster files and scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.roster import Person, RosterError, apply_roster, load_roster, parse_people
from storage import accounts as accounts_db
from storage import directory as directory_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade


def test_friend_is_true_false_or_a_list_of_bots() -> None:
    people = parse_people(
        [
            {"id": "zhang"},
            {"id": "li", "friend": False},
            {"id": "wang", "friend": ["bot-a", "bot-b", "bot-a"]},
            {"id": "zhao", "friend": []},
        ],
        "s.yaml",
        [],
        bots={"bot-a", "bot-b"},
    )
    assert [(p.id, p.friend, p.friend_of) for p in people] == [
        ("zhang", True, None),
        ("li", False, None),
        ("wang", True, ("bot-a", "bot-b")),  # repeats dropped, order kept
        ("zhao", False, ()),
    ]


@pytest.mark.parametrize(
    ("friend", "message"),
    [
        (["bot-a", "bot-x"], "s.yaml: contacts[0] friend names unknown bot 'bot-x'"),
        ("yes", "s.yaml: contacts[0] friend must be true, false or a list of bot ids"),
        ([{"id": "bot-a"}], "s.yaml: contacts[0] friend must be true, false or a list of bot ids"),
    ],
)
def test_a_bad_friend_list_names_the_entry(friend: object, message: str) -> None:
    with pytest.raises(RosterError) as err:
        parse_people([{"id": "wang", "friend": friend}], "s.yaml", [], bots={"bot-a"})
    assert str(err.value) == message


def _friends(engine_url: str, contact_id: str) -> tuple[bool, set[str]]:
    engine = make_engine(engine_url)
    try:
        with session_scope(engine) as s:
            contact = directory_db.get_contact(s, contact_id=contact_id)
            assert contact is not None
            return contact.friend, accounts_db.reach_of(s, contact_ids=[contact_id]).get(contact_id, set())
    finally:
        engine.dispose()


def test_a_roster_list_records_exactly_those_friendships(db_url: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "contacts:\n"
        "  - {id: wang, name: 王五, friend: [bot-b, bot-a]}\n"
        "  - {id: zhang, name: 张三}\n"
        "  - {id: li, name: 李四, friend: false}\n",
        encoding="utf-8",
    )
    loaded = load_roster(roster)  # a roster file cannot know the accounts: any id is taken
    assert loaded.people[0] == Person("wang", "王五", None, "staff", True, ("bot-b", "bot-a"))
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with session_scope(engine) as s:  # an account's own contact list said zhang is its friend
            directory_db.upsert_contact(s, contact_id="zhang", name="张三", friend=True)
            accounts_db.note_friendship(s, contact_id="zhang", account_id="bot-a", friend=True)
            directory_db.upsert_contact(s, contact_id="wang", name="王五", friend=True)
            accounts_db.note_friendship(s, contact_id="wang", account_id="bot-c", friend=True)
        apply_roster(engine, loaded)
    finally:
        engine.dispose()
    assert _friends(db_url, "wang") == (True, {"bot-a", "bot-b"})  # the list replaces bot-c
    assert _friends(db_url, "zhang") == (True, {"bot-a"})  # `friend: true` leaves them alone
    assert _friends(db_url, "li") == (False, set())

    roster.write_text("contacts:\n  - {id: wang, name: 王五, friend: []}\n", encoding="utf-8")
    engine = make_engine(db_url)
    try:
        apply_roster(engine, load_roster(roster))
    finally:
        engine.dispose()
    assert _friends(db_url, "wang") == (False, set())  # an empty list: a friend of no account
