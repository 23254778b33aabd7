"""Knowledge documents (``/v2/documents``): fetched (SSRF-safe) or taken from an upload, read in a child
process with a budget, stored as passages, and turned into a :class:`~facecraft.knowledge.KnowledgeBase`
for a conversation (``knowledge_for``).

A document is processed while its ``POST`` waits (seconds for a typical file; the fetch and extraction
limits bound it): the answer is the ready document, or a 400 with the error id (``document_format``,
``document_empty``, ``file_size``, ``download_link``) and nothing stored.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facecraft.errors import DocumentError, InputError, JobBudgetError, NotFoundError, TooLargeError
from facecraft.knowledge import Chunk, KnowledgeBase, load_passages
from facecraft.service.db import page_offset
from facecraft.service.fetch import FetchLimits, fetch_to_file
from facecraft.service.ids import new_id
from facecraft.service.isolation import Budget, run_isolated
from facecraft.service.models import Document, Pal, Upload
from facecraft.service.settings import MB, Settings
from facecraft.service.storage import Storage
from facecraft.service.views import iso

__all__ = [
    "MAX_DOCUMENT_BYTES", "DOCUMENT_TYPES", "create_document", "get_document", "list_documents",
    "delete_document", "document_view", "knowledge_for", "document_dir", "passages_file",
]

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 50 * MB  # API.md: documents up to 50 MB
DOCUMENT_TYPES = ("text/", "application/pdf", "application/xhtml", "application/xml")
_EXTRACT_MEMORY_MB = 1500
_EXTRACT_TIME_S = 120.0


def document_dir(storage: Storage, document_id: str) -> Path:
    return storage.root / "documents" / document_id


def document_view(doc: Document) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "document_name": doc.name,
        "document_url": doc.document_url,
        "upload_id": doc.upload_id,
        "status": doc.status,
        "tags": list(doc.tags or []),
        "file_type": doc.kind,
        "size_bytes": doc.size_bytes,
        "chars": doc.chars,
        "chunk_count": doc.chunks,
        "error_id": doc.error_id,
        "error_message": doc.error_message,
        "created_at": iso(doc.created_at),
        "updated_at": iso(doc.updated_at),
    }


def _extract(settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    budget = Budget(memory_mb=_EXTRACT_MEMORY_MB, time_s=_EXTRACT_TIME_S, nice=settings.job_nice)
    outcome = run_isolated("facecraft.service.document_tasks:extract_document_task", payload, budget)
    if outcome.ending == "result":
        return dict(outcome.value)
    if outcome.ending == "error":
        raise DocumentError(outcome.message, error_id=outcome.error_id or "document_format")
    if outcome.ending == "memory":
        raise JobBudgetError(f"reading the document needed more than {budget.memory_mb} MB of memory; "
                             "it may be damaged or hostile", error_id="document_format")
    if outcome.ending == "timeout":
        raise JobBudgetError(f"reading the document took longer than {budget.time_s:.0f} s; split it",
                             error_id="document_format")
    raise DocumentError(f"the document could not be read ({outcome.message})")


def create_document(session: Session, settings: Settings, storage: Storage, *, owner_id: str, name: str,
                    url: str | None, upload_id: str | None, tags: list[str]) -> Document:
    if (url is None) == (upload_id is None):
        raise InputError("give exactly one of document_url or upload_id")
    doc_id = new_id("d")
    folder = document_dir(storage, doc_id)
    scratch = storage.tmp_dir / f"doc-{doc_id}"
    try:
        if upload_id is not None:
            upload = session.get(Upload, upload_id)
            if upload is None or upload.owner_id != owner_id:
                raise InputError(f"unknown upload id {upload_id!r}")
            source, file_name, ctype, size = Path(upload.path), upload.file_name, upload.content_type, upload.size_bytes
            if size > MAX_DOCUMENT_BYTES:
                raise TooLargeError(f"the document is {size / MB:.1f} MB; documents may be at most "
                                    f"{MAX_DOCUMENT_BYTES // MB} MB")
        else:
            limits = FetchLimits(max_bytes=MAX_DOCUMENT_BYTES, timeout_s=settings.fetch_timeout_s,
                                 allow_private=settings.allow_private_urls, content_types=DOCUMENT_TYPES,
                                 type_error="document_format")
            fetched = fetch_to_file(url or "", scratch / "document", limits=limits)
            source, ctype, size = fetched.path, fetched.content_type, fetched.size_bytes
            file_name = Path(fetched.url.split("?", 1)[0]).name
        result = _extract(settings, {
            "path": str(source), "file_name": file_name, "content_type": ctype, "document_id": doc_id,
            "document_name": name, "out": str(passages_file(storage, doc_id)),
        })
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    doc = Document(id=doc_id, owner_id=owner_id, name=name or file_name, document_url=url, upload_id=upload_id,
                   tags=tags, status="ready", kind=result["kind"], size_bytes=size, chars=result["chars"],
                   chunks=result["chunks"])
    session.add(doc)
    session.flush()
    log.info("document %s ready: %s, %d passages", doc_id, result["kind"], result["chunks"])
    return doc


def get_document(session: Session, *, owner_id: str, document_id: str) -> Document:
    doc = session.get(Document, document_id)
    if doc is None or doc.owner_id != owner_id:
        raise NotFoundError(f"document {document_id} not found")
    return doc


def list_documents(session: Session, *, owner_id: str, limit: int, page: int, tags: list[str] | None = None
                   ) -> tuple[list[Document], int]:
    rows = session.scalars(select(Document).where(Document.owner_id == owner_id)
                           .order_by(Document.created_at.desc(), Document.id)).all()
    if tags:  # JSON lists: filtered here (portable across SQLite and PostgreSQL)
        rows = [d for d in rows if set(tags) & set(d.tags or [])]
    total = len(rows)
    start = page_offset(page, limit)
    return list(rows[start:start + limit]), total


def delete_document(session: Session, storage: Storage, *, owner_id: str, document_id: str) -> None:
    """Delete the document; PALs that name it stop naming it (a PAL must stay valid)."""
    doc = get_document(session, owner_id=owner_id, document_id=document_id)
    for pal in session.scalars(select(Pal).where(Pal.owner_id == owner_id)):
        if document_id in (pal.document_ids or []):
            pal.document_ids = [d for d in pal.document_ids if d != document_id]
    folder = document_dir(storage, doc.id)
    if folder.exists():
        storage.remove(folder)
    session.delete(doc)


def knowledge_for(session: Session, storage: Storage, *, owner_id: str, document_ids: list[str]) -> KnowledgeBase:
    """The passages of these documents, indexed (a conversation builds this once, at its start)."""
    chunks: list[Chunk] = []
    for document_id in document_ids:
        doc = get_document(session, owner_id=owner_id, document_id=document_id)
        chunks.extend(load_passages(passages_file(storage, doc.id), document_id=doc.id, document_name=doc.name))
    return KnowledgeBase(chunks)


def passages_file(storage: Storage, document_id: str) -> Path:
    return document_dir(storage, document_id) / "chunks.json"

