"""Request and response schemas, each declared once and statically.

Faces are served under two names (``/v2/faces`` and its Tavus alias ``/v2/replicas``). Requests take
either spelling of the renamed fields (``face_name`` or ``replica_name``), so one body model serves both
paths; responses spell them as the path does, so the public model has a ``face_*`` and a ``replica_*``
subclass of one shared field set.

Validation is strict where a lax reading would hide a client's mistake: booleans are JSON booleans
(``"fast": "yes"`` is refused), and text fields refuse control characters (a script keeps line breaks
and tabs).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

__all__ = [
    "Flag",
    "Line",
    "ScriptText",
    "Url",
    "FaceCreate",
    "FacePatch",
    "FaceRename",
    "FaceCommon",
    "FacePublic",
    "ReplicaPublic",
    "FaceList",
    "ReplicaList",
    "FaceCreated",
    "ReplicaCreated",
    "FaceDeleted",
    "ReplicaDeleted",
    "CheckPublic",
    "ValidationPublic",
    "UploadPublic",
    "UploadDeleted",
    "VideoCreated",
    "VideoPublic",
    "VideoList",
    "VideoDeleted",
    "ImageValidation",
    "VideoValidation",
    "VideoCreate",
    "VideoRename",
    "public_models",
    "ConversationProperties",
    "ConversationCreate",
    "ConversationCreated",
    "ConversationPublic",
    "ConversationList",
    "ConversationDeleted",
    "SessionOffer",
    "SessionAnswer",
    "LANGUAGES",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _text(value: str) -> str:
    if _CONTROL_BUT_LINES.search(value):
        raise ValueError("must not contain control characters (line breaks and tabs are fine)")
    return value


Flag = StrictBool  # a JSON true/false; no "yes", 1 or "true"
Line = Annotated[str, AfterValidator(_one_line)]  # a name, an id: one line, no control characters
ScriptText = Annotated[str, AfterValidator(_text)]
Url = Annotated[str, Field(max_length=2048), AfterValidator(_one_line)]
Name = Annotated[Line, Field(max_length=300)]
Id = Annotated[Line, Field(max_length=40)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Public(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- Faces (and Replicas) ------------------------------------------------------------------------


class FaceCreate(_Body):
    face_name: Name | None = None
    replica_name: Name | None = Field(default=None, description="the Tavus spelling of face_name")
    train_video_url: Url | None = None
    train_image_url: Url | None = None
    train_video_upload_id: Id | None = None
    train_image_upload_id: Id | None = None
    callback_url: Url | None = None
    consent_video_url: Url | None = Field(
        default=None, description="a separate clip with the consent statement"
    )
    voice_name: Annotated[Line, Field(max_length=200)] | None = Field(
        default=None, description="Stock voice of a photo Face (required with an image; e.g. joe-us)"
    )
    default_voice_id: Annotated[Line, Field(max_length=200)] | None = Field(
        default=None, description="Used as the voice when voice_name is not given"
    )
    auto_fix_training_image: Flag = Field(
        default=False, description="Reframe a photo to a square head-and-shoulders crop"
    )
    consent_attested: Flag = Field(
        default=False,
        description="(ours) the operator attests the person's consent outside the footage; accepted only "
        "when the deployment allows it (FACECRAFT_ALLOW_CONSENT_ATTESTATION) and recorded on the Face",
    )
    model_name: Annotated[Line, Field(max_length=100)] | None = None

    @property
    def name(self) -> str:
        return self.face_name or self.replica_name or ""


class FacePatch(_Body):
    face_name: Annotated[Name, Field(min_length=1)] | None = None
    replica_name: Annotated[Name, Field(min_length=1)] | None = None
    default_voice_id: Annotated[Line, Field(max_length=200)] | None = None

    @property
    def name(self) -> str | None:
        return self.face_name or self.replica_name


class FaceRename(_Body):
    face_name: Annotated[Name, Field(min_length=1)] | None = None
    replica_name: Annotated[Name, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_name(self) -> FaceRename:
        if not (self.face_name or self.replica_name):
            raise ValueError("give face_name (or replica_name)")
        return self

    @property
    def name(self) -> str:
        return self.face_name or self.replica_name or ""


class FaceCommon(_Public):
    """The fields of a Face that do not depend on the path it is read through. Routes serialise with
    ``exclude_unset`` so that the verbose-only fields are absent, not null, in the short form."""

    status: str = Field(description="started | completed | error")
    training_progress: str = Field(description='"N/100"')
    error_message: str | None = Field(default=None, description="a human sentence")
    error_id: str | None = Field(default=None, description="the error id from API.md (ours)")
    thumbnail_video_url: str | None = None
    thumbnail_image_url: str | None = Field(default=None, description="(ours)")
    model_name: str | None = None
    created_at: str
    updated_at: str
    default_voice_id: str | None = None
    voice_name: str | None = None
    callback_url: str | None = None
    consent: dict[str, Any] | None = Field(
        default=None,
        description="(ours, verbose) how consent was established: statement, clip or attestation",
    )
    report: dict[str, Any] | None = Field(default=None, description="the check report (verbose)")


class FacePublic(FaceCommon):
    face_id: str
    face_name: str
    face_type: str = Field(description="user | system")


class ReplicaPublic(FaceCommon):
    replica_id: str
    replica_name: str
    replica_type: str = Field(description="user | system")


class FaceList(_Public):
    data: list[FacePublic]
    total_count: int


class ReplicaList(_Public):
    data: list[ReplicaPublic]
    total_count: int


class FaceCreated(_Public):
    face_id: str
    face_name: str
    status: str


class ReplicaCreated(_Public):
    replica_id: str
    replica_name: str
    status: str


class FaceDeleted(_Public):
    face_id: str
    status: str
    hard: bool


class ReplicaDeleted(_Public):
    replica_id: str
    status: str
    hard: bool


def public_models(noun: str) -> dict[str, type[BaseModel]]:
    """The response models of the Face routes under ``/v2/{noun}s``."""
    if noun == "face":
        return {"one": FacePublic, "list": FaceList, "created": FaceCreated, "deleted": FaceDeleted}
    return {"one": ReplicaPublic, "list": ReplicaList, "created": ReplicaCreated, "deleted": ReplicaDeleted}


# --- Validation ------------------------------------------------------------------------------------


class ImageValidation(_Body):
    imageBase64: str = Field(max_length=40_000_000)
    mimeType: Annotated[Line, Field(max_length=100)] | None = None


class VideoValidation(_Body):
    train_video_upload_id: Id | None = None
    train_video_url: Url | None = None


class CheckPublic(_Public):
    id: str
    label: str
    passed: bool
    status: str
    message: str
    ranges: list[list[float]]


class ValidationPublic(_Public):
    passed: bool
    checks: list[CheckPublic]
    details: dict[str, Any]


# --- Uploads ---------------------------------------------------------------------------------------


class UploadPublic(_Public):
    upload_id: str
    file_name: str
    content_type: str
    size_bytes: int
    created_at: str


class UploadDeleted(_Public):
    upload_id: str
    status: str


# --- Videos ----------------------------------------------------------------------------------------


class VideoCreate(_Body):
    replica_id: Id | None = None
    face_id: Id | None = None
    script: ScriptText | None = None
    audio_url: Url | None = None
    audio_upload_id: Id | None = None
    video_name: Name | None = None
    callback_url: Url | None = None
    background_url: Url | None = None
    background_source_url: Url | None = None
    fast: Flag = False
    transparent_background: Flag = False
    watermark_image_url: Url | None = None
    emotion: Annotated[Line, Field(max_length=40)] | None = Field(
        default=None, description="(ours) the emotion the Face shows and speaks with until the script's first "
        "<emotion/> tag (the whole video for audio): neutral, angry, excited, elated, content, sad, dejected, "
        "scared, contempt, disgusted, surprised")
    emotion_intensity: float | None = Field(
        default=None, description="(ours) how strongly, 0..1 (default 1); needs emotion")


class VideoRename(_Body):
    video_name: Annotated[Name, Field(min_length=1)]


class VideoCreated(_Public):
    video_id: str
    video_name: str
    status: str
    hosted_url: str
    created_at: str


class VideoPublic(_Public):
    video_id: str
    video_name: str
    replica_id: str
    face_id: str
    status: str = Field(description="queued | generating | ready | error | deleted")
    status_details: str | None = None
    error_id: str | None = None
    generation_progress: str = Field(description='"N/100"')
    download_url: str | None = None
    stream_url: str | None = Field(default=None, description="HLS playlist")
    hosted_url: str
    duration_s: float | None = None
    data: dict[str, str]
    created_at: str
    updated_at: str


class VideoList(_Public):
    data: list[VideoPublic]
    total_count: int


class VideoDeleted(_Public):
    video_id: str
    status: str


# --- Conversations ---------------------------------------------------------------------------------

# The spoken languages of this deployment's voices (Piper and flite English voices): a request for another
# language is refused rather than answered in English. Tavus spells languages as English names.
LANGUAGES = frozenset({"english", "en", "en-us", "en-gb"})


def _language(value: str) -> str:
    if value.strip().lower() not in LANGUAGES:
        raise ValueError(f"language {value!r} is not supported by this deployment (its voices speak english)")
    return value.strip().lower()


class ConversationProperties(BaseModel):
    """``properties`` of a new conversation. Unknown names are refused (a misspelt timeout would otherwise
    be ignored in silence); times are whole seconds, as in the Tavus API."""

    model_config = ConfigDict(extra="forbid")

    max_call_duration: Annotated[StrictInt, Field(ge=10, le=86_400)] = Field(
        default=3600, description="seconds; the call ends (reason max_call_duration) after this long"
    )
    participant_left_timeout: Annotated[StrictInt, Field(ge=0, le=3600)] = Field(
        default=60, description="seconds the call stays open after the participant leaves"
    )
    participant_absent_timeout: Annotated[StrictInt, Field(ge=10, le=86_400)] = Field(
        default=300, description="seconds the call waits for a participant to join"
    )
    enable_recording: Flag = Field(default=False, description="not supported yet: true is refused")
    enable_closed_captions: Flag = Field(default=True, description="captions of what the Face says on the page")
    enable_transcription: Flag = Field(default=True, description="what the Face said, in ?verbose=true")
    apply_greenscreen: Flag = Field(default=False, description="not supported yet: true is refused")
    language: Annotated[Line, Field(max_length=40), AfterValidator(_language)] = "english"


class ConversationCreate(_Body):
    face_id: Id | None = None
    replica_id: Id | None = Field(default=None, description="the Tavus spelling of face_id")
    pal_id: Id | None = Field(default=None, description="a PAL; without one the conversation runs in echo mode")
    persona_id: Id | None = Field(default=None, description="the Tavus spelling of pal_id")
    conversation_name: Name | None = None
    conversational_context: Annotated[ScriptText, Field(max_length=100_000)] | None = None
    custom_greeting: Annotated[ScriptText, Field(max_length=2_000)] | None = None
    callback_url: Url | None = None
    document_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    test_mode: Flag = Field(default=False, description="record the conversation but start no session")
    audio_only: Flag = Field(default=False, description="the call page plays the Face's audio only")
    properties: ConversationProperties = Field(default_factory=ConversationProperties)

    @model_validator(mode="after")
    def _one_each(self) -> ConversationCreate:
        if self.face_id and self.replica_id and self.face_id != self.replica_id:
            raise ValueError("face_id and replica_id name different Faces")
        if self.pal_id and self.persona_id and self.pal_id != self.persona_id:
            raise ValueError("pal_id and persona_id name different PALs")
        return self

    @property
    def face(self) -> str | None:
        return self.face_id or self.replica_id

    @property
    def pal(self) -> str | None:
        return self.pal_id or self.persona_id


class ConversationCreated(_Public):
    conversation_id: str
    conversation_name: str
    conversation_url: str = Field(description="the hosted call page; its token stops working when it ends")
    status: str = Field(description="active | ended")
    face_id: str
    replica_id: str
    pal_id: str | None = None
    persona_id: str | None = None
    callback_url: str | None = None
    interactions_url: str = Field(description="(ours) the interactions WebSocket (x-api-key)")
    created_at: str


class ConversationPublic(ConversationCreated):
    pipeline_mode: str = Field(description="echo | full")
    conversational_context: str | None = None
    custom_greeting: str | None = None
    audio_only: bool = False
    properties: dict[str, Any]
    shutdown_reason: str | None = Field(default=None, description="why it ended (ours)")
    updated_at: str
    ended_at: str | None = None
    events: list[dict[str, Any]] | None = Field(default=None, description="system events (verbose)")
    transcript: list[dict[str, Any]] | None = Field(default=None, description="what was said (verbose)")


class ConversationList(_Public):
    data: list[ConversationPublic]
    total_count: int


class ConversationDeleted(_Public):
    conversation_id: str
    status: str


class SessionOffer(_Body):
    """A WebRTC offer from the call page or an aiortc client; a new offer replaces the call in progress."""

    sdp: Annotated[str, Field(min_length=1, max_length=200_000)]
    type: Literal["offer"]


class SessionAnswer(_Public):
    sdp: str
    type: str
    pc_id: str | None = None
