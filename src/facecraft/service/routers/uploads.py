"""``/v2/uploads`` (ours): multipart upload streamed to disk, so local users need no public URL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from facecraft.service.deps import OwnerDep, RuntimeDep
from facecraft.service.models import Upload
from facecraft.service.schemas import UploadDeleted, UploadPublic
from facecraft.service.upload_service import delete_upload, get_upload, receive_upload
from facecraft.service.views import iso

__all__ = ["router"]

router = APIRouter(prefix="/v2/uploads", tags=["uploads"])

MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _view(row: Upload) -> dict[str, Any]:
    return {
        "upload_id": row.id,
        "file_name": row.file_name,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "created_at": iso(row.created_at),
    }


@router.post(
    "",
    response_model=UploadPublic,
    openapi_extra=MULTIPART_BODY,
    responses={413: {"description": "larger than the upload limit (error_id file_size)"}},
    summary="Upload a training video, photo or audio file",
)
async def create_upload(request: Request, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    received = await receive_upload(request, rt.storage, max_bytes=rt.settings.max_upload_bytes)
    with rt.db.session() as session:
        row = Upload(
            id=received.upload_id,
            owner_id=owner,
            file_name=received.file_name,
            content_type=received.content_type,
            size_bytes=received.size_bytes,
            path=str(received.path),
        )
        session.add(row)
        session.flush()
        return _view(row)


@router.get("/{upload_id}", response_model=UploadPublic, summary="Get an upload's metadata")
def read_upload(upload_id: str, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    with rt.db.session() as session:
        return _view(get_upload(session, owner_id=owner, upload_id=upload_id))


@router.delete("/{upload_id}", response_model=UploadDeleted, summary="Delete an upload and its file")
def remove_upload(upload_id: str, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    with rt.db.session() as session:
        delete_upload(session, rt.storage, owner_id=owner, upload_id=upload_id)
    return {"upload_id": upload_id, "status": "deleted"}
