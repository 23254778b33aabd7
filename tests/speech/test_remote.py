"""Speech by URL against a real OpenAI-compatible server: ``facecraft serve`` itself (its ``/v1/audio/*``
routes, served by the embedded Whisper and Piper), started on a free loopback port; the clients
``OpenAIASR`` / ``OpenAITTS`` as ``speech.remote.make_stt`` / ``make_tts`` build them for a PAL.

Failures an honest server cannot be made to produce on demand (an endpoint that hangs, one that answers
200 with something that is not audio) come from a bare local socket / http.server.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest

from facecraft.errors import SpeechError, SpeechServiceError, SpeechTimeoutError
from facecraft.media import read_audio
from facecraft.speech.asr import OpenAIASR, PocketSphinxASR, WhisperASR, word_error_rate
from facecraft.speech.remote import SpeechDefaults, endpoint_url, make_stt, make_tts
from facecraft.speech.tts import OpenAITTS
from tests.utils import free_port, testdata_path
from tests.web.portal import Portal, served


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with served(tmp_path_factory.mktemp("speech-server")) as running:
        yield running


@pytest.fixture(scope="module")
def jfk():  # noqa: ANN201
    clip = read_audio(testdata_path("speech", "whisper_jfk.flac"), sample_rate=16000)
    return clip.samples, clip.sample_rate, testdata_path("speech", "whisper_jfk.txt").read_text()


def test_whisper_behind_the_transcriptions_route(server: Portal, jfk) -> None:  # noqa: ANN001
    samples, rate, reference = jfk
    asr = make_stt({"stt_engine": "openai", "base_url": server.base_url + "/v1", "api_key": server.key,
                    "model": "whisper-1"})
    assert isinstance(asr, OpenAIASR) and asr.url == server.base_url + "/v1/audio/transcriptions"
    transcript = asr.transcribe(samples, rate)
    assert word_error_rate(reference, transcript.text) <= 0.1, transcript.text
    assert transcript.words and all(0 <= w.start < w.end <= len(samples) / rate + 0.5 for w in transcript.words)


def test_speech_route_speaks_sentence_by_sentence_without_phones(server: Portal) -> None:
    tts = make_tts({"tts_engine": "openai", "base_url": server.base_url, "api_key": server.key,
                    "model": "tts-1", "voice_id": "alloy"}, embedded=_no_embedded, timed=False)
    assert isinstance(tts, OpenAITTS)
    chunks = list(tts.stream("My name is Ada. What would you like to know?"))
    assert [c.text for c in chunks] == ["My name is Ada.", "What would you like to know?"]
    assert all(c.sample_rate == 22050 and not c.phones for c in chunks)  # Piper's rate; lips from audio
    assert all(np.abs(c.samples).max() > 0.05 for c in chunks)
    samples, rate, alignment = tts.join(chunks)
    assert alignment.source == "none" and not alignment.phones
    # what the endpoint said is what was asked: recognised again by the same server
    heard = OpenAIASR(server.base_url, server.key, "whisper-1").transcribe(samples, rate)
    assert word_error_rate("My name is Ada. What would you like to know?", heard.text) <= 0.2, heard.text


def test_speech_route_pcm_stock_voice_and_forced_timings(server: Portal) -> None:
    tts = OpenAITTS(server.base_url + "/v1/", server.key, "piper", "ada-us", response_format="pcm")
    samples, rate, alignment = tts.synthesize("Set white with p two soon.")
    assert rate == 24000 and samples.size > rate
    assert alignment.source == "align" and [w.text.lower() for w in alignment.words][:2] == ["set", "white"]


def test_routes_take_bearer_or_x_api_key_and_refuse_others(server: Portal) -> None:
    body = {"model": "tts-1", "input": "Hi.", "voice": "joe-us"}
    url = server.base_url + "/v1/audio/speech"
    assert httpx.post(url, json=body, headers={"x-api-key": server.key}, timeout=120).status_code == 200
    for headers in ({}, {"Authorization": "Bearer nope"}, {"x-api-key": "nope"}):
        answer = httpx.post(url, json=body, headers=headers, timeout=30)
        assert answer.status_code == 401 and answer.json() == {"message": "Invalid access token"}
    with pytest.raises(SpeechServiceError, match="HTTP 401") as caught:
        OpenAITTS(server.base_url, "wrong-key", "tts-1", "alloy").synthesize("Hello.")
    assert caught.value.error_id == "speech_unavailable"
    with pytest.raises(SpeechServiceError, match="HTTP 401"):
        OpenAIASR(server.base_url, None, "whisper-1").transcribe(*_tone())


@pytest.mark.parametrize(("files", "data", "message"), [
    ({"file": ("a.wav", b"", "audio/wav")}, {"model": "whisper-1"}, "empty"),
    ({"file": ("a.wav", b"RIFF not really a wav file", "audio/wav")}, {"model": "whisper-1"}, ""),
    ({"file": ("a.wav", b"x" * 100, "audio/wav")}, {}, "model is required"),
    ({"file": ("a.wav", b"x" * 100, "audio/wav")}, {"model": "m", "response_format": "srt"}, "srt"),
    ({"file": ("a.wav", b"x" * 100, "audio/wav")}, {"model": "m", "language": "de"}, "English only"),
    ({}, {"model": "whisper-1"}, "multipart/form-data"),
])
def test_transcriptions_route_bad_input(server: Portal, files, data, message) -> None:  # noqa: ANN001
    answer = httpx.post(server.base_url + "/v1/audio/transcriptions", files=files or None,
                        data=data, headers={"Authorization": f"Bearer {server.key}"}, timeout=120)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"] and answer.json()["error_id"]


def test_transcriptions_route_formats_and_silence(server: Portal) -> None:
    wav = _wav(*_spoken("Good morning."))
    headers = {"Authorization": f"Bearer {server.key}"}
    url = server.base_url + "/v1/audio/transcriptions"
    text = httpx.post(url, files={"file": ("a.wav", wav, "audio/wav")},
                      data={"model": "whisper-1", "response_format": "text"}, headers=headers, timeout=120)
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "morning" in text.text.lower()
    silence = httpx.post(url, files={"file": ("s.wav", _wav(np.zeros(16000, np.float32), 16000), "audio/wav")},
                         data={"model": "whisper-1"}, headers=headers, timeout=120)
    assert silence.status_code == 400 and silence.json()["error_id"] == "audio_processing"
    assert "no speech" in silence.json()["error"]


@pytest.mark.parametrize(("body", "message"), [
    ({"model": "tts-1", "input": "", "voice": "joe-us"}, "input"),
    ({"model": "tts-1", "input": "Hi.", "voice": "nobody"}, "unknown voice"),
    ({"model": "tts-1", "input": "Hi.", "voice": "joe-us", "response_format": "mp3"}, "response_format"),
    ({"model": "tts-1", "input": "x" * 5000, "voice": "joe-us"}, "input"),
    ({"model": "tts-1", "input": "...", "voice": "joe-us"}, "nothing to say"),
])
def test_speech_route_bad_input(server: Portal, body, message) -> None:  # noqa: ANN001
    answer = httpx.post(server.base_url + "/v1/audio/speech", json=body,
                        headers={"x-api-key": server.key}, timeout=120)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]


# ------------------------------------------------------------------ endpoints that fail in other ways


def test_unreachable_endpoint_is_a_typed_error() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SpeechServiceError, match="unreachable") as caught:
        OpenAITTS(dead, "k", "tts-1", "alloy", timeout=5).synthesize("Hello.")
    assert not isinstance(caught.value, SpeechTimeoutError)
    with pytest.raises(SpeechServiceError, match="unreachable"):
        OpenAIASR(dead, "k", "whisper-1", timeout=5).transcribe(*_spoken("Hello there."))


def test_an_endpoint_that_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # accepts connections (the kernel does) and never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(SpeechTimeoutError, match="did not answer within 1 s") as caught:
            OpenAITTS(url, "k", "tts-1", "alloy", timeout=1.0).synthesize("Hello.")
        assert caught.value.error_id == "speech_timeout"
        with pytest.raises(SpeechTimeoutError):
            OpenAIASR(url, "k", "whisper-1", timeout=1.0).transcribe(*_spoken("Hello there."))


@pytest.fixture()
def odd_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """Answers 200 with whatever ``replies[path]`` holds."""
    replies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = replies.get(self.path, b"")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", replies
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_non_audio_and_empty_audio_answers(odd_server) -> None:  # noqa: ANN001
    url, replies = odd_server
    replies["/v1/audio/speech"] = b'{"error": "this is JSON, not audio"}'
    with pytest.raises(SpeechServiceError, match="not usable audio"):
        OpenAITTS(url, "k", "tts-1", "alloy").synthesize("Hello.")
    replies["/v1/audio/speech"] = b""
    with pytest.raises(SpeechServiceError, match="no audio"):
        OpenAITTS(url, "k", "tts-1", "alloy", response_format="pcm").synthesize("Hello.")
    replies["/v1/audio/speech"] = _wav(np.zeros(0, np.float32), 16000)
    with pytest.raises(SpeechServiceError, match="empty WAV"):
        OpenAITTS(url, "k", "tts-1", "alloy").synthesize("Hello.")
    replies["/v1/audio/transcriptions"] = b"<html>hello</html>"
    with pytest.raises(SpeechServiceError, match="not JSON"):
        OpenAIASR(url, "k", "whisper-1").transcribe(*_spoken("Hello there."))


def test_empty_audio_never_reaches_the_endpoint() -> None:
    with pytest.raises(SpeechError, match="no speech"):
        OpenAIASR(f"http://127.0.0.1:{free_port()}", "k", "m").transcribe(np.zeros(8000, np.float32), 16000)


# ------------------------------------------------------------------------------------- the factories


def test_factories_choose_by_pal_layer_then_server_settings() -> None:
    server = SpeechDefaults(stt_base_url="http://stt.local/v1", stt_api_key="server-key", stt_model="big",
                            tts_base_url="http://tts.local", tts_api_key="server-tts", tts_voice="nova",
                            timeout_s=7.0)
    assert isinstance(make_stt(None), WhisperASR)
    assert isinstance(make_stt({"stt_engine": "whisper"}), WhisperASR)
    assert isinstance(make_stt({"stt_engine": "pocketsphinx"}), PocketSphinxASR)
    by_server = make_stt({"stt_engine": "embedded"}, server)
    assert (by_server.url, by_server.api_key, by_server.model, by_server.timeout) == (
        "http://stt.local/v1/audio/transcriptions", "server-key", "big", 7.0)
    # a PAL's own endpoint never receives the server's key or model
    own = make_stt({"base_url": "http://pal.example/v1"}, server)
    assert (own.url, own.api_key, own.model) == ("http://pal.example/v1/audio/transcriptions", None, "whisper-1")
    marker = object()
    assert make_tts(None, embedded=lambda: marker) is marker
    tts = make_tts({"voice_id": "ignored-by-server"}, server, embedded=_no_embedded, timed=False)
    assert isinstance(tts, OpenAITTS)
    assert (tts.url, tts.api_key, tts.voice, tts.model, tts.timed) == (
        "http://tts.local/v1/audio/speech", "server-tts", "ignored-by-server", "tts-1", False)
    assert endpoint_url("http://h/v1/", "/audio/speech") == "http://h/v1/audio/speech"


# ---------------------------------------------------------------------------------------------- helpers


def _no_embedded() -> None:
    raise AssertionError("the embedded TTS was chosen where an endpoint was configured")


def _tone() -> tuple[np.ndarray, int]:
    return _spoken("Hello there.")


def _spoken(text: str) -> tuple[np.ndarray, int]:
    from facecraft.speech.voices import tts_for

    samples, rate, _ = tts_for("joe-us", deterministic=True).synthesize(text)
    return samples, rate


def _wav(samples: np.ndarray, rate: int) -> bytes:
    from facecraft.speech.asr import wav_bytes

    return wav_bytes((np.clip(samples, -1, 1) * 32767).astype(np.int16), rate)
