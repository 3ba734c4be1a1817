"""The wire guard: gateway events are checked before python-wechaty parses them.

One malformed gateway event (e.g. room-join without a timestamp) raises inside python-wechaty's
event stream loop and silently ends `start()`: the bot is dead while the process lives on.
`GuardedPuppetService` repairs such events or drops them, with a log line, first.
"""

from __future__ import annotations

import json
import time
from typing import Any

from loguru import logger
from wechaty_puppet import Puppet, PuppetOptions
from wechaty_puppet.schemas.types import EventType
from wechaty_puppet_service import PuppetService

from bot.core.logs import tame_library_loggers


def repair_wire_event(kind: int, payload: str, received_at: float | None = None) -> str | None:
    """Fix or drop a gateway event that would crash python-wechaty's stream loop.

    Returns the (possibly repaired) JSON payload, or None to drop the event. A missing timestamp
    becomes `received_at` (default: now).
    """
    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        logger.warning("dropped gateway event type {}: payload is not JSON", kind)
        return None
    if not isinstance(data, dict):
        logger.warning("dropped gateway event type {}: payload is not an object", kind)
        return None
    required: dict[int, tuple[str, ...]] = {
        int(EventType.EVENT_TYPE_MESSAGE): ("messageId",),
        int(EventType.EVENT_TYPE_ROOM_JOIN): ("roomId",),
        int(EventType.EVENT_TYPE_ROOM_LEAVE): ("roomId",),
        int(EventType.EVENT_TYPE_ROOM_TOPIC): ("roomId", "newTopic"),
        int(EventType.EVENT_TYPE_LOGIN): ("contactId",),
        int(EventType.EVENT_TYPE_HEARTBEAT): ("data",),
    }
    missing = [k for k in required.get(kind, ()) if not data.get(k)]
    if missing:
        logger.warning("dropped gateway event type {}: missing {}", kind, ",".join(missing))
        return None
    if kind in (
        int(EventType.EVENT_TYPE_ROOM_JOIN),
        int(EventType.EVENT_TYPE_ROOM_LEAVE),
        int(EventType.EVENT_TYPE_ROOM_TOPIC),
    ):
        ts = data.get("timestamp")
        if not isinstance(ts, int | float) or ts <= 0:
            logger.warning("gateway event type {} had no timestamp; using the receive time", kind)
            data["timestamp"] = received_at if received_at is not None else time.time()
        for key in ("inviterId", "removerId", "changerId"):
            data.setdefault(key, "")
        data.setdefault("oldTopic", "")
    if kind == int(EventType.EVENT_TYPE_ERROR):
        data.setdefault("data", "")
    return json.dumps(data)


class GuardedPuppetService(PuppetService):
    """PuppetService whose event stream is sanitised before python-wechaty parses it."""

    async def _listen_for_event(self) -> None:
        stub = self.puppet_stub
        original = stub.event

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            async for response in original(*args, **kwargs):
                if response is None:
                    continue
                fixed = repair_wire_event(int(response.type), response.payload)
                if fixed is None:
                    continue
                response.payload = fixed
                yield response

        stub.event = guarded
        await super()._listen_for_event()

    async def stop(self) -> None:
        # The library closes its gRPC channel only if the stub's stop() succeeds; against a
        # gateway that went away it fails, and each reconnect would leak a channel.
        try:
            await super().stop()
        finally:
            self._puppet_stub = None
            if self.channel is not None:
                self.channel.close()
                self.channel = None


def live_puppet(endpoint: str, token: str) -> Puppet:
    # PuppetService's logger was created with its own console handler when this module was
    # imported, and its constructor logs the token: route it through our redacting sink first.
    tame_library_loggers()
    return GuardedPuppetService(PuppetOptions(end_point=endpoint, token=token))
