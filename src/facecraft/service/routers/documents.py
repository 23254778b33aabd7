"""``/v2/documents``: knowledge for PALs (txt, md, pdf, html; up to 50 MB) from a URL (fetched with the
service's SSRF checks) or from ``POST /v2/uploads`` (``upload_id``, ours)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from facecraft.service.deps import LimitQuery, OwnerDep, PageQuery, RuntimeDep
from facecraft.service.document_service import (
    create_document,
    delete_document,
    document_view,
    get_document,
    list_documents,
)
from facecraft.service.schemas import Line, Url

__all__ = ["router", "DocumentCreate", "DocumentPatch", "DocumentPublic", "DocumentList", "DocumentDeleted"]

router = APIRouter(prefix="/v2/documents", tags=["documents"])

Tag = Annotated[Line, Field(min_length=1, max_length=100)]
Tags = Annotated[list[Tag], Field(max_length=50)]


class DocumentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    document_url: Url | None = Field(default=None, description="an http(s) URL of a txt, md, pdf or html file")
    upload_id: Annotated[Line, Field(max_length=40)] | None = Field(
        default=None, description="(ours) a file sent to POST /v2/uploads")
    document_name: Annotated[Line, Field(max_length=300)] | None = None
    tags: Tags | None = None
    callback_url: Url | None = Field(default=None, description="accepted; the document is ready when created")


class DocumentPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    document_name: Annotated[Line, Field(min_length=1, max_length=300)] | None = None
    tags: Tags | None = None


class DocumentPublic(BaseModel):
    document_id: str
    document_name: str
    document_url: str | None = None
    upload_id: str | None = None
    status: str = Field(description="ready")
    tags: list[str]
    file_type: str | None = Field(default=None, description="txt | md | pdf | html")
    size_bytes: int | None = None
    chars: int | None = Field(default=None, description="characters of text extracted")
    chunk_count: int | None = Field(default=None, description="passages indexed for retrieval")
    error_id: str | None = None
    error_message: str | None = None
    created_at: str
    updated_at: str


class DocumentList(BaseModel):
    data: list[DocumentPublic]
    total_count: int


class DocumentDeleted(BaseModel):
    document_id: str
    status: str


DocumentId = Annotated[str, Path(max_length=40)]
TagsQuery = Annotated[str | None, Query(max_length=2000, description="comma-separated: any of these tags")]


@router.post("", response_model=DocumentPublic, summary="Add a knowledge document")
def create(body: DocumentCreate, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    with rt.db.session() as session:
        doc = create_document(session, rt.settings, rt.storage, owner_id=owner, name=body.document_name or "",
                              url=body.document_url, upload_id=body.upload_id, tags=list(body.tags or []))
        return document_view(doc)


@router.get("", response_model=DocumentList, summary="List knowledge documents")
def list_(owner: OwnerDep, rt: RuntimeDep, limit: LimitQuery = 10, page: PageQuery = 1,
          tags: TagsQuery = None) -> dict[str, Any]:
    wanted = [t.strip() for t in (tags or "").split(",") if t.strip()]
    with rt.db.session() as session:
        rows, total = list_documents(session, owner_id=owner, limit=limit, page=page, tags=wanted or None)
        return {"data": [document_view(d) for d in rows], "total_count": total}


@router.get("/{document_id}", response_model=DocumentPublic, summary="Get a knowledge document")
def read(document_id: DocumentId, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    with rt.db.session() as session:
        return document_view(get_document(session, owner_id=owner, document_id=document_id))


@router.patch("/{document_id}", response_model=DocumentPublic, summary="Rename or retag a document")
def patch(document_id: DocumentId, body: DocumentPatch, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    with rt.db.session() as session:
        doc = get_document(session, owner_id=owner, document_id=document_id)
        if body.document_name is not None:
            doc.name = body.document_name
        if body.tags is not None:
            doc.tags = list(body.tags)
        session.flush()
        return document_view(doc)


@router.delete("/{document_id}", response_model=DocumentDeleted, summary="Delete a knowledge document")
def delete(document_id: DocumentId, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    with rt.db.session() as session:
        delete_document(session, rt.storage, owner_id=owner, document_id=document_id)
    return {"document_id": document_id, "status": "deleted"}
