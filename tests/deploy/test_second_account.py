"""deploy/compose.second-account.yaml adds a second bot account to compose.yaml: keep the two
consistent (its own gateway and token, the same database, real settings, documented variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.core.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))
    return data


FIRST = _load("compose.yaml")["services"]
SECOND = _load("compose.second-account.yaml")


def test_the_second_account_has_its_own_gateway_and_token() -> None:
    svc = SECOND["services"]
    assert set(svc) == {"gateway-2", "qingqun-2"}  # no clash with compose.yaml's services
    assert not set(svc) & set(FIRST)
    env = svc["qingqun-2"]["environment"]
    assert env["QINGQUN_GATEWAY_ENDPOINT"] == "gateway-2:8788"
    assert svc["gateway-2"]["environment"]["WECHATY_PUPPET_SERVER_PORT"] == "8788"
    token = env["QINGQUN_GATEWAY_TOKEN"]
    assert token.startswith("${WECHATY_PUPPET_SERVICE_TOKEN_2")
    assert svc["gateway-2"]["environment"]["WECHATY_TOKEN"].startswith("${WECHATY_PUPPET_SERVICE_TOKEN_2")
    assert FIRST["qingqun"]["environment"]["QINGQUN_GATEWAY_TOKEN"] != token
    assert svc["qingqun-2"]["depends_on"]["gateway-2"] == {"condition": "service_healthy"}


def test_both_accounts_share_one_database_but_not_their_data_dir() -> None:
    one, two = FIRST["qingqun"], SECOND["services"]["qingqun-2"]
    assert one["environment"]["QINGQUN_DATABASE_URL"] == two["environment"]["QINGQUN_DATABASE_URL"]
    assert two["image"] == one["image"]
    assert "qingqun-2-data:/data" in two["volumes"]
    assert "qingqun-2-data" in SECOND["volumes"]
    assert one["environment"]["QINGQUN_ACCOUNT"] != two["environment"]["QINGQUN_ACCOUNT"]


def test_every_qingqun_name_is_a_setting_and_the_networks_exist() -> None:
    fields = {f"QINGQUN_{name.upper()}" for name in Settings.model_fields} | {"QINGQUN_LOG_LEVEL"}
    for svc in SECOND["services"].values():
        for name in svc["environment"]:
            if name.startswith("QINGQUN_"):
                assert name in fields, name
        for net in svc["networks"]:
            assert net in ("internal", "egress")  # declared by compose.yaml
    assert SECOND["services"]["qingqun-2"]["networks"] == ["internal"]  # plaintext gRPC stays inside
