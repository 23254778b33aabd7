"""Request and response schemas; the Face ones exist twice (``face_*``/``replica_*``), from factories."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from facecraft.service.views import Naming

__all__ = [
    "face_public_model",
    "face_list_model",
    "face_created_model",
    "face_deleted_model",
    "CheckPublic",
    "ValidationPublic",
    "UploadPublic",
    "UploadDeleted",
    "VideoCreated",
    "VideoPublic",
    "VideoList",
    "VideoDeleted",
    "face_create_model",
    "face_patch_model",
    "face_rename_model",
    "ImageValidation",
    "VideoValidation",
    "VideoCreate",
    "VideoRename",
]

Url = str | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def face_create_model(naming: Naming) -> type[BaseModel]:
    fields: dict[str, Any] = {
        naming.name: (str | None, Field(default=None, max_length=300)),
        "train_video_url": (Url, None),
        "train_image_url": (Url, None),
        "train_video_upload_id": (str | None, Field(default=None, max_length=40)),
        "train_image_upload_id": (str | None, Field(default=None, max_length=40)),
        "callback_url": (Url, None),
        "consent_video_url": (Url, None),
        "voice_name": (
            str | None,
            Field(default=None, max_length=200,
                  description="Stock voice of a photo Face (required with an image; GET /v2/voices lists "
                              "them, e.g. ada-us)"),
        ),
        "default_voice_id": (
            str | None,
            Field(default=None, max_length=200, description="Used as the voice when voice_name is not given"),
        ),
        "auto_fix_training_image": (
            bool,
            Field(default=False, description="Reframe a photo to a square head-and-shoulders crop"),
        ),
        "model_name": (str | None, Field(default=None, max_length=100)),
    }
    return create_model(f"{naming.noun.title()}Create", __base__=_Body, **fields)


def face_patch_model(naming: Naming) -> type[BaseModel]:
    fields: dict[str, Any] = {
        naming.name: (str | None, Field(default=None, min_length=1, max_length=300)),
        "default_voice_id": (str | None, Field(default=None, max_length=200)),
    }
    return create_model(f"{naming.noun.title()}Patch", __base__=_Body, **fields)


def face_rename_model(naming: Naming) -> type[BaseModel]:
    fields: dict[str, Any] = {naming.name: (str, Field(min_length=1, max_length=300))}
    return create_model(f"{naming.noun.title()}Rename", __base__=_Body, **fields)


class ImageValidation(_Body):
    imageBase64: str = Field(max_length=40_000_000)
    mimeType: str | None = Field(default=None, max_length=100)


class VideoValidation(_Body):
    train_video_upload_id: str | None = Field(default=None, max_length=40)
    train_video_url: Url = None


class VideoCreate(_Body):
    replica_id: str | None = Field(default=None, max_length=40)
    face_id: str | None = Field(default=None, max_length=40)
    script: str | None = None
    audio_url: Url = None
    audio_upload_id: str | None = Field(default=None, max_length=40)
    video_name: str | None = Field(default=None, max_length=300)
    callback_url: Url = None
    background_url: Url = None
    background_source_url: Url = None
    fast: bool = False
    transparent_background: bool = False
    watermark_image_url: Url = None


class VideoRename(_Body):
    video_name: str = Field(min_length=1, max_length=300)


# --- Public (response) schemas: what clients get back; routes serialise with exclude_unset so the
# verbose-only fields are absent rather than null in the short form.


class _Public(BaseModel):
    model_config = ConfigDict(extra="ignore")


def face_public_model(naming: Naming) -> type[BaseModel]:
    fields: dict[str, Any] = {
        naming.id: (str, ...),
        naming.name: (str, ...),
        "status": (str, Field(description="started | completed | error")),
        "training_progress": (str, Field(description='"N/100"')),
        "error_message": (str | None, Field(default=None, description="a human sentence")),
        "error_id": (str | None, Field(default=None, description="the error id from API.md (ours)")),
        "thumbnail_video_url": (str | None, None),
        "thumbnail_image_url": (str | None, Field(default=None, description="(ours)")),
        "model_name": (str | None, None),
        naming.type: (str, Field(description="user | system")),
        "created_at": (str, ...),
        "updated_at": (str, ...),
        "default_voice_id": (str | None, None),
        "voice_name": (str | None, None),
        "callback_url": (str | None, None),
        "report": (dict[str, Any] | None, Field(default=None, description="the check report (verbose)")),
    }
    return create_model(f"{naming.noun.title()}Public", __base__=_Public, **fields)


def face_list_model(naming: Naming, public: type[BaseModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {"data": (list[public], ...), "total_count": (int, ...)}  # type: ignore[valid-type]
    return create_model(f"{naming.noun.title()}List", __base__=_Public, **fields)


def face_created_model(naming: Naming) -> type[BaseModel]:
    fields: dict[str, Any] = {naming.id: (str, ...), naming.name: (str, ...), "status": (str, ...)}
    return create_model(f"{naming.noun.title()}Created", __base__=_Public, **fields)


def face_deleted_model(naming: Naming) -> type[BaseModel]:
    fields: dict[str, Any] = {naming.id: (str, ...), "status": (str, ...), "hard": (bool, ...)}
    return create_model(f"{naming.noun.title()}Deleted", __base__=_Public, **fields)


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


class UploadPublic(_Public):
    upload_id: str
    file_name: str
    content_type: str
    size_bytes: int
    created_at: str


class UploadDeleted(_Public):
    upload_id: str
    status: str


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
