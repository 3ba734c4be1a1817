"""All logging goes through loguru; stdlib loggers (wechaty's included) are routed into it."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from loguru import logger

# python-wechaty logs whole messages (text included) at INFO, e.g. 'receive message <Message…\ttext>'.
# Its loggers are capped at WARNING so message text can never reach our logs.
_LIBRARY_PREFIXES = (
    "Wechaty",
    "wechaty",
    "Puppet",
    "puppet",
    "Message",
    "Room",
    "Contact",
    "Friendship",
    "Tag",
    "Favorite",
    "Image",
    "MiniProgram",
    "UrlLink",
    "RoomInvitation",
    "ContactSelf",
    "Accessory",
    "FileBox",
    "grpclib",
    "apscheduler",
    "alembic",
)


class InterceptHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, "{}: {}", record.name, record.getMessage())


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send loguru to stderr (or `stream`) and route every stdlib logger into it."""
    logger.remove()
    logger.add(stream or sys.stderr, level=level, format="{time:YYYY-MM-DD HH:mm:ss} {level:<7} {message}")
    logging.basicConfig(handlers=[InterceptHandler()], level=logging.INFO, force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tame_library_loggers()


def tame_library_loggers() -> None:
    """Re-route loggers that set propagate=False with their own console handlers (python-wechaty)."""
    manager: Any = logging.root.manager
    for name in list(manager.loggerDict):
        lg = logging.getLogger(name)
        if any(name.startswith(p) for p in _LIBRARY_PREFIXES) or lg.handlers:
            lg.handlers = [InterceptHandler()]
            lg.propagate = False
            lg.setLevel(logging.WARNING)
