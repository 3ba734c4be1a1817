"""Run a command scenario through `qingqun simulate` and read back the transcript, audit and log."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import approvals as approvals_db
from storage.db import make_engine, session_scope

SCENARIOS = Path(__file__).parents[1] / "scenarios" / "commands"
# Messages the bot sends on its own schedule; the command tests look past them.
_NOT_REPLIES = ("大家好，我是", "周报", "【清群")

Cli = Callable[..., tuple[int, str]]


@dataclass
class Run:
    sent: list[dict[str, Any]]
    rooms: dict[str, dict[str, Any]]
    db: str

    def replies(self, *, to: str | None = None, room: str | None = None) -> list[str]:
        """Texts sent privately to `to`, or into `room` (mention prefix removed)."""
        out = []
        for m in self.sent:
            if any(word in m["text"] for word in _NOT_REPLIES):
                continue
            if (to is not None and m["to"] == to) or (room is not None and m["room"] == room):
                text = m["text"]
                out.append(text.split(" ", 1)[1] if m.get("mentions") and text.startswith("@") else text)
        return out

    def log(self) -> list[tuple[str, str | None, str, dict[str, Any], str, str]]:
        """(sender, room, command, args, outcome, reason) per CommandLog row."""
        engine = make_engine(self.db)
        try:
            with session_scope(engine) as s:
                return [
                    (r.sender_id, r.room_id, r.command, json.loads(r.args), r.outcome, r.reason)
                    for r in approvals_db.command_log(s)
                ]
        finally:
            engine.dispose()


def run(cli: Cli, tmp_path: Path, name: str, at: str = "2026-11-02") -> Run:
    db = f"sqlite:///{tmp_path / 'commands.db'}"
    transcript = tmp_path / "transcript.jsonl"
    code, out = cli("simulate", str(SCENARIOS / f"{name}.yaml"), "--db", db, "--transcript", str(transcript))
    assert code == 0, out
    sent = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    code, out = cli("audit", "--db", db, "--at", at, "--json")
    assert code == 0, out
    return Run(sent, {row["room_id"]: row for row in json.loads(out)}, db)


def registration(row: dict[str, Any]) -> tuple[Any, Any, Any]:
    return row["kind"], row["end_date"], row["pending"]


UNREGISTERED = (None, None, [])
