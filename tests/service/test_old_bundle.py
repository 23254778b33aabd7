"""A stored Face whose bundle predates the current format (e.g. built before the Tasks tracker) gives
a clear error through the API, never a 500: the video fails with ``bundle_version`` and says to rebuild."""

from __future__ import annotations

import json
from pathlib import Path

from facecraft.service.db import Database
from facecraft.service.ids import new_id, new_token
from facecraft.service.keys import create_key
from facecraft.service.models import Face
from tests.service.helpers import live_server, make_settings, poll


def _old_face(settings, bundle: Path) -> tuple[str, str]:  # noqa: ANN001
    """A completed Face row pointing at a format-1 bundle; returns (face id, API key)."""
    bundle.mkdir(parents=True)
    manifest = {"format": "facecraft.face/1", "id": "rold", "name": "Old", "files": {}}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    face_id = new_id("r")
    with db.session() as session:
        info, key = create_key(session, name="old")
        session.add(Face(id=face_id, owner_id=info.id, name="Old", status="completed", progress=100,
                         source_kind="bundle", bundle_path=str(bundle), share_token=new_token()))
    db.dispose()
    return face_id, key


def test_a_video_of_a_face_with_an_old_bundle_fails_clearly(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    face_id, key = _old_face(settings, tmp_path / "bundles" / "rold")
    with live_server(settings) as server, server.client(key) as client:
        face = client.get(f"/v2/faces/{face_id}")
        assert face.status_code == 200 and face.json()["status"] == "completed"
        resp = client.post("/v2/videos", json={"replica_id": face_id, "script": "Hello, this is a test."})
        assert resp.status_code == 200, resp.text
        video_id = resp.json()["video_id"]
        video = poll(lambda: client.get(f"/v2/videos/{video_id}").json(),
                     lambda v: v["status"] in ("ready", "error"), timeout=120)
    assert video["status"] == "error", video
    assert video["error_id"] == "video_error", video  # a contract id; the sentence says what to do
    assert "facecraft faces create" in video["status_details"]
    assert "facecraft.face/1" in video["status_details"]


def test_an_installed_stock_face_with_an_old_bundle_is_retired(tmp_path: Path) -> None:
    """Starting with stock Faces marks an installed stock Face whose bundle is outdated as ``error``
    (the demo then builds a new one), instead of offering it for videos that would fail."""
    from sqlalchemy import select

    from facecraft.service.stock import install_stock_faces

    settings = make_settings(tmp_path / "data")
    face_id, _key = _old_face(settings, tmp_path / "bundles" / "rold")
    db = Database(settings.db_url)
    with db.session() as session:
        face = session.get(Face, face_id)
        face.face_type, face.owner_id, face.stock_key = "system", None, "rold"
    db.dispose()
    (tmp_path / "empty").mkdir()
    assert install_stock_faces(tmp_path / "empty", settings=settings) == []
    db = Database(settings.db_url)
    with db.session() as session:
        face = session.scalar(select(Face).where(Face.id == face_id))
        assert (face.status, face.error_id) == ("error", "bundle_version")
        assert "facecraft faces create" in face.error_message
    db.dispose()
