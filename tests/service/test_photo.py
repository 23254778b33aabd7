"""A Face from a photo through HTTP on a real server: upload → create with a stock voice → completed;
a photo without a voice (or with an unknown one) is a 400; a photo without a face ends in its check id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.service.helpers import LiveServer, live_server, make_settings, new_key, poll
from tests.utils import testdata_path as data_path  # aliased: pytest would collect test*-named names


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return make_settings(tmp_path_factory.mktemp("photo-data"))


@pytest.fixture(scope="module")
def key(settings) -> str:  # noqa: ANN001
    return new_key(settings, "photo")


@pytest.fixture(scope="module")
def server(settings) -> Iterator[LiveServer]:  # noqa: ANN001
    with live_server(settings) as srv:
        yield srv


def _upload(client, data: bytes, name: str, ctype: str) -> str:  # noqa: ANN001
    resp = client.post("/v2/uploads", files={"file": (name, data, ctype)})
    assert resp.status_code == 200, resp.text
    return resp.json()["upload_id"]


def test_photo_face_via_upload_reaches_completed(server: LiveServer, key: str) -> None:
    photo = data_path("photo", "real3dportrait_Macron.png")
    with server.client(key) as client:
        upload_id = _upload(client, photo.read_bytes(), photo.name, "image/png")
        created = client.post("/v2/faces", json={
            "face_name": "From a photo", "train_image_upload_id": upload_id, "voice_name": "joe-us",
        })
        assert created.status_code == 200, created.text
        assert created.json()["status"] == "started"
        face_id = created.json()["face_id"]
        face = poll(lambda: client.get(f"/v2/faces/{face_id}").json(), lambda f: f["status"] != "started",
                    timeout=900)
        assert face["status"] == "completed", face
        assert face["training_progress"] == "100/100"
        verbose = client.get(f"/v2/faces/{face_id}", params={"verbose": "true"}).json()
        assert verbose["voice_name"] == "joe-us"
        assert verbose["report"]["passed"] and verbose["report"]["checks"]
        assert client.get(face["thumbnail_image_url"]).headers["content-type"] == "image/jpeg"
        # The same Face is visible through the replica alias.
        assert client.get(f"/v2/replicas/{face_id}").json()["replica_id"] == face_id


@pytest.mark.parametrize(("extra", "needle"), [
    ({}, "voice"),
    ({"voice_name": "  "}, "voice"),
    ({"default_voice_id": "nobody"}, "unknown voice"),
])
def test_photo_without_a_usable_voice_is_400(server: LiveServer, key: str, extra: dict, needle: str) -> None:
    photo = data_path("photo", "real3dportrait_Macron.png")
    with server.client(key) as client:
        upload_id = _upload(client, photo.read_bytes(), photo.name, "image/png")
        body = {"face_name": "mute", "train_image_upload_id": upload_id} | extra
        resp = client.post("/v2/faces", json=body)
        assert resp.status_code == 400, resp.text
        assert needle in resp.text
        # Nothing was created for it.
        names = [f["face_name"] for f in client.get("/v2/faces", params={"face_type": "user"}).json()["data"]]
        assert "mute" not in names


def test_default_voice_id_is_enough_and_a_faceless_photo_fails_its_check(server: LiveServer, key: str,
                                                                          tmp_path: Path) -> None:
    y, x = np.mgrid[0:600, 0:600]
    plain = np.dstack([x % 256, y % 256, np.full_like(x, 90)]).astype(np.uint8)
    ok, png = cv2.imencode(".png", plain)
    assert ok
    with server.client(key) as client:
        upload_id = _upload(client, png.tobytes(), "plain.png", "image/png")
        created = client.post("/v2/replicas", json={
            "replica_name": "nobody there", "train_image_upload_id": upload_id, "default_voice_id": "joe-us",
        })
        assert created.status_code == 200, created.text
        face_id = created.json()["replica_id"]
        face = poll(lambda: client.get(f"/v2/faces/{face_id}").json(), lambda f: f["status"] != "started",
                    timeout=900)
        assert face["status"] == "error"
        assert face["error_id"] == "face_or_obstruction_detected", face
        report = client.get(f"/v2/faces/{face_id}", params={"verbose": "true"}).json()["report"]
        assert any(c["id"] == "face_or_obstruction_detected" for c in report["checks"])
