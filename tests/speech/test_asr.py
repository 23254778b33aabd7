"""Recognition: PocketSphinx on JFK and LibriVox against their transcripts; the OpenAI-compatible client
against a real local HTTP server (a stand-in only for the paid external service)."""

from __future__ import annotations

import email.parser
import io
import json
import threading
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from facecraft.errors import SpeechError
from facecraft.media import read_audio
from facecraft.speech.asr import (
    OpenAIASR,
    PocketSphinxASR,
    Transcript,
    WhisperASR,
    speech_windows,
    word_error_rate,
)
from facecraft.speech.types import Segment
from tests.utils import testdata_path


def test_word_error_rate_helper() -> None:
    assert word_error_rate("a b c d", "a b c d") == 0.0
    assert word_error_rate("a b c d", "a x c") == 0.5
    assert word_error_rate("Two cats", "2 cats") == 0.0  # compared after normalisation
    with pytest.raises(ValueError):
        word_error_rate("", "anything")


@pytest.fixture(scope="module")
def asr() -> PocketSphinxASR:
    return PocketSphinxASR()


def _check_words(transcript: Transcript, duration: float) -> None:
    assert transcript.text == " ".join(w.text for w in transcript.words)
    for a, b in zip(transcript.words, transcript.words[1:]):
        assert a.start < a.end <= b.start + 1e-6
    assert transcript.words[-1].end <= duration + 1e-6


@pytest.fixture(scope="module")
def recognised(asr) -> dict[str, tuple[Transcript, float]]:
    """Each real clip recognised once for the whole module: name -> (transcript, duration)."""
    out = {}
    for name in ("whisper_jfk.flac", "pocketsphinx_librivox_0870.wav"):
        clip = read_audio(testdata_path("speech", name))
        out[name] = (asr.transcribe(clip.samples, clip.sample_rate), clip.duration_s)
    return out


@pytest.mark.parametrize(
    ("audio", "text", "max_wer"),
    [
        # measured WER: JFK 0.18-0.23, LibriVox 0.36 (PocketSphinx's small en-us LM)
        ("whisper_jfk.flac", "whisper_jfk.txt", 0.35),
        ("pocketsphinx_librivox_0870.wav", "pocketsphinx_librivox_0870.txt", 0.50),
    ],
)
def test_pocketsphinx_recognises_real_speech(recognised, audio, text, max_wer) -> None:
    transcript, duration = recognised[audio]
    reference = testdata_path("speech", text).read_text()
    assert word_error_rate(reference, transcript.text) <= max_wer, transcript.text
    _check_words(transcript, duration)


def test_jfk_key_phrases(recognised) -> None:
    text = recognised["whisper_jfk.flac"][0].text
    assert "your country" in text and "do for you" in text


def test_recognition_does_not_depend_on_the_previous_utterance(asr, recognised) -> None:
    clip = read_audio(testdata_path("speech", "pocketsphinx_librivox_0870.wav"))
    again = asr.transcribe(clip.samples, clip.sample_rate)
    assert again == recognised["pocketsphinx_librivox_0870.wav"][0]


def test_speech_windows_group_segments_up_to_a_limit() -> None:
    segs = [Segment(1.0, 5.0), Segment(5.5, 12.0), Segment(13.0, 30.0), Segment(31.0, 32.0)]
    windows = speech_windows(segs, 40.0, max_s=20.0)
    assert windows == [Segment(0.75, 12.25), Segment(12.75, 32.25)]


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros(32000, np.float32), 16000, "no speech"),
        (np.zeros(0, np.float32), 16000, "empty"),
        (np.full(8000, np.inf, np.float32), 16000, "NaN"),
        (np.ones(6000, np.float32), 6000, "too low"),
    ],
)
def test_bad_audio(asr, samples, rate, message) -> None:
    with pytest.raises(SpeechError, match=message) as info:
        asr.transcribe(samples, rate)
    assert info.value.error_id == "audio_processing"


# ------------------------------------------------------------------ OpenAI-compatible client


class _TranscriptionHandler(BaseHTTPRequestHandler):
    """Answers like an OpenAI-compatible /v1/audio/transcriptions endpoint and records what it got."""

    requests: list[dict] = []
    reply: tuple[int, bytes] = (200, b"{}")

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = email.parser.BytesParser().parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
        )
        fields: dict[str, object] = {}
        for part in message.get_payload():
            name = part.get_param("name", header="content-disposition")
            fields[name] = part.get_payload(decode=True)
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **fields})
        status, payload = type(self).reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _TranscriptionHandler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TranscriptionHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _TranscriptionHandler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def librivox():
    clip = read_audio(testdata_path("speech", "pocketsphinx_librivox_0870.wav"))
    return clip.samples, clip.sample_rate


def test_openai_client_uploads_wav_and_parses_words(server, librivox) -> None:
    url, handler = server
    handler.reply = (
        200,
        json.dumps(
            {"text": " and mister john dashwood ", "words": [{"word": "and", "start": 0.3, "end": 0.5}]}
        ).encode(),
    )
    samples, rate = librivox
    stereo_rate_input = samples[::2].copy()  # 8 kHz input is resampled to 16 kHz before upload
    result = OpenAIASR(url + "/", "sk-test", "whisper-1").transcribe(stereo_rate_input, rate // 2)
    assert result.text == "and mister john dashwood"
    assert result.words[0].text == "and" and result.words[0].start == 0.3
    (req,) = handler.requests
    assert req["path"] == "/v1/audio/transcriptions"
    assert req["auth"] == "Bearer sk-test"
    assert req["model"] == b"whisper-1" and req["response_format"] == b"verbose_json"
    with wave.open(io.BytesIO(req["file"])) as wav:
        assert wav.getframerate() == 16000 and wav.getnchannels() == 1 and wav.getsampwidth() == 2
        assert abs(wav.getnframes() / 16000 - len(samples) / rate) < 0.01


def test_openai_client_without_word_timings(server, librivox) -> None:
    url, handler = server
    handler.reply = (200, b'{"text": "hello there"}')
    result = OpenAIASR(url, None, "m").transcribe(*librivox)
    assert result == Transcript("hello there", [])
    assert handler.requests[0]["auth"] is None


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ((500, b'{"error": "model crashed"}'), "HTTP 500"),
        ((401, b'{"error": "bad key"}'), "HTTP 401"),
        ((200, b"<html>oops</html>"), "not JSON"),
        ((200, b'{"result": "x"}'), "'text'"),
        ((200, b'{"text": "x", "words": [{"word": "x"}]}'), "malformed word"),
    ],
)
def test_openai_client_errors(server, librivox, reply, message) -> None:
    url, handler = server
    handler.reply = reply
    with pytest.raises(SpeechError, match=message):
        OpenAIASR(url, "k", "m").transcribe(*librivox)


def test_align_audio_with_an_external_recogniser(server) -> None:
    """The recogniser only supplies the words; PocketSphinx aligns them to the audio."""
    from facecraft.speech.align import align_audio

    url, handler = server
    handler.reply = (200, b'{"text": "Set white with P2 soon."}')
    clip = read_audio(testdata_path("speech", "grid_id2_vcd_swwp2s_16k.wav"))
    al = align_audio(clip.samples, clip.sample_rate, asr=OpenAIASR(url, "k", "m"))
    assert al.source == "align" and len(handler.requests) == 1
    assert [w.text for w in al.words] == ["set", "white", "with", "p", "two", "soon"]
    assert 0.45 <= al.words[0].start <= 0.6


def test_openai_client_unreachable_and_silence(librivox) -> None:
    with pytest.raises(SpeechError, match="unreachable"):
        OpenAIASR("http://127.0.0.1:9", "k", "m", timeout=2).transcribe(*librivox)
    with pytest.raises(SpeechError, match="no speech"):
        OpenAIASR("http://127.0.0.1:9", "k", "m").transcribe(np.zeros(16000, np.float32), 16000)


@pytest.mark.parametrize(("name", "text", "max_wer"), [
    ("whisper_jfk.flac", "whisper_jfk.txt", 0.1),
    ("pocketsphinx_librivox_0870.wav", "pocketsphinx_librivox_0870.txt", 0.15),
])
def test_whisper_recognises_real_speech(name: str, text: str, max_wer: float) -> None:
    audio = read_audio(testdata_path("speech", name), sample_rate=16000)
    transcript = WhisperASR().transcribe(audio.samples, audio.sample_rate)
    reference = testdata_path("speech", text).read_text()
    assert word_error_rate(reference, transcript.text) <= max_wer, transcript.text
    _check_words(transcript, audio.duration_s)
    assert transcript.reliable
    greedy = WhisperASR(fallback=False).transcribe(audio.samples, audio.sample_rate)
    assert greedy.reliable and greedy.text == transcript.text  # English passes Whisper's tests at once


def test_speech_whisper_cannot_read_is_doubted_and_aligned_by_the_phone_loop() -> None:
    """German speech (20 s): greedy decoding fails Whisper's own tests, so the transcript is not reliable
    and ``align_audio`` goes to the phone loop, with no retries at higher temperatures (which took 11 s
    here and sampled a different wrong text each time)."""
    from facecraft.speech.align import align_audio

    audio = read_audio(testdata_path("video", "mimictalk_German_20s.mp4"), sample_rate=16000)
    greedy = WhisperASR(fallback=False).transcribe(audio.samples, audio.sample_rate)
    assert greedy.text and not greedy.reliable
    al = align_audio(audio.samples, audio.sample_rate)
    assert al.source == "phone_loop" and sum(p.symbol != "SIL" for p in al.phones) > 50


def test_whisper_on_silence_is_a_clear_error() -> None:
    with pytest.raises(SpeechError, match="no speech"):
        WhisperASR().transcribe(np.zeros(16000, np.float32), 16000)


@pytest.mark.parametrize(("name", "text", "max_wer"), [
    ("whisper_jfk.flac", "whisper_jfk.txt", 0.1),  # 11 s: in the 15 s window
    ("grid_id2_vcd_swwp2s_16k.wav", "grid_id2_vcd_swwp2s_16k.txt", 0.2),  # 3 s
    ("pocketsphinx_librivox_0870.wav", "pocketsphinx_librivox_0870.txt", 0.15),  # 7 s
])
def test_live_whisper_in_a_short_window_recognises_real_speech(name: str, text: str, max_wer: float) -> None:
    from facecraft.speech.asr import LIVE_WINDOW_S

    audio = read_audio(testdata_path("speech", name), sample_rate=16000)
    live = WhisperASR(word_timings=False, window_s=LIVE_WINDOW_S)
    transcript = live.transcribe(audio.samples, audio.sample_rate)
    reference = testdata_path("speech", text).read_text()
    assert word_error_rate(reference, transcript.text) <= max_wer, transcript.text
    assert transcript.words == []


def test_a_decoding_that_repeats_itself_is_caught() -> None:
    from facecraft.speech.asr import _repeats

    assert _repeats("where did you grow up where did you grow up".split())
    assert _repeats("could you explain how a rainbow forms could you explain how a rainbow forms forms".split())
    assert not _repeats("what is your name".split())
    assert not _repeats("no no i said the red one".split())  # two words again: speech, not a loop
    assert not _repeats("that that is is that that is not is not".split())


class WindowCounting(WhisperASR):
    """The live recogniser, counting the turns it decoded in its short window."""

    def __init__(self) -> None:
        from facecraft.speech.asr import LIVE_WINDOW_S

        super().__init__(word_timings=False, window_s=LIVE_WINDOW_S)
        self.windowed = 0

    def _windowed(self, audio: np.ndarray, window_s: float) -> str | None:
        text = super()._windowed(audio, window_s)
        self.windowed += text is not None
        return text


def test_audio_longer_than_the_short_window_goes_through_whisper_s_full_window() -> None:
    jfk = read_audio(testdata_path("speech", "whisper_jfk.flac"), sample_rate=16000)
    reference = testdata_path("speech", "whisper_jfk.txt").read_text()
    asr = WindowCounting()
    assert word_error_rate(reference, asr.transcribe(jfk.samples, 16000).text) <= 0.1 and asr.windowed == 1
    longer = np.concatenate([jfk.samples, np.zeros(4 * 16000, np.float32)])  # 15 s: past the window's 13 s
    assert word_error_rate(reference, asr.transcribe(longer, 16000).text) <= 0.1 and asr.windowed == 1
