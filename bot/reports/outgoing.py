"""A chart as a message: the outbox row that sends a PNG to one person, once per period."""

from __future__ import annotations

from bot.core.domain import OutgoingFile, OutgoingMessage


def chart_message(*, recipient_id: str, kind: str, period: str, name: str, png: bytes) -> OutgoingMessage:
    """A private file message keyed `contact:<id>|<kind>|<period>`, like the digests, so a
    restart or a second instance queues it once. Queue it in the same transaction as the text it
    follows, after it: rows due at the same moment leave in the order they were queued."""
    return OutgoingMessage(
        dedupe_key=f"contact:{recipient_id}|{kind}|{period}",
        text="",
        kind=kind,
        period=period,
        recipient_id=recipient_id,
        file=OutgoingFile(name, png),
    )
