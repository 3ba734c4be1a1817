"""No Docker engine here, so keep deploy/compose.yaml honest another way: parse it and check it
against Settings (every QINGQUN_* name is a real setting), the gateway port, the database URL
against the postgres service, the variables against env.example, and run qingqun's health check."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from sqlalchemy.engine import make_url

from bot.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
# QINGQUN_* names read straight from the environment rather than through Settings.
_ENV_ONLY = {"QINGQUN_LOG_LEVEL": ROOT / "bot" / "cli" / "main.py"}


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution (the forms this file uses)."""

    def sub(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise AssertionError(f"{name} is required: {arg}")
        return ""

    return _VAR.sub(sub, value)


def _variables(value: Any) -> set[str]:
    """Every ${NAME} under a compose value."""
    if isinstance(value, str):
        return {m.group(1) for m in _VAR.finditer(value)}
    if isinstance(value, dict):
        return set().union(*(_variables(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_variables(v) for v in value)) if value else set()
    return set()


def _env(service: str) -> dict[str, str]:
    env = SERVICES[service]["environment"]
    assert isinstance(env, dict), f"{service}: environment as a mapping keeps names checkable"
    return {str(k): str(v) for k, v in env.items()}


def _env_example() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip().removeprefix("#").strip()
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


DUMMY = {name: value or f"dummy{name.lower()}" for name, value in _env_example().items()}


def _settings_env_names() -> set[str]:
    names: set[str] = set()
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(c) for c in alias.choices)
        else:
            names.add(f"QINGQUN_{field_name.upper()}")
    return names


def test_three_services_with_restart_policies_and_health_checks() -> None:
    assert set(SERVICES) == {"gateway", "qingqun", "postgres"}
    for name, svc in SERVICES.items():
        assert svc.get("restart") in ("always", "unless-stopped"), name
        assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    assert SERVICES["gateway"]["image"].startswith("wechaty/wechaty:")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    healthy = {"condition": "service_healthy"}
    assert SERVICES["qingqun"]["depends_on"] == {"postgres": healthy, "gateway": healthy}


def test_every_qingqun_variable_is_a_setting() -> None:
    known = _settings_env_names()
    env = _env("qingqun")
    names = {n for n in env if n.startswith("QINGQUN_")}
    assert {"QINGQUN_DATABASE_URL", "QINGQUN_GATEWAY_ENDPOINT", "QINGQUN_GATEWAY_TOKEN"} <= names
    for name in names - known:
        source = _ENV_ONLY.get(name)
        assert source is not None, f"{name} is not a Settings field"
        assert f'"{name}"' in source.read_text(encoding="utf-8"), f"{name} is not read by {source}"
    # And the values are valid settings: Settings accepts them as given.
    values = {n: _interpolate(v, DUMMY) for n, v in env.items() if n in known}
    settings = Settings(**{n.removeprefix("QINGQUN_").lower(): v for n, v in values.items()})
    assert settings.require_gateway() == ("gateway:8788", DUMMY["WECHATY_PUPPET_SERVICE_TOKEN"])
    assert str(settings.data_dir) == "/data"


def test_gateway_endpoint_matches_the_gateway_service() -> None:
    host, _, port = _env("qingqun")["QINGQUN_GATEWAY_ENDPOINT"].rpartition(":")
    assert host == "gateway"
    assert host in SERVICES
    gateway = _env("gateway")
    assert gateway["WECHATY_PUPPET_SERVER_PORT"] == port
    assert port in " ".join(SERVICES["gateway"]["healthcheck"]["test"])
    # Both ends use one token variable, so they cannot drift apart.
    assert _variables(gateway["WECHATY_TOKEN"]) == {"WECHATY_PUPPET_SERVICE_TOKEN"}
    assert _variables(_env("qingqun")["QINGQUN_GATEWAY_TOKEN"]) == {"WECHATY_PUPPET_SERVICE_TOKEN"}
    assert _variables(gateway["WECHATY_PUPPET"]) == {"WECHATY_PUPPET"}


def test_plaintext_grpc_stays_on_the_internal_network() -> None:
    gateway = SERVICES["gateway"]
    assert _env("gateway")["WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER"] == "true"
    assert "ports" not in gateway, "the gateway's plaintext port must not be published"
    for name, svc in SERVICES.items():
        assert "ports" not in svc, name
        assert "internal" in svc["networks"], name
    assert COMPOSE["networks"]["internal"] == {"internal": True}
    # Only the gateway reaches the outside world.
    outside = {n for n, svc in SERVICES.items() if set(svc["networks"]) - {"internal"}}
    assert outside == {"gateway"}


def test_database_url_matches_the_postgres_service() -> None:
    pg = _env("postgres")
    raw = _env("qingqun")["QINGQUN_DATABASE_URL"]
    assert _variables(raw) == _variables(pg["POSTGRES_PASSWORD"]) == {"POSTGRES_PASSWORD"}
    url = make_url(_interpolate(raw, DUMMY))
    assert url.get_backend_name() == "postgresql"
    assert url.host == "postgres"
    assert url.host in SERVICES
    assert url.port in (None, 5432)
    assert url.username == pg["POSTGRES_USER"]
    assert url.database == pg["POSTGRES_DB"]
    assert url.password == _interpolate(pg["POSTGRES_PASSWORD"], DUMMY)
    assert Settings(database_url=str(_interpolate(raw, DUMMY))).db_url.startswith("postgresql+psycopg://")
    check = SERVICES["postgres"]["healthcheck"]["test"]
    assert check[check.index("-U") + 1] == pg["POSTGRES_USER"]
    assert check[check.index("-d") + 1] == pg["POSTGRES_DB"]


def test_volumes_are_declared_and_match_the_image() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for svc in SERVICES.values():
        for mount in svc.get("volumes", []):
            source, target = mount.split(":")[:2]
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (DEPLOY / source).is_dir(), f"bind mount {source} is missing from deploy/"
            if target == "/data":
                assert svc is SERVICES["qingqun"]
    assert used == declared == {"qingqun-data", "postgres-data"}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "VOLUME /data" in dockerfile
    assert "QINGQUN_DATA_DIR=/data" in dockerfile
    assert "qingqun-data:/data" in SERVICES["qingqun"]["volumes"]
    build = SERVICES["qingqun"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"


def test_every_variable_is_documented_in_env_example() -> None:
    second = yaml.safe_load((DEPLOY / "compose.second-account.yaml").read_text(encoding="utf-8"))
    used = _variables(SERVICES) | _variables(second["services"])
    documented = set(_env_example())
    assert used == documented, (used - documented, documented - used)
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    required = {m.group(1) for m in _VAR.finditer(text) if m.group(2) == ":?"}
    assert required == {"WECHATY_PUPPET", "WECHATY_PUPPET_SERVICE_TOKEN", "POSTGRES_PASSWORD"}
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in required | {"WECHATY_PUPPET_TOKEN"}:
        assert name in readme, name


def test_the_roster_example_imports() -> None:
    from bot.services.roster import load_roster

    roster = load_roster(DEPLOY / "config" / "roster.example.yaml")
    assert any(p.role == "supervisor" for p in roster.people)


def _health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    test = SERVICES["qingqun"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "qingqun"]
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *test[2:]], env={**os.environ, **env}, capture_output=True,
        text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("state", ["running", "stopped", "missing"])
def test_qingqun_health_check_runs_and_creates_nothing(tmp_path: Path, state: str) -> None:
    """The health check is `qingqun status --check`: healthy with a fresh heartbeat of a logged-in
    instance; not with none; and a missing database is an error that creates nothing."""
    db = tmp_path / "q.db"
    if state != "missing":
        from datetime import UTC, datetime

        from storage import instances as instances_db
        from storage.db import make_engine, session_scope
        from storage.migrate import upgrade
        from storage.models import Instance

        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        if state == "running":
            now = datetime.now(UTC)
            with session_scope(engine) as s:
                row = Instance(id="i", account="wxid_bot", logged_in=True, updated_at=now, started_at=now)
                instances_db.upsert_instance(s, row=row)
        engine.dispose()
    proc = _health({"QINGQUN_DATABASE_URL": f"sqlite:///{db}", "QINGQUN_DATA_DIR": str(tmp_path / "data")})
    assert (proc.returncode == 0) == (state == "running"), proc.stderr
    assert db.exists() == (state != "missing")
    assert not (tmp_path / "data").exists()
