"""Conversations with a PAL through the API on a real server: the PAL sets the pipeline mode and, when
the request names no Face, the Face; documents may come with a PAL; unknown PALs, documents and a PAL
without a default Face are clear errors; a full-mode conversation starts a real session (Face, Whisper and
the embedded LLM loaded) and ends with the transcript webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.conversations import child_pids, install_face, wait_for, webhooks_of
from tests.service.helpers import LiveServer, Receiver, live_server, make_settings, new_key


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("conversations-pal-data"), allow_private_urls=True,
                             max_conversations=2, run_worker=False)
    with live_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def key(server: LiveServer) -> str:
    return new_key(server.settings, "alice")


@pytest.fixture(scope="module")
def face_id(server: LiveServer, bundle_dir: Path) -> str:
    return install_face(server.settings, bundle_dir)


def make_pal(client: httpx.Client, **fields) -> str:  # noqa: ANN003
    body = {"pal_name": "Ada", "system_prompt": "Your name is Ada. Answer in one short sentence.",
            "pipeline_mode": "full", **fields}
    resp = client.post("/v2/pals", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["pal_id"]


def test_the_pal_sets_mode_and_face_and_bad_ones_are_clear_errors(server: LiveServer, key: str,
                                                                   face_id: str) -> None:
    with server.client(key) as client:
        with_face = make_pal(client, default_face_id=face_id)
        faceless = make_pal(client)
        echo = make_pal(client, pipeline_mode="echo", default_face_id=face_id)
        made = client.post("/v2/conversations", json={"persona_id": with_face, "test_mode": True})
        assert made.status_code == 200, made.text
        got = client.get(f"/v2/conversations/{made.json()['conversation_id']}").json()
        assert got["face_id"] == face_id and got["pal_id"] == with_face and got["pipeline_mode"] == "full"
        got = client.get(f"/v2/conversations/{client.post('/v2/conversations', json={'pal_id': echo, 'test_mode': True}).json()['conversation_id']}").json()  # noqa: E501
        assert got["pipeline_mode"] == "echo"
        cases = [
            ({"pal_id": "pnothere", "face_id": face_id}, "pnothere"),
            ({"pal_id": faceless}, "no default Face"),
            ({"pal_id": with_face, "document_ids": ["dnothere"]}, "dnothere"),
            ({"pal_id": echo, "document_ids": ["dnothere"]}, "document_ids"),
        ]
        for body, words in cases:
            resp = client.post("/v2/conversations", json={**body, "test_mode": True})
            assert resp.status_code == 400 and words in resp.json()["error"], (body, resp.text)
            assert resp.json()["error_id"] == "invalid_input"


@pytest.mark.slow
def test_a_full_mode_conversation_runs_a_session_and_sends_its_transcript(
        server: LiveServer, key: str, face_id: str, receiver: Receiver) -> None:
    with server.client(key) as client:
        pal = make_pal(client, default_face_id=face_id)
        made = client.post("/v2/conversations", json={"pal_id": pal, "callback_url": receiver.url})
        assert made.status_code == 200, made.text
        cid = made.json()["conversation_id"]
        assert made.json()["status"] == "active" and len(child_pids()) == 1
        assert client.post(f"/v2/conversations/{cid}/end").status_code == 200
        assert wait_for(lambda: child_pids() == set(), timeout=30)
    assert wait_for(lambda: sorted(p["event_type"] for p in webhooks_of(receiver, cid)) == [
        "application.transcription_ready", "system.shutdown"])
