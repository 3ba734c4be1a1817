"""Run the official wechaty gateway (puppet-service + mock puppet) for conformance tests.

The gateway lives in ``tests/gateway/server.mjs``; it serves plaintext gRPC on
loopback and prints one JSON object per line on stdout (see the header of
server.mjs). This module starts it, collects those events and drives the
scripted world.

Typical use (from pytest or a plain script)::

    avail = GatewayHarness.available()
    if not avail:
        pytest.skip(avail.reason)
    with GatewayHarness(tmp_path) as gw:          # npm ci if needed, start, wait for ready
        # point the bot at gw.endpoint / gw.token, start it, wait until it listens
        gw.wait_login(timeout=30)                  # the client has started the puppet
        ...                                        # wait until the bot finished its login backfill
        gw.trigger()                               # run the scripted events
        gw.wait_script_done(timeout=30)
        said = gw.bot_messages()                   # [{"room", "to", "text", "mentions", ...}]

If the bot runs inside the test's own event loop, use the ``*_async`` waits so
the loop keeps running while waiting.

No pytest import here on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GATEWAY_DIR = Path(__file__).resolve().parent
SERVER_SCRIPT = GATEWAY_DIR / "server.mjs"
DEFAULT_TOKEN = "qingqun-conformance-token"
MIN_NODE_MAJOR = 16

#: Ids and names of the scripted world (mirrors server.mjs).
BOT_ID = "qingqun-bot"
BOT_NAME = "清群助手"
CONTACTS = {"zhang": "张三", "li": "李四", "wang": "王五", "zhao": "赵六"}
ROOMS = {
    "r1@chatroom": {
        "topic": "黑龙潭镇党政办工作群",
        "owner": "zhang",
        "members": [BOT_ID, "zhang", "li", "wang"],
    },
    "r2@chatroom": {"topic": "2024年秋季征兵工作群", "owner": "li", "members": [BOT_ID, "li", "zhang"]},
    "r3@chatroom": {
        "topic": "迎检临时群",
        "owner": "wang",
        "members": [BOT_ID, "wang", "li", "zhang", "zhao"],
    },
    "r4@chatroom": {"topic": "2026年冬季征兵工作群", "owner": "zhang", "members": ["zhang", "li", "zhao"]},
}
#: What trigger() makes happen, in order: (kind, room, actor, detail).
SCRIPT = [
    ("message", "r1@chatroom", "li", "收到"),
    ("message", "r1@chatroom", "zhang", "好的，明天上午开会"),
    ("message", "r3@chatroom", "wang", "材料已报送"),
    ("room-join", "r1@chatroom", "zhang", "zhao"),
    ("room-topic", "r2@chatroom", "li", "2024年冬季征兵工作群"),
    ("message", "r1@chatroom", "zhao", "大家好，我是赵六"),
    ("room-join", "r4@chatroom", "zhang", BOT_ID),
    ("message", "r4@chatroom", "li", "收到"),
]


class GatewayError(RuntimeError):
    """The gateway failed to install, start, or run its script."""


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayHarness:
    """One gateway process. Not reusable after stop(); create a new one instead."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        token: str = DEFAULT_TOKEN,
        *,
        step_ms: int = 300,
        log_level: str = "warn",
        node: str = "node",
        npm: str = "npm",
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.env = dict(env or {})  # extra environment for the server (GATEWAY_SCAN, …)
        self.token = token
        self.step_ms = step_ms
        self.log_level = log_level
        self.node = node
        self.npm = npm
        self._requested_port = port
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stderr_file: Any = None
        self._events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._eof = False

    # ------------------------------------------------------------ checks

    @staticmethod
    def available(node: str = "node", npm: str = "npm") -> Availability:
        """Whether the gateway can run here (node >= 16, and npm unless already installed)."""
        node_path = shutil.which(node)
        if node_path is None:
            return Availability(False, "node is not installed (needed for the wechaty gateway)")
        try:
            out = subprocess.run(
                [node_path, "--version"], capture_output=True, text=True, timeout=20, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as e:
            return Availability(False, f"`node --version` failed: {e}")
        m = re.match(r"v(\d+)", out)
        if not m or int(m.group(1)) < MIN_NODE_MAJOR:
            return Availability(False, f"node {out!r} is too old (need >= {MIN_NODE_MAJOR})")
        if not (GATEWAY_DIR / "node_modules").is_dir() and shutil.which(npm) is None:
            return Availability(False, "npm is not installed and tests/gateway/node_modules is missing")
        if not (GATEWAY_DIR / "package-lock.json").is_file():
            return Availability(False, "tests/gateway/package-lock.json is missing")
        return Availability(True)

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise GatewayError("gateway not started")
        return f"127.0.0.1:{self.port}"

    # ------------------------------------------------------------ install

    def ensure_installed(self, timeout: float = 600) -> None:
        """Run `npm ci` in tests/gateway unless node_modules is already there."""
        marker = GATEWAY_DIR / "node_modules" / ".package-lock.json"
        if marker.is_file():
            return
        npm_path = shutil.which(self.npm)
        if npm_path is None:
            raise GatewayError("npm not found; cannot install tests/gateway/node_modules")
        # Serialize concurrent installs (e.g. pytest-xdist workers).
        lock_path = Path(tempfile.gettempdir()) / "qingqun-gateway-npm-ci.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if marker.is_file():
                    return
                proc = subprocess.run(
                    [npm_path, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                    cwd=GATEWAY_DIR,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
                if proc.returncode != 0:
                    raise GatewayError(f"npm ci failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60) -> GatewayHarness:
        """Install if needed, start the gateway and wait until gRPC listens."""
        if self._proc is not None:
            raise GatewayError("already started")
        self.ensure_installed()
        self.workdir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._requested_port is not None else 3
        last_error = ""
        for _ in range(attempts):
            port = self._requested_port or _free_port()
            try:
                self._spawn(port)
                self.wait_for("ready", timeout=timeout)
                self.port = port
                return self
            except GatewayError as e:
                last_error = str(e)
                self._terminate()
        raise GatewayError(f"gateway did not start: {last_error}\nstderr tail:\n{self.stderr_tail()}")

    async def start_async(self, timeout: float = 60) -> GatewayHarness:  # noqa: ASYNC109
        """start() in a worker thread, so a running event loop is not blocked (npm ci, node boot)."""
        return await asyncio.to_thread(self.start, timeout)

    def _spawn(self, port: int) -> None:
        node_path = shutil.which(self.node)
        if node_path is None:
            raise GatewayError("node not found")
        env = dict(os.environ)
        env.update(
            GATEWAY_LOG_LEVEL=self.log_level,
            WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER="true",
            NO_UPDATE_NOTIFIER="1",
        )
        env.update(self.env)
        with self._cond:
            self._events = []
            self._eof = False
        self._stderr_file = open(self.workdir / "gateway.stderr.log", "ab")
        self._proc = subprocess.Popen(
            [
                node_path,
                str(SERVER_SCRIPT),
                "--port",
                str(port),
                "--token",
                self.token,
                "--step-ms",
                str(self.step_ms),
            ],
            cwd=GATEWAY_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read_stdout, name=f"gateway-{port}", daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None
        assert proc.stdout is not None
        with open(self.workdir / "gateway.events.jsonl", "a", encoding="utf-8") as log:
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line:
                    continue
                log.write(line + "\n")
                log.flush()
                try:
                    event = json.loads(line)
                except ValueError:
                    event = {"event": "stdout", "line": line}
                if not isinstance(event, dict):
                    event = {"event": "stdout", "line": line}
                with self._cond:
                    self._events.append(event)
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def restart(self, down: float, timeout: float = 60, **env: str) -> None:
        """Stop the gateway, stay away `down` seconds, start it again on the same port.

        `env` is added to the server's environment from then on (e.g. a room added meanwhile).
        Events are collected afresh, so `wait_login` waits for the new login.
        """
        if self.port is None:
            raise GatewayError("not started")
        port = self.port
        self._terminate()
        time.sleep(down)
        self.env.update(env)
        self._spawn(port)
        self.wait_for("ready", timeout=timeout)

    def stop(self, timeout: float = 10) -> None:
        """Stop the gateway (quit, then SIGTERM, then SIGKILL) and reap it. Idempotent."""
        self._terminate(timeout)

    def _terminate(self, timeout: float = 10) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None and proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.write(b"quit\n")
                proc.stdin.flush()
        if proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()  # EOF also makes the server shut down
        try:
            proc.wait(timeout=timeout / 2)
        except subprocess.TimeoutExpired:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout / 2)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if proc.stdout is not None:
            proc.stdout.close()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        self._proc = None

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
        # The server runs in its own session: signal its process group (by its id).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def __enter__(self) -> GatewayHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ control

    def trigger(self) -> None:
        """Run the scripted events. The server waits for the bot's login first.

        Call it only once the bot is really listening (after its login handler
        and backfill are done): events sent earlier are not replayed.
        """
        proc = self._proc
        if proc is None or proc.poll() is not None or proc.stdin is None:
            raise GatewayError("gateway is not running")
        proc.stdin.write(b"go\n")
        proc.stdin.flush()

    # ------------------------------------------------------------ events

    def events(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(e) for e in self._events]

    def bot_messages(self) -> list[dict[str, Any]]:
        """Every text the bot sent: {"room", "to", "text", "mentions", "id", "ts"}, in order."""
        return [e for e in self.events() if e.get("event") == "bot-said"]

    def bot_sent_other(self) -> list[dict[str, Any]]:
        """Non-text sends (file, contact card, url, mini program, location)."""
        return [e for e in self.events() if e.get("event") == "bot-sent"]

    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("event") == "error"]

    def _find(
        self, name: str, predicate: Callable[[dict[str, Any]], bool] | None, start: int
    ) -> dict[str, Any] | None:
        for e in self._events[start:]:
            if e.get("event") == name and (predicate is None or predicate(e)):
                return e
        return None

    def _check_failure(self, name: str, start: int) -> None:
        for e in self._events[start:]:
            if e.get("event") == "error" and (
                name in ("ready", "script-done") or "failed" in str(e.get("message", ""))
            ):
                raise GatewayError(f"gateway error while waiting for {name!r}: {e.get('message')}")
        if self._eof:
            raise GatewayError(f"gateway exited while waiting for {name!r}")

    def wait_for(
        self,
        name: str,
        timeout: float = 30,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        start: int = 0,
    ) -> dict[str, Any]:
        """Block until an event called `name` (at or after index `start`) has been printed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._find(name, predicate, start)
                if found is not None:
                    return dict(found)
                self._check_failure(name, start)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise GatewayError(f"timed out after {timeout}s waiting for {name!r}")
                self._cond.wait(min(remaining, 0.5))

    async def wait_for_async(
        self,
        name: str,
        timeout: float = 30,  # noqa: ASYNC109
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        start: int = 0,
    ) -> dict[str, Any]:
        """Like wait_for, but yields to the running event loop while waiting."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                found = self._find(name, predicate, start)
                if found is not None:
                    return dict(found)
                self._check_failure(name, start)
            if time.monotonic() > deadline:
                raise GatewayError(f"timed out after {timeout}s waiting for {name!r}")
            await asyncio.sleep(0.05)

    def wait_login(self, timeout: float = 30) -> dict[str, Any]:
        """Wait until a client has started the puppet and the bot logged in."""
        return self.wait_for("login", timeout)

    async def wait_login_async(self, timeout: float = 30) -> dict[str, Any]:  # noqa: ASYNC109
        return await self.wait_for_async("login", timeout)

    def wait_script_done(self, timeout: float = 30) -> dict[str, Any]:
        return self.wait_for("script-done", timeout)

    async def wait_script_done_async(self, timeout: float = 30) -> dict[str, Any]:  # noqa: ASYNC109
        return await self.wait_for_async("script-done", timeout)

    def stderr_tail(self, max_chars: int = 4000) -> str:
        path = self.workdir / "gateway.stderr.log"
        try:
            return path.read_text(encoding="utf-8", errors="replace")[-max_chars:]
        except OSError:
            return ""
