"""The people the lip-sync model is trained and scored on, and a cache of their tracked footage.

Clips: every video with audio in ``../shared/testdata/corpus`` (26 people) and the dev clips in
``../shared/testdata/video``. Each clip belongs to a speaker; the same person can appear in both
folders (Barack Obama does), so leave-one-speaker-out folds are made by speaker, not by file.

Tracking is the slow part of every bench and of training (MediaPipe on 2 shared cores), so tracks are
cached under ``.cache/tracks`` (ignored by git), keyed by the clip, the frame range and a signature of
the tracking code (the vision package's sources and MediaPipe's version): a change of tracker retracks.

Used by ``bench/fidelity.py --loso`` and ``scripts/train_lipsync.py`` (which puts this folder on
``sys.path``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from _common import REPO, TESTDATA
from facecraft import media, vision
from facecraft.faces.build import FOOTAGE_MAX_FPS, FOOTAGE_MAX_SIDE
from facecraft.media.types import Frame
from facecraft.vision.types import Tracks

__all__ = ["Clip", "clips", "speaker_of", "cached_tracker", "clip_tracks", "clip_audio", "held_out", "model_without",
           "split_face", "SplitFace", "CACHE"]

log = logging.getLogger(__name__)

CACHE = Path(__import__("os").environ.get("FACECRAFT_CACHE", REPO / ".cache"))
RATE = 16000
# The same person in more than one clip (checked by name and by eye; see the folders' SOURCES.md).
SAME_PERSON = {
    "styletalk_Obama_clip2_muxed": "obama",
    "edtalk_uncrop_Obama": "obama",
    "styletalk_Obama_clip3": "obama",
}

# Clips left out, and why.
UNUSABLE = {
    "lipreading_sample_video": "the project's decoder rejects it as truncated (209 of 266 announced frames)",
}


@dataclass(frozen=True)
class Clip:
    path: Path
    speaker: str
    dev: bool  # a development clip (../video), else a corpus clip

    @property
    def name(self) -> str:
        return self.path.stem


def speaker_of(path: Path) -> str:
    return SAME_PERSON.get(path.stem, path.stem)


def clips(*, corpus: bool = True, dev: bool = True) -> list[Clip]:
    """Every clip with both video and audio, dev clips first (the folders' file order within each)."""
    out = []
    for folder, is_dev, wanted in ((TESTDATA / "video", True, dev), (TESTDATA / "corpus", False, corpus)):
        if not wanted:
            continue
        for path in sorted(folder.glob("*.mp4")):
            if path.stem in UNUSABLE:
                continue
            info = media.probe(path)
            if info.audio is not None and info.video is not None:
                out.append(Clip(path, speaker_of(path), is_dev))
    return out


TRACKING_CODE = ("tasks.py", "tracker.py", "track.py", "smoothing.py", "features.py", "pose.py", "types.py",
                 "landmarks.py")


@lru_cache(maxsize=1)
def tracker_signature() -> str:
    """Changes whenever the tracking code (``TRACKING_CODE`` in ``facecraft.vision``) or MediaPipe changes."""
    import mediapipe

    digest = hashlib.sha256(str(getattr(mediapipe, "__version__", "")).encode())
    for name in TRACKING_CODE:
        path = REPO / "src" / "facecraft" / "vision" / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def _cache_file(key: str) -> Path:
    return CACHE / "tracks" / f"{key}-{tracker_signature()}.npz"


def cached_tracker(key: str) -> Callable[..., Tracks]:
    """A drop-in for ``vision.track_frames`` that loads ``key``'s tracks when they were cached (the frames
    are still consumed, so a build that writes them as it goes keeps working) and caches them otherwise."""

    def track(frames: Iterable[Frame], **kwargs) -> Tracks:
        path = _cache_file(key)
        if path.exists():
            for _ in frames:
                pass
            return Tracks.load(path)
        tracks = vision.track_frames(frames, **kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        tracks.save(path)
        return tracks

    return track


def constant_rate(
    path: Path, fps: float, start_s: float = 0.0, end_s: float | None = None
) -> Iterator[Frame]:
    """Decoded frames at a constant rate (as a Face build stores its footage), long side <= 1280."""
    k = 0
    for frame in media.iter_frames(path, max_side=FOOTAGE_MAX_SIDE, start_s=start_s, end_s=end_s):
        t = frame.time_s - start_s
        while k / fps < t + 0.5 / fps:
            yield Frame(k, k / fps, frame.image)
            k += 1


def clip_fps(path: Path) -> float:
    info = media.probe(path)
    assert info.video is not None
    return info.video.fps if info.video.fps <= FOOTAGE_MAX_FPS + 0.5 else FOOTAGE_MAX_FPS


def clip_tracks(clip: Clip) -> Tracks:
    """The whole clip tracked at its constant output rate (cached)."""
    fps = clip_fps(clip.path)
    first = next(constant_rate(clip.path, fps))
    h, w = first.image.shape[:2]
    track = cached_tracker(f"{clip.name}-full")
    return track(constant_rate(clip.path, fps), fps=fps, width=w, height=h)


def clip_audio(clip: Clip, n_frames: int, fps: float) -> np.ndarray:
    """16 kHz mono audio covering exactly ``n_frames`` frames (zero-padded at the end)."""
    samples = media.read_audio(clip.path, sample_rate=RATE).samples
    want = int(round(n_frames / fps * RATE))
    return np.pad(samples[:want], (0, max(0, want - len(samples)))).astype(np.float32)


# --- training data for the speaker-independent lip-sync model ---------------------------------------

FEATURES = "whisper"  # or "logmel": per-clip normalised log-mel spectra (only to compare, see --features)


def _encoder_signature() -> str:
    from facecraft.speech import encoder as enc

    return hashlib.sha256(Path(enc.__file__).read_bytes()).hexdigest()[:8]


def clip_states(name: str, samples: np.ndarray) -> np.ndarray:
    """(T, D) 50 Hz speech features of ``samples`` (cached under .cache/states)."""
    if FEATURES == "logmel":
        from facecraft.engine.audio_model import audio_features

        base = audio_features(samples, RATE, 50.0, int(np.ceil(samples.size / RATE * 50)))
        return ((base - base.mean(0)) / (base.std(0) + 1e-6)).astype(np.float32)
    from facecraft.speech.encoder import encoder

    key = hashlib.sha256(samples.tobytes()).hexdigest()[:12]
    path = CACHE / "states" / f"{name}-{key}-{_encoder_signature()}.npy"
    if path.exists():
        return np.load(path)
    states = encoder().timeline(samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, states)
    return states


def training_clip(clip: Clip):  # noqa: ANN201 - facecraft.engine.lipsync.TrainingClip
    from facecraft.engine import lipsync

    tracks = clip_tracks(clip)
    n = len(tracks)
    samples = clip_audio(clip, n, tracks.fps)
    ok = np.asarray(tracks.present, bool) & np.isfinite(tracks.aperture) & np.isfinite(tracks.mouth_width)
    ap, wd, _ = lipsync.normalise_targets(tracks.aperture, tracks.mouth_width, ok)
    return lipsync.TrainingClip(clip.name, clip.speaker, float(tracks.fps), clip_states(clip.name, samples),
                                np.column_stack([ap, wd]), ok)


def load_training_data(selected: list[Clip] | None = None) -> list:
    """A ``lipsync.TrainingClip`` per clip (tracks and features from the cache where they are)."""
    out = []
    for clip in selected or clips():
        out.append(training_clip(clip))
        log.info("%s: %d frames", clip.name, out[-1].n)
    return out


def model_without(data: list, speaker: str):  # noqa: ANN201 - a lipsync.GeneralLipModel or None
    """The speaker-independent lip-sync model trained on every clip of ``data`` but ``speaker``'s (the
    leave-one-speaker-out model a clip of that speaker is scored with); None without training data."""
    from facecraft.engine import lipsync

    return lipsync.fit_general([d for d in data if d.speaker != speaker]) if data else None


def held_out(names: Iterable[str] | None = None) -> Iterator[tuple[Clip, object]]:
    """Each corpus and dev clip (or those named) with the leave-one-speaker-out model it is scored with
    (``model_without`` its speaker), training data loaded once."""
    wanted = set(names) if names else None
    chosen = [c for c in clips() if wanted is None or c.name in wanted]
    data = load_training_data()
    for clip in chosen:
        yield clip, model_without(data, clip.speaker)


@dataclass(frozen=True)
class SplitFace:
    """A Face built from the first ``train_share`` of a clip, and what its render is scored against: the
    rest of the clip's tracked lips and its audio."""

    bundle_dir: Path
    fps: float
    frames: int  # held-out frames
    truth: np.ndarray  # (frames,) tracked lip aperture of the held-out footage
    samples: np.ndarray  # the held-out audio at the given rate, exactly ``frames`` long


def split_face(video: Path, work: Path, *, train_share: float = 0.7, rate: int = 16000) -> SplitFace:
    """Build a Face on ``video``'s first ``train_share`` (tracks cached) and track the rest (the
    self-reconstruction split of the lip-sync benches)."""
    from facecraft.faces.build import build_face
    from facecraft.faces.thresholds import Thresholds

    info = media.probe(video)
    assert info.video is not None
    split = round(info.duration_s * train_share, 2)
    bundle_dir = build_face(video, name=video.stem, out_dir=work, source_range=(0.0, split),
                            thresholds=Thresholds(min_duration_s=2.0, cut_hist_distance=2.0),
                            track_frames=cached_tracker(f"{video.stem}-0-{split}"))
    fps = float(info.video.fps)
    held = [f.image for f in media.iter_frames(video, start_s=split)]
    n = len(held)
    h, w = held[0].shape[:2]
    tracks = cached_tracker(f"{video.stem}-{split}-end")(
        (Frame(i, i / fps, im) for i, im in enumerate(held)), fps=fps, width=w, height=h)
    audio = media.read_audio(video, sample_rate=rate).samples
    a, want = int(round(split * rate)), int(round(n / fps * rate))
    samples = np.pad(audio[a:a + want], (0, max(0, want - len(audio[a:a + want])))).astype(np.float32)
    return SplitFace(bundle_dir, fps, n, np.asarray(tracks.aperture, np.float64)[:n], samples)
