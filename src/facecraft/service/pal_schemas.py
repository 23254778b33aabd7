"""Schemas of ``/v2/pals`` (legacy alias ``/v2/personas``), declared once and statically.

Requests take either spelling of the renamed fields (``pal_name``/``persona_name``,
``default_face_id``/``default_replica_id``); responses spell them as the path does. The layer models
name the fields API.md lists plus the ones the vendor's own client (``tavus-cli``) sends, so that its
requests pass unchanged; a field nobody knows inside a layer is refused by name (a typo must not be
stored silently). Values facecraft cannot honour (a hosted TTS engine, a vision model) are refused in
``facecraft.service.pal_service`` with a sentence naming what this server offers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from facecraft.service.schemas import Flag, Line, ScriptText, Url

__all__ = [
    "LLMLayer",
    "TTSLayer",
    "STTLayer",
    "ConversationalFlowLayer",
    "PerceptionLayer",
    "Layers",
    "PalBody",
    "PalPublic",
    "PersonaPublic",
    "PalList",
    "PersonaList",
    "PalCreated",
    "PersonaCreated",
    "PalDeleted",
    "PersonaDeleted",
    "PatchOperation",
    "pal_public_models",
]

Name = Annotated[Line, Field(max_length=300)]
Id = Annotated[Line, Field(max_length=40)]
Word = Annotated[Line, Field(max_length=100)]
Secret = Annotated[Line, Field(max_length=1000)]
LongText = Annotated[ScriptText, Field(max_length=100_000)]
FreeDict = Annotated[dict[str, Any], Field(max_length=100)]
Queries = Annotated[list[Annotated[Line, Field(max_length=500)]], Field(max_length=20)]
ToolPrompt = Annotated[ScriptText, Field(max_length=5000)]


class _Layer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    description: Annotated[ScriptText, Field(max_length=2000)] | None = None
    parameters: FreeDict | None = None
    strict: Flag | None = None


class Tool(BaseModel):
    """An OpenAI-style function tool. A call is sent to the app as ``conversation.tool_call``; facecraft
    never executes it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["function"] = "function"
    function: ToolFunction




class LLMLayer(_Layer):
    model: Word | None = Field(
        default=None,
        description="an embedded model (see GET /v2/pals docs: facecraft-qwen2.5-0.5b, ...) or, with "
        "base_url, the endpoint's model name",
    )
    base_url: Url | None = Field(default=None, description="an OpenAI-compatible endpoint (…/v1)")
    api_key: Secret | None = Field(default=None, description="sent to base_url; never shown back in full")
    tools: Annotated[list[Tool], Field(max_length=50)] | None = None
    speculative_inference: Flag | None = None
    extra_body: FreeDict | None = None
    headers: FreeDict | None = None
    default_query: FreeDict | None = None
    disable_vision: Flag | None = None
    enable_llm_proxy: Flag | None = None
    model_name: Word | None = None
    is_custom: Flag | None = None
    endpoint: Url | None = None


class TTSLayer(_Layer):
    tts_engine: Word | None = Field(
        default=None, description="embedded (the Face's own voice; default) or openai (with base_url)"
    )
    voice_id: Word | None = None
    external_voice_id: Word | None = None
    tts_emotion_control: Flag | None = None
    voice_settings: FreeDict | None = None
    tts_model_name: Word | None = None
    base_url: Url | None = Field(default=None, description="(ours) an OpenAI-compatible /v1/audio/speech")
    api_key: Secret | None = None
    model: Word | None = None
    playht_user_id: Word | None = None
    pronunciation_dictionary_id: Id | None = None


class STTLayer(_Layer):
    stt_engine: Word | None = Field(
        default=None, description="embedded (default), whisper, pocketsphinx or openai (with base_url)"
    )
    hotwords: Annotated[Line, Field(max_length=2000)] | None = None
    participant_pause_sensitivity: Word | None = None
    participant_interrupt_sensitivity: Word | None = None
    smart_turn_detection: Flag | None = None
    base_url: Url | None = Field(default=None, description="(ours) an OpenAI-compatible transcriptions API")
    api_key: Secret | None = None
    model: Word | None = None


class ConversationalFlowLayer(_Layer):
    turn_detection_model: Word | None = Field(
        default=None, description="smart_turn (pipecat's smart-turn v3; default) or silence"
    )
    turn_taking_patience: Word | None = Field(default=None, description="low | medium | high")
    replica_interruptibility: Word | None = Field(default=None, description="low | medium | high | none")
    face_interruptibility: Word | None = Field(default=None, description="the same as replica_interruptibility")
    turn_commitment: Word | None = None
    active_listening: Word | None = None
    voice_isolation: Word | None = None
    noise_cancellation: Word | None = None
    wake_phrase: Word | None = None
    sleep_phrase: Word | None = None
    idle_engagement: Word | None = None


class PerceptionLayer(_Layer):
    perception_model: Word | None = Field(default=None, description="off (no vision model is offered)")
    visual_awareness_queries: Queries | None = None
    audio_awareness_queries: Queries | None = None
    perception_analysis_queries: Queries | None = None
    ambient_awareness_queries: Queries | None = None
    visual_tool_prompt: ToolPrompt | None = None
    audio_tool_prompt: ToolPrompt | None = None
    perception_tool_prompt: ToolPrompt | None = None
    tool_prompt: ToolPrompt | None = None


class Layers(_Layer):
    llm: LLMLayer | None = None
    tts: TTSLayer | None = None
    stt: STTLayer | None = None
    conversational_flow: ConversationalFlowLayer | None = None
    perception: PerceptionLayer | None = None
    # Accepted and stored for the vendor's clients; facecraft does not act on them.
    sts: FreeDict | None = None
    transport: FreeDict | None = None
    conferencing: FreeDict | None = None
    capabilities: FreeDict | None = None
    knowledge_base: FreeDict | None = None


class PalBody(BaseModel):
    """A whole PAL as a client writes it (``POST``), and as a JSON Patch leaves it (``PATCH``)."""

    model_config = ConfigDict(extra="ignore")

    pal_name: Name | None = None
    persona_name: Name | None = Field(default=None, description="the legacy spelling of pal_name")
    system_prompt: LongText | None = None
    context: LongText | None = None
    greeting: Annotated[ScriptText, Field(max_length=2000)] | None = Field(
        default=None, description="what the Face says when the caller joins (a conversation's "
        "custom_greeting overrides it)"
    )
    pipeline_mode: Literal["full", "echo"] = "full"
    default_face_id: Id | None = None
    default_replica_id: Id | None = Field(default=None, description="the legacy spelling of default_face_id")
    document_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    layers: Layers | None = None


class PatchOperation(BaseModel):
    """One RFC 6902 operation (the body of PATCH is a list of them)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: Annotated[str, Field(max_length=300)]
    value: Any = None
    from_: Annotated[str, Field(max_length=300)] | None = Field(default=None, alias="from")


class _Public(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PalCommon(_Public):
    system_prompt: str | None = None
    context: str | None = None
    greeting: str | None = None
    pipeline_mode: str = Field(description="full | echo")
    document_ids: list[str]
    layers: dict[str, Any] = Field(description="api_key values are shown masked (the last 4 characters)")
    created_at: str
    updated_at: str


class PalPublic(PalCommon):
    pal_id: str
    pal_name: str
    pal_type: str = Field(description="user | system (a stock PAL)")
    default_face_id: str | None = None


class PersonaPublic(PalCommon):
    persona_id: str
    persona_name: str
    persona_type: str = Field(description="user | system (a stock PAL)")
    default_replica_id: str | None = None


class PalList(_Public):
    data: list[PalPublic]
    total_count: int


class PersonaList(_Public):
    data: list[PersonaPublic]
    total_count: int


class PalCreated(PalPublic):
    pass


class PersonaCreated(PersonaPublic):
    pass


class PalDeleted(_Public):
    pal_id: str
    status: str


class PersonaDeleted(_Public):
    persona_id: str
    status: str


def pal_public_models(noun: str) -> dict[str, type[BaseModel]]:
    """The response models of the PAL routes under ``/v2/{noun}s`` (``pal`` or ``persona``)."""
    if noun == "pal":
        return {"one": PalPublic, "list": PalList, "created": PalCreated, "deleted": PalDeleted}
    return {"one": PersonaPublic, "list": PersonaList, "created": PersonaCreated, "deleted": PersonaDeleted}
