"""Values on the wire: files as the official gateway reads them, times and mentions as
python-wechaty hands them out. Used by the adapter; see its docstring for why each exists."""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from datetime import UTC, datetime

from wechaty_puppet import FileBox
from wechaty_puppet.file_box.type import FileBoxOptionsBase64, FileBoxType

from bot.core.domain import OutgoingFile
from bot.core.textnorm import normalize_command

# WeChat puts this id in the mention list of an @所有人 message; we never look at the text for it.
MENTION_ALL_IDS = frozenset({"notify@all", "@all"})


class GatewayFileBox(FileBox):  # type: ignore[misc]
    """A base64 FileBox whose JSON is file-box 1.x's, built without the deprecated `mimeType`."""

    def __init__(self, name: str, data: bytes, media_type: str) -> None:
        super().__init__(FileBoxOptionsBase64(name=name, base64=base64.b64encode(data)))
        self.mediaType = media_type

    def to_json_str(self) -> str:
        return json.dumps(
            {
                "type": FileBoxType.Base64.value,
                "boxType": FileBoxType.Base64.value,  # the key before file-box 1.0
                "name": self.name,
                "base64": self.base64.decode("ascii"),
                "mediaType": self.mediaType,
                "metadata": dict(self.metadata),
            },
            ensure_ascii=False,
        )


def file_box(file: OutgoingFile) -> FileBox:
    """The FileBox `say()` takes for one of our files."""
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return GatewayFileBox(file.name, file.data, media_type)


def utc_of(local_naive: datetime) -> datetime:
    """python-wechaty hands out naive local datetimes built with fromtimestamp()."""
    return local_naive.astimezone(UTC)


def strip_mention(text: str, names: list[str]) -> str:
    for name in names:
        if name:
            text = re.sub("@" + re.escape(name) + r"[\u2005\u0020\u00a0]?", " ", text)
    return text.strip()


def names_bot(text: str, names: list[str]) -> bool:
    """Text that starts with "@<bot name>" typed by hand: WeChat's mention list does not have us."""
    head = normalize_command(text[:64])
    for name in names:
        typed = "@" + normalize_command(name) if name else ""
        # "@清群助手2" names another account (a digit or Latin letter right after), not us.
        after = head[len(typed) : len(typed) + 1]
        if typed and head.startswith(typed) and not (after.isascii() and after.isalnum()):
            return True
    return False
