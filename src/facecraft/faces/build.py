"""Build a Face bundle from a training video: a list of named steps over one BuildContext.

Why steps: each one does one job, the progress bar can name it, and later stages (the engine's
mouth database and motion graph) join by appending to ``BUILD_STEPS`` without touching the others.
Each step reads what earlier steps left on the context and writes its files into ``ctx.work_dir``,
a staging directory that becomes the bundle only when every step has succeeded.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facecraft import __version__
from facecraft.audio import RATE
from facecraft.engine.motion_graph import Descriptors
from facecraft.engine.timeline import ShapePriors
from facecraft.errors import InputError, MediaError
from facecraft.faces import bundle as fb
from facecraft.faces.analyze import analyze
from facecraft.faces.artefacts import (  # the engine's build steps
    step_lipsync,
    step_motion,
    step_mouths,
    step_speech,
)
from facecraft.faces.checks import content_checks, decode_check, file_checks
from facecraft.faces.consent import ConsentPolicy
from facecraft.faces.scene import SceneMeter, SceneStats
from facecraft.faces.thresholds import DEFAULT, Thresholds
from facecraft.faces.types import Analysis, Check, CheckReport
from facecraft.media.types import Frame, MediaInfo
from facecraft.speech.types import Phone, Segment
from facecraft.vision.types import Tracks

__all__ = [
    "BUILD_STEPS",
    "FOOTAGE_GOP",
    "FOOTAGE_MAX_SIDE",
    "BuildContext",
    "BuildStep",
    "ChecksFailed",
    "StepTime",
    "build_face",
    "run_build",
]

log = logging.getLogger(__name__)

FOOTAGE_MAX_SIDE = 1280  # long side of the bundle footage
FOOTAGE_MAX_FPS = 30.0  # faster sources are resampled down to this constant rate
FOOTAGE_GOP = 12  # short GOP: the engine seeks into the footage often
FOOTAGE_CRF = 20
# x264 preset of the footage. superfast (measured: 30-40 % less encoder CPU, PSNR +0.3-0.4 dB) made the files
# 33-48 % larger and changed the frames enough to move tracked lip openings by ~0.01 of the inter-ocular
# distance (tests/engine/test_emotion.py's listening bound flipped): the build keeps veryfast.
FOOTAGE_PRESET = "veryfast"
VOICE_RATE = RATE  # the footage's audio is analysed at the speech rate
VOICE_PROFILE_MAX_S = 12.0  # seconds of clean speech the voice profile is measured on
_VOICE_FADE_S = 0.02


class ChecksFailed(InputError):
    """A build stopped by a failing upload check; ``report`` holds every check (for the user)."""

    def __init__(self, message: str, *, error_id: str, report: CheckReport) -> None:
        super().__init__(message, error_id=error_id)
        self.report = report


@dataclass(frozen=True)
class StepTime:
    """What one build step cost: wall seconds, and CPU seconds of the whole process (all threads) meanwhile."""

    wall_s: float
    cpu_s: float


@dataclass
class BuildContext:
    """Everything the build steps share. Steps fill the optional fields in order."""

    video_path: Path
    name: str
    face_id: str
    work_dir: Path
    source_range: tuple[float, float] | None = None
    progress: Callable[[float, str], None] | None = None
    info: MediaInfo | None = None
    footage_path: Path | None = None
    tracks: Tracks | None = None
    scene: SceneStats | None = None
    samples: np.ndarray | None = None
    sample_rate: int = VOICE_RATE
    analysis: Analysis | None = None
    report: CheckReport | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    # A source that is not a video file (a photo, see faces.from_image): frames to use instead of
    # decoding ``video_path`` (at the rate of ``info.video.fps``).
    frames: Callable[[], Iterable[Frame]] | None = None
    # Phones of the source speech when they are known (a photo's TTS script): the mouth database uses
    # them instead of recognising the footage's audio.
    phones: list[Phone] | None = None
    # The upload checks' limits (an evaluation on short clips may lower ``min_duration_s``).
    thresholds: Thresholds = DEFAULT
    # Tracks the footage frames (``vision.track_frames``'s signature); a benchmark passes a caching one.
    track_frames: Callable[..., Tracks] | None = None
    # How consent is established (None: not checked here; the caller answers for it).
    consent: ConsentPolicy | None = None
    consent_checks: list[Check] = field(default_factory=list)
    # The Face's own audio-to-mouth model's cross-validated apertures (engine.audio_model), for the
    # lip-sync step's blend of the two models.
    mouth_model_cv: np.ndarray | None = None
    # The Face's lip range from its mouth database (``mouthdb.shape_priors``): the lip-sync step measures the
    # footage's pause habit in those units.
    mouth_priors: ShapePriors | None = None
    # The motion graph's frame descriptors, gathered by the mouth step's decode of the footage (the motion
    # step then needs no decode of its own).
    motion_descriptors: Descriptors | None = None
    # Wall and process CPU seconds per step, in the order they ran (``run_build`` fills it); background
    # jobs as "<name> (background)", with the CPU seconds of their own thread.
    timings: dict[str, StepTime] = field(default_factory=dict)
    # current step: weight of the steps before it, its own weight, the total weight, its name
    _span: tuple[float, float, float, str] = (0.0, 1.0, 1.0, "")
    _pool: ThreadPoolExecutor | None = None
    _jobs: dict[str, Future[tuple[Any, StepTime]]] = field(default_factory=dict)

    def start(self, name: str, job: Callable[[], Any]) -> None:
        """Run ``job`` in the build's background thread (one, jobs in the order started); ``wait(name)``
        gives its result. For work that releases the GIL (Whisper, WORLD, zlib) and that a later step
        needs, or nothing does: it runs while the steps in between do (a build has two cores at best)."""
        if name in self._jobs:
            raise RuntimeError(f"build job {name!r} was already started")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"build-{self.face_id}")

        def timed() -> tuple[Any, StepTime]:
            wall, cpu = time.perf_counter(), time.thread_time()
            result = job()
            return result, StepTime(time.perf_counter() - wall, time.thread_time() - cpu)

        self._jobs[name] = self._pool.submit(timed)

    def started(self, name: str) -> bool:
        return name in self._jobs

    def wait(self, name: str) -> Any:
        """The result of background job ``name`` (``start``), once it is done; its exception if it failed."""
        result, cost = self._jobs[name].result()
        self.timings.setdefault(f"{name} (background)", cost)
        return result

    def finish_jobs(self) -> None:
        """Wait for every background job (the first failure is raised) and end the thread."""
        try:
            for name in list(self._jobs):
                self.wait(name)
        finally:
            self.cancel_jobs()

    def cancel_jobs(self) -> None:
        """Drop the jobs not started and wait for the running one (a failed build leaves no thread behind)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def start_s(self) -> float:
        return self.source_range[0] if self.source_range else 0.0

    @property
    def end_s(self) -> float:
        assert self.info is not None
        return self.source_range[1] if self.source_range else self.info.duration_s

    def step_progress(self, fraction: float) -> None:
        """Report progress inside the current step (0..1)."""
        done, weight, total, name = self._span
        if self.progress:  # divided last: a step's end is exactly the next one's start (monotonic)
            self.progress(min(1.0, (done + weight * max(0.0, min(fraction, 1.0))) / total), name)


BuildStep = tuple[str, Callable[[BuildContext], None]]


# --- steps ----------------------------------------------------------------------------------


def step_probe(ctx: BuildContext) -> None:
    """Probe the source, fingerprint it and validate ``source_range``."""
    from facecraft import media

    info = media.probe(ctx.video_path)
    if info.video is None:
        raise MediaError(f"{ctx.video_path.name} has no video stream", error_id="video_format")
    ctx.info = info
    if ctx.source_range is not None:
        start, end = (float(v) for v in ctx.source_range)
        if not (0.0 <= start < end) or start >= info.duration_s:
            raise InputError(f"source_range {ctx.source_range} is outside the video (0-{info.duration_s:.2f} s)")
        ctx.source_range = (start, min(end, info.duration_s))
    _fail_early(ctx, info)
    digest = hashlib.sha256()
    with open(ctx.video_path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    ctx.manifest["source"] = {
        "kind": "video",
        "filename": ctx.video_path.name,
        "sha256": digest.hexdigest(),
        "duration": round(info.duration_s, 3),
        "fps": round(info.video.fps, 3),
        "size": [info.video.width, info.video.height],
        "codec": info.video.codec,
        "range": [round(ctx.start_s, 3), round(ctx.end_s, 3)],
    }


# File-level failures that make decoding pointless (or, for hours of video, costly): they stop the build
# before the footage is decoded. Others (no audio track) wait for the full report.
_EARLY_FAILURES = frozenset({"video_duration", "video_fps"})


def _fail_early(ctx: BuildContext, info: MediaInfo) -> None:
    checks = file_checks(replace(info, duration_s=ctx.end_s - ctx.start_s), ctx.thresholds)
    failures = [c for c in checks if c.status == "fail" and c.id in _EARLY_FAILURES]
    if failures:
        report = CheckReport(source=ctx.video_path.name, checks=checks, duration_s=info.duration_s)
        first = failures[0]
        raise ChecksFailed(f"{first.label}: {first.message}", error_id=first.id, report=report)


def _constant_rate(frames: Iterable[Frame], fps: float, start_s: float) -> Iterator[tuple[int, np.ndarray]]:
    """Resample decoded frames to a constant rate: output frame k shows the source frame at k/fps."""
    k = 0
    for frame in frames:
        t = frame.time_s - start_s
        while k / fps < t + 0.5 / fps:
            yield k, frame.image
            k += 1


def step_footage(ctx: BuildContext) -> None:
    """Re-encode the footage (constant fps, long side <= 1280, short GOP) and track it in one pass."""
    from facecraft import media, vision

    assert ctx.info is not None and ctx.info.video is not None
    fps = ctx.info.video.fps if ctx.info.video.fps <= FOOTAGE_MAX_FPS + 0.5 else FOOTAGE_MAX_FPS
    expected = max(1, int((ctx.end_s - ctx.start_s) * fps))
    end = ctx.source_range[1] if ctx.source_range else None
    if ctx.frames is not None:
        decoded = ctx.frames()
    else:
        decoded = media.iter_frames(ctx.video_path, max_side=FOOTAGE_MAX_SIDE, start_s=ctx.start_s, end_s=end)
    stream = _constant_rate(decoded, fps, ctx.start_s)
    first = next(stream, None)
    if first is None:
        raise MediaError(f"no frame of {ctx.video_path.name} could be decoded", error_id="video_processing")
    h, w = (first[1].shape[0] & ~1), (first[1].shape[1] & ~1)
    ctx.footage_path = ctx.work_dir / fb.FOOTAGE
    meter = SceneMeter()

    def frames(writer: Any) -> Iterator[Frame]:
        for k, image in itertools.chain([first], stream):
            image = np.ascontiguousarray(image[:h, :w])
            writer.write(image)
            meter.add(k / fps, image)
            yield Frame(index=k, time_s=k / fps, image=image)

    track = ctx.track_frames or vision.track_frames
    with media.VideoWriter(ctx.footage_path, fps=fps, width=w, height=h, crf=FOOTAGE_CRF, gop=FOOTAGE_GOP,
                           preset=FOOTAGE_PRESET) as writer:
        ctx.tracks = track(frames(writer), fps=fps, width=w, height=h,
                           progress=lambda n: ctx.step_progress(n / expected))
    ctx.scene = meter.stats()
    ctx.manifest["output"] = {"fps": round(fps, 3), "size": [w, h], "frames": len(ctx.tracks)}


def step_audio(ctx: BuildContext) -> None:
    """Decode the audio (16 kHz mono) over the same range as the footage; no audio leaves None."""
    from facecraft import media

    assert ctx.info is not None
    if ctx.info.audio is None:
        return
    audio = media.read_audio(ctx.video_path, sample_rate=VOICE_RATE, mono=True)
    a, b = int(round(ctx.start_s * VOICE_RATE)), int(round(ctx.end_s * VOICE_RATE))
    ctx.samples = np.ascontiguousarray(audio.samples[a:b], dtype=np.float32)
    ctx.sample_rate = VOICE_RATE


def step_consent(ctx: BuildContext) -> None:
    """The consent checks of ``ctx.consent``: the statement opening the training video, or a consent clip
    that says it and shows the same person, or the operator's attestation (recorded as such)."""
    from facecraft import media
    from facecraft.faces import consent as fc

    policy = ctx.consent
    if policy is None:
        return
    record: dict[str, Any] = {"method": policy.mode, **policy.details}
    if policy.mode == "attested":
        ctx.consent_checks = [fc.attested_check(policy.attested_by)]
        record["attested_by"] = policy.attested_by
    else:
        source = Path(policy.clip_path) if policy.mode == "clip" and policy.clip_path else ctx.video_path
        where = "consent clip" if policy.mode == "clip" else "video"
        try:
            audio = media.read_audio(source, sample_rate=VOICE_RATE, mono=True, max_s=fc.STATEMENT_WINDOW_S)
            samples = audio.samples
        except MediaError:
            samples = None
        statement = fc.statement_check(samples, VOICE_RATE, where=where)
        ctx.consent_checks = [statement]
        record["coverage"] = statement.value
        record["range"] = statement.ranges[0] if statement.ranges else None
        if policy.mode == "clip":
            from facecraft.faces.identity import clip_identity, identity_check

            same = identity_check(clip_identity(source), clip_identity(ctx.video_path, start_s=ctx.start_s))
            ctx.consent_checks.append(same)
            record["face_distance"] = same.value
    ctx.manifest["consent"] = record


def step_analyze(ctx: BuildContext) -> None:
    """Speaking/listening segments and the per-frame state."""
    assert ctx.tracks is not None
    ctx.analysis = analyze(ctx.tracks, ctx.samples, ctx.sample_rate)
    fb.write_json(ctx.work_dir / fb.ANALYSIS, ctx.analysis.to_dict())
    seg = lambda xs: [[s.start, s.end] for s in xs]  # noqa: E731
    ctx.manifest["segments"] = {"speaking": seg(ctx.analysis.speaking), "listening": seg(ctx.analysis.listening)}


def step_checks(ctx: BuildContext) -> None:
    """The upload checks on what was decoded; a failing check stops the build with its error id."""
    assert ctx.info is not None and ctx.tracks is not None and ctx.analysis is not None
    info = replace(ctx.info, duration_s=ctx.end_s - ctx.start_s)
    checks = file_checks(info, ctx.thresholds) + [decode_check(len(ctx.tracks), _expected_info(info, ctx))]
    checks += content_checks(ctx.tracks, ctx.scene, ctx.samples, ctx.sample_rate, ctx.analysis, ctx.thresholds)
    checks = ctx.consent_checks + checks
    ctx.report = CheckReport(source=ctx.video_path.name, checks=checks, duration_s=info.duration_s)
    fb.write_json(ctx.work_dir / fb.REPORT, ctx.report.to_dict())
    ctx.manifest["report"] = {"status": ctx.report.status,
                              "warnings": [c.id for c in ctx.report.checks if c.status == "warn"]}
    failures = ctx.report.failures()
    if failures:
        first = failures[0]
        more = f" (and {len(failures) - 1} more failed check(s))" if len(failures) > 1 else ""
        raise ChecksFailed(f"{first.label}: {first.message}{more}", error_id=first.id, report=ctx.report)


def _expected_info(info: MediaInfo, ctx: BuildContext) -> MediaInfo:
    """The probe with the frame count the footage should have (constant rate over the range)."""
    assert info.video is not None and ctx.tracks is not None
    frames = int((ctx.end_s - ctx.start_s) * ctx.tracks.fps)
    return replace(info, video=replace(info.video, frame_count=frames))


def clean_voice(samples: np.ndarray, sample_rate: int, segments: list[Segment]) -> np.ndarray:
    """The speaking segments joined with short fades: a reference clip of the voice without silences."""
    fade = max(1, int(_VOICE_FADE_S * sample_rate))
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    pieces = []
    for seg in segments:
        piece = samples[int(seg.start * sample_rate): int(seg.end * sample_rate)].astype(np.float32).copy()
        if piece.size > 2 * fade:
            piece[:fade] *= ramp
            piece[-fade:] *= ramp[::-1]
        pieces.append(piece)
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def step_voice(ctx: BuildContext) -> None:
    """``voice.wav`` (the clean speech, 16 kHz mono) and ``voice.json`` (its profile)."""
    from facecraft import media
    from facecraft.speech.voice import profile_voice

    assert ctx.analysis is not None and ctx.samples is not None
    segments = ctx.analysis.speaking if ctx.analysis.speaking_s >= 1.0 else ctx.analysis.speech
    clean = clean_voice(ctx.samples, ctx.sample_rate, segments)
    if clean.size < ctx.sample_rate:
        raise InputError("less than one second of clean speech: the voice cannot be profiled",
                         error_id="audio_processing")
    media.write_wav(ctx.work_dir / fb.VOICE, clean, ctx.sample_rate)
    # WORLD's pitch tracker runs at about real time on this CPU: a capped stretch keeps the build
    # fast and is plenty for medians and quartiles. It releases the GIL: the profile (1.5-2.5 s) is
    # measured in the background while the engine's steps run (``wait("voice_profile")`` for the file).
    reference = clean[: int(VOICE_PROFILE_MAX_S * ctx.sample_rate)]
    path, rate = ctx.work_dir / fb.VOICE_PROFILE, ctx.sample_rate
    ctx.start("voice_profile", lambda: fb.write_json(path, profile_voice(reference, rate).to_dict()))
    ctx.manifest["voice"] = {"file": fb.VOICE, "profile": fb.VOICE_PROFILE, "sample_rate": ctx.sample_rate,
                             "seconds": round(clean.size / ctx.sample_rate, 3)}


def thumbnail_frame(tracks: Tracks, analysis: Analysis) -> int:
    """A frame that shows the Face at its best: frontal, eyes open, lips closed, listening if possible."""
    present = np.asarray(tracks.present, dtype=bool)
    if not present.any():
        return 0
    yaw = np.nan_to_num(np.abs(tracks.pose[:, 0]), nan=90.0)
    eyes = np.nan_to_num(tracks.eye_open, nan=0.0)
    aperture = np.nan_to_num(tracks.aperture, nan=1.0)
    listening = np.zeros(len(tracks), dtype=bool)
    listening[: analysis.state.size] = analysis.state[: len(tracks)] == 0
    score = eyes - 0.01 * yaw - 2.0 * aperture + 0.2 * listening
    score[~present] = -np.inf
    return int(np.argmax(score))


def step_thumbnail(ctx: BuildContext) -> None:
    """``thumbnail.jpg`` from the footage at the chosen frame, and ``tracks.npz``."""
    from facecraft import media

    assert ctx.tracks is not None and ctx.analysis is not None and ctx.footage_path is not None
    index = thumbnail_frame(ctx.tracks, ctx.analysis)
    t = index / ctx.tracks.fps
    image = next((f.image for f in media.iter_frames(ctx.footage_path, start_s=t)), None)
    if image is None:
        raise MediaError("the re-encoded footage could not be read back", error_id="video_processing")
    if not cv2.imwrite(str(ctx.work_dir / fb.THUMBNAIL), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise MediaError("could not write the thumbnail", error_id="video_processing")
    ctx.tracks.save(ctx.work_dir / fb.TRACKS)
    ctx.manifest["thumbnail"] = {"file": fb.THUMBNAIL, "frame": index}


BUILD_STEPS: list[BuildStep] = [
    ("probe", step_probe),
    ("audio", step_audio),
    ("speech", step_speech),  # starts the analyses of the audio alone, which run while the footage is tracked
    ("footage", step_footage),
    ("consent", step_consent),
    ("analyze", step_analyze),
    ("checks", step_checks),
    ("voice", step_voice),
    ("thumbnail", step_thumbnail),
    ("mouths", step_mouths),
    ("lipsync", step_lipsync),
    ("motion", step_motion),
]
# Share of the progress bar per step, from bench/track_speed.py's time per step (others weigh 1).
STEP_WEIGHTS = {"footage": 5.0, "voice": 2.0, "mouths": 8.0}


def build_face(
    video_path: str | Path,
    *,
    name: str,
    out_dir: str | Path,
    progress: Callable[[float, str], None] | None = None,
    source_range: tuple[float, float] | None = None,
    face_id: str | None = None,
    thresholds: Thresholds = DEFAULT,
    track_frames: Callable[..., Tracks] | None = None,
    consent: ConsentPolicy | None = None,
    timings: dict[str, StepTime] | None = None,
) -> Path:
    """Build a Face bundle from a training video; returns the bundle directory ``out_dir/<face id>``.

    ``consent`` says how consent is checked (``faces.consent``); None leaves it to the caller. Raises
    the error of the first failing upload check (its ``error_id`` from API.md), a MediaError
    for an unreadable video, or InputError for a bad ``source_range``. Nothing is left behind on
    failure. ``thresholds`` and ``track_frames`` replace the upload checks' limits and the tracker (the
    benchmarks lower the minimum duration for short clips and reuse cached tracks). ``timings``, when
    given, receives each step's cost (``StepTime``; bench/render_speed.py reports them).
    """
    if not name or not name.strip():
        raise InputError("a Face needs a name")
    face_id = face_id or fb.new_face_id()
    final = Path(out_dir) / face_id
    if final.exists():
        raise InputError(f"{final} already exists")
    work = fb.staging_dir(out_dir)
    ctx = BuildContext(video_path=Path(video_path), name=name.strip(), face_id=face_id, work_dir=work,
                       source_range=source_range, progress=progress, consent=consent, thresholds=thresholds,
                       track_frames=track_frames, timings=timings if timings is not None else {})
    ctx.manifest.update({"id": face_id, "name": ctx.name,
                         "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                         "engine": {"version": __version__, "params": {}}})
    return run_build(ctx, BUILD_STEPS, final)


@contextmanager
def _timed(timings: dict[str, StepTime], name: str) -> Iterator[None]:
    """``timings[name]``: the wall and process CPU seconds of the block, once it has run without failing."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    timings[name] = StepTime(time.perf_counter() - wall, time.process_time() - cpu)


def run_build(ctx: BuildContext, steps: list[BuildStep], final: Path) -> Path:
    """Run ``steps`` over ``ctx`` with progress, then publish ``ctx.work_dir`` as the bundle ``final``.

    Shared by the video build and the photo build (``faces.from_image``); the staging directory is
    removed on any failure.
    """
    from threadpoolctl import threadpool_limits

    weights = [STEP_WEIGHTS.get(n, 1.0) for n, _ in steps]
    total = sum(weights)
    # One BLAS thread: the steps' linear algebra runs beside the background jobs (and the tracker and
    # the encoder's threads), and OpenBLAS's two threads waiting on each other behind a busy core
    # turned 1 ms solves and 30 ms eigendecompositions into 0.2-1 s ones.
    limits = threadpool_limits(limits=1, user_api="blas")
    try:
        done = 0.0
        for (step_name, step), weight in zip(steps, weights):
            log.info("build %s: %s", ctx.face_id, step_name)
            ctx._span = (done, weight, total, step_name)
            ctx.step_progress(0.0)
            with _timed(ctx.timings, step_name):
                step(ctx)
            done += weight
        with _timed(ctx.timings, "background"):
            ctx.finish_jobs()  # background jobs write into the staging directory: all done before it is published
        with _timed(ctx.timings, "commit"):
            path = fb.commit_bundle(ctx.work_dir, ctx.manifest, final)
    except BaseException:
        ctx.cancel_jobs()
        shutil.rmtree(ctx.work_dir, ignore_errors=True)
        raise
    finally:
        limits.restore_original_limits()
    log.info("built %s in %.1f s: %s", ctx.face_id,
             sum(t.wall_s for name, t in ctx.timings.items() if not name.endswith("(background)")),
             ", ".join(f"{name} {t.wall_s:.2f}" for name, t in ctx.timings.items()))
    if ctx.progress:
        ctx.progress(1.0, "done")
    return path
