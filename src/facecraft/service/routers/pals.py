"""``/v2/pals`` and its legacy alias ``/v2/personas``: one router factory over static schemas; requests
take either spelling of the renamed fields, responses follow the path used (``pal_*`` or ``persona_*``).
``PATCH`` takes a JSON Patch (RFC 6902), as the vendor's clients send it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from facecraft.service.deps import LimitQuery, OwnerDep, PageQuery, RuntimeDep
from facecraft.service.pal_schemas import PalBody, PatchOperation, pal_public_models
from facecraft.service.pal_service import (
    PalNaming,
    create_pal,
    delete_pal,
    get_pal,
    list_pals,
    pal_view,
    patch_pal,
)

__all__ = ["build_pal_router"]

PalTypeQuery = Annotated[str | None, Query(pattern="^(user|system)$")]
PatchBody = Annotated[list[PatchOperation], Body(max_length=100, description="RFC 6902 operations")]


def build_pal_router(naming: PalNaming) -> APIRouter:
    noun = naming.noun
    router = APIRouter(prefix=f"/v2/{noun}s", tags=[f"{noun}s"])
    models = pal_public_models(noun)
    pal_id_param = Path(alias=naming.id, max_length=40)

    def create(body: PalBody, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
        with rt.db.session() as session:
            pal = create_pal(session, rt.settings, owner_id=owner, body=body)
            return pal_view(session, pal, naming)

    def read(owner: OwnerDep, rt: RuntimeDep, *, pal_id: str = pal_id_param) -> dict[str, Any]:
        with rt.db.session() as session:
            return pal_view(session, get_pal(session, owner_id=owner, pal_id=pal_id), naming)

    def list_(
        owner: OwnerDep,
        rt: RuntimeDep,
        limit: LimitQuery = 10,
        page: PageQuery = 1,
        pal_type: PalTypeQuery = None,
        persona_type: PalTypeQuery = None,
    ) -> dict[str, Any]:
        """``pal_type`` and ``persona_type`` are the same filter under either name."""
        with rt.db.session() as session:
            rows, total = list_pals(session, owner_id=owner, limit=limit, page=page,
                                    pal_type=pal_type or persona_type)
            return {"data": [pal_view(session, p, naming) for p in rows], "total_count": total}

    def patch(body: PatchBody, owner: OwnerDep, rt: RuntimeDep, *, pal_id: str = pal_id_param) -> dict[str, Any]:
        with rt.db.session() as session:
            pal = patch_pal(session, rt.settings, owner_id=owner, pal_id=pal_id, operations=body, naming=naming)
            return pal_view(session, pal, naming)

    def delete(owner: OwnerDep, rt: RuntimeDep, *, pal_id: str = pal_id_param) -> dict[str, Any]:
        with rt.db.session() as session:
            delete_pal(session, owner_id=owner, pal_id=pal_id)
        return {naming.id: pal_id, "status": "deleted"}

    one = "/{" + naming.id + "}"
    router.add_api_route("", create, methods=["POST"], response_model=models["created"],
                         summary=f"Create a {noun}")
    router.add_api_route("", list_, methods=["GET"], response_model=models["list"], summary=f"List {noun}s")
    router.add_api_route(one, read, methods=["GET"], response_model=models["one"], summary=f"Get a {noun}")
    router.add_api_route(one, patch, methods=["PATCH"], response_model=models["one"],
                         summary=f"Change a {noun} with a JSON Patch (RFC 6902)")
    router.add_api_route(one, delete, methods=["DELETE"], response_model=models["deleted"],
                         summary=f"Delete a {noun}")
    return router
