"""``/v2/documents`` on a real server: a PDF by upload and an html page by URL (a real local HTTP
server) become passages, searchable for a conversation (``knowledge_for``) and usable by a PAL; bad or
hostile documents get a 400 with their error id and leave nothing stored; private URLs are refused
unless the deployment allows them; deleting a document takes it off the PALs that named it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bench.hostile import SSRF_URLS, hostile_documents

from facecraft.knowledge import KnowledgeBase, load_passages
from facecraft.service.db import Database
from facecraft.service.document_service import document_dir, knowledge_for
from facecraft.service.keys import lookup_key
from facecraft.service.pal_service import session_pal
from facecraft.service.storage import Storage
from tests.knowledge.docs import MUSEUM_FACTS, make_pdf
from tests.service.helpers import LiveServer, Receiver, live_server, make_settings, new_key


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    # Private URLs allowed: the test's own HTTP server is on loopback.
    return make_settings(tmp_path_factory.mktemp("docs-data"), run_worker=False, allow_private_urls=True)


@pytest.fixture(scope="module")
def key(settings) -> str:  # noqa: ANN001
    return new_key(settings, "docs")


@pytest.fixture(scope="module")
def server(settings) -> Iterator[LiveServer]:  # noqa: ANN001
    with live_server(settings) as srv:
        yield srv


def _upload(client, name: str, data: bytes, ctype: str = "application/octet-stream") -> str:  # noqa: ANN001
    resp = client.post("/v2/uploads", files={"file": (name, data, ctype)})
    assert resp.status_code == 200, resp.text
    return resp.json()["upload_id"]


def _documents_on_disk(server: LiveServer) -> set[str]:
    folder = server.settings.data_dir / "documents"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_documents_by_upload_and_url_become_knowledge(server: LiveServer, key: str, receiver: Receiver) -> None:
    page = (b"<html><head><title>Museum cafe</title></head><body><p>The museum cafe serves coffee, "
            b"sandwiches and carrot cake.</p><p>Picnics are allowed in the garden.</p></body></html>")
    receiver.routes["/cafe.html"] = (200, "text/html; charset=utf-8", page)
    with server.client(key) as client:
        upload_id = _upload(client, "facts.pdf", make_pdf([MUSEUM_FACTS]), "application/pdf")
        pdf = client.post("/v2/documents", json={"upload_id": upload_id, "document_name": "Museum facts",
                                                 "tags": ["museum", "faq"]})
        assert pdf.status_code == 200, pdf.text
        doc = pdf.json()
        assert doc["status"] == "ready" and doc["file_type"] == "pdf" and doc["chunk_count"] >= 1
        assert doc["tags"] == ["museum", "faq"] and doc["document_id"].startswith("d")
        html = client.post("/v2/documents", json={"document_url": f"{receiver.url}/cafe.html", "tags": ["food"]})
        assert html.status_code == 200, html.text
        assert html.json()["file_type"] == "html" and html.json()["document_name"] == "cafe.html"

        assert client.get(f"/v2/documents/{doc['document_id']}").json() == doc
        listed = client.get("/v2/documents", params={"limit": 100}).json()
        assert listed["total_count"] == len(listed["data"]) >= 2
        food = client.get("/v2/documents", params={"tags": "food"}).json()
        assert [d["document_id"] for d in food["data"]] == [html.json()["document_id"]]
        renamed = client.patch(f"/v2/documents/{doc['document_id']}", json={"document_name": "Facts"})
        assert renamed.json()["document_name"] == "Facts"

        pal = client.post("/v2/pals", json={"pal_name": "Guide", "system_prompt": "You are a guide.",
                                             "document_ids": [doc["document_id"], html.json()["document_id"]]})
        assert pal.status_code == 200, pal.text

    db = Database(server.settings.db_url)
    with db.session() as session:
        owner = lookup_key(session, key).id
        kb = knowledge_for(session, Storage(server.settings.data_dir), owner_id=owner,
                           document_ids=pal.json()["document_ids"])
        # What a session process gets (no database there): the passage files of the PAL's documents.
        spec = session_pal(session, server.settings, Storage(server.settings.data_dir), owner_id=owner,
                           pal_id=pal.json()["pal_id"])
    db.dispose()
    session_kb = KnowledgeBase([c for k in spec["knowledge"] for c in load_passages(k["passages"])])
    assert len(session_kb) == len(kb) and {k["document_id"] for k in spec["knowledge"]} == set(spec["document_ids"])
    assert "twelve dollars" in kb.search("How much is an adult ticket?", budget_tokens=200)[0].chunk.text
    assert "carrot cake" in kb.search("What does the cafe serve?", budget_tokens=200)[0].chunk.text

    with server.client(key) as client:
        assert client.delete(f"/v2/documents/{doc['document_id']}").json()["status"] == "deleted"
        assert client.get(f"/v2/documents/{doc['document_id']}").status_code == 404
        assert not document_dir(Storage(server.settings.data_dir), doc["document_id"]).exists()
        # The PAL that named it now names only the other document (it stays valid).
        assert client.get(f"/v2/pals/{pal.json()['pal_id']}").json()["document_ids"] == [html.json()["document_id"]]


@pytest.mark.parametrize(("what", "name", "data", "error_id"), hostile_documents(),
                         ids=[h[0] for h in hostile_documents()])
def test_bad_documents_are_400_and_nothing_is_stored(server: LiveServer, key: str, what: str, name: str,
                                                     data: bytes, error_id: str) -> None:
    before = _documents_on_disk(server)
    with server.client(key) as client:
        count = client.get("/v2/documents", params={"limit": 100}).json()["total_count"]
        resp = client.post("/v2/documents", json={"upload_id": _upload(client, name, data)})
        assert resp.status_code == 400, resp.text
        assert resp.json()["error_id"] == error_id, resp.json()
        assert client.get("/v2/documents", params={"limit": 100}).json()["total_count"] == count
    assert _documents_on_disk(server) == before


def test_bad_requests(server: LiveServer, key: str, receiver: Receiver) -> None:
    receiver.routes["/photo.png"] = (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with server.client(key) as client:
        for body, words in [
            ({}, "exactly one"),
            ({"document_url": "http://x/y", "upload_id": "u1"}, "exactly one"),
            ({"upload_id": "unothere"}, "unknown upload"),
            ({"document_url": "ftp://example.com/a.pdf"}, "http"),
            ({"document_url": f"{receiver.url}/missing.pdf"}, "404"),
            ({"document_url": f"{receiver.url}/photo.png"}, "not an accepted"),
            ({"document_url": "http://x/y", "tags": "notalist"}, "tags"),
            ({"document_url": "http://x/y", "tags": [""]}, "tags"),
        ]:
            resp = client.post("/v2/documents", json=body)
            assert resp.status_code == 400 and words in resp.json()["error"], (body, resp.text)
        big = client.post("/v2/documents", json={"upload_id": _upload(client, "big.txt", b"a" * (50 * 2**20 + 1))})
        assert big.status_code == 413 and big.json()["error_id"] == "file_size"
        assert client.get("/v2/documents/dnothere").status_code == 404
        assert client.delete("/v2/documents/dnothere").status_code == 404
    with server.client(None) as client:
        assert client.get("/v2/documents").status_code == 401


def test_private_urls_are_refused_by_default(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> None:
    settings = make_settings(tmp_path_factory.mktemp("docs-private"), run_worker=False)
    key = new_key(settings, "private")
    receiver.routes["/a.txt"] = (200, "text/plain", b"Internal facts.")
    with live_server(settings) as server, server.client(key) as client:
        resp = client.post("/v2/documents", json={"document_url": f"{receiver.url}/a.txt"})
        assert resp.status_code == 400 and resp.json()["error_id"] == "download_link"
        assert "private" in resp.json()["error"]


def test_ssrf_targets_are_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = make_settings(tmp_path_factory.mktemp("docs-ssrf"), run_worker=False)
    key = new_key(settings, "ssrf")
    with live_server(settings) as server, server.client(key) as client:
        for url in SSRF_URLS:
            resp = client.post("/v2/documents", json={"document_url": url})
            assert resp.status_code == 400 and resp.json()["error_id"] == "download_link", (url, resp.text)
