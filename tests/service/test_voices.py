"""``/v2/voices`` on a real server: the stock voices with their gender and availability, one voice,
an unknown one (404 listing them), the key required; a photo Face naming an unknown voice is a 400
that lists the voices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from facecraft.speech.voices import VOICES
from tests.service.helpers import LiveServer, live_server, make_settings, new_key


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return make_settings(tmp_path_factory.mktemp("voices-data"))


@pytest.fixture(scope="module")
def key(settings) -> str:  # noqa: ANN001
    return new_key(settings, "voices")


@pytest.fixture(scope="module")
def server(settings) -> Iterator[LiveServer]:  # noqa: ANN001
    with live_server(settings) as srv:
        yield srv


def test_the_voices_are_listed_and_filtered(server: LiveServer, key: str) -> None:
    with server.client(key) as client:
        listed = client.get("/v2/voices").json()
        assert listed["total_count"] == len(VOICES) == len(listed["data"])
        ids = [v["voice_id"] for v in listed["data"]]
        assert ids[0] == "joe-us" and {"ada-us", "slt-us", "rms-us"} <= set(ids)
        first = listed["data"][0]
        assert set(first) == {"voice_id", "voice_name", "gender", "language", "accent", "engine",
                              "description", "available"}
        female = client.get("/v2/voices", params={"gender": "female"}).json()["data"]
        assert female and all(v["gender"] == "female" for v in female)
        assert client.get("/v2/voices", params={"gender": "robot"}).status_code == 400
        one = client.get("/v2/voices/slt-us").json()
        assert one["engine"] == "flite" and one["gender"] == "female"
        assert client.get("/v2/voices/joe").json()["voice_id"] == "joe-us"  # an alias


def test_an_unknown_voice_is_404_listing_the_voices(server: LiveServer, key: str) -> None:
    with server.client(key) as client:
        resp = client.get("/v2/voices/nobody")
        assert resp.status_code == 404
        body = resp.json()
        assert body["error_id"] == "not_found" and "ada-us" in body["error"] and "nobody" in body["error"]


def test_the_voices_need_a_key(server: LiveServer) -> None:
    with server.client(None) as client:
        assert client.get("/v2/voices").status_code == 401


def test_a_photo_face_with_an_unknown_voice_is_400_listing_the_voices(server: LiveServer, key: str) -> None:
    with server.client(key) as client:
        png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
        up = client.post("/v2/uploads", files={"file": ("p.png", png, "image/png")})
        assert up.status_code == 200, up.text
        body = {"face_name": "x", "train_image_upload_id": up.json()["upload_id"], "voice_name": "nobody"}
        resp = client.post("/v2/faces", json=body)
        assert resp.status_code == 400
        assert "unknown voice 'nobody'" in resp.json()["error"]
        assert all(v.voice_id in resp.json()["error"] for v in VOICES)
