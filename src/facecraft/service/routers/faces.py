"""``/v2/faces`` and its alias ``/v2/replicas``: one router factory, field names follow the path used."""

# No `from __future__ import annotations`: FastAPI must see the locally built body models.

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from facecraft.service.deps import BaseUrlDep, LimitQuery, OwnerDep, PageQuery, RuntimeDep
from facecraft.service.errors import BadRequest
from facecraft.service.face_service import (
    FaceSource,
    check_voice_name,
    create_face,
    delete_face,
    get_face,
    list_faces,
)
from facecraft.service.schemas import (
    face_create_model,
    face_created_model,
    face_deleted_model,
    face_list_model,
    face_patch_model,
    face_public_model,
    face_rename_model,
)
from facecraft.service.views import Naming, face_view

__all__ = ["build_router"]


def build_router(naming: Naming) -> APIRouter:
    router = APIRouter(prefix=f"/v2/{naming.noun}s", tags=[f"{naming.noun}s"])
    Create = face_create_model(naming)
    Patch = face_patch_model(naming)
    Rename = face_rename_model(naming)
    noun = naming.noun
    FaceId = Annotated[str, Path(alias=naming.id, max_length=40)]

    def create(body: Create, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
        data = body.model_dump()
        source = _source(data, noun)
        with rt.db.session() as session:
            face = create_face(
                session,
                rt.settings,
                owner_id=owner,
                name=data[naming.name] or "",
                source=source,
                callback_url=data["callback_url"],
                consent_video_url=data["consent_video_url"],
                voice_name=data["voice_name"],
                default_voice_id=data["default_voice_id"],
                model_name=data["model_name"],
                options={"auto_fix_training_image": data["auto_fix_training_image"]},
            )
            out = {naming.id: face.id, naming.name: face.name, "status": face.status}
        rt.worker.wake()
        return out

    def read(
        face_id: FaceId, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep, verbose: bool = False
    ) -> dict:
        with rt.db.session() as session:
            return face_view(
                get_face(session, owner_id=owner, face_id=face_id), naming, base=base, verbose=verbose
            )

    def list_(
        owner: OwnerDep,
        rt: RuntimeDep,
        base: BaseUrlDep,
        limit: LimitQuery = 10,
        page: PageQuery = 1,
        verbose: bool = False,
        face_type: Annotated[str | None, Query(pattern="^(user|system)$")] = None,
        face_ids: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> dict[str, Any]:
        ids = [x.strip() for x in face_ids.split(",") if x.strip()] if face_ids else None
        with rt.db.session() as session:
            rows, total = list_faces(
                session, owner_id=owner, limit=limit, page=page, face_type=face_type, face_ids=ids
            )
            return {
                "data": [face_view(f, naming, base=base, verbose=verbose) for f in rows],
                "total_count": total,
            }

    def rename(face_id: FaceId, body: Rename, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep) -> dict:
        with rt.db.session() as session:
            face = _own(get_face(session, owner_id=owner, face_id=face_id))
            face.name = getattr(body, naming.name)
            session.flush()
            return face_view(face, naming, base=base)

    def patch(face_id: FaceId, body: Patch, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep) -> dict:
        changes = body.model_dump(exclude_unset=True)
        with rt.db.session() as session:
            face = _own(get_face(session, owner_id=owner, face_id=face_id))
            if changes.get(naming.name) is not None:
                face.name = changes[naming.name]
            if "default_voice_id" in changes:
                check_voice_name(changes["default_voice_id"])
                face.default_voice_id = changes["default_voice_id"]
            session.flush()
            return face_view(face, naming, base=base, verbose=True)

    def delete(face_id: FaceId, owner: OwnerDep, rt: RuntimeDep, hard: bool = False) -> dict[str, Any]:
        with rt.db.session() as session:
            delete_face(session, rt.storage, owner_id=owner, face_id=face_id, hard=hard)
        return {naming.id: face_id, "status": "deleted", "hard": hard}

    Public = face_public_model(naming)
    one = "/{" + naming.id + "}"
    short = {"response_model_exclude_unset": True}
    router.add_api_route(
        "", create, methods=["POST"], response_model=face_created_model(naming), summary=f"Create a {noun}"
    )
    router.add_api_route(
        "",
        list_,
        methods=["GET"],
        response_model=face_list_model(naming, Public),
        summary=f"List {noun}s",
        **short,
    )
    router.add_api_route(one, read, methods=["GET"], response_model=Public, summary=f"Get a {noun}", **short)
    router.add_api_route(
        one, patch, methods=["PATCH"], response_model=Public, summary=f"Merge-patch a {noun}", **short
    )
    router.add_api_route(
        one + "/name", rename, methods=["PATCH"], response_model=Public, summary=f"Rename a {noun}", **short
    )
    router.add_api_route(
        one, delete, methods=["DELETE"], response_model=face_deleted_model(naming), summary=f"Delete a {noun}"
    )
    return router


def _source(data: dict[str, Any], noun: str) -> FaceSource:
    video = [data["train_video_url"], data["train_video_upload_id"]]
    image = [data["train_image_url"], data["train_image_upload_id"]]
    given = [x for x in video + image if x is not None]
    if len(given) != 1:
        raise BadRequest(
            "give exactly one of train_video_url, train_image_url, train_video_upload_id "
            "or train_image_upload_id"
        )
    if any(x is not None for x in image):
        return FaceSource("image", url=image[0], upload_id=image[1])
    return FaceSource("video", url=video[0], upload_id=video[1])


def _own(face):  # noqa: ANN001, ANN202
    if face.face_type == "system":
        raise BadRequest("stock Faces cannot be changed through the API")
    return face
