"""Build steps that write the engine's artefacts into a staged Face bundle: the mouth database (with the
Face's own audio-to-mouth model), the speaker-independent lip-sync model adapted to the Face, and the
motion graph.

The artefacts themselves (their formats, how they are fitted and read) belong to the engine
(``engine.mouthdb``, ``engine.audio_model``, ``engine.lipsync``, ``engine.motion_graph``); these steps
only feed them the staged footage, tracks, audio and analysis of a build.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from facecraft.audio import RATE
from facecraft.engine import lipsync, motion_graph, mouthdb
from facecraft.engine.audio_model import AudioMouthModel
from facecraft.engine.config import EngineConfig
from facecraft.engine.timeline import habit_share, pause_openings
from facecraft.errors import SpeechError
from facecraft.media.types import Frame
from facecraft.speech.types import Phone
from facecraft.speech.visemes import VISEMES

__all__ = ["footage_phones", "step_lipsync", "step_mouths", "step_motion", "step_speech"]

if TYPE_CHECKING:
    from facecraft.faces.build import BuildContext

log = logging.getLogger(__name__)


def footage_phones(samples: np.ndarray | None, sample_rate: int) -> list[Phone]:
    """Phones of the footage's own speech (no transcript: recognised, or phone-loop decoded)."""
    from facecraft.speech.align import align_audio

    if samples is None or len(samples) < sample_rate // 2:
        return []
    try:
        return list(align_audio(samples, sample_rate).phones)
    except SpeechError as exc:
        log.warning("footage speech could not be aligned (%s): mouths get no viseme labels", exc.message)
        return []


def step_speech(ctx: BuildContext) -> None:
    """Build step: start what needs the footage's audio alone in the build's background thread, so that it
    runs while the footage is decoded and tracked (Whisper releases the GIL; PocketSphinx does not, but
    its share is small): the phones of its speech (``footage_phones``, for the mouth database) and its
    Whisper encoder states (for the lip-sync model). A build without audio starts nothing."""
    from facecraft.speech.encoder import encoder

    samples, rate = ctx.samples, ctx.sample_rate
    if samples is None:
        return
    if ctx.phones is None:
        ctx.start("phones", lambda: footage_phones(samples, rate))
    if rate == RATE:
        ctx.start("states", lambda: encoder().timeline(samples))


def step_mouths(ctx: BuildContext) -> None:
    """Build step: write ``mouths.npz`` from the staged footage, tracks, audio and analysis."""
    from facecraft.media import iter_frames

    assert ctx.tracks is not None and ctx.footage_path is not None
    footage = ctx.footage_path
    known = ctx.phones is not None
    if ctx.phones is not None:
        phones = ctx.phones
    else:
        phones = ctx.wait("phones") if ctx.started("phones") else footage_phones(ctx.samples, ctx.sample_rate)
    ctx.step_progress(0.3)
    n = max(1, len(ctx.tracks))
    state = ctx.analysis.state if ctx.analysis is not None else np.zeros(n, np.uint8)
    motion = motion_graph.Descriptors(ctx.tracks)  # the motion step's, from the same decode

    def frames() -> Iterable[Frame]:
        for frame in iter_frames(footage):
            if frame.index % 50 == 0:
                ctx.step_progress(0.3 + 0.7 * frame.index / n)
            motion.add(frame)
            yield frame

    voiced = ctx.samples is not None and bool(ctx.analysis is not None and ctx.analysis.speaking)
    model = AudioMouthModel.fit(ctx.samples, ctx.sample_rate, ctx.tracks) if ctx.samples is not None and voiced \
        else None
    ctx.mouth_model_cv = model.cv_pred if model is not None else None
    db = mouthdb.build_mouth_db(frames(), ctx.tracks, phones=phones, state=state, audio_model=model)
    ctx.motion_descriptors = motion
    ctx.mouth_priors = mouthdb.shape_priors(db)
    path = ctx.work_dir / mouthdb.FILENAME
    ctx.start("mouths_save", lambda: db.save(path))  # 2-3 s of zlib (GIL released) while later steps run
    counts = np.bincount(db.viseme, minlength=len(VISEMES))
    ctx.manifest.setdefault("engine", {}).setdefault("params", {})["mouths"] = {
        "file": mouthdb.FILENAME,
        "patches": len(db),
        "patch_size": list(db.size),
        "viseme_coverage": {v: int(c) for v, c in zip(VISEMES, counts)},
        "phones": len(phones),
        "phones_source": "known" if known else "recognised",
        "audio_model": bool(db.audio_model.size),
    }


def step_lipsync(ctx: BuildContext) -> None:
    """Build step: adapt the speaker-independent lip-sync model to the footage and write ``lipsync.npz``."""
    assert ctx.tracks is not None
    voiced = bool(ctx.analysis is not None and ctx.analysis.speaking)
    model = None
    if ctx.samples is not None and voiced:
        states = ctx.wait("states") if ctx.started("states") else None
        model = lipsync.FaceLipModel.fit(ctx.samples, ctx.sample_rate, ctx.tracks, own_cv=ctx.mouth_model_cv,
                                         states=states)
    params = ctx.manifest.setdefault("engine", {}).setdefault("params", {})
    if model is None:
        params["lipsync"] = {"file": None}
        return
    habit, wide = _pause_habit(ctx)
    if habit is not None:
        model = replace(model, pause_share=habit, pause_open=wide if wide is not None else float("nan"))
    model.save(ctx.work_dir / lipsync.FILENAME)
    params["lipsync"] = {"file": lipsync.FILENAME, "lag_frames": model.lag, "pull": model.pull,
                         "cv_r": round(model.cv_r, 3), "blend": model.blend,
                         "pause_share": round(model.pause_share, 3), "pause_share_measured": habit is not None,
                         "pause_open": None if wide is None else round(wide, 3),
                         "general_sha256": lipsync.general_sha256()}


def _pause_habit(ctx: BuildContext) -> tuple[float | None, float | None]:
    """The footage's lips in its pauses between words (``timeline.pause_openings``), where it speaks: the
    median opening and the wide one (``EngineConfig.pause_open_quantile``); None where too few such frames
    (the engine's default stands)."""
    assert ctx.tracks is not None
    if ctx.samples is None or ctx.mouth_priors is None:
        return None, None
    state = ctx.analysis.state if ctx.analysis is not None else None
    speaking = np.asarray(state) == 1 if state is not None and len(state) == len(ctx.tracks) else None
    config = EngineConfig()
    openings = pause_openings(ctx.samples, ctx.sample_rate, np.asarray(ctx.tracks.aperture), float(ctx.tracks.fps),
                              ctx.mouth_priors, config, speaking=speaking)
    if openings is None:
        log.info("pause habit: too few pause frames (default)")
        return None, None
    habit, wide = habit_share(openings), habit_share(openings, config.pause_open_quantile)
    log.info("pause habit: share %.2f (wide %.2f)", habit, wide)
    return habit, wide


def step_motion(ctx: BuildContext) -> None:
    """Build step: write ``motion.npz`` from the staged footage, tracks and analysis."""
    from facecraft.media import iter_frames

    assert ctx.tracks is not None and ctx.footage_path is not None
    footage = ctx.footage_path
    n = max(1, len(ctx.tracks))
    state = ctx.analysis.state if ctx.analysis is not None else np.zeros(n, np.uint8)

    def frames() -> Iterable[Frame]:
        for frame in iter_frames(footage):
            if frame.index % 50 == 0:
                ctx.step_progress(0.8 * frame.index / n)
            yield frame

    source = ctx.motion_descriptors if ctx.motion_descriptors is not None else frames()
    graph = motion_graph.build_motion_graph(source, ctx.tracks, state=state)
    graph.save(ctx.work_dir / motion_graph.FILENAME)
    ctx.manifest.setdefault("engine", {}).setdefault("params", {})["motion"] = {
        "file": motion_graph.FILENAME,
        "frames": len(graph),
        "jumps_per_state": int(graph.jumps.shape[2]),
    }
