"""Uploads: a multipart body streamed straight to ``<data_dir>/uploads/<id>/`` with a hard size limit."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from sqlalchemy.orm import Session
from starlette.requests import Request

from facecraft.errors import InputError, NotFoundError, TooLargeError
from facecraft.service.ids import new_id
from facecraft.service.models import Upload
from facecraft.service.storage import Storage

__all__ = ["ReceivedFile", "receive_upload", "get_upload", "delete_upload"]

log = logging.getLogger(__name__)
FILE_FIELD = "file"


@dataclass
class ReceivedFile:
    upload_id: str
    file_name: str
    content_type: str
    size_bytes: int
    path: Path


class _TooLarge(Exception):
    pass


async def receive_upload(request: Request, storage: Storage, *, max_bytes: int) -> ReceivedFile:
    """Parse ``multipart/form-data`` incrementally; the first part named ``file`` is written to disk."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InputError("send the file as multipart/form-data in a field named 'file'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise TooLargeError(_too_large(max_bytes))

    upload_id = new_id("u")
    folder = storage.upload_dir(upload_id)
    folder.mkdir(parents=True)
    state: dict = {"headers": {}, "field": b"", "value": b"", "out": None, "done": None, "size": 0}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"].decode("utf-8", "replace")
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        disp, disp_params = parse_options_header(state["headers"].get("content-disposition", ""))
        name = disp_params.get(b"name", b"").decode("utf-8", "replace")
        if state["done"] is None and state["out"] is None and name == FILE_FIELD:
            file_name = _safe_name(disp_params.get(b"filename", b"upload").decode("utf-8", "replace"))
            part_type = state["headers"].get("content-type", "application/octet-stream")
            state["meta"] = (file_name, part_type[:200])
            state["out"] = (folder / file_name).open("wb")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["out"] is not None:
            state["size"] += end - start
            if state["size"] > max_bytes:
                raise _TooLarge
            state["out"].write(data[start:end])

    def on_part_end() -> None:
        if state["out"] is not None:
            state["out"].close()
            state["done"], state["out"] = state["meta"], None
        state["headers"] = {}

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except _TooLarge:
        _discard(storage, folder, state)
        raise TooLargeError(_too_large(max_bytes)) from None
    except Exception as exc:  # malformed multipart from the client
        _discard(storage, folder, state)
        raise InputError(f"the multipart body could not be read: {exc}") from exc
    if state["done"] is None:
        _discard(storage, folder, state)
        raise InputError("no file found: send it in a multipart field named 'file'")
    file_name, part_type = state["done"]
    log.info("received upload %s (%s, %d bytes)", upload_id, file_name, state["size"])
    return ReceivedFile(upload_id, file_name, part_type, state["size"], folder / file_name)


def _discard(storage: Storage, folder: Path, state: dict) -> None:
    if state["out"] is not None:
        state["out"].close()
    storage.remove(folder)


def _too_large(max_bytes: int) -> str:
    return f"the upload is larger than the limit of {max_bytes} bytes"


def _safe_name(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name.replace("\\", "/")).name).strip("._")
    return (name or "upload")[:100]


def get_upload(session: Session, *, owner_id: str, upload_id: str) -> Upload:
    row = session.get(Upload, upload_id)
    if row is None or row.owner_id != owner_id:
        raise NotFoundError(f"upload {upload_id} not found")
    return row


def delete_upload(session: Session, storage: Storage, *, owner_id: str, upload_id: str) -> None:
    row = get_upload(session, owner_id=owner_id, upload_id=upload_id)
    storage.remove(storage.upload_dir(row.id))
    session.delete(row)
