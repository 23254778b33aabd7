"""``/v1/audio/transcriptions`` and ``/v1/audio/speech`` **(ours)**: the embedded Whisper tiny.en and Piper
voices behind OpenAI's speech protocol, so that one facecraft can be another's speech endpoint (a PAL's
``layers.stt`` / ``layers.tts`` ``base_url``, or ``FACECRAFT_STT_*`` / ``FACECRAFT_TTS_*``) and OpenAI
clients can use it unchanged.

Authenticated like ``/v2`` (``x-api-key``), or with ``Authorization: Bearer <key>`` as OpenAI clients send
it. Each request runs in its own process (``service.speech_tasks`` through ``service.isolation``): the API
process never decodes audio nor runs a model. Offered: ``response_format`` json, text and verbose_json
(words with ``timestamp_granularities[]=word``) for transcriptions; wav and pcm (16-bit mono 24 kHz) for
speech, whose ``voice`` is a stock voice id (``GET /v2/voices``) or one of OpenAI's names (the default voice).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Request, Security
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from facecraft.errors import AuthError, FacecraftError, InputError, JobBudgetError, SpeechError, TooLargeError
from facecraft.service.deps import RuntimeDep, api_key_header, require_key
from facecraft.service.isolation import Budget, Outcome, run_isolated
from facecraft.speech.voices import DEFAULT_VOICE_ID, get_voice

__all__ = ["router", "SpeechRequest", "MAX_TRANSCRIPTION_BYTES", "OPENAI_VOICES"]

router = APIRouter(prefix="/v1/audio", tags=["speech (OpenAI-compatible)"])

MAX_TRANSCRIPTION_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for an uploaded file
OPENAI_VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage",
                           "shimmer", "verse"})
_MEMORY_MB = 1500
_TIME_S = 300.0
_CHUNK = 1 << 16


def _owner(rt: RuntimeDep, key: Annotated[str | None, Security(api_key_header)] = None,
           authorization: Annotated[str | None, Header()] = None) -> str:
    """The caller's key from ``x-api-key`` or ``Authorization: Bearer``; 401 otherwise."""
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise AuthError("Invalid access token")
    return require_key(rt, key)


OpenAIOwner = Annotated[str, Depends(_owner)]


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="any name (tts-1, piper): the embedded Piper speaks")
    input: Annotated[str, Field(min_length=1, max_length=4096)]
    voice: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="a stock voice id (GET /v2/voices), or an OpenAI voice name (the default voice)")
    response_format: Literal["wav", "pcm"] = Field(
        default="wav", description="wav, or pcm (raw 16-bit mono little-endian at 24 kHz); no mp3/opus/aac/flac")
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0


def _isolated(rt: Any, task: str, payload: dict[str, Any], what: str) -> dict[str, Any]:
    outcome: Outcome = run_isolated(f"facecraft.service.speech_tasks:{task}", payload,
                                    Budget(memory_mb=_MEMORY_MB, time_s=_TIME_S, nice=0))
    if outcome.ending == "result":
        return dict(outcome.value)
    if outcome.ending == "error":
        error_id = outcome.error_id or "audio_processing"
        if error_id in ("invalid_input", "audio_file_max_duration"):
            raise InputError(outcome.message, error_id=error_id)
        raise SpeechError(outcome.message, error_id=error_id)
    if outcome.ending in ("memory", "timeout"):
        raise JobBudgetError(f"{what} went over its budget ({outcome.ending}); send shorter audio or text",
                             error_id="audio_processing")
    raise FacecraftError(f"{what} failed ({outcome.message or outcome.ending})", error_id="audio_processing")


def _save(upload: UploadFile, folder: Path) -> Path:
    """The uploaded file copied into ``folder`` (at most MAX_TRANSCRIPTION_BYTES)."""
    path = folder / "audio"
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(_CHUNK):
            size += len(chunk)
            if size > MAX_TRANSCRIPTION_BYTES:
                raise TooLargeError(f"the audio file is larger than {MAX_TRANSCRIPTION_BYTES} bytes",
                                    error_id="audio_file_max_size")
            out.write(chunk)
    if size == 0:
        raise InputError("the audio file is empty", error_id="audio_processing")
    return path


@router.post("/transcriptions", summary="Transcribe audio (OpenAI-compatible; embedded Whisper tiny.en)")
async def transcriptions(request: Request, rt: RuntimeDep, owner: OpenAIOwner) -> Response:
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise InputError("send the audio as multipart/form-data with a Content-Length")
    if int(declared) > MAX_TRANSCRIPTION_BYTES + 64 * 1024:
        raise TooLargeError(f"the audio file is larger than {MAX_TRANSCRIPTION_BYTES} bytes",
                            error_id="audio_file_max_size")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InputError("send the audio as multipart/form-data in a field named 'file'")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as exc:  # noqa: BLE001 - starlette's parser errors for a malformed body
        raise InputError(f"the multipart body could not be read: {exc}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InputError("no audio file: send it in a multipart field named 'file'")
        model = str(form.get("model") or "").strip()
        if not model:
            raise InputError("model is required (any name, e.g. whisper-1; pocketsphinx for PocketSphinx)")
        fmt = str(form.get("response_format") or "json")
        if fmt not in ("json", "text", "verbose_json"):
            raise InputError(f"response_format {fmt!r} is not offered: json, text or verbose_json")
        language = str(form.get("language") or "en").lower()
        if language not in ("en", "english"):
            raise InputError(f"language {language!r}: this server recognises English only")
        granularities = [str(g) for g in form.getlist("timestamp_granularities[]")]
        folder = rt.storage.tmp_dir / f"stt-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        try:
            path = await to_thread.run_sync(_save, upload, folder)
            payload = {"path": str(path), "engine": "pocketsphinx" if model == "pocketsphinx" else "whisper"}
            result = await to_thread.run_sync(_isolated, rt, "transcribe_task", payload, "transcription")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        await form.close()
    if fmt == "text":
        return PlainTextResponse(result["text"] + "\n")
    body: dict[str, Any] = {"text": result["text"]}
    if fmt == "verbose_json":
        body.update(task="transcribe", language="english", duration=result["duration"], segments=[])
        if "word" in granularities:
            body["words"] = result["words"]
    return JSONResponse(body)


@router.post("/speech", summary="Speak text (OpenAI-compatible; embedded Piper voices)",
             responses={200: {"content": {"audio/wav": {}, "audio/pcm": {}}}})
async def speech(body: SpeechRequest, rt: RuntimeDep, owner: OpenAIOwner) -> Response:
    voice = DEFAULT_VOICE_ID if body.voice.lower() in OPENAI_VOICES else get_voice(body.voice).voice_id
    if not body.input.strip():
        raise InputError("input is empty: there is nothing to say")
    folder = rt.storage.tmp_dir / f"tts-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    try:
        payload = {"text": body.input, "voice": voice, "speed": body.speed, "format": body.response_format,
                   "out": str(folder / f"speech.{body.response_format}")}
        result = await to_thread.run_sync(_isolated, rt, "speak_task", payload, "speech synthesis")
        audio = Path(result["path"]).read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    media_type = "audio/wav" if body.response_format == "wav" else "audio/pcm"
    return Response(audio, media_type=media_type)
