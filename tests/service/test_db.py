"""The Alembic migrations build exactly the schema the models describe, and are safe to re-run."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from facecraft.service.db import Database
from facecraft.service.models import Base


def test_migrations_match_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    db.migrate()  # idempotent: every start runs it
    assert {"api_keys", "uploads", "faces", "videos", "jobs"} <= set(inspect(db.engine).get_table_names())
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.dispose()
