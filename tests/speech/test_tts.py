"""Piper TTS round trips with its own phone timings; the OpenAI-compatible backend on a local server."""

from __future__ import annotations

import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from facecraft.errors import InputError, SpeechError
from facecraft.media import resample
from facecraft.speech.text import split_sentences, word_tokens
from facecraft.speech.tts import OpenAITTS, PiperTTS, decode_wav
from facecraft.speech.visemes import VISEMES, phone_to_viseme

TEXT = "Ask not what your country can do for you. Ask what you can do for your country!"


@pytest.fixture(scope="module")
def tts() -> PiperTTS:
    return PiperTTS()


@pytest.fixture(scope="module")
def utterance(tts: PiperTTS):
    return tts.synthesize(TEXT)


def test_round_trip_phones_cover_the_audio(utterance) -> None:
    samples, rate, alignment = utterance
    assert rate == 22050 and samples.dtype == np.float32 and np.all(np.isfinite(samples))
    duration = samples.size / rate
    assert alignment.source == "tts" and alignment.duration_s == pytest.approx(duration)
    phones = alignment.phones
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(duration, abs=1e-6)
    for a, b in zip(phones, phones[1:]):
        assert a.start < a.end  # every phone has a duration
        assert b.start == pytest.approx(a.end, abs=1e-6)  # contiguous, monotonic
    # Stress and length marks are folded into real phones, never phones of their own.
    assert not any(p.symbol in ("ˈ", "ˌ", "ː", " ") for p in phones)
    assert all(phone_to_viseme(p.symbol, strict=True) in VISEMES for p in phones)
    # The audio is loud where the phones say vowels are, and quiet in the final pause.
    def rms(p) -> float:
        return float(np.sqrt(np.mean(samples[int(p.start * rate) : int(p.end * rate)] ** 2)))

    vowels = [rms(p) for p in phones if phone_to_viseme(p.symbol) in ("aa", "E", "ih", "oh", "ou")]
    assert phones[-1].symbol == "$"
    assert np.median(vowels) > 5 * rms(phones[-1])


def test_round_trip_words_match_the_text(utterance) -> None:
    samples, rate, alignment = utterance
    assert [w.text for w in alignment.words] == word_tokens(TEXT)
    for a, b in zip(alignment.words, alignment.words[1:]):
        assert a.start < a.end <= b.start + 1e-6
    assert alignment.words[-1].end <= samples.size / rate


def test_piper_timings_agree_with_forced_alignment(utterance) -> None:
    """Acceptance: align the synthesised audio and compare word onsets to Piper's own timings."""
    from facecraft.speech.align import align

    samples, rate, alignment = utterance
    aligned = align(samples, rate, TEXT)
    assert [w.text.lower() for w in aligned.words] == [w.lower() for w in word_tokens(TEXT)]
    errors = [abs(a.start - p.start) for a, p in zip(aligned.words, alignment.words)]
    assert float(np.median(errors)) < 0.1, errors


def test_stream_yields_one_chunk_per_sentence_on_one_clock(tts: PiperTTS) -> None:
    text = "Good morning. Dr. Smith paid 23 dollars for it! Did he?"
    chunks = list(tts.stream(text))
    assert [c.text for c in chunks] == split_sentences(text) == [
        "Good morning.", "Doctor Smith paid 23 dollars for it!", "Did he?"
    ]
    offset = 0.0
    for chunk in chunks:
        assert chunk.start_s == pytest.approx(offset)
        assert chunk.phones[0].start == pytest.approx(offset)
        assert chunk.phones[-1].end == pytest.approx(offset + chunk.samples.size / chunk.sample_rate, abs=1e-6)
        assert all(offset - 1e-6 <= w.start < w.end <= chunk.phones[-1].end + 1e-6 for w in chunk.words)
        offset += chunk.samples.size / chunk.sample_rate
    # espeak reads the number; the word keeps its written form and spans "twenty three".
    words = {w.text: w for w in chunks[1].words}
    assert words["23"].end - words["23"].start > 0.3


def test_first_chunk_arrives_before_the_whole_text_is_done(tts: PiperTTS) -> None:
    text = " ".join(["This is sentence number one of a rather long paragraph."] * 6)
    started = time.perf_counter()
    stream = tts.stream(text)
    first = next(stream)
    first_s = time.perf_counter() - started
    rest = list(stream)
    total_s = time.perf_counter() - started
    assert first.text == split_sentences(text)[0] and len(rest) == 5
    assert first_s < total_s / 2


def test_sentence_splitting_and_words() -> None:
    text = 'Mr. Jones met Dr. Who at 5 p.m. today. "Really?" she asked.\n\nNo. 5 is no good! (Indeed.) Yes'
    assert split_sentences(text) == [
        "Mister Jones met Doctor Who at 5 P M today.", '"Really?" she asked.', "Number 5 is no good!",
        "(Indeed.)", "Yes",
    ]
    long = ", ".join(["one more clause of a long sentence"] * 20) + "."
    parts = split_sentences(long, max_chars=120)
    assert len(parts) > 5 and all(len(p) <= 120 for p in parts)
    assert word_tokens("He paid $5.50, 100% sure; it's well-known.") == [
        "He", "paid", "$5.50", "100%", "sure", "it's", "well-known"]


@pytest.mark.parametrize("text", ["", "   ", "?!...", " -- ; "])
def test_nothing_to_say_is_invalid_input(tts: PiperTTS, text: str) -> None:
    with pytest.raises(InputError) as err:
        list(tts.stream(text))
    assert err.value.error_id == "invalid_input"


def test_synthesis_settings() -> None:
    calm = PiperTTS(noise_scale=0.0, noise_w_scale=0.0)
    first, _, timing = calm.synthesize("Good morning.")
    again, _, _ = calm.synthesize("Good morning.")
    assert np.array_equal(first, again)  # no noise: deterministic
    slow, _, slow_timing = PiperTTS(length_scale=2.0, noise_scale=0.0, noise_w_scale=0.0).synthesize("Good morning.")
    assert slow.size > 1.5 * first.size and slow_timing.words[-1].end > 1.5 * timing.words[-1].end
    with pytest.raises(InputError):
        PiperTTS(length_scale=10.0)


def test_unknown_voice_is_invalid_input() -> None:
    with pytest.raises(InputError, match="unknown voice"):
        PiperTTS("no-such-voice")


# ---------------------------------------------------------------------- OpenAI-compatible endpoint


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buf.getvalue()


OTHER_RATE_WORD = "green"  # the test endpoint answers sentences with this word at 16 kHz


@pytest.fixture(scope="module")
def speech_server(tts: PiperTTS) -> Iterator[tuple[str, list[dict]]]:
    """A real local HTTP server speaking the /v1/audio/speech protocol, voiced by Piper."""
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            if self.path != "/v1/audio/speech" or self.headers.get("Authorization") != "Bearer sk-test":
                self.send_response(401)
                self.end_headers()
                self.wfile.write(b'{"error": "unauthorised"}')
                return
            if body["input"] == "Please fail.":
                payload, ctype = b"not audio at all", "audio/wav"
            else:
                samples, rate, _ = tts.synthesize(body["input"])
                if OTHER_RATE_WORD in body["input"]:  # an endpoint whose answers come at varying rates
                    samples, rate = resample(samples, rate, 16000), 16000
                payload, ctype = _wav_bytes(samples, rate), "audio/wav"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_openai_backend_streams_aligned_sentences(speech_server) -> None:
    url, requests = speech_server
    backend = OpenAITTS(url + "/", "sk-test", "tts-1", "alloy")
    chunks = list(backend.stream("Set white with p two soon. Bin blue at f nine again."))
    assert len(chunks) == 2 and backend.sample_rate == 22050
    assert requests[-1]["model"] == "tts-1" and requests[-1]["voice"] == "alloy"
    assert requests[-1]["response_format"] == "wav" and requests[-1]["input"] == "Bin blue at f nine again."
    words = [w.text.lower() for c in chunks for w in c.words]
    assert words == "set white with p two soon bin blue at f nine again".split()
    # Timings are forced-aligned ARPAbet phones on the utterance clock.
    second = chunks[1]
    assert second.phones[0].start >= second.start_s - 1e-6
    assert all(phone_to_viseme(p.symbol, strict=True) in VISEMES for c in chunks for p in c.phones)
    samples, rate, alignment = backend.synthesize("Set white with p two soon.")
    assert alignment.source == "align" and rate == 22050 and samples.size > rate


def test_openai_backend_keeps_one_rate_when_the_endpoints_rate_varies(speech_server) -> None:
    """The second sentence comes back at 16 kHz: it is resampled to the first's rate, so the joined
    utterance has one rate and keeps its length in seconds."""
    url, _ = speech_server
    backend = OpenAITTS(url, "sk-test", "tts-1", "alloy")
    chunks = list(backend.stream("Set white with p two soon. Place green by c four now."))
    assert [c.sample_rate for c in chunks] == [22050, 22050]
    assert list(backend.stream("Place green by c four now."))[0].sample_rate == 16000
    samples, rate, alignment = backend.join(chunks)
    assert rate == 22050 and samples.size / rate == pytest.approx(alignment.duration_s)
    # the words, timed on the 16 kHz answer, end with the joined audio (not past it)
    assert alignment.duration_s - 0.6 < alignment.words[-1].end <= alignment.duration_s + 1e-6


def test_openai_backend_errors_are_speech_errors(speech_server) -> None:
    url, _ = speech_server
    with pytest.raises(SpeechError, match="HTTP 401"):
        list(OpenAITTS(url, "wrong-key", "tts-1", "alloy").stream("Hello."))
    with pytest.raises(SpeechError, match="WAV"):
        list(OpenAITTS(url, "sk-test", "tts-1", "alloy").stream("Please fail."))
    with pytest.raises(SpeechError, match="could not be reached"):
        list(OpenAITTS("http://127.0.0.1:9", "sk-test", "tts-1", "alloy", timeout=2).stream("Hello."))


def test_decode_wav_reads_stereo_and_rejects_garbage() -> None:
    tone = 0.5 * np.sin(np.linspace(0, 200 * np.pi, 8000)).astype(np.float32)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes((np.repeat(tone[:, None], 2, axis=1) * 32767).astype(np.int16).tobytes())
    samples, rate = decode_wav(buf.getvalue())
    assert rate == 8000 and samples.shape == (8000,) and np.allclose(samples, tone, atol=1e-3)
    with pytest.raises(SpeechError):
        decode_wav(b"RIFF....garbage")
