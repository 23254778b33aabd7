"""PALs: create, read, list, JSON-Patch, delete, and the checks that keep a stored PAL usable.

A PAL is validated as a whole on every write: ``POST`` validates the body, ``PATCH`` applies the RFC
6902 operations (``jsonpatch``) to the PAL's public document and validates the result the same way, so a
patch can never store what a create would refuse. API keys inside ``layers`` are stored as given and
shown masked (``…`` and the last 4 characters); a patched document that still holds the masked value
keeps the stored key. Stock PALs (``pal_type`` ``system``) are visible to every key and read-only.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import jsonpatch
from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from facecraft.errors import InputError, NotFoundError
from facecraft.llm.catalog import DEFAULT_MODEL, EMBEDDED_MODELS, is_vendor_alias
from facecraft.llm.factory import LLMDefaults
from facecraft.service.db import page_offset
from facecraft.service.fetch import check_url
from facecraft.service.ids import new_id
from facecraft.service.models import Document, Face, Pal
from facecraft.service.pal_schemas import PalBody, PatchOperation
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage
from facecraft.service.views import iso
from facecraft.speech.remote import SpeechDefaults

__all__ = [
    "PalNaming",
    "speech_defaults",
    "PAL",
    "PERSONA",
    "create_pal",
    "get_pal",
    "list_pals",
    "patch_pal",
    "delete_pal",
    "pal_view",
    "mask_secret",
    "session_pal",
    "llm_defaults",
]

log = logging.getLogger(__name__)

LEVELS = ("low", "medium", "high")
TTS_ENGINES = ("embedded", "piper", "openai")
STT_ENGINES = ("embedded", "whisper", "pocketsphinx", "openai")
TURN_MODELS = ("smart_turn", "silence")
# The vendor's turn models (sparrow-0/1) are end-of-turn classifiers: here that is pipecat's smart-turn.
_TURN_ALIASES = ("sparrow-0", "sparrow-1")
_READ_ONLY = ("id", "type", "created_at", "updated_at")
_SECRET_LAYERS = ("llm", "tts", "stt")


class PalNaming:
    """Field names of the path used: ``pal_*`` with ``default_face_id``, or ``persona_*`` with
    ``default_replica_id``."""

    def __init__(self, noun: str, face_noun: str) -> None:
        self.noun = noun
        self.id, self.name, self.type = f"{noun}_id", f"{noun}_name", f"{noun}_type"
        self.face = f"default_{face_noun}_id"


PAL, PERSONA = PalNaming("pal", "face"), PalNaming("persona", "replica")


def mask_secret(value: str | None) -> str | None:
    """A key as it is shown: the last 4 characters after an ellipsis (all hidden when it is short)."""
    if not value:
        return value
    return "…" + value[-4:] if len(value) >= 12 else "…"


def _masked_layers(layers: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(layers)
    for name in _SECRET_LAYERS:
        layer = out.get(name)
        if isinstance(layer, dict) and layer.get("api_key"):
            layer["api_key"] = mask_secret(layer["api_key"])
    return out


def pal_view(session: Session, pal: Pal, naming: PalNaming) -> dict[str, Any]:
    return {
        naming.id: pal.id,
        naming.name: pal.name,
        naming.type: pal.pal_type,
        "system_prompt": pal.system_prompt,
        "context": pal.context,
        "greeting": pal.greeting,
        "pipeline_mode": pal.pipeline_mode,
        naming.face: _default_face(session, pal),
        "document_ids": list(pal.document_ids or []),
        "layers": _masked_layers(pal.layers or {}),
        "created_at": iso(pal.created_at),
        "updated_at": iso(pal.updated_at),
    }


def _default_face(session: Session, pal: Pal) -> str | None:
    """A stock PAL names its stock Face by stock key: the Face id of this installation, if installed."""
    if pal.default_face_id or not pal.default_face_stock_key:
        return pal.default_face_id
    # `facecraft stock add` registers a stock Face under "stock:<key>" (facecraft.service.stock).
    return session.scalar(select(Face.id).where(
        Face.stock_key == f"stock:{pal.default_face_stock_key}", Face.deleted_at.is_(None),
        Face.status == "completed",
    ))


# --- validation ------------------------------------------------------------------------------------


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ())) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid PAL: " + "; ".join(parts)


def _validated(document: Any) -> PalBody:
    if not isinstance(document, dict):
        raise InputError("invalid PAL: the result must be a JSON object")
    try:
        return PalBody.model_validate(document)
    except ValidationError as exc:
        raise InputError(_describe(exc)) from exc


def _one_of(a: str | None, b: str | None, what: str) -> str | None:
    if a is not None and b is not None and a != b:
        raise InputError(f"{what} disagree: give one of them")
    return a if a is not None else b


def _check_choice(value: str | None, allowed: tuple[str, ...], where: str, hint: str = "") -> None:
    if value is not None and value not in allowed:
        raise InputError(f"{where} must be one of {', '.join(allowed)}, not {value!r}{hint}")


def _check_layers(layers: dict[str, Any], settings: Settings) -> None:
    """Semantic checks of values this server must be able to honour; every refusal names the field."""
    llm = layers.get("llm") or {}
    for name in _SECRET_LAYERS:
        layer = layers.get(name) or {}
        if layer.get("base_url"):
            check_url(layer["base_url"], allow_private=settings.allow_private_urls, error_id="invalid_input")
    if not llm.get("base_url"):
        model = llm.get("model")
        if model is not None and model not in EMBEDDED_MODELS and not is_vendor_alias(model):
            raise InputError(
                f"layers.llm.model {model!r} is not a model this server runs; give base_url for an "
                f"OpenAI-compatible endpoint, or one of {', '.join(EMBEDDED_MODELS)}"
            )
    tts = layers.get("tts") or {}
    engine = tts.get("tts_engine")
    _check_choice(engine, TTS_ENGINES, "layers.tts.tts_engine",
                  " (hosted voice services are reached with openai and base_url)")
    if engine == "openai" and not tts.get("base_url"):
        raise InputError("layers.tts.tts_engine openai needs layers.tts.base_url")
    if tts.get("voice_id") and engine in (None, "embedded", "piper"):
        from facecraft.speech.voices import get_voice

        try:
            get_voice(tts["voice_id"])
        except InputError as exc:
            raise InputError(f"layers.tts.voice_id: {exc.message}") from exc
    stt = layers.get("stt") or {}
    stt_engine = stt.get("stt_engine")
    if stt_engine is not None and not is_vendor_alias(stt_engine):
        _check_choice(stt_engine, STT_ENGINES, "layers.stt.stt_engine")
    if stt_engine == "openai" and not stt.get("base_url"):
        raise InputError("layers.stt.stt_engine openai needs layers.stt.base_url")
    flow = layers.get("conversational_flow") or {}
    turn = flow.get("turn_detection_model")
    if turn is not None and turn not in _TURN_ALIASES:
        _check_choice(turn, TURN_MODELS, "layers.conversational_flow.turn_detection_model")
    _check_choice(flow.get("turn_taking_patience"), LEVELS, "layers.conversational_flow.turn_taking_patience")
    for field in ("replica_interruptibility", "face_interruptibility"):  # "none": the caller never interrupts
        _check_choice(flow.get(field), (*LEVELS, "none"), f"layers.conversational_flow.{field}")
    _one_of(flow.get("replica_interruptibility"), flow.get("face_interruptibility"),
            "replica_interruptibility and face_interruptibility")
    perception = (layers.get("perception") or {}).get("perception_model")
    _check_choice(perception, ("off",), "layers.perception.perception_model",
                  " (this server offers no vision model)")


def _check_references(session: Session, owner_id: str, face_id: str | None, document_ids: list[str]) -> None:
    if face_id is not None:
        face = session.get(Face, face_id)
        if (face is None or face.deleted_at is not None
                or (face.face_type != "system" and face.owner_id != owner_id)):
            raise InputError(f"default face {face_id!r} does not exist (give the id of one of your Faces "
                             "or of a stock Face)")
        if face.status == "error":
            raise InputError(f"default face {face_id!r} failed to build and cannot hold a conversation")
    if len(set(document_ids)) != len(document_ids):
        raise InputError("document_ids holds the same document twice")
    if document_ids:
        found = set(session.scalars(select(Document.id).where(
            Document.id.in_(document_ids), Document.owner_id == owner_id)))
        missing = [d for d in document_ids if d not in found]
        if missing:
            raise InputError(f"document_ids: no such document {', '.join(repr(d) for d in missing)}")


def _apply(session: Session, settings: Settings, pal: Pal, body: PalBody, owner_id: str) -> None:
    """Check ``body`` as a whole PAL and write it into ``pal``."""
    name = _one_of(body.pal_name, body.persona_name, "pal_name and persona_name")
    face_id = _one_of(body.default_face_id, body.default_replica_id, "default_face_id and default_replica_id")
    system_prompt = body.system_prompt
    if body.pipeline_mode == "full" and not (system_prompt or "").strip():
        raise InputError("system_prompt is required when pipeline_mode is full (echo needs none)")
    layers = body.layers.model_dump(exclude_none=True) if body.layers is not None else {}
    _check_layers(layers, settings)
    document_ids = list(body.document_ids or [])
    _check_references(session, owner_id, face_id, document_ids)
    pal.name = name or ""
    pal.system_prompt = system_prompt
    pal.context = body.context
    pal.greeting = body.greeting
    pal.pipeline_mode = body.pipeline_mode
    pal.default_face_id = face_id
    pal.default_face_stock_key = None
    pal.document_ids = document_ids
    pal.layers = layers


# --- operations ------------------------------------------------------------------------------------


def create_pal(session: Session, settings: Settings, *, owner_id: str, body: PalBody) -> Pal:
    pal = Pal(id=new_id("p"), owner_id=owner_id, pal_type="user")
    _apply(session, settings, pal, body, owner_id)
    session.add(pal)
    session.flush()
    log.info("PAL %s created (%s)", pal.id, pal.name)
    return pal


def get_pal(session: Session, *, owner_id: str, pal_id: str) -> Pal:
    """A PAL this key may see: its own or a stock PAL."""
    pal = session.get(Pal, pal_id)
    if pal is None or (pal.pal_type != "system" and pal.owner_id != owner_id):
        raise NotFoundError(f"PAL {pal_id} not found")
    return pal


def _own(pal: Pal) -> Pal:
    if pal.pal_type == "system":
        raise InputError("stock PALs cannot be changed through the API: create your own PAL (you can copy "
                         "its fields)")
    return pal


def list_pals(
    session: Session, *, owner_id: str, limit: int, page: int, pal_type: str | None = None
) -> tuple[list[Pal], int]:
    query = select(Pal).where(or_(Pal.owner_id == owner_id, Pal.pal_type == "system"))
    if pal_type:
        query = query.where(Pal.pal_type == pal_type)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Pal.created_at.desc(), Pal.id).limit(limit).offset(page_offset(page, limit))
    ).all()
    return list(rows), int(total)


def patch_pal(
    session: Session,
    settings: Settings,
    *,
    owner_id: str,
    pal_id: str,
    operations: list[PatchOperation],
    naming: PalNaming,
) -> Pal:
    pal = _own(get_pal(session, owner_id=owner_id, pal_id=pal_id))
    if not operations:
        raise InputError("the JSON Patch is empty: give a list of operations")
    ops = [op.model_dump(by_alias=True, exclude_unset=True) for op in operations]
    read_only = {f"/{naming.noun}_{field}" for field in _READ_ONLY[:2]} | {f"/{f}" for f in _READ_ONLY[2:]}
    for op in ops:
        for key in ("path", "from"):
            if key in op and op[key] in read_only:
                raise InputError(f"{op[key]} cannot be changed")
    document = pal_view(session, pal, naming)
    try:
        patched = jsonpatch.apply_patch(document, ops)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise InputError(f"a JSON Patch test operation failed: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, ValueError) as exc:
        raise InputError(f"the JSON Patch cannot be applied: {exc}") from exc
    if isinstance(patched, dict):
        for field in read_only:
            patched.pop(field.lstrip("/"), None)
        _restore_secrets(patched, pal.layers or {})
    _apply(session, settings, pal, _validated(patched), owner_id)
    session.flush()
    return pal


def _restore_secrets(document: dict[str, Any], stored: dict[str, Any]) -> None:
    """A key still shown masked in the patched document is the stored key, unchanged."""
    layers = document.get("layers")
    if not isinstance(layers, dict):
        return
    for name in _SECRET_LAYERS:
        layer, old = layers.get(name), stored.get(name) or {}
        if isinstance(layer, dict) and old.get("api_key") and layer.get("api_key") == mask_secret(old["api_key"]):
            layer["api_key"] = old["api_key"]


def delete_pal(session: Session, *, owner_id: str, pal_id: str) -> None:
    pal = _own(get_pal(session, owner_id=owner_id, pal_id=pal_id))
    session.delete(pal)
    log.info("PAL %s deleted", pal_id)


def session_pal(session: Session, settings: Settings, storage: Storage, *, owner_id: str, pal_id: str
                ) -> dict[str, Any]:
    """What a conversation needs of a PAL (``SessionSpec.pal``), plain JSON so it can cross into the
    session process, which has no database: every field, api keys in full, the default Face resolved,
    ``llm`` resolved against the server settings (kwargs of :class:`~facecraft.llm.factory.LLMDefaults`
    and the PAL's own llm layer), and ``knowledge`` as the passage files of its documents
    (``facecraft.knowledge.load_passages`` each, then one ``KnowledgeBase`` for the session)."""
    from dataclasses import asdict

    from facecraft.service.document_service import passages_file

    pal = get_pal(session, owner_id=owner_id, pal_id=pal_id)
    layers = copy.deepcopy(pal.layers or {})
    llm = layers.setdefault("llm", {})
    if not llm.get("base_url") and not settings.llm_base_url and (llm.get("model") is None
                                                                 or is_vendor_alias(llm["model"])):
        llm["model"] = settings.llm_model or DEFAULT_MODEL
    documents = session.scalars(select(Document).where(
        Document.id.in_(list(pal.document_ids or [])), Document.owner_id == owner_id)).all()
    return {
        "pal_id": pal.id,
        "pal_name": pal.name,
        "system_prompt": pal.system_prompt,
        "context": pal.context,
        "greeting": pal.greeting,
        "pipeline_mode": pal.pipeline_mode,
        "default_face_id": _default_face(session, pal),
        "document_ids": list(pal.document_ids or []),
        "layers": layers,
        "llm_defaults": asdict(llm_defaults(settings)),
        "speech_defaults": asdict(speech_defaults(settings)),
        "knowledge": [{"document_id": d.id, "document_name": d.name, "passages": str(passages_file(storage, d.id))}
                      for d in documents],
    }


def speech_defaults(settings: Settings) -> SpeechDefaults:
    """The server's speech endpoints (``FACECRAFT_STT_*``, ``FACECRAFT_TTS_*``) for
    :func:`facecraft.speech.remote.make_stt` / ``make_tts``."""
    return SpeechDefaults(
        stt_base_url=settings.stt_base_url or None, stt_api_key=settings.stt_api_key or None,
        stt_model=settings.stt_model or None, tts_base_url=settings.tts_base_url or None,
        tts_api_key=settings.tts_api_key or None, tts_model=settings.tts_model or None,
        tts_voice=settings.tts_voice or None, timeout_s=settings.speech_timeout_s,
    )


def llm_defaults(settings: Settings) -> LLMDefaults:
    """The server's LLM settings (``FACECRAFT_LLM_*``) for :func:`facecraft.llm.factory.make_llm`."""
    return LLMDefaults(
        base_url=settings.llm_base_url or None,
        api_key=settings.llm_api_key or None,
        model=settings.llm_model or None,
        first_token_timeout_s=settings.llm_first_token_timeout_s,
        stall_timeout_s=settings.llm_stall_timeout_s,
    )
