"""The message router: count every room message, hand text addressed to the bot to a command.

Commands run off the event loop, in a worker thread, so a slow answer (an audit over a whole
county) never stops Wechaty from receiving or the outbox from sending. Each sender's commands
run one after another, in the order they arrived, so their replies keep that order too.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from bot.commands.dispatch import dispatch
from bot.commands.registry import REGISTRY, CommandTable
from bot.core.domain import ChatMessage
from bot.services.context import AppContext


class CommandRunner:
    """Runs commands in worker threads, one at a time per sender, in arrival order."""

    def __init__(self, ctx: AppContext, registry: CommandTable = REGISTRY) -> None:
        self.ctx = ctx
        self.registry = registry
        self._tails: dict[str, asyncio.Task[None]] = {}

    def submit(self, msg: ChatMessage) -> asyncio.Task[None]:
        """Queue `msg`'s command behind the same sender's earlier ones; returns its task."""
        sender = msg.talker_id
        task = asyncio.create_task(self._run(self._tails.get(sender), msg), name=f"command:{sender}")
        self._tails[sender] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tails.get(sender) is done:
                del self._tails[sender]

        task.add_done_callback(forget)
        return task

    async def _run(self, before: asyncio.Task[None] | None, msg: ChatMessage) -> None:
        if before is not None:
            await asyncio.wait([before])  # its outcome is its own; only the order matters here
        # Counters are swapped out on the loop (where they are recorded), so the command's
        # audit sees every message counted before it, without racing `record`.
        try:
            await self.ctx.recorder.flush_async()
        except Exception:
            logger.exception("activity flush before a command failed; counters kept for the next try")
        await asyncio.to_thread(dispatch, self.ctx, msg, self.registry)

    async def drain(self) -> None:
        """Wait for the commands in flight (the caller bounds it, e.g. with asyncio.timeout)."""
        pending = list(self._tails.values())
        if pending:
            await asyncio.wait(pending)


class MessageRouter:
    """Every message passes here: activity is counted, commands are handed on."""

    def __init__(self, ctx: AppContext, registry: CommandTable = REGISTRY) -> None:
        self.ctx = ctx
        self.commands = CommandRunner(ctx, registry)

    async def message(self, msg: ChatMessage) -> None:
        # With several accounts in a room, only its observer counts: each message once.
        if msg.room_id is not None and self.ctx.fleet.observes(msg.room_id, self.ctx.bot_id):
            self.ctx.recorder.record(msg.room_id, msg.talker_id, msg.at, msg.mention_all)
        if msg.command_text is not None or msg.named_without_mention:
            self.commands.submit(msg)
