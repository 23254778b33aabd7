"""``/v2/pals`` and ``/v2/personas`` on a real server and a real SQLite file: create, get, list with
paging, JSON Patch (RFC 6902), delete; field names follow the path; bad input gets a 400 naming the
field (never a 500); api keys are never shown in full; stock PALs are listed, read-only, and name the
stock Face of this installation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from facecraft.service.db import Database
from facecraft.service.ids import new_id, new_token
from facecraft.service.models import Face
from facecraft.service.stock_pals import STOCK_PALS
from facecraft.service.storage import Storage
from tests.service.helpers import LiveServer, live_server, make_settings, new_key

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    # Private URLs allowed: an LLM endpoint on this machine (loopback) is a valid upgrade here.
    return make_settings(tmp_path_factory.mktemp("pals-data"), run_worker=False, allow_private_urls=True)


@pytest.fixture(scope="module")
def key(settings) -> str:  # noqa: ANN001
    return new_key(settings, "pals")


@pytest.fixture(scope="module")
def other_key(settings) -> str:  # noqa: ANN001
    return new_key(settings, "someone else")


@pytest.fixture(scope="module")
def server(settings) -> Iterator[LiveServer]:  # noqa: ANN001
    with live_server(settings) as srv:
        yield srv


def _pal(**extra) -> dict:
    body = {
        "pal_name": "Museum guide",
        "system_prompt": "You are Ada, a guide at the Riverside Science Museum.",
        "context": "The caller is planning a visit.",
        "layers": {
            "llm": {"model": "facecraft-qwen2.5-0.5b", "speculative_inference": True},
            "stt": {"stt_engine": "embedded", "hotwords": "Riverside"},
            "conversational_flow": {"turn_detection_model": "smart_turn", "turn_taking_patience": "low",
                                    "replica_interruptibility": "high"},
        },
    }
    body.update(extra)
    return body


def test_create_get_list_patch_delete(server: LiveServer, key: str) -> None:
    with server.client(key) as client:
        created = client.post("/v2/pals", json=_pal())
        assert created.status_code == 200, created.text
        pal = created.json()
        pal_id = pal["pal_id"]
        assert pal_id.startswith("p") and pal["pal_name"] == "Museum guide" and pal["pal_type"] == "user"
        assert pal["pipeline_mode"] == "full" and pal["document_ids"] == []
        assert pal["layers"]["conversational_flow"]["turn_taking_patience"] == "low"

        got = client.get(f"/v2/pals/{pal_id}").json()
        assert got == pal
        persona = client.get(f"/v2/personas/{pal_id}").json()  # the same PAL under the legacy names
        assert persona["persona_id"] == pal_id and persona["persona_name"] == "Museum guide"
        assert "pal_id" not in persona and "default_replica_id" in persona

        patched = client.patch(
            f"/v2/pals/{pal_id}",
            json=[
                {"op": "replace", "path": "/pal_name", "value": "Museum host"},
                {"op": "add", "path": "/layers/llm/extra_body", "value": {"temperature": 0.2}},
                {"op": "remove", "path": "/context"},
                {"op": "test", "path": "/pipeline_mode", "value": "full"},
            ],
            headers={"content-type": "application/json-patch+json"},
        )
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert body["pal_name"] == "Museum host" and body["context"] is None
        assert body["layers"]["llm"]["extra_body"] == {"temperature": 0.2}
        assert client.get(f"/v2/pals/{pal_id}").json()["pal_name"] == "Museum host"

        legacy = client.patch(f"/v2/personas/{pal_id}",
                              json=[{"op": "replace", "path": "/persona_name", "value": "Legacy name"}])
        assert legacy.status_code == 200 and legacy.json()["persona_name"] == "Legacy name"

        deleted = client.delete(f"/v2/pals/{pal_id}")
        assert deleted.json() == {"pal_id": pal_id, "status": "deleted"}
        assert client.get(f"/v2/pals/{pal_id}").status_code == 404
        assert client.delete(f"/v2/pals/{pal_id}").status_code == 404


def test_list_pages_and_filters(server: LiveServer, key: str) -> None:
    with server.client(key) as client:
        ids = [client.post("/v2/pals", json=_pal(pal_name=f"pager {i}")).json()["pal_id"] for i in range(3)]
        users = client.get("/v2/pals", params={"pal_type": "user", "limit": 100}).json()
        assert {p["pal_id"] for p in users["data"]} >= set(ids)
        assert all(p["pal_type"] == "user" for p in users["data"])
        first = client.get("/v2/pals", params={"limit": 2, "page": 0}).json()  # page 0 is the first page
        second = client.get("/v2/pals", params={"limit": 2, "page": 2}).json()
        assert len(first["data"]) == 2 and first["total_count"] == users["total_count"] + len(STOCK_PALS)
        assert not {p["pal_id"] for p in first["data"]} & {p["pal_id"] for p in second["data"]}
        personas = client.get("/v2/personas", params={"persona_type": "system"}).json()
        assert personas["total_count"] == len(STOCK_PALS)
        assert all(p["persona_type"] == "system" for p in personas["data"])
        assert client.get("/v2/pals", params={"pal_type": "robot"}).status_code == 400
        assert client.get("/v2/pals", params={"limit": 0}).status_code == 400


def test_the_api_key_is_never_shown_in_full(server: LiveServer, key: str) -> None:
    layers = {"llm": {"model": "my-model", "base_url": "http://127.0.0.1:9/v1", "api_key": SECRET}}
    with server.client(key) as client:
        created = client.post("/v2/pals", json=_pal(layers=layers))
        assert created.status_code == 200, created.text
        pal_id = created.json()["pal_id"]
        for resp in (created, client.get(f"/v2/pals/{pal_id}"), client.get("/v2/pals", params={"limit": 100})):
            assert SECRET not in resp.text and SECRET[-4:] in resp.text
        # A patch that leaves the masked key in place keeps the stored key ...
        renamed = client.patch(f"/v2/pals/{pal_id}", json=[{"op": "replace", "path": "/pal_name", "value": "x"}])
        assert renamed.status_code == 200 and SECRET not in renamed.text
        settings = server.settings
        storage = Storage(settings.data_dir)
        db = Database(settings.db_url)
        from facecraft.service.pal_service import session_pal

        with db.session() as session:
            from facecraft.service.keys import lookup_key

            owner = lookup_key(session, key).id
            pal = session_pal(session, settings, storage, owner_id=owner, pal_id=pal_id)
            assert pal["layers"]["llm"]["api_key"] == SECRET and pal["knowledge"] == []
            assert pal["llm_defaults"]["first_token_timeout_s"] == settings.llm_first_token_timeout_s
        # ... and a new key replaces it.
        client.patch(f"/v2/pals/{pal_id}",
                     json=[{"op": "replace", "path": "/layers/llm/api_key", "value": "sk-new-key-999999"}])
        with db.session() as session:
            assert session_pal(session, settings, storage, owner_id=owner, pal_id=pal_id)["layers"]["llm"][
                "api_key"] == "sk-new-key-999999"
        db.dispose()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"pal_name": "no prompt"}, "system_prompt is required"),
        (_pal(pipeline_mode="speech"), "pipeline_mode"),
        (_pal(pal_name=123), "pal_name"),
        (_pal(pal_name="a\x00b"), "control characters"),
        (_pal(pal_name="x" * 301), "pal_name"),
        (_pal(pal_name="a", persona_name="b"), "disagree"),
        (_pal(default_face_id="rnothere"), "default face"),
        (_pal(document_ids=["dnothere"]), "no such document"),
        (_pal(document_ids="d1"), "document_ids"),
        (_pal(layers={"llm": {"model": "gpt-7"}}), "layers.llm.model"),
        (_pal(layers={"llm": {"modle": "x"}}), "modle"),
        (_pal(layers={"llm": {"base_url": "ftp://example.com/v1", "model": "m"}}), "http"),
        (_pal(layers={"llm": {"tools": [{"type": "function", "function": {"name": "bad name!"}}]}}), "tools"),
        (_pal(layers={"llm": {"speculative_inference": "yes"}}), "speculative_inference"),
        (_pal(layers={"tts": {"tts_engine": "cartesia"}}), "tts_engine"),
        (_pal(layers={"tts": {"voice_id": "nobody"}}), "voice_id"),
        (_pal(layers={"tts": {"tts_engine": "openai"}}), "base_url"),
        (_pal(layers={"stt": {"stt_engine": "deepgram"}}), "stt_engine"),
        (_pal(layers={"conversational_flow": {"turn_taking_patience": "forever"}}), "turn_taking_patience"),
        (_pal(layers={"conversational_flow": {"turn_detection_model": "magic"}}), "turn_detection_model"),
        (_pal(layers={"perception": {"perception_model": "raven-0"}}), "vision"),
        (_pal(layers={"holodeck": {}}), "holodeck"),
        (_pal(layers=[1, 2]), "layers"),
    ],
)
def test_bad_pals_are_400_naming_the_field(server: LiveServer, key: str, body: dict, words: str) -> None:
    with server.client(key) as client:
        resp = client.post("/v2/pals", json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error_id"] == "invalid_input" and words in resp.json()["error"], resp.json()


def test_bad_patches_are_400_and_change_nothing(server: LiveServer, key: str) -> None:
    with server.client(key) as client:
        pal = client.post("/v2/pals", json=_pal()).json()
        pal_id = pal["pal_id"]
        bad = [
            ({"op": "replace", "path": "/pal_name"}, None),  # no value: validated as null -> name required?
            ([{"op": "jump", "path": "/pal_name", "value": "x"}], "op"),
            ([{"op": "replace", "path": "/nothing/here", "value": 1}], "cannot be applied"),
            ([{"op": "replace", "path": "pal_name", "value": 1}], "cannot be applied"),
            ([{"op": "test", "path": "/pipeline_mode", "value": "echo"}], "test operation failed"),
            ([{"op": "replace", "path": "/pipeline_mode", "value": "speech"}], "pipeline_mode"),
            ([{"op": "remove", "path": "/system_prompt"}], "system_prompt is required"),
            ([{"op": "replace", "path": "/pal_id", "value": "pmine"}], "cannot be changed"),
            ([{"op": "replace", "path": "/layers/llm/model", "value": "gpt-7"}], "layers.llm.model"),
            ([{"op": "replace", "path": "", "value": [1]}], "JSON object"),
            ([], "empty"),
            ({"pal_name": "merge patch"}, None),
            ("not a list", None),
        ]
        for ops, words in bad:
            resp = client.patch(f"/v2/pals/{pal_id}", json=ops)
            assert resp.status_code == 400, (ops, resp.text)
            assert resp.json()["error_id"] == "invalid_input"
            if words:
                assert words in resp.json()["error"], (ops, resp.json())
        bad_json = client.patch(f"/v2/pals/{pal_id}", content=b"[{", headers={"content-type": "application/json"})
        assert bad_json.status_code == 400
        assert client.get(f"/v2/pals/{pal_id}").json() == pal  # nothing changed
        assert client.patch("/v2/pals/pnothere", json=[{"op": "remove", "path": "/context"}]).status_code == 404


def test_pals_are_private_to_their_key(server: LiveServer, key: str, other_key: str) -> None:
    with server.client(key) as client:
        pal_id = client.post("/v2/pals", json=_pal()).json()["pal_id"]
    with server.client(other_key) as client:
        assert client.get(f"/v2/pals/{pal_id}").status_code == 404
        assert client.delete(f"/v2/pals/{pal_id}").status_code == 404
        assert all(p["pal_id"] != pal_id for p in client.get("/v2/pals", params={"limit": 100}).json()["data"])
    with server.client(None) as client:
        assert client.get("/v2/pals").status_code == 401


def test_vendor_defaults_and_echo_mode(server: LiveServer, key: str) -> None:
    """What the vendor's client sends by default (its tavus-gemma-4 model, face_interruptibility) works."""
    with server.client(key) as client:
        full = client.post("/v2/pals", json={
            "pal_name": "Agentic Tavus PAL", "system_prompt": "Be brief.", "greeting": "Hello there.",
            "memories": ["ignored"], "layers": {"llm": {"model": "tavus-gemma-4", "speculative_inference": True},
                                                "conversational_flow": {"face_interruptibility": "low"}}})
        assert full.status_code == 200, full.text
        assert full.json()["greeting"] == "Hello there."
        echo = client.post("/v2/personas", json={"persona_name": "Echo", "pipeline_mode": "echo"})
        assert echo.status_code == 200, echo.text
        assert echo.json()["pipeline_mode"] == "echo" and echo.json()["system_prompt"] is None


def test_stock_pals_are_read_only_and_name_the_stock_face(server: LiveServer, key: str) -> None:
    with server.client(key) as client:
        stock = client.get("/v2/pals", params={"pal_type": "system"}).json()["data"]
        assert {p["pal_name"] for p in stock} == {s.name for s in STOCK_PALS}
        eileen = next(p for p in stock if p["pal_name"].startswith("Eileen"))
        assert eileen["system_prompt"] and eileen["greeting"]
        assert eileen["default_face_id"] is None  # the stock Face is not installed in this data dir yet
        # Installing the stock Face (as `facecraft stock add` does) makes the stock PAL name it.
        db = Database(server.settings.db_url)
        face_id = new_id("r")
        with db.session() as session:
            session.add(Face(id=face_id, owner_id=None, face_type="system", source_kind="bundle",
                             stock_key="stock:eileen-collins", status="completed", progress=100, name="Eileen Collins",
                             share_token=new_token()))
        db.dispose()
        assert client.get(f"/v2/pals/{eileen['pal_id']}").json()["default_face_id"] == face_id
        assert client.get(f"/v2/personas/{eileen['pal_id']}").json()["default_replica_id"] == face_id
        assert client.delete(f"/v2/pals/{eileen['pal_id']}").status_code == 400
        resp = client.patch(f"/v2/pals/{eileen['pal_id']}",
                            json=[{"op": "replace", "path": "/pal_name", "value": "mine"}])
        assert resp.status_code == 400 and "stock PALs" in resp.json()["error"]
        # A user PAL may use a stock Face as its default Face.
        mine = client.post("/v2/pals", json=_pal(default_face_id=face_id))
        assert mine.status_code == 200 and mine.json()["default_face_id"] == face_id
