"""Speech by URL: the STT and TTS a PAL asks for, embedded or an OpenAI-compatible endpoint.

A PAL's ``layers.stt`` / ``layers.tts`` name an endpoint with ``base_url`` (plus ``api_key``, ``model``,
and for TTS ``voice_id``); where a PAL names none, the server's ``FACECRAFT_STT_*`` / ``FACECRAFT_TTS_*``
settings (:class:`SpeechDefaults`) may; otherwise the embedded recogniser (Whisper tiny.en, or PocketSphinx
when ``stt_engine`` asks for it) and the Face's own Piper voice speak. The clients themselves are
``speech.asr.OpenAIASR`` and ``speech.tts.OpenAITTS``; :func:`post` is the one HTTP call they share, which
turns every failure into a typed error (``SpeechTimeoutError`` for a timeout, ``SpeechServiceError`` for
the rest) that the conversation pipeline answers with its apology.

``base_url`` follows the OpenAI clients' convention (``https://host/v1``) as the LLM layer does; a URL
without the ``/v1`` suffix is taken as the server's root.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from facecraft.errors import SpeechServiceError, SpeechTimeoutError

__all__ = ["SpeechDefaults", "endpoint_url", "post", "make_stt", "make_tts", "DEFAULT_TIMEOUT_S"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SpeechDefaults:
    """Server-wide speech endpoints (``FACECRAFT_STT_*``, ``FACECRAFT_TTS_*``) used where a PAL names none."""

    stt_base_url: str | None = None
    stt_api_key: str | None = None
    stt_model: str | None = None
    tts_base_url: str | None = None
    tts_api_key: str | None = None
    tts_model: str | None = None
    tts_voice: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S


def endpoint_url(base_url: str, path: str) -> str:
    """``base_url`` + ``/v1`` + ``path`` (``path`` such as ``/audio/speech``), the ``/v1`` not doubled."""
    base = base_url.rstrip("/")
    return f"{base}{path}" if base.endswith("/v1") else f"{base}/v1{path}"


def post(url: str, *, what: str, api_key: str | None, timeout: float, **kwargs: Any) -> httpx.Response:
    """POST to a speech endpoint; the response when it answered 2xx.

    ``what`` names the service in errors ("transcription service", "TTS endpoint"). Raises
    SpeechTimeoutError when it does not answer within ``timeout`` seconds, SpeechServiceError when it is
    unreachable or answers an HTTP error (its status and the start of its body in the message).
    """
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Timeout(timeout, connect=min(timeout, _CONNECT_TIMEOUT_S))
    try:
        with httpx.Client(timeout=limits, trust_env=False) as client:
            response = client.post(url, headers=headers, **kwargs)
    except httpx.TimeoutException as exc:
        raise SpeechTimeoutError(f"the {what} at {url} did not answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise SpeechServiceError(f"the {what} at {url} is unreachable (could not be reached: {exc})") from exc
    if response.status_code >= 400:
        raise SpeechServiceError(
            f"the {what} answered HTTP {response.status_code}: {response.text[:200].strip()}")
    return response


def _pick(layer: dict[str, Any], key: str, default: str | None, same_server: bool) -> str | None:
    value = layer.get(key)
    if value:
        return str(value)
    return default if same_server else None


def make_stt(stt_layer: dict[str, Any] | None, defaults: SpeechDefaults | None = None) -> Any:
    """The recogniser of a PAL's ``layers.stt`` (an ``speech.asr.ASRBackend``).

    ``base_url`` (the PAL's, else the server's): ``OpenAIASR``; ``stt_engine`` ``pocketsphinx``:
    PocketSphinx; anything else (``embedded``, ``whisper``, none, vendor names): Whisper tiny.en (words
    only: a conversation has no use for their timings, and leaving them out halves the time; encoded in a
    window of ``LIVE_WINDOW_S``, which halves it again).
    The server's api key and model go only to the server's own endpoint, never to a PAL's.
    """
    from facecraft.speech.asr import LIVE_WINDOW_S, OpenAIASR, PocketSphinxASR, WhisperASR

    layer = stt_layer or {}
    defaults = defaults or SpeechDefaults()
    base_url = layer.get("base_url") or defaults.stt_base_url
    if base_url:
        same = not layer.get("base_url")
        return OpenAIASR(base_url, _pick(layer, "api_key", defaults.stt_api_key, same),
                         _pick(layer, "model", defaults.stt_model, same) or "whisper-1",
                         timeout=defaults.timeout_s)
    if layer.get("stt_engine") == "pocketsphinx":
        return PocketSphinxASR()
    return WhisperASR(word_timings=False, window_s=LIVE_WINDOW_S)


def make_tts(tts_layer: dict[str, Any] | None, defaults: SpeechDefaults | None = None, *,
             embedded: Callable[[], Any], timed: bool = True) -> Any:
    """The TTS of a PAL's ``layers.tts`` (a ``speech.tts.TTSBackend``).

    ``base_url`` (the PAL's, else the server's): ``OpenAITTS`` with ``model`` and ``voice_id`` (the
    endpoint's voice name); otherwise ``embedded()`` (the Face's own voice). ``timed`` False leaves an
    endpoint's audio without phone timings (no forced alignment per sentence): the Face then lip-syncs
    from the audio itself, which is what a live call wants.
    """
    from facecraft.speech.tts import OpenAITTS

    layer = tts_layer or {}
    defaults = defaults or SpeechDefaults()
    base_url = layer.get("base_url") or defaults.tts_base_url
    if not base_url:
        return embedded()
    same = not layer.get("base_url")
    return OpenAITTS(base_url, _pick(layer, "api_key", defaults.tts_api_key, same),
                     _pick(layer, "model", defaults.tts_model, same) or "tts-1",
                     _pick(layer, "voice_id", defaults.tts_voice, same) or "alloy",
                     timeout=defaults.timeout_s, timed=timed)
