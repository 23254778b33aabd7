"""The full flow through HTTP on a real server: upload → Face → video → playable mp4 + HLS; webhooks;
a restart in the middle of a render; stock Faces; hard delete of the likeness."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from facecraft import media
from facecraft.service.db import Database
from facecraft.service.models import Job
from facecraft.service.stock import install_stock_faces
from tests.service.helpers import LiveServer, Receiver, live_server, make_settings, new_key, poll
from tests.utils import testdata_path as data_path  # aliased: pytest would collect test*-named names

SCRIPT = "Hello there. This Face was built from a short clip, and now it says something new."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flow-data")


@pytest.fixture(scope="module")
def settings(data_dir: Path):  # noqa: ANN201
    # allow_private_urls: the webhook receiver of this test listens on 127.0.0.1.
    return make_settings(data_dir, allow_private_urls=True, allow_consent_attestation=True)


@pytest.fixture(scope="module")
def key(settings) -> str:  # noqa: ANN001
    return new_key(settings, "maker")


@pytest.fixture(scope="module")
def built(settings, key: str) -> Iterator[dict]:  # noqa: ANN001
    """One Face built from the first 8 s of the German clip, and the server that built it."""
    clip = data_path("video", "mimictalk_German_20s.mp4")
    state: dict = {}
    with live_server(settings) as server, server.client(key) as client:
        up = client.post("/v2/uploads", files={"file": (clip.name, clip.read_bytes(), "video/mp4")})
        assert up.status_code == 200, up.text
        state["upload_id"] = up.json()["upload_id"]
        state["server"], state["client"] = server, client
        yield state


def test_video_validation_reports_every_check(built: dict) -> None:
    resp = built["client"].post(
        "/v2/faces/video-validation", json={"train_video_upload_id": built["upload_id"]}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["checks"] and all(
        {"id", "label", "passed", "status", "message"} <= set(c) for c in body["checks"]
    )
    assert body["details"]["checks"] and isinstance(body["passed"], bool)
    # The dev clip does not open with the consent statement: the report says so, with its API id.
    consent = next(c for c in body["checks"] if c["id"] == "consent_phrase_mismatch")
    assert consent["status"] == "fail" and body["passed"] is False
    assert body["details"]["source"] == "mimictalk_German_20s.mp4"  # a file name, not the server's path


def test_full_flow(built: dict, receiver: Receiver, settings) -> None:  # noqa: ANN001
    client = built["client"]
    created = client.post(
        "/v2/faces",
        json={
            "face_name": "German anchor",
            "train_video_upload_id": built["upload_id"],
            "consent_attested": True,  # the dev clip has no consent statement: the operator attests it
            "callback_url": f"{receiver.url}/hook",
        },
    )
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "started"
    face_id = created.json()["face_id"]
    assert face_id.startswith("r")

    # A video asked for while the Face trains waits for it.
    queued = client.post(
        "/v2/videos",
        json={
            "replica_id": face_id,
            "script": SCRIPT,
            "video_name": "hello",
            "callback_url": f"{receiver.url}/v",
        },
    )
    assert queued.status_code == 200, queued.text
    assert queued.json()["status"] == "queued" and queued.json()["hosted_url"]
    video_id = queued.json()["video_id"]
    # Until the video is ready its media URLs answer 409 with the status, never a partial file.
    token = queued.json()["hosted_url"].rsplit("/", 1)[1]
    early = client.get(f"/media/videos/{token}/video.mp4", headers={"x-api-key": ""})
    assert early.status_code == 409 and early.json()["status"] == "queued", early.text
    assert client.get(f"/media/videos/{token}/hls/index.m3u8").status_code == 409

    seen_progress: set[str] = set()

    def face_state() -> dict:
        body = client.get(f"/v2/faces/{face_id}").json()
        seen_progress.add(body["training_progress"])
        return body

    face = poll(face_state, lambda f: f["status"] != "started", timeout=600)
    assert face["status"] == "completed", face
    assert face["training_progress"] == "100/100" and len(seen_progress) >= 2
    verbose = client.get(f"/v2/faces/{face_id}", params={"verbose": "true"}).json()
    assert verbose["face_type"] == "user" and verbose["report"]["checks"]
    assert verbose["consent"]["method"] == "attested" and verbose["consent"]["attested_by"]
    consent = next(c for c in verbose["report"]["checks"] if c["id"] == "consent_phrase_mismatch")
    assert consent["status"] == "pass" and "attested" in consent["message"]
    assert client.get(face["thumbnail_image_url"]).headers["content-type"] == "image/jpeg"
    built["face_id"] = face_id

    video = poll(
        lambda: client.get(f"/v2/videos/{video_id}").json(),
        lambda v: v["status"] in ("ready", "error"),
        timeout=600,
    )
    assert video["status"] == "ready", video
    assert video["generation_progress"] == "100/100"
    assert video["data"] == {"script": SCRIPT}

    # Download a playable mp4 with audio.
    mp4 = settings.data_dir / "tmp" / "download.mp4"
    mp4.write_bytes(client.get(video["download_url"]).content)
    info = media.probe(mp4)
    assert info.video is not None and info.audio is not None and info.duration_s > 2.0

    # The HLS stream plays: fetch playlist + segments over HTTP and decode them.
    hls_dir = settings.data_dir / "tmp" / "hls"
    hls_dir.mkdir()
    playlist = client.get(video["stream_url"])
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")
    (hls_dir / "index.m3u8").write_text(playlist.text)
    base = video["stream_url"].rsplit("/", 1)[0]
    for name in [line for line in playlist.text.splitlines() if line and not line.startswith("#")]:
        (hls_dir / name).write_bytes(client.get(f"{base}/{name}").content)
    with av.open(str(hls_dir / "index.m3u8")) as container:
        assert {s.type for s in container.streams} >= {"video", "audio"}
        assert sum(1 for _ in container.decode(video=0)) >= int(info.duration_s * info.video.fps) - 2

    # The hosted page needs no key and plays the mp4.
    page = client.get(video["hosted_url"], headers={"x-api-key": ""})
    assert page.status_code == 200 and video["download_url"] in page.text and "<video" in page.text

    # The webhooks arrived, signed: the Face's when it was ready, then the video's.
    poll(lambda: {"n": len(receiver.received)}, lambda r: r["n"] >= 2, timeout=30)
    bodies = receiver.json_bodies()
    assert bodies[0] == {"face_id": face_id, "status": "ready"}
    assert bodies[1]["video_id"] == video_id and bodies[1]["status"] == "ready"
    assert bodies[1]["download_url"] == video["download_url"]
    for headers, body in receiver.received:
        expected = "sha256=" + hmac.new(b"test-secret", body, hashlib.sha256).hexdigest()
        assert headers["x-facecraft-signature"] == expected

    listed = client.get("/v2/videos").json()
    assert video_id in [v["video_id"] for v in listed["data"]]
    assert (
        client.patch(f"/v2/videos/{video_id}/name", json={"video_name": "renamed"}).json()["video_name"]
        == "renamed"
    )


def test_videos_from_audio_upload_and_audio_url(built: dict, receiver: Receiver) -> None:
    face_id = built.get("face_id") or pytest.skip("needs the Face of test_full_flow")
    client = built["client"]

    def wait(created) -> dict:  # noqa: ANN001
        assert created.status_code == 200, created.text
        vid = created.json()["video_id"]
        return poll(
            lambda: client.get(f"/v2/videos/{vid}").json(),
            lambda v: v["status"] in ("ready", "error"),
            timeout=600,
        )

    short = data_path("speech", "grid_id2_vcd_swwp2s_16k.wav")  # 2.98 s: under the 3 s minimum
    up = client.post("/v2/uploads", files={"file": (short.name, short.read_bytes(), "audio/wav")}).json()
    failed = wait(client.post("/v2/videos", json={"face_id": face_id, "audio_upload_id": up["upload_id"]}))
    assert failed["status"] == "error" and failed["error_id"] == "audio_file_min_duration", failed

    speech = data_path("speech", "pocketsphinx_librivox_0870.wav")  # 7.1 s, fetched over HTTP
    receiver.routes = {
        "/speech.wav": (200, "audio/wav", speech.read_bytes()),
        "/page": (200, "text/html", b"x"),
    }
    wrong_type = wait(
        client.post("/v2/videos", json={"face_id": face_id, "audio_url": f"{receiver.url}/page"})
    )
    assert wrong_type["error_id"] == "audio_file_type", wrong_type
    video = wait(  # with a default emotion (ours): the face shows it over the whole audio
        client.post("/v2/videos", json={"face_id": face_id, "audio_url": f"{receiver.url}/speech.wav",
                                        "emotion": "content", "emotion_intensity": 0.6})
    )
    assert video["status"] == "ready", video
    assert video["data"] == {"audio_url": f"{receiver.url}/speech.wav"}
    assert abs(video["duration_s"] - 7.1) < 0.5


def test_restart_during_a_render_finishes_the_job(built: dict, settings, key: str) -> None:  # noqa: ANN001
    face_id = built.get("face_id") or pytest.skip("needs the Face of test_full_flow")
    server: LiveServer = built["server"]
    client = built["client"]
    video_id = client.post("/v2/videos", json={"face_id": face_id, "script": SCRIPT}).json()["video_id"]
    poll(lambda: client.get(f"/v2/videos/{video_id}").json(), lambda v: v["status"] != "queued", every=0.05)
    server.stop()  # mid-render: the job process stops at the engine's next progress report

    db = Database(settings.db_url)
    with db.session() as session:
        job = session.query(Job).filter(Job.target_id == video_id).one()
        interrupted = job.status == "queued" and job.attempts == 1  # back in the queue for the next start
    db.dispose()
    # What the interrupted render wrote stays in its staging folder: nothing half-written is published.
    assert not (settings.data_dir / "videos" / video_id / "video.mp4").exists()

    with live_server(settings) as again, again.client(key) as client2:
        video = poll(
            lambda: client2.get(f"/v2/videos/{video_id}").json(),
            lambda v: v["status"] in ("ready", "error"),
            timeout=600,
        )
        assert video["status"] == "ready", video
        if interrupted:
            with Database(settings.db_url).session() as session:
                assert session.query(Job).filter(Job.target_id == video_id).one().attempts == 2
        # Stock Faces: a built bundle registered as a system Face is visible to every key.
        bundle = next((settings.data_dir / "faces" / face_id / "bundles").glob("r*"))
        stock_settings = make_settings(settings.data_dir)
        installed = install_stock_faces(bundle, settings=stock_settings)
        assert len(installed) == 1 and install_stock_faces(bundle, settings=stock_settings) == []
        other = new_key(settings, "other")
        with again.client(other) as c3:
            system = c3.get("/v2/faces", params={"face_type": "system"}).json()
            assert [f["face_id"] for f in system["data"]] == installed
            assert system["data"][0]["face_type"] == "system"
            assert c3.delete(f"/v2/faces/{installed[0]}").status_code == 400
        built["client2"] = client2
        _hard_delete(client2, settings, face_id, built["upload_id"])
    assert interrupted, "the render finished before the server stopped; the restart path was not exercised"


def _hard_delete(client, settings, face_id: str, upload_id: str) -> None:  # noqa: ANN001
    videos = [v["video_id"] for v in client.get("/v2/videos", params={"limit": 100}).json()["data"]]
    assert videos
    media_urls = [client.get(f"/v2/videos/{vid}").json()["download_url"] for vid in videos]
    assert client.delete(f"/v2/faces/{face_id}").status_code == 200  # a soft delete first ...
    resp = client.delete(f"/v2/faces/{face_id}", params={"hard": "true"})  # ... then a hard one
    assert resp.status_code == 200, resp.text
    assert client.get(f"/v2/faces/{face_id}").status_code == 404
    root: Path = settings.data_dir
    assert not (root / "faces" / face_id).exists()
    assert not (root / "uploads" / upload_id).exists()
    for vid in videos:
        assert not (root / "videos" / vid).exists()
        assert client.get(f"/v2/videos/{vid}").json()["status"] == "deleted"
    for url in filter(None, media_urls):
        assert client.get(url).status_code == 404  # the media URLs stop answering at once
