"""``/v2/faces`` and its alias ``/v2/replicas``: one router factory over static schemas; requests take either
spelling of the renamed fields, responses follow the path used (``face_*`` or ``replica_*``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from facecraft.errors import InputError
from facecraft.service.deps import BaseUrlDep, LimitQuery, OwnerDep, PageQuery, RuntimeDep
from facecraft.service.face_service import (
    FaceSource,
    check_voice_name,
    create_face,
    delete_face,
    get_face,
    list_faces,
    own_face,
)
from facecraft.service.schemas import FaceCreate, FacePatch, FaceRename, public_models
from facecraft.service.views import Naming, face_view

__all__ = ["build_router"]

FaceTypeQuery = Annotated[str | None, Query(pattern="^(user|system)$")]
IdsQuery = Annotated[str | None, Query(max_length=2000, description="comma-separated ids")]


def build_router(naming: Naming) -> APIRouter:
    noun = naming.noun
    router = APIRouter(prefix=f"/v2/{noun}s", tags=[f"{noun}s"])
    models = public_models(noun)
    face_id_param = Path(alias=naming.id, max_length=40)

    def create(body: FaceCreate, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
        with rt.db.session() as session:
            face = create_face(
                session,
                rt.settings,
                owner_id=owner,
                name=body.name,
                source=_source(body),
                callback_url=body.callback_url,
                consent_video_url=body.consent_video_url,
                consent_attested=body.consent_attested,
                voice_name=body.voice_name,
                default_voice_id=body.default_voice_id,
                model_name=body.model_name,
                options={"auto_fix_training_image": body.auto_fix_training_image},
            )
            out = {naming.id: face.id, naming.name: face.name, "status": face.status}
        rt.wake_workers()
        return out

    def read(
        owner: OwnerDep,
        rt: RuntimeDep,
        base: BaseUrlDep,
        verbose: bool = False,
        *,
        face_id: str = face_id_param,
    ) -> dict[str, Any]:
        with rt.db.session() as session:
            face = get_face(session, owner_id=owner, face_id=face_id)
            return face_view(face, naming, base=base, verbose=verbose)

    def list_(
        owner: OwnerDep,
        rt: RuntimeDep,
        base: BaseUrlDep,
        limit: LimitQuery = 10,
        page: PageQuery = 1,
        verbose: bool = False,
        face_type: FaceTypeQuery = None,
        face_ids: IdsQuery = None,
        replica_type: FaceTypeQuery = None,
        replica_ids: IdsQuery = None,
    ) -> dict[str, Any]:
        """Tavus clients filter with ``replica_type``/``replica_ids``; ``face_type``/``face_ids`` are the same
        filters under the Face names (either pair works on either path)."""
        kind = face_type or replica_type
        if face_type and replica_type and face_type != replica_type:
            raise InputError("face_type and replica_type disagree")
        wanted = [x.strip() for x in ",".join(filter(None, (face_ids, replica_ids))).split(",") if x.strip()]
        with rt.db.session() as session:
            rows, total = list_faces(
                session,
                owner_id=owner,
                limit=limit,
                page=page,
                face_type=kind,
                face_ids=wanted or None,
            )
            return {
                "data": [face_view(f, naming, base=base, verbose=verbose) for f in rows],
                "total_count": total,
            }

    def rename(
        body: FaceRename, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep, *, face_id: str = face_id_param
    ) -> dict[str, Any]:
        with rt.db.session() as session:
            face = own_face(get_face(session, owner_id=owner, face_id=face_id))
            face.name = body.name
            session.flush()
            return face_view(face, naming, base=base)

    def patch(
        body: FacePatch, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep, *, face_id: str = face_id_param
    ) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        with rt.db.session() as session:
            face = own_face(get_face(session, owner_id=owner, face_id=face_id))
            if body.name is not None:
                face.name = body.name
            if "default_voice_id" in changes:
                check_voice_name(changes["default_voice_id"])
                face.default_voice_id = changes["default_voice_id"]
            session.flush()
            return face_view(face, naming, base=base, verbose=True)

    def delete(
        owner: OwnerDep, rt: RuntimeDep, hard: bool = False, *, face_id: str = face_id_param
    ) -> dict[str, Any]:
        with rt.db.session() as session:
            delete_face(session, rt.storage, owner_id=owner, face_id=face_id, hard=hard)
        return {naming.id: face_id, "status": "deleted", "hard": hard}

    one = "/{" + naming.id + "}"
    router.add_api_route(
        "", create, methods=["POST"], response_model=models["created"], summary=f"Create a {noun}"
    )
    router.add_api_route(
        "",
        list_,
        methods=["GET"],
        response_model=models["list"],
        summary=f"List {noun}s",
        response_model_exclude_unset=True,
    )
    router.add_api_route(
        one,
        read,
        methods=["GET"],
        response_model=models["one"],
        summary=f"Get a {noun}",
        response_model_exclude_unset=True,
    )
    router.add_api_route(
        one,
        patch,
        methods=["PATCH"],
        response_model=models["one"],
        summary=f"Merge-patch a {noun}",
        response_model_exclude_unset=True,
    )
    router.add_api_route(
        one + "/name",
        rename,
        methods=["PATCH"],
        response_model=models["one"],
        summary=f"Rename a {noun}",
        response_model_exclude_unset=True,
    )
    router.add_api_route(
        one, delete, methods=["DELETE"], response_model=models["deleted"], summary=f"Delete a {noun}"
    )
    return router


def _source(body: FaceCreate) -> FaceSource:
    video = [body.train_video_url, body.train_video_upload_id]
    image = [body.train_image_url, body.train_image_upload_id]
    given = [x for x in video + image if x is not None]
    if len(given) != 1:
        raise InputError(
            "give exactly one of train_video_url, train_image_url, train_video_upload_id "
            "or train_image_upload_id"
        )
    if any(x is not None for x in image):
        return FaceSource("image", url=image[0], upload_id=image[1])
    return FaceSource("video", url=video[0], upload_id=video[1])
