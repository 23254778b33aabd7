"""``/v2/conversations`` on a real server, a real SQLite file and real session processes: create, get, list
(paging), end, delete, the cap, webhooks, the token of ``conversation_url``, the interactions WebSocket,
and bad input of every kind."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from facecraft.service.db import Database
from facecraft.service.models import Conversation
from tests.service.conversations import add_face, child_pids, install_face, key_id, wait_for, webhooks_of
from tests.service.helpers import LiveServer, Receiver, live_server, make_settings, new_key

CAP = 2
MAX_MESSAGE = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("conversations-data"), allow_private_urls=True,
                             max_conversations=CAP, max_interaction_bytes=MAX_MESSAGE, run_worker=False)
    with live_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def keys(server: LiveServer) -> tuple[str, str]:
    return new_key(server.settings, "alice"), new_key(server.settings, "bob")


@pytest.fixture(scope="module")
def face_id(server: LiveServer, bundle_dir: Path) -> str:
    return install_face(server.settings, bundle_dir)


def create(client: httpx.Client, **body) -> httpx.Response:  # noqa: ANN003
    return client.post("/v2/conversations", json=body)


def ws_url(server: LiveServer, conversation_id: str, token: str | None = None) -> str:
    url = server.url.replace("http://", "ws://") + f"/v2/conversations/{conversation_id}/interactions"
    return url + (f"?token={token}" if token else "")


def token_of(conversation: dict) -> str:
    return conversation["conversation_url"].rsplit("/call/", 1)[1]


# --- bad input -------------------------------------------------------------------------------------


def test_bad_requests_get_clear_errors(server: LiveServer, keys, face_id: str) -> None:  # noqa: ANN001
    owner = key_id(server.settings, keys[0])
    training = add_face(server.settings, owner, "started")
    broken = add_face(server.settings, owner, "error")
    bobs = add_face(server.settings, key_id(server.settings, keys[1]), "completed")
    cases: list[tuple[dict, str, str]] = [
        ({}, "face_id", "invalid_input"),
        ({"face_id": "rnothere"}, "rnothere", "invalid_input"),
        ({"face_id": bobs}, bobs, "invalid_input"),  # another key's Face is not yours to talk to
        ({"face_id": training}, "still training", "replica_in_training"),
        ({"replica_id": broken}, "error state", "replica_in_error_state"),
        ({"face_id": face_id, "replica_id": "rother"}, "different Faces", "invalid_input"),
        ({"face_id": face_id, "pal_id": "pnothere"}, "pnothere", "invalid_input"),
        ({"face_id": face_id, "properties": {"max_call_duration": "60"}}, "max_call_duration", "invalid_input"),
        ({"face_id": face_id, "properties": {"max_call_duration": 5}}, "max_call_duration", "invalid_input"),
        ({"face_id": face_id, "properties": {"participant_absent_timeout": 12.5}}, "participant_absent_timeout",
         "invalid_input"),
        ({"face_id": face_id, "properties": {"max_call_duraton": 60}}, "max_call_duraton", "invalid_input"),
        ({"face_id": face_id, "properties": {"language": "klingon"}}, "klingon", "invalid_input"),
        ({"face_id": face_id, "properties": {"enable_recording": True}}, "enable_recording", "invalid_input"),
        ({"face_id": face_id, "properties": "long"}, "properties", "invalid_input"),
        ({"face_id": face_id, "test_mode": "yes"}, "test_mode", "invalid_input"),
        ({"face_id": face_id, "conversation_name": "a\x00b"}, "conversation_name", "invalid_input"),
        ({"face_id": face_id, "callback_url": "ftp://example.org/hook"}, "http", "invalid_input"),
        ({"face_id": face_id, "document_ids": ["d1"]}, "document_ids", "invalid_input"),
        ({"face_id": 17}, "face_id", "invalid_input"),
    ]
    with server.client(keys[0]) as client:
        for body, words, error_id in cases:
            resp = create(client, **body)
            assert resp.status_code == 400, (body, resp.text)
            answer = resp.json()
            assert words in answer["error"] and answer["error_id"] == error_id, (body, answer)
        resp = client.post("/v2/conversations", content=b"{nope", headers={"content-type": "application/json"})
        assert resp.status_code == 400 and resp.json()["error"] == "the request body is not valid JSON"
        assert client.get("/v2/conversations", params={"status": "sleeping"}).status_code == 400
        assert client.get("/v2/conversations/cnothere").status_code == 404
        assert client.post("/v2/conversations/cnothere/end").status_code == 404
        assert client.delete("/v2/conversations/cnothere").status_code == 404
    with server.client(None) as client:
        assert create(client, face_id=face_id).status_code == 401
    assert child_pids() == set(), "a refused request must not start a session"


def test_test_mode_list_paging_and_isolation(server: LiveServer, keys, face_id: str) -> None:  # noqa: ANN001
    with server.client(keys[1]) as bob:
        made = [create(bob, replica_id=face_id, conversation_name=f"n{i}", test_mode=True).json()
                for i in range(3)]
        assert child_pids() == set(), "test_mode starts no session"
        for conversation in made:
            assert conversation["status"] == "ended" and conversation["replica_id"] == face_id
            assert conversation["conversation_id"].startswith("c")
        one = bob.get(f"/v2/conversations/{made[0]['conversation_id']}").json()
        assert one["shutdown_reason"] == "test_mode" and one["properties"]["max_call_duration"] == 3600
        assert "transcript" not in one and "events" in bob.get(
            f"/v2/conversations/{made[0]['conversation_id']}", params={"verbose": "true"}).json()
        page1 = bob.get("/v2/conversations", params={"limit": 2, "page": 1}).json()
        page2 = bob.get("/v2/conversations", params={"limit": 2, "page": 2}).json()
        assert page1["total_count"] == 3 and len(page1["data"]) == 2 and len(page2["data"]) == 1
        ids = {c["conversation_id"] for c in page1["data"] + page2["data"]}
        assert ids == {c["conversation_id"] for c in made}
        assert bob.get("/v2/conversations", params={"status": "active"}).json()["total_count"] == 0
        # An ended conversation's page says so; its offer is refused with its status.
        page = httpx.get(made[0]["conversation_url"], timeout=30)
        assert page.status_code == 410 and "ended" in page.text
        offer = httpx.post(made[0]["conversation_url"] + "/offer", json={"sdp": "v=0", "type": "offer"}, timeout=30)
        assert offer.status_code == 409 and offer.json()["status"] == "ended"
        assert httpx.get(server.url + "/call/not-a-token", timeout=30).status_code == 404
        gone = made[2]["conversation_id"]
        assert bob.delete(f"/v2/conversations/{gone}").json() == {"conversation_id": gone, "status": "deleted"}
        assert bob.get(f"/v2/conversations/{gone}").status_code == 404
        assert httpx.get(made[2]["conversation_url"], timeout=30).status_code == 404
        assert bob.get("/v2/conversations").json()["total_count"] == 2
    with server.client(keys[0]) as alice:  # another key sees none of them
        assert alice.get(f"/v2/conversations/{made[0]['conversation_id']}").status_code == 404
        assert alice.post(f"/v2/conversations/{made[0]['conversation_id']}/end").status_code == 404
        assert all(c["conversation_id"] not in ids for c in alice.get("/v2/conversations").json()["data"])


# --- live sessions ---------------------------------------------------------------------------------


def test_live_conversation_ends_releases_its_process_and_its_url(
    server: LiveServer, keys, face_id: str, receiver: Receiver  # noqa: ANN001
) -> None:
    with server.client(keys[0]) as client:
        resp = create(client, face_id=face_id, conversation_name="hello", callback_url=receiver.url + "/hook",
                      audio_only=True, properties={"max_call_duration": 600, "participant_absent_timeout": 120})
        assert resp.status_code == 200, resp.text
        conversation = resp.json()
        cid = conversation["conversation_id"]
        assert conversation["status"] == "active" and conversation["conversation_name"] == "hello"
        assert conversation["conversation_url"].startswith(server.url + "/call/")
        assert len(child_pids()) == 1, "one process per session"
        page = httpx.get(conversation["conversation_url"], timeout=30)
        assert page.status_code == 200 and "RTCPeerConnection" not in page.text  # the page loads call.js
        assert f'"conversation_id": "{cid}"' in page.text and "/static/call/call.js" in page.text
        assert '"audio_only": true' in page.text and "Talk to Obama test" in page.text
        listed = client.get("/v2/conversations", params={"status": "active"}).json()
        assert [c["conversation_id"] for c in listed["data"]] == [cid]
        ended = client.post(f"/v2/conversations/{cid}/end")
        assert ended.status_code == 200 and ended.json()["status"] == "ended"
        assert ended.json()["shutdown_reason"] == "ended" and ended.json()["ended_at"]
        assert wait_for(lambda: child_pids() == set()), f"session processes left: {child_pids()}"
        assert client.post(f"/v2/conversations/{cid}/end").json()["status"] == "ended"  # ending twice is fine
        assert httpx.get(conversation["conversation_url"], timeout=30).status_code == 410
        assert wait_for(lambda: any(p["event_type"] == "system.shutdown" for p in webhooks_of(receiver, cid)))
        shutdowns = [p for p in webhooks_of(receiver, cid) if p["event_type"] == "system.shutdown"]
        assert len(shutdowns) == 1, "system.shutdown is sent once"
        assert shutdowns[0]["properties"] == {"replica_id": face_id, "shutdown_reason": "ended"}
        assert shutdowns[0]["message_type"] == "system"
        verbose = client.get(f"/v2/conversations/{cid}", params={"verbose": "true"}).json()
        assert [e["event_type"] for e in verbose["events"]][-1] == "system.shutdown"


def test_over_the_cap_is_a_clear_error_and_ending_frees_a_place(server: LiveServer, keys, face_id: str) -> None:  # noqa: ANN001
    with server.client(keys[0]) as client:
        made = []
        for _ in range(CAP):
            resp = create(client, face_id=face_id)
            assert resp.status_code == 200, resp.text
            made.append(resp.json()["conversation_id"])
        start = time.monotonic()
        over = create(client, face_id=face_id)
        assert time.monotonic() - start < 10, "refused at once, never queued"
        assert over.status_code == 429, over.text
        assert "conversations" in over.json()["error"] and over.json()["error_id"] == "too_many_conversations"
        assert client.get("/v2/conversations", params={"status": "active"}).json()["total_count"] == CAP
        client.post(f"/v2/conversations/{made.pop()}/end")
        resp = create(client, face_id=face_id)
        assert resp.status_code == 200, resp.text
        made.append(resp.json()["conversation_id"])
        for cid in made:
            assert client.delete(f"/v2/conversations/{cid}").status_code == 200
        assert wait_for(lambda: child_pids() == set()), f"session processes left: {child_pids()}"


def test_interactions_websocket_auth_and_bad_messages(server: LiveServer, keys, face_id: str) -> None:  # noqa: ANN001
    with server.client(keys[0]) as client:
        conversation = create(client, face_id=face_id).json()
    cid, token = conversation["conversation_id"], token_of(conversation)
    offer_url = conversation["conversation_url"] + "/offer"
    for body, words in (({"sdp": "garbage", "type": "offer"}, "offer"), ({"sdp": "v=0", "type": "answer"}, "type"),
                        ({"type": "offer"}, "sdp"), ({"sdp": "x" * 300_000, "type": "offer"}, "sdp")):
        resp = httpx.post(offer_url, json=body, timeout=60)
        assert resp.status_code == 400 and words in resp.json()["error"], (body, resp.text)
    for headers, url in (({}, ws_url(server, cid)), ({"x-api-key": "fc_wrong"}, ws_url(server, cid)),
                         ({"x-api-key": keys[1]}, ws_url(server, cid)), ({}, ws_url(server, cid, "wrong-token")),
                         ({}, ws_url(server, "cother", token))):
        with pytest.raises(InvalidStatus):
            connect(url, additional_headers=headers, open_timeout=20).close()
    try:
        with connect(ws_url(server, cid), additional_headers={"x-api-key": keys[0]}, open_timeout=20,
                     max_size=None) as ws:
            for bad, words in (("{not json", "not valid JSON"), ("[1, 2]", "JSON object"),
                               ("x" * (MAX_MESSAGE + 1), "largest accepted"),
                               (json.dumps({"conversation_id": "cother"}), "not this conversation")):
                ws.send(bad)
                event = _next_event(ws)
                assert event["event_type"] == "conversation.error", event
                assert words in event["properties"]["message"] and event["conversation_id"] == cid
            # The session checks the envelope itself: an unknown event gets an error event too.
            ws.send(json.dumps({"message_type": "conversation", "event_type": "conversation.dance",
                                "conversation_id": cid, "properties": {}}))
            assert _next_event(ws)["event_type"] == "conversation.error"
        with connect(ws_url(server, cid, token), open_timeout=20) as ws:  # the page's token works too
            ws.send("{")
            assert _next_event(ws)["event_type"] == "conversation.error"
            with server.client(keys[0]) as client:
                client.post(f"/v2/conversations/{cid}/end")
            shutdown = _next_event(ws)
            assert shutdown["event_type"] == "system.shutdown"
            assert shutdown["properties"]["shutdown_reason"] == "ended"
    finally:
        with server.client(keys[0]) as client:
            client.post(f"/v2/conversations/{cid}/end")
    with connect(ws_url(server, cid, token), open_timeout=20) as ws:  # an ended conversation: told, closed
        event = _next_event(ws)
        assert event["properties"]["error"] == "conversation_ended"
    assert wait_for(lambda: child_pids() == set())


def _next_event(ws) -> dict:  # noqa: ANN001
    """The next interactions event, skipping none: the tests send before anything else can arrive."""
    return json.loads(ws.recv(timeout=20))


def test_server_shutdown_ends_every_conversation(tmp_path: Path, bundle_dir: Path, receiver: Receiver) -> None:
    settings = make_settings(tmp_path / "data", allow_private_urls=True, run_worker=False)
    key = new_key(settings)
    face = install_face(settings, bundle_dir)
    with live_server(settings) as srv, srv.client(key) as client:
        cid = create(client, face_id=face, callback_url=receiver.url + "/hook").json()["conversation_id"]
        assert len(child_pids()) == 1
    assert wait_for(lambda: child_pids() == set()), "the server's sessions end with it"
    db = Database(settings.db_url)
    try:
        with db.session() as session:
            row = session.get(Conversation, cid)
            assert row is not None and row.status == "ended" and row.shutdown_reason
    finally:
        db.dispose()
    assert wait_for(lambda: sorted(p["event_type"] for p in webhooks_of(receiver, cid)) == [
        "application.transcription_ready", "system.shutdown"])


def test_a_conversation_left_active_by_a_dead_server_ends_on_restart(tmp_path: Path) -> None:
    from facecraft.service.conversation_service import SERVER
    from facecraft.service.ids import new_token

    settings = make_settings(tmp_path / "data", run_worker=False)
    key = new_key(settings)
    owner = key_id(settings, key)
    host = SERVER.rsplit(":", 1)[0]
    db = Database(settings.db_url)
    try:
        with db.session() as session:
            for cid, server in (("cdead", f"{host}:999999999"), ("celsewhere", "another-host:1")):
                session.add(Conversation(id=cid, owner_id=owner, face_id="rx", name="", status="active",
                                         mode="echo", properties={}, options={}, token=new_token(),
                                         server=server, events=[], transcript=[]))
    finally:
        db.dispose()
    with live_server(settings) as srv, srv.client(key) as client:
        dead = client.get("/v2/conversations/cdead").json()
        assert dead["status"] == "ended" and dead["shutdown_reason"] == "server_restarted"
        assert client.get("/v2/conversations/celsewhere").json()["status"] == "active"



def test_an_aiortc_participant_joins_speaks_and_leaves(
    server: LiveServer, keys, face_id: str, receiver: Receiver  # noqa: ANN001
) -> None:
    """A real WebRTC peer (aiortc) signals through ``<conversation_url>/offer``: ``system.replica_joined``
    fires, the Face's frames arrive, an echo on the data channel is said and lands in the transcript; when the
    peer leaves, ``participant_left_timeout`` ends the conversation and its process."""
    from facecraft.conversation.client import LiveClient

    with server.client(keys[0]) as client:
        conversation = create(client, face_id=face_id, callback_url=receiver.url + "/hook",
                              properties={"participant_left_timeout": 0}).json()
    cid = conversation["conversation_id"]

    async def signal(offer: dict) -> dict:
        async with httpx.AsyncClient(timeout=60, trust_env=False) as http:
            resp = await http.post(conversation["conversation_url"] + "/offer", json=offer)
            assert resp.status_code == 200, resp.text
            return resp.json()

    async def talk() -> None:
        async with LiveClient(signal, keep_images=False) as peer:
            await peer.wait_frames(10)
            await peer.wait_channel_open()
            peer.send({"message_type": "conversation", "event_type": "conversation.echo", "conversation_id": cid,
                       "properties": {"modality": "text", "text": "Nice to see you.", "done": True}})
            await peer.wait_event("conversation.replica.stopped_speaking", timeout=60)

    asyncio.run(talk())
    assert wait_for(lambda: "system.replica_joined" in [p["event_type"] for p in webhooks_of(receiver, cid)])
    joined = next(p for p in webhooks_of(receiver, cid) if p["event_type"] == "system.replica_joined")
    assert joined["properties"] == {"replica_id": face_id}
    with server.client(keys[0]) as client:
        assert wait_for(lambda: client.get(f"/v2/conversations/{cid}").json()["status"] == "ended", timeout=30)
        done = client.get(f"/v2/conversations/{cid}", params={"verbose": "true"}).json()
    assert done["shutdown_reason"] == "participant_left_timeout", done
    assert [e["content"] for e in done["transcript"]] == ["Nice to see you."], done["transcript"]
    assert wait_for(lambda: child_pids() == set()), f"session processes left: {child_pids()}"
    assert wait_for(lambda: any(p["event_type"] == "system.shutdown" for p in webhooks_of(receiver, cid)))
    assert wait_for(lambda: any(p["event_type"] == "application.transcription_ready"
                                for p in webhooks_of(receiver, cid)))
    ready = next(p for p in webhooks_of(receiver, cid) if p["event_type"] == "application.transcription_ready")
    assert ready["properties"]["transcript"] == [{"role": "assistant", "content": "Nice to see you."}], ready


def test_max_call_duration_ends_the_call(server: LiveServer, keys, face_id: str) -> None:  # noqa: ANN001
    with server.client(keys[0]) as client:
        cid = create(client, face_id=face_id, properties={"max_call_duration": 10}).json()["conversation_id"]
        assert wait_for(lambda: client.get(f"/v2/conversations/{cid}").json()["status"] == "ended", timeout=40)
        assert client.get(f"/v2/conversations/{cid}").json()["shutdown_reason"] == "max_call_duration"
    assert wait_for(lambda: child_pids() == set()), f"session processes left: {child_pids()}"
