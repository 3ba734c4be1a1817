"""Alembic, driven from code so `qingqun db upgrade` and start-up share one path."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy.engine import Engine

from storage.db import MIGRATIONS, DatabaseError


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; cheap when it is already there."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except CommandError as exc:
        # Typically a database migrated by a newer qingqun: its revision is unknown here.
        raise DatabaseError(
            f"无法升级数据库表结构（{exc}）：数据库可能由更新版本的 qingqun 创建，请升级 qingqun"
        ) from exc
