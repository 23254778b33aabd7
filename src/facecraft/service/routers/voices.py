"""``/v2/voices`` **(ours)**: the stock voices a photo Face can be given (``voice_name`` /
``default_voice_id`` on ``POST /v2/faces``). A Face built from video speaks with its own adapted voice."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from facecraft.errors import InputError, NotFoundError
from facecraft.service.deps import OwnerDep
from facecraft.speech.voices import StockVoice, get_voice, list_voices, voice_available

__all__ = ["router", "VoicePublic", "VoiceList"]

router = APIRouter(prefix="/v2/voices", tags=["voices"])


class VoicePublic(BaseModel):
    voice_id: str = Field(description="the name to give as voice_name or default_voice_id")
    voice_name: str = Field(description="a display name")
    gender: str = Field(description="female or male")
    language: str
    accent: str
    engine: str = Field(description="piper (the packaged Piper voice, maybe transformed) or flite (Debian)")
    description: str
    available: bool = Field(description="false when this server lacks what the voice needs (flite)")


class VoiceList(BaseModel):
    data: list[VoicePublic]
    total_count: int


def _public(voice: StockVoice) -> VoicePublic:
    return VoicePublic(voice_id=voice.voice_id, voice_name=voice.name, gender=voice.gender,
                       language=voice.language, accent=voice.accent, engine=voice.engine,
                       description=voice.description, available=voice_available(voice))


@router.get("", response_model=VoiceList, summary="List the stock voices")
def list_(owner: OwnerDep,
          gender: Annotated[str | None, Query(pattern="^(female|male)$")] = None) -> VoiceList:
    voices = [_public(v) for v in list_voices() if gender is None or v.gender == gender]
    return VoiceList(data=voices, total_count=len(voices))


@router.get("/{voice_id}", response_model=VoicePublic, summary="Get a stock voice")
def read(voice_id: Annotated[str, Path(max_length=100)], owner: OwnerDep) -> VoicePublic:
    try:
        return _public(get_voice(voice_id))
    except InputError as exc:
        raise NotFoundError(exc.message) from exc
