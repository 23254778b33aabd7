"""Helpers of the conversation tests: a ready Face in a server's database, Faces in other states, the
session processes that are running, signed webhooks."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from facecraft.service.db import Database
from facecraft.service.ids import new_id, new_token
from facecraft.service.models import Face
from facecraft.service.settings import Settings
from facecraft.service.stock import install_stock_faces
from facecraft.service.webhooks import SIGNATURE_HEADER, sign
from tests.service.helpers import Receiver


def install_face(settings: Settings, bundle_dir: Path) -> str:
    """The small test bundle installed as a (stock) Face every key may talk to; its id."""
    ids = install_stock_faces(bundle_dir, settings=settings)
    assert len(ids) == 1, ids
    return ids[0]


def add_face(settings: Settings, owner_id: str | None, status: str) -> str:
    """A Face row in ``status`` (``started``: training; ``error``) with no bundle."""
    db = Database(settings.db_url)
    try:
        with db.session() as session:
            face = Face(id=new_id("r"), owner_id=owner_id, face_type="user" if owner_id else "system",
                        name=f"a {status} Face", status=status, progress=40, source_kind="video",
                        share_token=new_token(), options={})
            session.add(face)
            return face.id
    finally:
        db.dispose()


def child_pids() -> set[int]:
    """Live processes whose parent is this test process (the server runs in a thread here, so its session
    processes are our children)."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def wait_for(predicate, timeout: float = 20.0, every: float = 0.1) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def webhooks_of(receiver: Receiver, conversation_id: str, secret: str = "test-secret") -> list[dict]:
    """The webhooks received for a conversation, each checked against its signature."""
    out = []
    for headers, body in receiver.received:
        payload = json.loads(body)
        if payload.get("conversation_id") != conversation_id:
            continue
        assert headers[SIGNATURE_HEADER.lower()] == sign(secret, body)
        out.append(payload)
    return out


def key_id(settings: Settings, plain: str) -> str:
    """The id of an API key (a Face's ``owner_id``)."""
    from facecraft.service.keys import lookup_key

    db = Database(settings.db_url)
    try:
        with db.session() as session:
            row = lookup_key(session, plain)
            assert row is not None
            return row.id
    finally:
        db.dispose()
