"""The service on a real PostgreSQL server: migrations, the models' schema and the HTTP API basics.

A throwaway server is started from Debian's binaries (``/usr/lib/postgresql/*/bin``, installed by
``scripts/postgres_deps.sh``) in a temporary folder on a free loopback port, with trust authentication
and its unix socket in that folder; it is stopped and removed afterwards. As root, the server runs as the
``postgres`` user (PostgreSQL refuses to run as root). Without the binaries the tests skip locally and
fail in CI (``CI`` set), so that a missing install step cannot hide behind a skip.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from facecraft.service.db import Database
from facecraft.service.models import Base, Face, Job
from facecraft.service.settings import Settings
from tests.service.helpers import LiveServer, live_server, make_settings, new_key, poll
from tests.utils import free_port, missing_dependency

log = logging.getLogger(__name__)

TABLES = {"api_keys", "uploads", "faces", "videos", "jobs"}


def _pg_bindir() -> Path | None:
    """The newest Debian PostgreSQL server's bin folder, or None when none is installed."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if (d / "pg_ctl").is_file() and (d / "postgres").is_file()]
    if not found:
        return None
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


@dataclass
class PgServer:
    """A running throwaway server: ``url(db)`` gives a plain ``postgresql://`` URL of one database."""

    bindir: Path
    root: Path
    port: int
    user: str
    run_as: list[str]

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        cmd = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            logfile = self.root / "server.log"
            server_log = logfile.read_text(errors="replace") if logfile.exists() else ""
            raise RuntimeError(f"pg_ctl {args[-1]} failed: {proc.stderr or proc.stdout}\n{server_log}")

    def create_database(self) -> str:
        name = f"fc_{uuid.uuid4().hex[:12]}"
        conninfo = f"host={self.root} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def _start_server() -> Iterator[PgServer]:
    bindir = _pg_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/postgres_deps.sh)"
        missing_dependency(message)
    # /tmp, not a private TMPDIR: as root the server's own user must reach the folder.
    root = Path(tempfile.mkdtemp(prefix="facecraft-pg-", dir="/tmp" if os.getuid() == 0 else None))
    run_as: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    started = False
    try:
        if os.getuid() == 0:  # the server refuses root: run it as Debian's postgres user
            pg_user = pwd.getpwnam("postgres")
            os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
            run_as, user = ["runuser", "-u", "postgres", "--"], "postgres"
        server = PgServer(bindir=bindir, root=root, port=free_port(), user=user, run_as=run_as)
        initdb = [
            *run_as, str(bindir / "initdb"), "-D", str(server.datadir), "-U", user,
            "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync",
        ]  # fmt: skip
        proc = subprocess.run(initdb, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed: {proc.stderr or proc.stdout}")
        options = (
            f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c TimeZone=America/New_York"
        )  # a non-UTC server zone: timestamps must still come back as the same instants
        server.pg_ctl("-o", options, "-l", str(root / "server.log"), "-w", "-t", "60", "start")
        started = True
        log.info("PostgreSQL %s running on port %d in %s", bindir.parent.name, server.port, root)
        yield server
    finally:
        try:
            if started:
                server.pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    yield from _start_server()


@pytest.fixture
def pg_url(pg: PgServer) -> str:
    return pg.url(pg.create_database())


def test_plain_postgresql_urls_use_psycopg() -> None:
    for given in ("postgresql://u:p@db:5432/fc", "postgres://u:p@db:5432/fc", " postgresql://u@db/fc"):
        settings = Settings(database_url=given, _env_file=None)
        assert settings.db_url.startswith("postgresql+psycopg://u"), settings.db_url
    explicit = Settings(database_url="postgresql+psycopg://u@db/fc", _env_file=None)
    assert explicit.db_url == "postgresql+psycopg://u@db/fc"
    assert Settings(_env_file=None).db_url.startswith("sqlite:///")


def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from facecraft.service.db import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def test_migrations_run_to_head_and_match_models(pg_url: str) -> None:
    db = Database(pg_url)
    assert db.engine.dialect.name == "postgresql" and db.engine.dialect.driver == "psycopg"
    with db.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == set()  # a fresh, empty database
    db.migrate()
    db.migrate()  # idempotent: every start runs it
    with db.engine.connect() as conn:
        assert TABLES <= set(inspect(conn).get_table_names())
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == _head_revision()
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        columns = {c["name"]: c for c in inspect(conn).get_columns("faces")}
    assert str(columns["created_at"]["type"]) == "TIMESTAMP" and columns["created_at"]["type"].timezone
    assert str(columns["options"]["type"]) == "JSON"
    db.dispose()


def test_services_starting_together_migrate_once(pg_url: str) -> None:
    """Two processes starting on one empty database: the advisory lock makes the second wait."""
    dbs = [Database(pg_url) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate(db: Database) -> None:
        try:
            db.migrate()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in dbs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with dbs[0].engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    for db in dbs:
        db.dispose()


def test_rows_round_trip(pg_url: str) -> None:
    """JSON, timezone-aware timestamps and string lengths as the models declare them."""
    db = Database(pg_url)
    db.migrate()
    options = {"b": 1, "a": [1.5, None, "ü"], "nested": {"z": True}}
    with db.session() as session:
        session.add(Face(id="r1", name="n" * 300, share_token="t1", options=options, report=None))
        session.add(Job(id="j1", kind="face_build", target_id="r1"))
    with db.session() as session:
        face = session.get(Face, "r1")
        job = session.get(Job, "j1")
        assert face is not None and job is not None
        assert face.options == options and list(face.options) == ["b", "a", "nested"]  # order kept (json)
        assert face.report is None and face.status == "started" and face.progress == 0
        assert face.created_at.utcoffset() is not None and face.created_at.utcoffset().total_seconds() == 0
        assert job.status == "queued" and job.attempts == 0
    with db.session() as session:  # NUL, which PostgreSQL text refuses, is stored as U+FFFD
        session.add(Face(id="r2", name="a\x00b", share_token="t2", options={"k": "v\x00"}))
    with db.session() as session:
        face = session.get(Face, "r2")
        assert face is not None and face.name == "a\ufffdb" and face.options == {"k": "v\x00"}
        assert session.get(Face, "r\x00") is None
    db.dispose()


@pytest.fixture(scope="module")
def served(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = pg.url(pg.create_database())
    settings = make_settings(
        tmp_path_factory.mktemp("pg-api-data"), database_url=url, run_worker=False, max_upload_bytes=1_000_000
    )
    assert settings.db_url.startswith("postgresql+psycopg://")
    with live_server(settings) as server:
        yield server


def test_api_basics(served: LiveServer) -> None:
    key, other = new_key(served.settings, "pg"), new_key(served.settings, "pg-other")
    with served.client(key) as client, served.client(other) as stranger:
        resp = client.post("/v2/uploads", files={"file": ("clip.mp4", b"junk" * 10, "video/mp4")})
        assert resp.status_code == 200, resp.text
        up = resp.json()
        assert up["size_bytes"] == 40 and up["file_name"] == "clip.mp4" and up["created_at"].endswith("Z")
        assert client.get(f"/v2/uploads/{up['upload_id']}").json() == up
        ids = []
        for i in range(3):
            created = client.post(
                "/v2/faces", json={"face_name": f"pg {i} ü", "train_video_upload_id": up["upload_id"]}
            )
            assert created.status_code == 200, created.text
            assert created.json()["status"] == "started"
            ids.append(created.json()["face_id"])
        face = client.get(f"/v2/faces/{ids[0]}").json()
        assert face["face_name"] == "pg 0 ü" and face["training_progress"] == "0/100"
        assert face["created_at"].endswith("Z")
        # Paging, newest first, and filters.
        page1 = client.get("/v2/faces", params={"limit": 2, "page": 1}).json()
        page2 = client.get("/v2/faces", params={"limit": 2, "page": 2}).json()
        assert page1["total_count"] == 3 and len(page1["data"]) == 2 and len(page2["data"]) == 1
        assert {f["face_id"] for f in page1["data"] + page2["data"]} == set(ids)
        assert client.get("/v2/faces", params={"face_type": "user"}).json()["total_count"] == 3
        assert client.get("/v2/faces", params={"face_ids": ",".join(ids[:2])}).json()["total_count"] == 2
        # Another key sees none of it.
        assert stranger.get(f"/v2/faces/{ids[0]}").status_code == 404
        assert stranger.get("/v2/faces").json()["total_count"] == 0
        # Rename (max length), merge-patch, delete.
        renamed = client.patch(f"/v2/faces/{ids[0]}/name", json={"face_name": "x" * 300})
        assert renamed.status_code == 200 and renamed.json()["face_name"] == "x" * 300
        too_long = client.patch(f"/v2/faces/{ids[0]}/name", json={"face_name": "x" * 301})
        assert too_long.status_code == 400
        patched = client.patch(f"/v2/replicas/{ids[1]}", json={"default_voice_id": "joe"}).json()
        assert patched["default_voice_id"] == "joe" and patched["replica_name"] == "pg 1 ü"
        assert client.delete(f"/v2/faces/{ids[0]}").status_code == 200
        assert client.get(f"/v2/faces/{ids[0]}").status_code == 404
        assert client.get("/v2/faces").json()["total_count"] == 2
        assert client.delete(f"/v2/faces/{ids[1]}", params={"hard": "true"}).status_code == 200
        assert client.get("/v2/faces").json()["total_count"] == 1
        # NUL in a body, a path and a query: no 500 (PostgreSQL text cannot hold NUL).
        up2 = client.post("/v2/uploads", files={"file": ("b.mp4", b"junk", "video/mp4")}).json()
        odd = client.post(
            "/v2/faces", json={"face_name": "a\u0000b", "train_video_upload_id": up2["upload_id"]}
        )
        assert odd.status_code == 400 and "control characters" in odd.json()["error"]  # refused at validation
        assert client.get("/v2/faces/r%00x").status_code == 404
        assert client.get("/v2/faces", params={"face_ids": "r\x00,x"}).json()["total_count"] == 0
    # The worker is off: the remaining Face's build is persisted as a queued job in PostgreSQL.
    db = Database(served.settings.db_url)
    with db.session() as session:
        job = session.query(Job).filter(Job.target_id == ids[2]).one()
        assert job.status == "queued" and job.kind == "face_build"
    db.dispose()


def test_worker_runs_jobs_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """The worker claims a queued job (FOR UPDATE SKIP LOCKED) and records its failure on a bad upload."""
    settings = make_settings(tmp_path, database_url=pg_url, max_upload_bytes=1_000_000)
    with live_server(settings) as server, server.client(new_key(settings, "worker")) as client:
        data = b"this is not a video at all " * 100
        up = client.post("/v2/uploads", files={"file": ("bad.mp4", data, "video/mp4")}).json()
        created = client.post(
            "/v2/faces", json={"face_name": "bad", "train_video_upload_id": up["upload_id"]}
        )
        assert created.status_code == 200, created.text
        face_id = created.json()["face_id"]
        face = poll(
            lambda: client.get(f"/v2/faces/{face_id}").json(), lambda f: f["status"] != "started", timeout=60
        )
    assert face["status"] == "error" and face["error_id"] == "video_format", face
    db = Database(settings.db_url)
    with db.session() as session:
        job = session.query(Job).filter(Job.target_id == face_id).one()
        assert job.status == "failed" and job.attempts == 1
        assert job.started_at is not None and job.finished_at is not None
        assert job.started_at <= job.finished_at
    db.dispose()
