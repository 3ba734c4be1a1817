"""Scenario files may name several bot accounts (`bots:`) and say which one an entry is about."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sim.scenario import Scenario, ScenarioError, load_scenario

HEAD = 'version: 1\nstart: "2026-11-02T08:00:00+08:00"\n'
TWO_BOTS = "bots: [{id: bot-a, name: 清群助手}, {id: bot-b, name: 清群助手二号}]\n"
WORLD = (
    "contacts:\n"
    "  - {id: zhang, name: 张三}\n"
    "  - {id: wang, name: 王五, friend: [bot-b]}\n"
    "  - {id: li, name: 李四, friend: false}\n"
    "rooms:\n"
    "  - {id: r1@chatroom, topic: 值班群, owner: zhang, members: [zhang, bot-a, bot-b]}\n"
    "  - {id: r2@chatroom, topic: 迎检群, owner: wang, members: [wang, li]}\n"
)


def _load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as err:
        _load(tmp_path, text)
    return str(err.value)


def test_one_bot_as_before(tmp_path: Path) -> None:
    sc = _load(tmp_path, HEAD + "bot: {id: qq, name: 小助手}\n")
    assert (sc.bots, sc.bot_id, sc.bot_name) == ([("qq", "小助手")], "qq", "小助手")
    sc = _load(tmp_path, HEAD)
    assert sc.bots == [("qingqun-bot", "清群助手")]


def test_several_bots_and_the_entries_that_name_one(tmp_path: Path) -> None:
    sc = _load(
        tmp_path,
        HEAD
        + TWO_BOTS
        + WORLD
        + "timeline:\n"
        + '  - {at: "2026-11-02T09:00:00+08:00", invite: r2@chatroom, by: wang, bot: bot-b}\n'
        + '  - {at: "2026-11-02T09:01:00+08:00", invite: r2@chatroom, by: wang}\n'
        + '  - {at: "2026-11-02T09:02:00+08:00", from: wang, say: 我的群, bot: bot-b}\n'
        + '  - {at: "2026-11-02T09:03:00+08:00", from: zhang, say: 我的群}\n'
        + '  - {at: "2026-11-02T09:04:00+08:00", remove_bot: r1@chatroom, bot: bot-b}\n'
        + '  - {at: "2026-11-02T09:05:00+08:00", raw: message, payload: {}, bot: bot-b}\n',
    )
    assert (sc.bots, sc.bot_id, sc.bot_name) == (
        [("bot-a", "清群助手"), ("bot-b", "清群助手二号")],
        "bot-a",
        "清群助手",
    )
    assert [(e.kind, e.data["bot"]) for e in sc.events] == [
        ("invite", "bot-b"),
        ("invite", "bot-a"),  # the first bot by default
        ("say", "bot-b"),
        ("say", "bot-a"),
        ("remove_bot", "bot-b"),
        ("raw", "bot-b"),
    ]
    assert sc.events[4].data["by"] == "zhang"  # removed by the owner unless `by` says otherwise
    assert sc.rooms["r1@chatroom"].members == ("zhang", "bot-a", "bot-b")  # bots are not contacts
    people = {p.id: (p.friend, p.friend_of) for p in sc.contacts.values()}
    assert people == {"zhang": (True, None), "wang": (True, ("bot-b",)), "li": (False, None)}


@pytest.mark.parametrize(
    ("bots", "message"),
    [
        ("bot: {id: a}\nbots: [{id: b}]\n", "s.yaml: give bot or bots, not both"),
        ("bots: []\n", "s.yaml: bots must be a non-empty list of {id, name}"),
        ("bots: {id: a}\n", "s.yaml: bots must be a non-empty list of {id, name}"),
        ("bots: [{id: a}, {name: 二号}]\n", "s.yaml: bots[1] needs an id"),
        ("bots: [{id: a}, {id: a, name: 二号}]\n", "s.yaml: bots[1] repeats the id 'a'"),
        ("bot: qingqun-bot\n", "s.yaml: bot must be a mapping {id, name}"),
        ("bots: [{id: zhang}]\ncontacts: [{id: zhang}]\n", "s.yaml: 'zhang' is a bot and a contact"),
    ],
)
def test_bad_bot_lists_are_refused(tmp_path: Path, bots: str, message: str) -> None:
    assert _error(tmp_path, HEAD + bots) == message


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{invite: r2@chatroom, by: wang, bot: bot-c}", "unknown bot 'bot-c'"),
        ("{remove_bot: r1@chatroom, bot: nobody}", "unknown bot 'nobody'"),
        ("{room: r1@chatroom, from: zhang, say: 收到, bot: bot-b}", "bot: goes only on"),
        ("{join: r2@chatroom, members: [zhang], bot: bot-b}", "bot: goes only on"),
        ("{burst: r1@chatroom, from: [zhang], count: 2, bot: bot-b}", "bot: goes only on"),
    ],
)
def test_an_entry_naming_a_wrong_bot_is_refused_with_its_line(
    tmp_path: Path, entry: str, message: str
) -> None:
    text = HEAD + TWO_BOTS + WORLD + f'timeline:\n  - {{at: "2026-11-02T09:00:00+08:00", {entry[1:]}\n'
    assert _error(tmp_path, text).startswith(f"s.yaml: timeline[0] (line 12): {message}")


def test_a_friend_list_names_only_the_scenario_bots(tmp_path: Path) -> None:
    text = HEAD + TWO_BOTS + "contacts: [{id: wang, friend: [bot-b, bot-x]}]\n"
    assert _error(tmp_path, text) == "s.yaml: contacts[0] friend names unknown bot 'bot-x'"
    # With one bot, its id is the only one a list may name.
    text = HEAD + "bot: {id: qq}\ncontacts: [{id: wang, friend: [qq]}]\n"
    assert _load(tmp_path, text).contacts["wang"].friend_of == ("qq",)


def test_bot_ids_count_as_known_contacts_everywhere(tmp_path: Path) -> None:
    text = (
        HEAD
        + TWO_BOTS
        + WORLD
        + "timeline:\n"
        + '  - {at: "2026-11-02T09:00:00+08:00", join: r2@chatroom, members: [bot-b], by: bot-a}\n'
    )
    [event] = _load(tmp_path, text).events
    assert event.data["members"] == ["bot-b"]
    assert event.data["by"] == "bot-a"
    unknown = text.replace("members: [bot-b]", "members: [bot-z]")
    assert _error(tmp_path, unknown) == "s.yaml: timeline[0] (line 12): unknown contact 'bot-z'"
