"""Database engine, sessions and schema migrations (Alembic, run programmatically at startup)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from facecraft.service.settings import normalize_database_url

__all__ = ["Database", "MIGRATIONS_DIR", "page_offset"]

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Key of the PostgreSQL advisory lock that serialises migrations of service processes started together.
_MIGRATION_LOCK = 0x66616365  # "face"


def page_offset(page: int, limit: int) -> int:
    """Rows a list query skips for ``page``: pages count from 1, and 0 (what Tavus clients send for the
    first page) is the first page too."""
    return (max(page, 1) - 1) * limit


class Database:
    """One engine and session factory per app; ``session()`` is a commit-or-rollback scope."""

    def __init__(self, url: str) -> None:
        url = normalize_database_url(url)  # postgresql:// -> postgresql+psycopg://
        self.url = url
        kwargs: dict = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif url.startswith("postgresql"):
            # Sessions in UTC: timestamptz values come back as UTC datetimes whatever the server's
            # TimeZone; pre-ping replaces connections a server restart closed.
            kwargs["connect_args"] = {"options": "-c timezone=UTC"}
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif self.engine.dialect.name == "postgresql":
            event.listen(self.engine, "before_cursor_execute", _pg_without_nul, retval=True)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (``alembic upgrade head``)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two processes starting on one database: the second waits, then finds it at head.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("database at head: %s", self.engine.url.render_as_string(hide_password=True))

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# PostgreSQL text cannot hold NUL, which JSON bodies, query strings and headers can carry ("\u0000"):
# the driver would refuse the statement (a 500). NUL becomes U+FFFD, the replacement character, in every
# string parameter, so that such a value is stored like any odd character and a lookup by it finds
# nothing, as on SQLite. JSON columns need nothing: their NUL is the escape \u0000, legal in ``json``.
_NUL, _REPLACEMENT = "\x00", "\ufffd"


def _pg_without_nul(_conn, _cursor, statement, parameters, _context, executemany):  # noqa: ANN001, ANN202
    if executemany and isinstance(parameters, list | tuple):
        return statement, [_clean_params(p) for p in parameters]
    return statement, _clean_params(parameters)


def _clean_params(params):  # noqa: ANN001, ANN202
    if isinstance(params, dict):
        if any(_has_nul(v) for v in params.values()):
            return {k: _clean_value(v) for k, v in params.items()}
        return params
    if isinstance(params, list | tuple) and any(_has_nul(v) for v in params):
        return type(params)(_clean_value(v) for v in params)
    return params


def _has_nul(value) -> bool:  # noqa: ANN001
    if isinstance(value, str):
        return _NUL in value
    if isinstance(value, list | tuple):  # an array parameter (IN / ANY)
        return any(isinstance(v, str) and _NUL in v for v in value)
    return False


def _clean_value(value):  # noqa: ANN001, ANN202
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT)
    if isinstance(value, list | tuple):
        return type(value)(v.replace(_NUL, _REPLACEMENT) if isinstance(v, str) else v for v in value)
    return value
