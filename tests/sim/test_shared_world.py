"""Several bot accounts' puppets share one simulated world and see the same rooms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wechaty_puppet.schemas.types import MessageType

from bot.sim.puppet import SimPuppet, SimRoom, SimWorld

AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


class Heard:
    """What one puppet emitted to whoever listens (the Wechaty bridge, in real runs)."""

    def __init__(self, puppet: SimPuppet) -> None:
        self.events: list[tuple[str, Any]] = []
        for name in ("message", "room-join", "room-leave", "room-topic"):
            puppet.on(name, lambda payload, name=name: self.events.append((name, payload)))

    def take(self) -> list[tuple[str, Any]]:
        out, self.events = self.events, []
        return out


def _world() -> tuple[SimWorld, SimPuppet, SimPuppet]:
    world = SimWorld(lambda: AT)
    a = SimPuppet("bot-a", "清群助手", world.now, world=world)
    b = SimPuppet("bot-b", "清群助手二号", world.now, world=world)
    world.add_contact("zhang", "张三")
    world.add_contact("li", "李四", friend=False)
    world.add_contact("wang", "王五", friend_of=["bot-b"])
    world.add_room(SimRoom("r1@chatroom", "黑龙潭镇值班群", "zhang", ["zhang", "li", "bot-a", "bot-b"]))
    world.add_room(SimRoom("r2@chatroom", "迎检群", "li", ["li", "wang"]))
    return world, a, b


def test_a_room_message_reaches_every_bot_in_the_room_each_with_its_own_copy() -> None:
    world, a, b = _world()
    heard_a, heard_b = Heard(a), Heard(b)
    ids = world.say("zhang", "收到", room_id="r1@chatroom")
    assert set(ids) == {"bot-a", "bot-b"}
    assert ids["bot-a"] != ids["bot-b"]
    [(kind_a, got_a)], [(kind_b, got_b)] = heard_a.take(), heard_b.take()
    assert (kind_a, got_a.message_id, kind_b, got_b.message_id) == (
        "message",
        ids["bot-a"],
        "message",
        ids["bot-b"],
    )
    for msg_id in ids.values():
        payload = world.messages[msg_id]
        assert (payload.from_id, payload.room_id, payload.to_id, payload.text) == (
            "zhang",
            "r1@chatroom",
            "",
            "收到",
        )
    # Nobody's bot is in r2: nobody is told.
    assert world.say("li", "好的", room_id="r2@chatroom") == {}
    assert heard_a.take() == heard_b.take() == []


def test_a_private_message_reaches_only_the_bot_it_is_written_to() -> None:
    world, a, b = _world()
    heard_a, heard_b = Heard(a), Heard(b)
    ids = world.say("zhang", "我的群", to="bot-b")
    assert list(ids) == ["bot-b"]
    assert heard_a.take() == []
    [(kind, got)] = heard_b.take()
    assert kind == "message"
    assert world.messages[got.message_id].to_id == "bot-b"
    # Without `to`, the first bot; through a puppet, that puppet's bot.
    assert list(world.say("zhang", "帮助")) == ["bot-a"]
    assert b.say("zhang", "帮助") is not None
    assert [k for k, _ in heard_b.take()] == ["message"]


async def test_a_removed_bot_is_told_with_the_others_and_then_hears_nothing() -> None:
    world, a, b = _world()
    heard_a, heard_b = Heard(a), Heard(b)
    assert await a.room_search() == await b.room_search() == ["r1@chatroom"]
    world.leave("r1@chatroom", ["bot-b"], "zhang")
    for heard in (heard_a, heard_b):
        [(kind, got)] = heard.take()
        assert (kind, got.removed_ids, got.remover_id, got.room_id) == (
            "room-leave",
            ["bot-b"],
            "zhang",
            "r1@chatroom",
        )
    assert await a.room_search() == ["r1@chatroom"]
    assert await b.room_search() == []
    world.change_topic("r1@chatroom", "新群名", "zhang")
    world.say("li", "收到", room_id="r1@chatroom")
    assert [k for k, _ in heard_a.take()] == ["room-topic", "message"]
    assert heard_b.take() == []
    # Invited into r2: the invited bot is told (it is a member now); the other is not.
    world.join("r2@chatroom", ["bot-b"], "li")
    assert heard_a.take() == []
    [(kind, got)] = heard_b.take()
    assert (kind, got.invited_ids) == ("room-join", ["bot-b"])
    assert await b.room_search() == ["r2@chatroom"]


async def test_a_dissolved_room_tells_every_bot_and_is_listed_by_none() -> None:
    world, a, b = _world()
    heard_a, heard_b = Heard(a), Heard(b)
    world.dissolve("r1@chatroom", "zhang")
    assert [k for k, _ in heard_a.take()] == [k for k, _ in heard_b.take()] == ["room-leave"]
    assert await a.room_search() == await b.room_search() == []


async def test_friendship_is_per_bot() -> None:
    _, a, b = _world()
    friends = {}
    for puppet in (a, b):
        for cid in ("zhang", "li", "wang", "bot-a", "bot-b"):
            friends[puppet.bot_id, cid] = (await puppet.contact_payload(cid)).friend
    assert friends == {
        ("bot-a", "zhang"): True,  # friend: true means every bot
        ("bot-b", "zhang"): True,
        ("bot-a", "li"): False,
        ("bot-b", "li"): False,
        ("bot-a", "wang"): False,  # a list names the bots
        ("bot-b", "wang"): True,
        ("bot-a", "bot-a"): True,  # each bot is itself, not the other's friend
        ("bot-b", "bot-a"): False,
        ("bot-a", "bot-b"): False,
        ("bot-b", "bot-b"): True,
    }
    assert (await b.contact_payload("bot-a")).name == "清群助手"


async def test_a_send_is_recorded_with_its_bot_and_delivered_to_nobody() -> None:
    world, a, b = _world()
    heard_a, heard_b = Heard(a), Heard(b)
    msg_id = await b.message_send_text("r1@chatroom", "请登记", ["zhang"])
    await a.message_send_text("zhang", "您好")
    assert [(m.via, m.room_id, m.to_id, m.text, m.mention_ids) for m in world.sent] == [
        ("bot-b", "r1@chatroom", None, "请登记", ("zhang",)),
        ("bot-a", None, "zhang", "您好", ()),
    ]
    assert world.messages[msg_id].from_id == "bot-b"  # say() loads its own send back
    assert world.messages[msg_id].type == MessageType.MESSAGE_TYPE_TEXT
    assert heard_a.take() == heard_b.take() == []
    assert a.sent is b.sent is world.sent


async def test_a_puppet_built_alone_has_a_world_of_its_own() -> None:
    clock = lambda: AT  # noqa: E731
    solo = SimPuppet("qingqun-bot", "清群助手", clock)
    solo.add_contact("zhang", "张三")
    solo.add_room(SimRoom("r1@chatroom", "值班群", "zhang", ["zhang", "qingqun-bot"]))
    heard = Heard(solo)
    assert solo.say("zhang", "收到", room_id="r1@chatroom") == "sim-msg-1"
    assert solo.say("zhang", "我的群") == "sim-msg-2"
    assert [k for k, _ in heard.take()] == ["message", "message"]
    assert solo.contacts is solo.world.contacts
    assert set(solo.contacts) == {"qingqun-bot", "zhang"}
    assert await solo.room_search() == ["r1@chatroom"]
    other = SimPuppet("qingqun-bot", "清群助手", clock)
    assert other.world is not solo.world
