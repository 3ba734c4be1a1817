"""Chat commands as declared specs in one table; parsing, permissions and help come from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from bot.commands import owner, room, supervisor
from bot.commands.kit import Ctx, Reply, clip
from bot.core import wording as w
from storage import directory as directory_db

Where = Literal["room", "private", "any"]
Who = Literal["anyone", "manager", "supervisor"]
Handler = Callable[[Ctx, list[str]], Reply]


@dataclass(frozen=True)
class CommandSpec:
    code: str  # stable id for the command log
    name: str
    aliases: tuple[str, ...]
    where: Where
    who: Who
    usage: str
    example: str
    summary: str
    handler: Handler


class CommandTable:
    """The specs, looked up by name or alias (case-insensitive)."""

    def __init__(self, specs: Iterable[CommandSpec]) -> None:
        self.specs: tuple[CommandSpec, ...] = tuple(specs)
        self._by_word = {word.lower(): s for s in self.specs for word in (s.name, *s.aliases)}
        self._longest_first = sorted(self._by_word, key=len, reverse=True)

    def __iter__(self) -> Iterator[CommandSpec]:
        return iter(self.specs)

    def get(self, word: str) -> CommandSpec | None:
        return self._by_word.get(word.lower())

    def with_spec(self, spec: CommandSpec) -> CommandTable:
        """A copy with one more command (a deployment's own, or a test's)."""
        return CommandTable((*self.specs, spec))

    def match(self, tokens: list[str]) -> tuple[CommandSpec | None, list[str]]:
        """Find the command in the first token; `我的群2` and `批准12` work without the space."""
        if not tokens:
            return None, []
        first = tokens[0].lower()
        spec = self._by_word.get(first)
        if spec is not None:
            return spec, tokens[1:]
        for word in self._longest_first:
            if first.startswith(word) and len(first) > len(word):
                return self._by_word[word], [tokens[0][len(word) :], *tokens[1:]]
        return None, tokens[1:]


def _help(ctx: Ctx, args: list[str]) -> Reply:
    topic = REGISTRY.get(args[0]) if args else None
    return Reply(help_text(ctx, args[0] if args else None), args={"topic": topic.name if topic else None})


REGISTRY = CommandTable((
    CommandSpec(
        "register", w.REGISTER, ("备案",), "room", "manager",
        f"{w.REGISTER} <常设|临时|阶段性> [截止日期] [单位 名称] [用途]",
        w.REGISTER_EXAMPLE,
        "登记本群类型、截止日期和用途；临时、阶段性群须写截止日期，常设群需督导审批",
        room.register,
    ),
    CommandSpec(
        "extend", w.EXTEND, (), "room", "manager",
        f"{w.EXTEND} <新截止日期> [理由]", w.EXTEND_EXAMPLE,
        "推迟截止日期；超过原截止日期 90 天或第 3 次延期需督导审批",
        room.extend,
    ),
    CommandSpec(
        "status", w.STATUS, ("查询",), "room", "manager",
        w.STATUS, w.STATUS, "查看本群登记、清理标签和本月消息数",
        room.status,
    ),
    CommandSpec(
        "my_groups", w.MY_GROUPS, ("我的群组",), "private", "anyone",
        f"{w.MY_GROUPS} [页码]", w.MY_GROUPS,
        f"列出你管理的群及其标签（编号供{w.CLAIM_DISSOLVED}、{w.RETAIN}使用）",
        owner.my_groups,
    ),
    CommandSpec(
        "claim_dissolved", w.CLAIM_DISSOLVED, (), "private", "anyone",
        f"{w.CLAIM_DISSOLVED} <编号>", w.CLAIM_EXAMPLE, f"报告“{w.MY_GROUPS}”列表中某个群已解散",
        owner.claim_dissolved,
    ),
    CommandSpec(
        "retain", w.RETAIN, ("申请保留",), "private", "anyone",
        f"{w.RETAIN} <编号> <理由>", w.RETAIN_EXAMPLE, "为被标记清理的群申请保留，交督导审批",
        owner.retain,
    ),
    CommandSpec(
        "pending", w.PENDING, ("审批",), "private", "supervisor",
        f"{w.PENDING} [页码]", w.PENDING, "列出本单位及下级单位待审批的申请（编号即申请号）",
        supervisor.pending_list,
    ),
    CommandSpec(
        "approve", w.APPROVE, ("同意",), "private", "supervisor",
        f"{w.APPROVE} <申请号>", w.APPROVE_EXAMPLE, "批准一件申请",
        supervisor.approve,
    ),
    CommandSpec(
        "reject", w.REJECT, ("不同意",), "private", "supervisor",
        f"{w.REJECT} <申请号> <理由>", w.REJECT_EXAMPLE, "驳回一件申请并说明理由",
        supervisor.reject,
    ),
    CommandSpec(
        "summary", w.SUMMARY, ("统计",), "private", "supervisor",
        w.SUMMARY, w.SUMMARY, "本单位及下级单位工作群数量、待清理和待审批情况",
        supervisor.summary,
    ),
    CommandSpec(
        "progress", w.PROGRESS, ("清理进度", "专项进度"), "private", "supervisor",
        w.PROGRESS, w.PROGRESS, "覆盖本单位的专项行动进度（清理率、截止日期、最慢单位、回头看问题数）",
        supervisor.progress,
    ),
    CommandSpec(
        "help", w.HELP, ("help", "?", "菜单", "指令"), "any", "anyone",
        f"{w.HELP} [指令]", w.HELP_EXAMPLE, "查看可用指令或某条指令的说明",
        _help,
    ),
))  # fmt: skip


def help_text(ctx: Ctx, topic: str | None) -> str:
    """Generated from the registry; shows what the asker can use where they asked."""
    bot = ctx.bot_name
    if topic is not None:
        spec = REGISTRY.get(topic)
        if spec is not None:
            where = {"room": f"在群里@{bot}发送", "private": "私聊我发送", "any": "群里@我或私聊均可"}[
                spec.where
            ]
            who = {
                "anyone": "所有人",
                "manager": "群主、群管理员或邀请我入群的人",
                "supervisor": "督导（本单位或上级单位）",
            }[spec.who]
            return clip(f"{spec.usage}\n{spec.summary}。\n{where}；可用：{who}。\n例：{spec.example}")
    me = directory_db.get_contact(ctx.session, contact_id=ctx.talker)
    is_supervisor = me is not None and me.role == "supervisor"
    if ctx.msg.room_id is not None:
        lines = [f"在群里@{bot}发送："]
        lines += [
            f"{s.usage}，例：{s.example}" if s.example != s.usage else f"{s.usage}：{s.summary}"
            for s in REGISTRY
            if s.where == "room"
        ]
        others = [
            s.name for s in REGISTRY if s.where == "private" and (is_supervisor or s.who != "supervisor")
        ]
        lines.append(f"私聊我可用：{'、'.join(others)}。发送“{w.HELP_EXAMPLE}”看详细说明。")
    else:
        lines = ["私聊我发送："]
        lines += [
            f"{s.usage}：{s.summary.split('（')[0].split('，')[0]}"
            for s in REGISTRY
            if s.where == "private" and (is_supervisor or s.who != "supervisor")
        ]
        room_cmds = "、".join(s.name for s in REGISTRY if s.where == "room")
        lines.append(f"在群里@我可用：{room_cmds}。发送“{w.HELP} 指令名”看详细说明。")
    return clip("\n".join(lines))
