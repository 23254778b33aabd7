"""The service's one configuration class (environment variables ``FACECRAFT_*`` or a ``.env`` file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "IceServer", "MB", "load_settings", "normalize_database_url"]

MB = 1024 * 1024

# Plain PostgreSQL URL schemes (as libpq, Heroku and most hosting panels write them) and the
# SQLAlchemy dialect+driver they are served by: psycopg 3, the driver facecraft installs.
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_POSTGRES_DIALECT = "postgresql+psycopg://"


def normalize_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``; other URLs, an explicit
    driver included, are kept as given."""
    url = url.strip()
    for scheme in _POSTGRES_SCHEMES:
        if url.lower().startswith(scheme):
            return _POSTGRES_DIALECT + url[len(scheme) :]
    return url


class IceServer(BaseModel):
    """One STUN/TURN server, as a browser's ``RTCIceServer`` and aiortc's ``RTCIceServer`` take it."""

    model_config = ConfigDict(extra="forbid")

    urls: str | list[str]
    username: str | None = None
    credential: str | None = None

    @field_validator("urls")
    @classmethod
    def _ice_urls(cls, value: str | list[str]) -> str | list[str]:
        for url in [value] if isinstance(value, str) else value:
            if not url.startswith(("stun:", "turn:", "turns:")):
                raise ValueError(f"an ICE server URL starts with stun:, turn: or turns: (got {url!r})")
        return value

    def as_dict(self) -> dict[str, str | list[str]]:
        return self.model_dump(exclude_none=True)


class Settings(BaseSettings):
    """Everything a deployment can change. Defaults run fully offline on SQLite under ``data_dir``."""

    model_config = SettingsConfigDict(env_prefix="FACECRAFT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")  # relative to the working directory; /data/ is git-ignored
    # SQLite file under data_dir when empty; any SQLAlchemy URL otherwise (postgresql+psycopg://...).
    database_url: str = ""
    # Plain keys accepted in addition to the ones in the database (stored hashed at startup).
    api_keys: list[str] = Field(default_factory=list)
    # Fetching *_url inputs: private/loopback/link-local targets are refused unless this is set.
    allow_private_urls: bool = False
    max_upload_bytes: int = 750 * MB
    max_fetch_bytes: int = 750 * MB
    max_audio_bytes: int = 100 * MB
    fetch_timeout_s: float = 120.0
    # HMAC-SHA256 key of the X-Facecraft-Signature header; generated once into data_dir when empty.
    webhook_secret: str = ""
    webhook_attempts: int = 5
    webhook_backoff_s: float = 2.0
    # Build Faces from the first N seconds of the training video only (0: the whole video).
    max_training_seconds: float = 0.0
    # A job whose process died (or whose worker stopped) this many times is failed instead of re-queued.
    max_job_attempts: int = 3
    # Base of the URLs handed out (download_url, hosted_url); taken from the request when empty.
    public_url: str = ""
    # Run job workers with the server (off: jobs wait for a `facecraft worker`, or for tests that must not
    # execute jobs).
    run_worker: bool = True
    # Jobs run at once by this server's workers, each in its own process.
    workers: int = 1
    # Budget of one job process: past it the job fails at once with a clear error (never retried).
    job_memory_mb: int = 3000
    build_time_s: float = 1800.0
    render_time_s: float = 3600.0
    # Budget of a check run for /v2/faces/*-validation (also in its own process).
    check_time_s: float = 300.0
    worker_poll_s: float = 1.0
    # Scheduling priority of job processes (os.nice increment): the API keeps its share of the CPU.
    job_nice: int = 10
    # Decoders refuse frames beyond these before allocating them (see facecraft.media.limits).
    max_video_pixels: int = 4096 * 2304
    max_image_pixels: int = 50_000_000
    # Consent (API.md): the training video must open with the consent statement, or a consent clip of the
    # same person must be given. When this is on, a Face created with ``consent_attested: true`` skips
    # those checks: the operator attests consent given outside the footage; it is recorded on the Face.
    allow_consent_attestation: bool = False
    # Live conversations: each session is one process; past this many at once, creating a conversation is
    # refused with HTTP 429 (a clear error, never a queue that hangs the caller).
    max_conversations: int = 3
    # STUN/TURN servers handed to the call page and to the session's peer, as JSON, e.g.
    # FACECRAFT_ICE_SERVERS='[{"urls": "stun:stun.example.org:3478"}]'. None are needed on one machine or a LAN.
    ice_servers: list[IceServer] = Field(default_factory=list)
    # Largest interactions message accepted on the WebSocket (an echo's base64 audio chunk included); the
    # session takes no larger message on its data channel either (docs/live.md).
    max_interaction_bytes: int = 200_000
    # The LLM of PALs that name no base_url: an OpenAI-compatible endpoint (the upgrade by URL), else the
    # embedded model (llm_model: an embedded model name; with llm_base_url, the endpoint's model name).
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    # A turn's LLM gives up (and the Face apologises) after this long without a first token / between two.
    llm_first_token_timeout_s: float = 20.0
    llm_stall_timeout_s: float = 10.0
    # Speech of PALs that name no base_url in layers.stt / layers.tts: OpenAI-compatible endpoints
    # (/v1/audio/transcriptions, /v1/audio/speech; the upgrade by URL), else the embedded Whisper tiny.en
    # and the Face's own Piper voice. A request that takes longer than speech_timeout_s fails (the Face
    # apologises). This server itself offers both routes, so one facecraft can be another's endpoint.
    stt_base_url: str = ""
    stt_api_key: str = ""
    stt_model: str = ""
    tts_base_url: str = ""
    tts_api_key: str = ""
    tts_model: str = ""
    tts_voice: str = ""
    speech_timeout_s: float = 30.0

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("max_upload_bytes", "max_fetch_bytes", "max_audio_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("size limits must be positive")
        return value

    @field_validator(
        "workers", "max_conversations", "max_interaction_bytes", "job_memory_mb", "max_video_pixels",
        "max_image_pixels", "max_job_attempts",
    )
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("build_time_s", "render_time_s", "check_time_s", "worker_poll_s", "llm_first_token_timeout_s",
                     "llm_stall_timeout_s", "speech_timeout_s")
    @classmethod
    def _positive_time(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @field_validator("max_training_seconds", "fetch_timeout_s", "webhook_backoff_s")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("llm_base_url", "stt_base_url", "tts_base_url")
    @classmethod
    def _endpoint_url(cls, value: str, info: ValidationInfo) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{info.field_name} must be an http(s) URL (an OpenAI-compatible endpoint, e.g. .../v1)")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value.rstrip("/")

    @cached_property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'facecraft.db'}"

    @cached_property
    def secret(self) -> str:
        """The webhook secret: configured, or created once and kept in ``data_dir/webhook_secret``."""
        if self.webhook_secret:
            return self.webhook_secret
        import secrets

        path = self.data_dir / "webhook_secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment/.env (``data_dir`` overrides); a bad value is an InputError, not a
    traceback."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from facecraft.errors import InputError

    try:
        return Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except SettingsError as exc:  # a value that is not the JSON a list setting needs
        raise InputError(f"bad facecraft configuration (FACECRAFT_* / .env): {exc} (give it as JSON)") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"bad facecraft configuration (FACECRAFT_* / .env): {problems}") from exc
