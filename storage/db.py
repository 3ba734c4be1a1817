"""Engine per process, session per unit of work; SQLite in WAL mode or PostgreSQL by URL.

`make_engine` is for commands that may create and migrate the database (`run`, `db upgrade`…);
`open_existing` is for commands that only read it, and refuses rather than create anything.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic.script import ScriptDirectory
from sqlalchemy import Table, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

# The Alembic scripts: upgrades (storage.migrate) and the schema check of read-only opens.
MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(Exception):
    """The database URL is wrong or the database cannot be reached; one line for the operator."""


class DatabaseUnusable(DatabaseError):
    """An existing database was required and this one cannot be read as it is.

    `reason` is one of: missing, corrupt, unreachable, no_schema, old_schema, new_schema.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.\-]*://[^\s:/@]*:)([^\s/]+)(@)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`url` (or any text holding URLs) with passwords replaced by ***, even when it does not parse."""
    return _URL_PASSWORD.sub(lambda m: m.group(1) + "***" + m.group(3), url.strip())


def normalise_url(url: str) -> str:
    """Map postgres:// and postgresql:// to the psycopg 3 driver; leave SQLite alone."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _parse(url: str) -> tuple[str, URL, str]:
    """(normalised url, parsed url, backend name), or a DatabaseError for a URL we cannot use."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL {mask_url(url)!r}") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return url, parsed, backend


def _create_private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by the owner only.

    SQLite gives the -wal and -shm files the database file's permissions, so creating the
    file ourselves with 0600 before SQLite opens it covers all three.
    """
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def make_engine(url: str) -> Engine:
    """Create the process's engine and check that the database answers."""
    url, parsed, backend = _parse(url)
    # SQL parameters are message-derived data (topics, names): never in an exception's text.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private_file(Path(parsed.database))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"invalid database URL {mask_url(url)!r}: {mask_url(str(exc))}") from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(
            f"cannot reach database {parsed.render_as_string(hide_password=True)}: {mask_url(reason)}"
        ) from exc
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class (for executemany statements that bypass the ORM)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def insert_for(session: Session, table: Any) -> Any:
    """A dialect-specific INSERT so ON CONFLICT works on SQLite and PostgreSQL alike."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# ---------------------------------------------------------------- existing databases only


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0].strip() if lines else type(orig).__name__


def _readonly_sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    # Refuse writes at the SQL level: a read-only command must not change the file.
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def _writer_sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _existing_sqlite_engine(url: str, parsed: URL, readonly: bool) -> Engine:
    name = parsed.database or ""
    if not name or name == ":memory:" or name.startswith("file:"):
        raise DatabaseUnusable("missing", f"需要一个已有的数据库文件，{url} 不是文件路径")
    path = Path(name).absolute()
    if not path.exists():
        raise DatabaseUnusable(
            "missing",
            f"数据库文件不存在：{path}（本命令只读取，不会新建数据库；请检查 --db 或 QINGQUN_DATABASE_URL）",
        )
    if not path.is_file():
        raise DatabaseUnusable("missing", f"数据库路径不是文件：{path}")
    # mode=rw: SQLite never creates the file. Not mode=ro, which leaves -wal/-shm files behind
    # on a WAL database, because a read-only connection cannot remove them when it closes.
    uri = f"file:{quote(str(path))}?mode=rw"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10)

    engine = create_engine(f"sqlite:///{path}", creator=connect)
    event.listen(engine, "connect", _readonly_sqlite_pragmas if readonly else _writer_sqlite_pragmas)
    return engine


def _check_schema(engine: Engine, shown: str) -> None:
    """Refuse a database without our tables, or at another revision than this code's head."""
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            raise DatabaseUnusable("no_schema", f"不是清群数据库（没有清群的表结构）：{shown}")
        current = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if not current:
        raise DatabaseUnusable("no_schema", f"不是清群数据库（没有表结构版本记录）：{shown}")
    script = ScriptDirectory(str(MIGRATIONS))
    heads = set(script.get_heads())
    if current == heads:
        return
    known = {rev.revision for rev in script.walk_revisions()}
    newest = "、".join(sorted(heads))
    found = "、".join(sorted(current))
    if current <= known:
        raise DatabaseUnusable(
            "old_schema",
            f"数据库表结构版本 {found} 较旧（本程序为 {newest}）：请先运行 qingqun db upgrade",
        )
    raise DatabaseUnusable(
        "new_schema",
        f"数据库表结构版本 {found} 比本程序新（本程序最高为 {newest}）：请升级 qingqun 后再运行",
    )


def open_existing(url: str, *, readonly: bool = True) -> Engine:
    """An engine on a database that must already exist at this code's schema; creates nothing.

    For commands that read (audit, ledger, digest preview…) and for changes that only make sense
    on existing data (privacy forget: `readonly=False`). A missing, corrupt or unreachable
    database, one without our tables, or one at another schema revision raises
    DatabaseUnusable with one Chinese line. Nothing is migrated: that is a write.
    """
    url, parsed, backend = _parse(url)
    shown = parsed.render_as_string(hide_password=True)
    if backend == "sqlite":
        engine = _existing_sqlite_engine(url, parsed, readonly)
    else:
        options = "-c default_transaction_read_only=on" if readonly else ""
        args: dict[str, Any] = {"connect_timeout": 5}
        if options:
            args["options"] = options
        engine = create_engine(url, pool_pre_ping=True, connect_args=args)
    try:
        _check_schema(engine, shown)
    except DatabaseUnusable:
        engine.dispose()
        raise
    except sa_exc.DatabaseError as exc:
        engine.dispose()
        reason = _first_line(exc)
        if backend == "sqlite":
            raise DatabaseUnusable(
                "corrupt", f"数据库文件已损坏或不是 SQLite 数据库：{parsed.database}（{reason}）"
            ) from exc
        if "does not exist" in reason:
            raise DatabaseUnusable("missing", f"数据库不存在：{shown}（{reason}）") from exc
        raise DatabaseUnusable("unreachable", f"无法连接数据库 {shown}：{reason}") from exc
    return engine


# ---------------------------------------------------------------- erasing for real


@contextmanager
def scrubbing_session(engine: Engine) -> Iterator[Session]:
    """One transaction whose deleted and overwritten rows are zeroed in the SQLite file.

    SQLite otherwise leaves deleted rows readable in free space (`secure_delete` off). The
    setting is per connection, so it is switched on for this connection only and restored.
    PostgreSQL: a plain session (old row versions are reclaimed by (auto)vacuum).
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        before = 0
        if sqlite:
            before = int(conn.exec_driver_sql("PRAGMA secure_delete").scalar() or 0)
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
            conn.commit()
        try:
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA secure_delete={before}")
                conn.commit()


def wipe_free_space(engine: Engine) -> bool:
    """SQLite: rewrite the file without free pages (VACUUM) and empty the WAL file.

    After this, rows deleted earlier (by any connection, with or without secure_delete) are
    gone from the -wal and the database file. Returns False when another process kept the WAL
    from being emptied (a running bot reading at that moment); the caller should say so.
    PostgreSQL: nothing to do here, returns True.
    """
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        # The copy VACUUM builds must not land in a temporary file on disk either.
        auto.exec_driver_sql("PRAGMA temp_store=MEMORY")
        try:
            auto.exec_driver_sql("VACUUM")
            busy, _, _ = auto.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        finally:
            auto.exec_driver_sql("PRAGMA temp_store=DEFAULT")
    return int(busy) == 0


IN_CHUNK = 5000  # ids per IN (...) list: below SQLite's and PostgreSQL's bound-parameter limits


def in_chunks(ids: Collection[str]) -> Iterator[list[str]]:
    """Sorted `ids` in consecutive slices, for queries that filter by an IN list."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]
