"""Timeline: what the mouth and head should do at each output frame, from audio and phones.

Per frame: the viseme heard (phones shifted by a small visual lead), the loudness, voice activity,
and from those the lip-shape targets (aperture, width, in the Face's own inter-ocular units) with
co-articulation: each frame's target blends the viseme shapes around it, except closures
(pauses of at least ``min_pause_s``, p/b/m), which must be reached. Where the Face has an
audio-to-mouth model (learned on its footage, with its own audio-video lag) its predicted aperture
and width replace most of the viseme shapes: recognised phones are noisy. The speaking state (which
footage the head motion comes from) bridges short pauses and starts slightly before the voice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facecraft.audio import frame_power, power_db
from facecraft.engine.config import EngineConfig
from facecraft.speech.types import Phone
from facecraft.speech.vad import FRAME_MS, speech_mask
from facecraft.speech.visemes import VISEME_SHAPES, VISEMES, phone_to_viseme
from facecraft.vision.smoothing import drop_short_runs, runs

__all__ = [
    "Timeline", "ShapePriors", "build_timeline", "shape_timeline", "rest_timeline", "frame_energy_db",
    "audio_levels", "find_pauses", "inner_frames", "inner_pauses", "pause_openings", "habit_share", "pause_habit",
    "DEFAULT_PAUSE_SHARE",
    "MAX_PAUSE_SHARE", "MIN_HABIT_FRAMES",
]

SIL = VISEMES.index("sil")
PP = VISEMES.index("PP")
DEFAULT_PAUSE_SHARE = 0.06  # lips in pauses between words where the Face's habit is unknown (EngineConfig)
MAX_PAUSE_SHARE = 1.2  # a stored habit above this (or below 0) is damaged, not a habit
MIN_HABIT_FRAMES = 12  # footage with fewer frames in pauses between words keeps the default


@dataclass(frozen=True)
class ShapePriors:
    """The Face's own lip range, to turn 0..1 viseme shapes into its aperture/width values."""

    closed: float
    open: float
    width_mid: float
    width_spread: float
    # the Face's lips in the pauses between its words (share of closed..open), measured on its footage at
    # build (``pause_habit``); None: unknown, ``EngineConfig.pause_cap_share`` stands in
    pause_share: float | None = None
    # the wide habit: a high quantile of those openings (``EngineConfig.pause_open_quantile``), the cap of short
    # pauses inside speech (``EngineConfig.inner_pause_s``); None: unknown, ``pause_share`` stands in
    pause_open: float | None = None

    def aperture(self, share: np.ndarray) -> np.ndarray:
        return self.closed + share * (self.open - self.closed)

    def width(self, share: np.ndarray) -> np.ndarray:
        return self.width_mid + (share - 0.5) * 2.0 * self.width_spread

    @property
    def closed_limit(self) -> float:
        """A tracked aperture below this reads as a closed mouth (a quarter of the way to open)."""
        return self.closed + 0.25 * (self.open - self.closed)


_SHAPE_AP = np.array([VISEME_SHAPES[v].aperture for v in VISEMES])
_SHAPE_W = np.array([VISEME_SHAPES[v].width for v in VISEMES])
_CLOSURE = np.array([VISEME_SHAPES[v].closure for v in VISEMES])


@dataclass
class Timeline:
    """Per output frame of a stretch of an utterance (frames ``start`` .. ``start + len - 1``)."""

    fps: float
    viseme: np.ndarray  # (T,) uint8 index into VISEMES
    closed: np.ndarray  # (T,) bool: the lips must be closed (silence, bilabial)
    aperture: np.ndarray  # (T,) target inner-lip aperture (iod units)
    width: np.ndarray  # (T,) target mouth width (iod units)
    speaking: np.ndarray  # (T,) bool: head motion from speaking footage
    voiced: np.ndarray  # (T,) bool: voice activity
    emotion: np.ndarray | None = None  # (T,) uint8 index into cues.EMOTIONS (None: neutral throughout)
    intensity: np.ndarray | None = None  # (T,) float 0..1, the emotion's intensity
    start: int = 0  # utterance frame of the first row

    def __len__(self) -> int:
        return int(self.viseme.shape[0])


def rest_timeline(n: int, fps: float, priors: ShapePriors, config: EngineConfig) -> Timeline:
    """``n`` frames of a silent, listening Face: lips together at rest, as in a pause."""
    return Timeline(
        fps=fps,
        viseme=np.full(n, SIL, dtype=np.uint8),
        closed=np.ones(n, dtype=bool),
        aperture=priors.aperture(np.full(n, config.rest_share)),
        width=np.full(n, priors.width_mid),
        speaking=np.zeros(n, dtype=bool),
        voiced=np.zeros(n, dtype=bool),
    )


def frame_energy_db(
    samples: np.ndarray, sample_rate: int, fps: float, n: int, *, first: int = 0, offset: int = 0
) -> np.ndarray:
    """RMS level (dBFS) of a one-frame window centred on each of frames ``first`` .. ``first + n - 1``;
    ``samples[0]`` is sample ``offset`` of the stream (a window of it, for streaming)."""
    hop = sample_rate / fps
    half = int(round(hop))
    centres = ((np.arange(first, first + n) + 0.5) * hop).astype(np.int64) - offset
    power, ok = frame_power(samples, centres - half, centres + half)
    out = np.full(n, -100.0)
    out[ok] = power_db(power[ok])
    return out


def _phone_visemes(
    phones: list[Phone], n: int, fps: float, lead_s: float, *, first: int = 0, total: int | None = None
) -> np.ndarray:
    """Viseme per frame ``first`` .. ``first + n - 1`` of an utterance of ``total`` frames (None: still
    growing) from its phones."""
    out = np.full(n, SIL, dtype=np.uint8)
    if not phones:
        return out
    last = (first + n if total is None else total) - 1
    centres = (np.arange(first, first + n) + 0.5) / fps + lead_s
    starts = np.array([p.start for p in phones])
    ends = np.array([p.end for p in phones])
    codes = np.array([VISEMES.index(phone_to_viseme(p.symbol)) for p in phones], dtype=np.uint8)
    order = np.argsort(starts, kind="stable")
    starts, ends, codes = starts[order], ends[order], codes[order]
    k = np.searchsorted(starts, centres, side="right") - 1
    ok = (k >= 0) & (centres < ends[np.clip(k, 0, None)])
    out[ok] = codes[k[ok]]
    # a bilabial shorter than a frame must still close the lips once
    for p_start, p_end, code in zip(starts, ends, codes):
        if code == PP and n:
            f = int(np.clip(round((p_start + p_end) / 2 * fps - lead_s * fps - 0.5), 0, last))
            if first <= f < first + n:
                out[f - first] = PP
    return out


def _smooth(values: np.ndarray, kernel: tuple[float, ...]) -> np.ndarray:
    k = np.asarray(kernel, dtype=np.float64)
    k = k / k.sum()
    pad = len(k) // 2
    padded = np.pad(values, pad, mode="edge")
    return np.convolve(padded, k[::-1], mode="valid")


def _dilate(flags: np.ndarray, back: int, ahead: int) -> np.ndarray:
    """True at t when any flag in [t - back, t + ahead]."""
    if not flags.size:
        return flags
    c = np.concatenate([[0], np.cumsum(flags.astype(np.int64))])
    n = len(flags)
    t = np.arange(n)
    lo = np.clip(t - back, 0, n)
    hi = np.clip(t + ahead + 1, 0, n)
    return (c[hi] - c[lo]) > 0


def build_timeline(
    samples: np.ndarray,
    sample_rate: int,
    *,
    fps: float,
    n_frames: int,
    phones: list[Phone] | None,
    priors: ShapePriors,
    config: EngineConfig,
    predicted: np.ndarray | None = None,
    trust_phones: bool = True,
    mouth_lead: int = 0,
) -> Timeline:
    """Targets for ``n_frames`` output frames of the audio ``samples`` (16 kHz mono expected), whole.

    ``predicted`` is the Face's own audio-to-aperture prediction per frame (see
    ``engine.audio_model.AudioMouthModel``), blended with the viseme shapes. Bilabials and silences in
    the phones close the lips only when ``trust_phones`` (given or forced-aligned phones, not
    recognised ones); quiet audio always does. ``mouth_lead`` (frames the Face's lips lead its sound, see
    ``AudioMouthModel.mouth_lead``) closes the lips that much before a pause. The streaming renderer
    builds the same targets a stretch at a time (``engine.timeline_stream``).
    """
    n = int(n_frames)
    db, voiced = audio_levels(samples, sample_rate, fps, n, config)
    vis = _phone_visemes(phones, n, fps, config.lead_s) if phones else None
    at_phone = _phone_visemes(phones, n, fps, 0.0) if phones else None
    return shape_timeline(db, voiced, vis, fps=fps, priors=priors, config=config, predicted=predicted,
                          trust_phones=trust_phones, mouth_lead=mouth_lead, at_phone=at_phone)


VAD_MIN_SPEECH_MS = 100  # voice shorter than this is a blip, not speech, for the timeline


def audio_levels(
    samples: np.ndarray, sample_rate: int, fps: float, n: int, config: EngineConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Loudness (dBFS) and voice activity of ``n`` frames of a whole stretch of audio, as the timeline reads
    them (the build reads its footage's pauses the same way, ``pause_habit``)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    db = frame_energy_db(samples, sample_rate, fps, n)
    voiced = np.zeros(n, dtype=bool)
    if len(samples) >= sample_rate // 50:
        mask = speech_mask(samples, sample_rate, frame_s=1.0 / fps, hangover_ms=config.vad_hangover_ms,
                           min_speech_ms=VAD_MIN_SPEECH_MS)
        m = min(n, len(mask))
        voiced[:m] = mask[:m]
    return db, voiced


def find_pauses(
    db: np.ndarray,
    voiced: np.ndarray,
    vis: np.ndarray | None,
    *,
    fps: float,
    config: EngineConfig,
    trusted: bool,
    modelled: np.ndarray,
    first_frames: bool = True,
    last_frames: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(quiet, edge) per frame: the pauses whose lips close (or rest) and, of those, the silence before the
    first word and after the last (``first_frames`` / ``last_frames``: the frames begin / end the utterance).

    A frame is a pause where the voice is not active, or where it is too quiet to be speech: for a frame
    the audio model shapes (``modelled``), far quieter (``model_silence_db``): soft speech in a quiet
    recording is no pause (at ``silence_db`` the lips closed in mid-word on 4 of 13 new people's clips:
    aperture r 0.46 -> 0.54). A short pause between words need not close the lips, but the quiet before
    the first word and after the last does, however short (else the first frame shows a mouth open on
    silence). There only frames silent by their level (below ``silence_db``) or by trusted phones count: an
    unvoiced frame as loud as speech at an edge is speech the audio's cut (or the VAD's onset delay) left
    unrecognised, and closing it cost a held-out clip cut mid-word (its last 4 of 59 frames) aperture r
    0.38 -> 0.19.
    """
    n = len(db)
    sil_vis = (vis == SIL) if (trusted and vis is not None) else np.zeros(n, dtype=bool)
    gate = np.where(modelled, min(config.model_silence_db, config.silence_db), config.silence_db)
    quiet = ~voiced | (db < gate) | sil_vis
    edges = [(a, b) for a, b in runs(quiet) if (a == 0 and first_frames) or (b == n and last_frames)]
    quiet = drop_short_runs(quiet, int(round(config.min_pause_s * fps)))
    silent = (db < config.silence_db) | sil_vis
    edge = np.zeros(n, dtype=bool)
    for a, b in edges:
        edge[a:b] = silent[a:b] | quiet[a:b]
        quiet[a:b] |= silent[a:b]
    return quiet, edge


def inner_frames(fps: float, config: EngineConfig, lead: int = 0) -> int:
    """The longest pause inside speech that opens (frames): ``inner_pause_s``, but no more than the streaming
    renderer can see end before it plans the pause's first frame: its ``lookahead``, less the frames the lips
    close early (``lead``) and those the VAD needs to confirm the next word (``VAD_MIN_SPEECH_MS`` and one
    VAD frame). 8 frames at 25 and 30 fps without a lead (look-ahead 12): 0.32 s, 0.27 s."""
    confirm = math.ceil((VAD_MIN_SPEECH_MS + FRAME_MS) / 1000 * fps)
    return max(0, min(int(round(config.inner_pause_s * fps)), int(config.lookahead) - int(lead) - confirm))


def inner_pauses(quiet: np.ndarray, edge: np.ndarray, fps: float, config: EngineConfig, *,
                 lead: int = 0) -> np.ndarray:
    """Frames of the short pauses inside speech: runs of ``quiet`` frames, not at an utterance's edge, of at
    most ``inner_frames`` (so the streaming renderer, which plans a frame with ``lookahead`` frames of audio
    after it, has heard such a pause end: a longer run reaches audio not yet heard and rests there, as in the
    batch render); with ``long_pause`` "tail", the same last frames of a longer pause (the next word is
    heard within the look-ahead). Footage keeps its lips apart in most pauses (median share of the way to
    open ~0.5 on held-out clips, bench/lipsync_stages.py), and closing them cost the plan's aperture r."""
    inner = np.zeros(len(quiet), dtype=bool)
    longest = inner_frames(fps, config, lead)
    if longest <= 0:
        return inner
    for a, b in runs(quiet & ~edge):
        if b - a <= longest:
            inner[a:b] = True
        elif config.long_pause == "tail":
            inner[b - longest:b] = True
    return inner


def pause_openings(
    samples: np.ndarray,
    sample_rate: int,
    aperture: np.ndarray,
    fps: float,
    priors: ShapePriors,
    config: EngineConfig,
    *,
    speaking: np.ndarray | None = None,
    modelled: bool = True,
    min_frames: int = MIN_HABIT_FRAMES,
) -> np.ndarray | None:
    """The tracked apertures of a Face's footage in the pauses between its words, as shares of its
    closed..open range: the pauses found as the timeline finds them (``find_pauses``; ``modelled``: the Face
    has an audio model, whose softer silence gate applies), minus the silence before the first word and after
    the last, and, given ``speaking`` (per frame), only where the footage speaks. None with fewer than
    ``min_frames`` such frames. One analysis of the audio serves every quantile (``habit_share``)."""
    ap = np.asarray(aperture, dtype=np.float64).reshape(-1)
    n = len(ap)
    if n == 0 or samples is None:
        return None
    db, voiced = audio_levels(samples, sample_rate, fps, n, config)
    quiet, edge = find_pauses(db, voiced, None, fps=fps, config=config, trusted=False,
                              modelled=np.full(n, bool(modelled)))
    inside = quiet & ~edge & np.isfinite(ap)
    if speaking is not None and len(speaking) == n:
        inside &= np.asarray(speaking, dtype=bool)
    if int(inside.sum()) < max(int(min_frames), 1):
        return None
    return (ap[inside] - priors.closed) / max(priors.open - priors.closed, 1e-6)


def habit_share(openings: np.ndarray, quantile: float = 0.5) -> float:
    """``quantile`` of ``pause_openings``, within 0..1 (0.5: the habit; a high one: how wide the lips part in
    pauses)."""
    return float(np.clip(np.quantile(openings, float(np.clip(quantile, 0.0, 1.0))), 0.0, 1.0))


def pause_habit(
    samples: np.ndarray,
    sample_rate: int,
    aperture: np.ndarray,
    fps: float,
    priors: ShapePriors,
    config: EngineConfig,
    *,
    speaking: np.ndarray | None = None,
    modelled: bool = True,
    min_frames: int = MIN_HABIT_FRAMES,
    quantile: float = 0.5,
) -> float | None:
    """How far apart a Face keeps its lips in the pauses between its words: the median (``quantile``) of its
    ``pause_openings``; None with too few pause frames. Most people keep the lips about half apart there
    (median 0.49 over 13 clips), some seal them; one constant fits neither."""
    openings = pause_openings(samples, sample_rate, aperture, fps, priors, config, speaking=speaking,
                              modelled=modelled, min_frames=min_frames)
    return None if openings is None else habit_share(openings, quantile)


def shape_timeline(
    db: np.ndarray,
    voiced: np.ndarray,
    vis: np.ndarray | None,
    *,
    fps: float,
    priors: ShapePriors,
    config: EngineConfig,
    predicted: np.ndarray | None = None,
    trust_phones: bool = True,
    mouth_lead: int = 0,
    start: int = 0,
    at_phone: np.ndarray | None = None,
    first_frames: bool = True,
    last_frames: bool = True,
    may_end: bool = False,
) -> Timeline:
    """The targets of consecutive frames from their loudness (dBFS), voice activity, the visemes of
    their phones (None: no phones) and the audio model's prediction.

    ``at_phone``: the visemes of the phones without the visual lead (p, b, m close the lips during the
    phone itself); ``first_frames`` / ``last_frames``: the frames begin / end the utterance (the quiet
    before its first word and after its last closes the lips however short); ``may_end``: the frames end
    at the audio heard so far, which may be the utterance's end (streaming): a pause reaching it rests as the
    silence after the last word does, not open to the Face's pause habit (the batch render knows the end).

    Every step reaches a bounded number of frames around each frame (``timeline_stream.reach``), so a
    stretch of an utterance shaped with enough frames of context on both sides gives the same targets
    as the whole utterance away from the stretch's edges.
    """
    n = len(db)
    loud = np.clip((db - config.silence_db) / (config.loud_db - config.silence_db), 0.0, 1.0)
    has_phones = vis is not None
    if vis is not None and at_phone is not None:
        # the visual lead moves opening gestures early, not closures: a frame whose led viseme is a p/b/m
        # while its own phone still sounds keeps that phone's viseme (its opening, and the mouths the
        # selector prefers: with the led viseme the text path's lips closed two frames before the phone,
        # bench/fidelity.py bilabial_closures)
        early = _CLOSURE[vis] & ~_CLOSURE[at_phone] & (at_phone != SIL)
        vis = np.where(early, at_phone, vis).astype(np.uint8)
    if vis is not None:
        share = _SHAPE_AP[vis]
        share = (1 - config.energy_weight) * share + config.energy_weight * share * np.sqrt(loud) * 1.4
    else:  # no phones: the loudness envelope alone drives the opening
        vis = np.where(voiced & (db > config.silence_db), VISEMES.index("aa"), SIL).astype(np.uint8)
        share = 0.8 * loud
    width_share = _SHAPE_W[vis]
    trusted = has_phones and trust_phones
    # rows of ``predicted`` that are NaN: frames without a prediction (shaped as without a model)
    pred = None
    modelled = np.zeros(n, dtype=bool)
    if predicted is not None and len(predicted) >= n and n:
        pred = np.asarray(predicted[:n], dtype=np.float64).reshape(n, -1)
        modelled = np.isfinite(pred).all(axis=1)
    quiet, edge = find_pauses(db, voiced, vis, fps=fps, config=config, trusted=trusted, modelled=modelled,
                              first_frames=first_frames, last_frames=last_frames)
    if may_end and not last_frames and n and quiet[-1]:  # perhaps the silence after the last word
        edge = edge.copy()
        edge[runs(quiet)[-1][0]:] = True
    lead = min(max(int(mouth_lead), 0), config.lookahead) if config.close_early else 0
    inner = inner_pauses(quiet, edge, fps, config, lead=lead)
    if lead and n > lead:  # the Face's lips stop before its sound does: close them that much earlier
        quiet = quiet | np.concatenate([quiet[lead:], np.zeros(lead, dtype=bool)])
        inner = inner | np.concatenate([inner[lead:], np.zeros(lead, dtype=bool)])
    # p, b, m press the lips together during the phone itself, not ``lead_s`` before it: the lips close
    # as the stop's closure begins (the lead suits the opening gestures, which start before their sound)
    stops = at_phone if at_phone is not None else vis
    press = (_CLOSURE[stops] & (stops != SIL)) if trusted else np.zeros(n, dtype=bool)
    closed = quiet | press
    share = np.where(closed, 0.0, share)
    share_s = _smooth(share, config.coartic) if n else share
    width_s = _smooth(width_share, config.coartic) if n else width_share
    aperture = priors.aperture(np.clip(share_s, 0.0, 1.2))
    width = priors.width(width_s)
    if pred is not None:
        w = np.where(modelled, config.audio_model_weight_trusted if trusted else config.audio_model_weight, 0.0)
        pred_ap = np.clip(np.nan_to_num(pred[:, 0]), priors.closed, priors.open * 1.2)
        aperture = w * pred_ap + (1 - w) * aperture
        if pred.shape[1] > 1:
            wd = np.where(modelled, config.width_model_weight, 0.0)
            lo, hi = priors.width(np.zeros(1))[0], priors.width(np.ones(1))[0]
            width = wd * np.clip(np.nan_to_num(pred[:, 1]), lo, hi) + (1 - wd) * width
    # in pauses the lips rest together without pressing (or lower, where the model says so);
    # bilabials press them shut
    # between words the cap is the Face's own habit (measured at build; ``pause_habit``), else the config's:
    # in short pauses inside speech its wide habit, in longer ones (``long_pause``) the rest as at the edges
    rest = priors.aperture(np.full(n, config.rest_share))
    habit = priors.pause_share if config.pause_habit != "off" else None
    share_cap = config.pause_cap_share if habit is None else habit
    if habit is not None and config.pause_habit == "level":  # between words: the habit itself
        rest = np.where(edge, rest, priors.aperture(np.full(n, habit)))
    elif config.quiet_follows_model:  # within the cap; the silence before the first word and after the last rests
        resting = min(share_cap, config.rest_share)
        wide = share_cap if habit is None else (config.pause_open_unknown if priors.pause_open is None
                                                else priors.pause_open)
        longer = share_cap if config.long_pause == "habit" else resting
        cap = priors.aperture(np.where(edge, resting, np.where(inner, max(wide, share_cap), longer)))
        rest = np.where(modelled, np.minimum(aperture, cap), rest)
    aperture = np.where(quiet, rest, aperture)
    aperture = np.where(press, priors.closed, aperture)
    back = int(round(config.speaking_back_s * fps))
    ahead = int(round(config.speaking_ahead_s * fps))
    bridged = _dilate(voiced, back, 0) & _dilate(voiced, 0, back)  # inside a short pause
    speaking = _dilate(voiced, 2, ahead) | bridged
    return Timeline(
        fps=fps,
        viseme=vis,
        closed=closed,
        aperture=aperture,
        width=width,
        speaking=speaking,
        voiced=voiced,
        start=start,
    )
