"""HTTP API on a real server and SQLite file: auth, isolation, bad input, uploads, a corrupt upload."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from facecraft.service.db import Database
from facecraft.service.models import Job
from tests.service.helpers import LiveServer, live_server, make_settings, new_key, poll
from tests.utils import testdata_path as data_path  # aliased: pytest would collect test*-named names

UPLOAD_LIMIT = 2_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("api-data"), max_upload_bytes=UPLOAD_LIMIT, allow_consent_attestation=True
    )
    with live_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def keys(server: LiveServer) -> tuple[str, str]:
    return new_key(server.settings, "alice"), new_key(server.settings, "bob")


def upload(client, data: bytes, name: str = "clip.mp4", ctype: str = "video/mp4") -> dict:
    resp = client.post("/v2/uploads", files={"file": (name, data, ctype)})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_missing_and_wrong_key_get_401(server: LiveServer) -> None:
    for key in (None, "fc_not-a-real-key"):
        with server.client(key) as client:
            for method, path in (("GET", "/v2/faces"), ("POST", "/v2/videos"), ("GET", "/v2/replicas/rabc")):
                resp = client.request(method, path)
                assert resp.status_code == 401
                assert resp.json() == {"message": "Invalid access token"}


def test_openapi_and_portal_need_no_key(server: LiveServer) -> None:
    with server.client(None) as client:
        schema = client.get("/openapi.json").json()
        assert "/v2/faces" in schema["paths"] and "/v2/replicas/{replica_id}" in schema["paths"]
        assert client.get("/").status_code in (200, 404)  # the portal is engineer F's; absent is fine


def test_malformed_json_is_400_in_api_shape(server: LiveServer, keys) -> None:
    with server.client(keys[0]) as client:
        resp = client.post("/v2/faces", content=b"{not json", headers={"content-type": "application/json"})
        assert resp.status_code == 400
        assert resp.json()["error"] == "the request body is not valid JSON"
        resp = client.post("/v2/videos", json={"replica_id": "r0", "script": 5})
        assert resp.status_code == 400 and "script" in resp.json()["error"]
        resp = client.get("/v2/faces", params={"limit": "zero"})
        assert resp.status_code == 400 and "limit" in resp.json()["error"]


def test_unknown_face_and_video(server: LiveServer, keys) -> None:
    with server.client(keys[0]) as client:
        assert client.get("/v2/faces/rdoesnotexist").status_code == 404
        assert client.get("/v2/videos/vdoesnotexist").status_code == 404
        resp = client.post("/v2/videos", json={"replica_id": "rdoesnotexist", "script": "Hello there."})
        assert resp.status_code == 400
        assert "rdoesnotexist" in resp.json()["error"]


def test_script_and_audio_url_together_refused(server: LiveServer, keys) -> None:
    with server.client(keys[0]) as client:
        resp = client.post(
            "/v2/videos",
            json={"replica_id": "rabc", "script": "Hi.", "audio_url": "https://example.com/a.wav"},
        )
        assert resp.status_code == 400
        assert "exactly one of script" in resp.json()["error"]
        resp = client.post(
            "/v2/videos", json={"replica_id": "rabc", "script": '<emotion value="furious"/> Hi.'}
        )
        assert resp.status_code == 400 and "furious" in resp.json()["error"]
        # the per-request default emotion (ours) is checked like a tag
        for extra, error_id in (({"emotion": "furious"}, "unknown_emotion"),
                                ({"emotion": "sad", "emotion_intensity": 1.5}, "invalid_emotion_intensity"),
                                ({"emotion": "sad", "emotion_intensity": -0.1}, "invalid_emotion_intensity"),
                                ({"emotion_intensity": 0.5}, "invalid_emotion_intensity")):
            resp = client.post("/v2/videos", json={"replica_id": "rabc", "script": "Hi.", **extra})
            assert resp.status_code == 400 and resp.json()["error_id"] == error_id, (extra, resp.text)
        resp = client.post("/v2/videos", json={"replica_id": "rabc", "script": "Hi.", "emotion": ["sad"]})
        assert resp.status_code == 400 and resp.json()["error_id"] == "invalid_input", resp.text
        resp = client.post("/v2/videos", json={"replica_id": "rabc", "script": "Hi.", "emotion": "Sad",
                                               "emotion_intensity": 0.4})
        assert resp.status_code == 400 and "rabc" in resp.json()["error"]  # a good emotion: the next check speaks
        resp = client.post(
            "/v2/videos", json={"replica_id": "rabc", "script": "Hi.", "transparent_background": True}
        )
        assert resp.status_code == 400 and "transparent_background" in resp.json()["error"]


def test_loopback_and_private_urls_refused(server: LiveServer, keys) -> None:
    with server.client(keys[0]) as client:
        for url in (
            "http://127.0.0.1:9/train.mp4",
            "http://localhost/train.mp4",
            "http://169.254.169.254/x",
            "http://10.0.0.8/x.mp4",
            "file:///etc/passwd",
        ):
            resp = client.post("/v2/faces", json={"face_name": "x", "train_video_url": url})
            assert resp.status_code == 400, url
            assert resp.json()["error_id"] == "download_link"
        resp = client.post("/v2/faces/video-validation", json={"train_video_url": "http://127.0.0.1:9/x.mp4"})
        assert resp.status_code == 400 and resp.json()["error_id"] == "download_link"


def test_upload_over_the_limit_is_refused_and_leaves_nothing(server: LiveServer, keys) -> None:
    uploads_dir = server.settings.data_dir / "uploads"
    before = set(uploads_dir.iterdir())
    with server.client(keys[0]) as client:
        resp = client.post(
            "/v2/uploads", files={"file": ("big.mp4", b"\0" * (UPLOAD_LIMIT + 1), "video/mp4")}
        )
    assert resp.status_code == 413
    assert resp.json()["error_id"] == "file_size"
    assert set(uploads_dir.iterdir()) == before


def test_upload_needs_a_file_field(server: LiveServer, keys) -> None:
    with server.client(keys[0]) as client:
        assert client.post("/v2/uploads", files={"other": ("a.txt", b"x", "text/plain")}).status_code == 400
        assert (
            client.post("/v2/uploads", content=b"raw", headers={"content-type": "video/mp4"}).status_code
            == 400
        )


@pytest.mark.parametrize(
    ("make", "error_id"),
    [
        (lambda clip: b"this is not a video at all " * 100, "video_format"),
        (lambda clip: clip.read_bytes()[: len(clip.read_bytes()) // 3], "video_processing"),
    ],
    ids=["not-media", "truncated"],
)
def test_corrupt_upload_makes_face_error(server: LiveServer, keys, make, error_id: str) -> None:
    clip = data_path("video", "mimictalk_German_20s.mp4")
    with server.client(keys[0]) as client:
        up = upload(client, make(clip))
        created = client.post(
            "/v2/faces", json={"face_name": "broken", "train_video_upload_id": up["upload_id"]}
        )
        assert created.status_code == 200, created.text
        face_id = created.json()["face_id"]
        assert created.json()["status"] == "started"
        face = poll(lambda: client.get(f"/v2/faces/{face_id}").json(), lambda f: f["status"] != "started")
    assert face["status"] == "error"
    assert face["error_id"] == error_id, face
    assert face["error_message"]


def test_isolation_between_keys_and_alias_naming(server: LiveServer, keys) -> None:
    alice, bob = keys
    with server.client(alice) as a, server.client(bob) as b:
        up = upload(a, b"junk" * 10)
        # Bob cannot use Alice's upload, nor see her Faces.
        assert (
            b.post("/v2/faces", json={"face_name": "x", "train_video_upload_id": up["upload_id"]}).status_code
            == 400
        )
        rid = a.post(
            "/v2/replicas", json={"replica_name": "Alice", "train_video_upload_id": up["upload_id"]}
        ).json()
        face_id = rid["replica_id"]
        assert b.get(f"/v2/faces/{face_id}").status_code == 404
        assert b.delete(f"/v2/faces/{face_id}").status_code == 404
        assert face_id not in [f["face_id"] for f in b.get("/v2/faces").json()["data"]]
        # Field names follow the path used.
        as_face = a.get(f"/v2/faces/{face_id}").json()
        as_replica = a.get(f"/v2/replicas/{face_id}").json()
        assert as_face["face_name"] == "Alice" and as_replica["replica_name"] == "Alice"
        assert "replica_id" not in as_face and "face_id" not in as_replica
        assert as_face["training_progress"].endswith("/100")
        # Rename and merge-patch.
        assert (
            a.patch(f"/v2/faces/{face_id}/name", json={"face_name": "Alice B"}).json()["face_name"]
            == "Alice B"
        )
        patched = a.patch(f"/v2/replicas/{face_id}", json={"default_voice_id": "joe"}).json()
        assert patched["replica_name"] == "Alice B" and patched["default_voice_id"] == "joe"
        # An unknown voice is refused with the list of voices, and nothing changes.
        bad = a.patch(f"/v2/replicas/{face_id}", json={"default_voice_id": "nobody"})
        assert bad.status_code == 400 and "ada-us" in bad.json()["error"]
        assert a.get(f"/v2/faces/{face_id}", params={"verbose": "true"}).json()["default_voice_id"] == "joe"


def test_list_paging_and_filters(server: LiveServer, keys) -> None:
    key = new_key(server.settings, "lister")
    with server.client(key) as client:
        up = upload(client, b"junk" * 10)
        ids = [
            client.post(
                "/v2/faces", json={"face_name": f"f{i}", "train_video_upload_id": up["upload_id"]}
            ).json()["face_id"]
            for i in range(3)
        ]
        page1 = client.get("/v2/faces", params={"limit": 2, "page": 1}).json()
        page2 = client.get("/v2/faces", params={"limit": 2, "page": 2}).json()
        assert page1["total_count"] == 3 and len(page1["data"]) == 2 and len(page2["data"]) == 1
        assert {f["face_id"] for f in page1["data"] + page2["data"]} == set(ids)
        assert client.get("/v2/faces", params={"face_type": "system"}).json()["total_count"] == 0
        assert client.get("/v2/faces", params={"face_type": "user"}).json()["total_count"] == 3
        picked = client.get("/v2/faces", params={"face_ids": ",".join(ids[:2])}).json()
        assert picked["total_count"] == 2
        assert client.get("/v2/faces", params={"face_type": "other"}).status_code == 400
        # Soft delete: gone from reads and listings.
        assert client.delete(f"/v2/faces/{ids[0]}").status_code == 200
        assert client.get(f"/v2/faces/{ids[0]}").status_code == 404
        assert client.get("/v2/faces").json()["total_count"] == 2


def test_image_validation(server: LiveServer, keys) -> None:
    photo = data_path("photo", "face_recognition_biden2.jpg")
    with server.client(keys[0]) as client:
        resp = client.post(
            "/v2/faces/image-validation",
            json={"imageBase64": base64.b64encode(photo.read_bytes()).decode(), "mimeType": "image/jpeg"},
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert isinstance(body["passed"], bool) and body["checks"]
        assert {"id", "label", "passed"} <= set(body["checks"][0])
        bad = client.post("/v2/faces/image-validation", json={"imageBase64": "%%%", "mimeType": "image/png"})
        assert bad.status_code == 400
        junk = client.post(
            "/v2/faces/image-validation", json={"imageBase64": base64.b64encode(b"nope").decode()}
        )
        assert junk.status_code in (200, 400)
        if junk.status_code == 200:
            assert junk.json()["passed"] is False


def test_photo_faces_are_refused_clearly(server: LiveServer, keys) -> None:
    with server.client(keys[0]) as client:
        resp = client.post(
            "/v2/faces", json={"face_name": "p", "train_image_url": "https://example.com/a.jpg"}
        )
        assert resp.status_code == 400 and "photo" in resp.json()["error"]


def test_data_dir_layout(server: LiveServer) -> None:
    root: Path = server.settings.data_dir
    assert (root / "facecraft.db").is_file()
    for sub in ("faces", "videos", "uploads"):
        assert (root / sub).is_dir()


def test_deleting_a_face_while_it_trains_cancels_the_build(server: LiveServer, keys) -> None:
    clip = data_path("video", "mimictalk_German_20s.mp4")
    root = server.settings.data_dir
    with server.client(keys[0]) as client:
        up = upload(client, clip.read_bytes())
        face_id = client.post(
            "/v2/faces", json={"face_name": "gone", "train_video_upload_id": up["upload_id"]}
        ).json()["face_id"]
        poll(lambda: client.get(f"/v2/faces/{face_id}").json(), lambda f: f["training_progress"] != "0/100")
        assert client.delete(f"/v2/faces/{face_id}", params={"hard": "true"}).status_code == 200
        assert client.get(f"/v2/faces/{face_id}").status_code == 404
    db = Database(server.settings.db_url)

    def job_state() -> dict:
        with db.session() as session:
            job = session.query(Job).filter(Job.target_id == face_id).one()
            return {"status": job.status, "files": (root / "faces" / face_id).exists()}

    state = poll(job_state, lambda s: s["status"] == "failed" and not s["files"], timeout=120)
    db.dispose()
    assert not (root / "uploads" / up["upload_id"]).exists() and not state["files"]


def test_failed_build_keeps_the_check_report(server: LiveServer, keys) -> None:
    clip = data_path("video", "styletalk_Obama_clip2.mp4")  # a real video without an audio track
    with server.client(keys[0]) as client:
        up = upload(client, clip.read_bytes())
        face_id = client.post(
            "/v2/faces",
            json={"face_name": "silent", "train_video_upload_id": up["upload_id"], "consent_attested": True},
        ).json()["face_id"]
        face = poll(lambda: client.get(f"/v2/faces/{face_id}").json(), lambda f: f["status"] != "started")
        assert face["status"] == "error" and face["error_id"] == "audio_processing", face
        report = client.get(f"/v2/faces/{face_id}", params={"verbose": "true"}).json()["report"]
    failed = [c["id"] for c in report["checks"] if c["status"] == "fail"]
    assert "audio_processing" in failed and len(report["checks"]) > len(failed)
