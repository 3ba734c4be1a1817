"""All logging goes through loguru; stdlib loggers (wechaty's included) are routed into it.

Every line is redacted before it is written: the gateway token and database passwords are
registered with `protect()`, and token-shaped or URL-password-shaped text is masked anyway,
because libraries (python-wechaty logs `token<…>` at WARNING) print them on their own.
Tracebacks are written without variable values, which would show Settings and SQL parameters.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message, Record

MASK = "***"
_SECRETS: set[str] = set()
# Secrets shorter than this would mask ordinary words; they are still masked by the patterns.
_MIN_SECRET = 4
# `token<abc>`, `token=abc`, `gateway_token='abc'`, `Token: abc`.
_TOKEN = re.compile(r"(token\w*\s*(?:<|=|:)\s*['\"]?)([^'\"<>\s,)]+)", re.IGNORECASE)
# `scheme://user:password@host`: the password part.
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.\-]*://[^\s:/@'\"]*:)([^\s'\"/]+)(@)", re.IGNORECASE)
# libpq key/value strings and settings dumps: `password=abc`, `passwd: abc`.
_PASSWORD = re.compile(r"((?:password|passwd|pwd)\w*\s*(?:=|:)\s*['\"]?)([^'\"\s,)&]+)", re.IGNORECASE)

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


def protect(*secrets: str | None) -> None:
    """Register values that must never appear in a log line (token, database password)."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            _SECRETS.add(secret)


def protect_url(url: str | None) -> None:
    """Register the password of a URL such as `postgresql://user:password@host/db`."""
    m = _URL_PASSWORD.search(url or "")
    if m:
        protect(m.group(2))


def redact(text: str) -> str:
    """`text` with every registered secret and every token- or password-shaped value masked."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _TOKEN.sub(lambda m: m.group(1) + MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return _PASSWORD.sub(lambda m: m.group(1) + MASK, text)


def _patch(record: Record) -> None:
    # For every sink, tests' included; the stream sink also redacts the formatted traceback.
    record["message"] = redact(record["message"])


def _redacting_sink(stream: TextIO) -> Any:
    def write(message: Message) -> None:
        stream.write(redact(str(message)))
        stream.flush()

    return write


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send loguru to stderr (or `stream`) and route every stdlib logger into it."""
    logger.remove()
    logger.configure(patcher=_patch)
    logger.add(
        _redacting_sink(stream or sys.stderr),
        level=level,
        format="{time:YYYY-MM-DD HH:mm:ss} {level:<7} {message}",
        # No variable values in tracebacks: they held Settings (the database URL) and SQL parameters.
        diagnose=False,
        backtrace=False,
    )
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
