"""Voice profile of a Face's speaker and adaptation of TTS speech toward it (pyworld).

The profile summarises what makes a voice recognisable and can be measured robustly from ~30 s of
speech: pitch (F0 median and quartiles from WORLD's harvest, over loud, steadily voiced frames only:
pitch trackers invent F0 in noise and blips), speaking rate (syllable nuclei per
second of speech), and the spectral envelope (mean log envelope in mel bands, its tilt, and the
centroid of the formant region, which tracks vocal-tract length).

Adaptation re-synthesises speech with WORLD: F0 is mapped in the log domain (median moved, spread
scaled to the target), the spectral envelope is warped along frequency by the ratio of envelope
centroids and equalised toward the target's mean envelope; ``strength`` scales all three. It keeps
the words and timing, so TTS phone timings stay valid.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from facecraft.audio import RATE, frame_power, power_db
from facecraft.errors import InputError, SpeechError
from facecraft.speech._pcm import check_audio, to_float16k

with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    import pyworld

__all__ = [
    "VoiceProfile", "VoiceMapping", "profile_voice", "plan_voice", "adapt_voice", "shift_voice", "f0_distance",
    "hz_to_semitones",
]

log = logging.getLogger(__name__)

FRAME_PERIOD_MS = 5.0
F0_FLOOR_HZ = 55.0
F0_CEIL_HZ = 500.0
SEMITONE_REF_HZ = 55.0  # semitone values are relative to A1
MEL_BANDS = 24
_ANALYSIS_RATE = RATE
_FORMANT_BAND = (200.0, 4000.0)  # where the centroid (vocal-tract length cue) is measured
_TILT_BAND = (100.0, 5000.0)
_SILENT_RMS = 1e-4
_MIN_VOICED_FRAMES = 40  # 0.2 s of voiced speech
# Re-synthesis with a mapping measured elsewhere (``adapt_voice(mapping=...)``) measures nothing on the piece:
# 50 ms of pitch is enough to move it (gaps are filled from it). With the 0.2 s above, a live reply's first
# part (0.4-0.55 s with its context) missed it in 6 of 10 short sentences: harvest ran again at full cost
# (3x the 2x-time-scale run) and the part still kept the TTS voice, audibly unlike the rest of the sentence.
_MAPPED_MIN_VOICED_FRAMES = 10
_MAX_EQ_DB = 10.0
_SPEECH_RANGE_DB = 30.0
_MAX_GLIDE_ST = 1.0
_MIN_RUN_FRAMES = 8  # 40 ms: a stretch of voicing as long as a short vowel
_SONORANT_SHARE = 0.3
_MAX_FILL_FRAMES = 80  # fill voicing gaps up to 0.4 s from a voiced frame
_WARP_LIMITS = (0.8, 1.25)
# Adaptation toward a Face's voice tracks pitch with harvest on the signal read this many times faster
# (``_harvest``): harvest refines its candidates every 1 ms of the time it is told, so this halves its
# frames. Measured on 28 Piper sentences (joe, the voice every adaptation starts from; load ~9):
# analysis CPU 9.7 -> 5.1 s, octave jumps between neighbouring voiced frames of the contour re-synthesised
# 4 -> 0, voiced frames after gap filling 8367 -> 8109 of 8448 loud ones. Read faster, voiced runs
# shorter than harvest's shortest (tens of ms) are dropped: audio left with too little pitch is tracked
# again at its own rate. A Face's own voice is profiled with harvest as it is (people, once, at build), and
# the stock voices' fixed shifts (``shift_voice``) were tuned on harvest's pitch: both keep it.
_ADAPT_TIME_SCALE = 2
_SPREAD_LIMITS = (0.5, 2.0)


def hz_to_semitones(hz: float | np.ndarray) -> Any:
    """Semitones above 55 Hz (A1)."""
    return 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / SEMITONE_REF_HZ)


@dataclass
class VoiceProfile:
    """What a speaker's voice sounds like, in numbers (stored as a Face's ``voice.json``)."""

    f0_median_hz: float
    f0_q25_hz: float
    f0_q75_hz: float
    f0_median_st: float  # semitones above 55 Hz
    f0_iqr_st: float  # interquartile range of F0 in semitones (how lively the intonation is)
    voiced_fraction: float  # voiced share of the speech time
    speaking_rate_sps: float  # syllable nuclei per second of speech
    speech_s: float  # seconds of speech the profile was measured on
    spectral_centroid_hz: float  # centroid of the mean envelope in 200..4000 Hz
    spectral_tilt_db_oct: float  # slope of the mean envelope over 100..5000 Hz, dB per octave
    mel_envelope_db: list[float]  # mean log envelope of voiced frames in MEL_BANDS mel bands, 0..8 kHz
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mel_envelope_db"] = [round(float(v), 3) for v in self.mel_envelope_db]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceProfile:
        """Rebuild a profile; InputError naming the missing field when ``data`` is not one."""
        if not isinstance(data, dict):
            raise InputError("a voice profile must be a JSON object")
        names = {f.name for f in fields(cls)}
        missing = sorted(n for n in names - {"version"} if n not in data)
        if missing:
            raise InputError(f"the voice profile lacks {', '.join(missing)}")
        try:
            values = {n: data[n] for n in names if n in data}
            values["mel_envelope_db"] = [float(v) for v in values["mel_envelope_db"]]
            for n in names - {"mel_envelope_db", "version"}:
                values[n] = float(values[n])
            values["version"] = int(values.get("version", 1))
        except (TypeError, ValueError) as exc:
            raise InputError(f"the voice profile has a non-numeric value: {exc}") from exc
        if len(values["mel_envelope_db"]) != MEL_BANDS:
            raise InputError(f"the voice profile's mel_envelope_db needs {MEL_BANDS} bands")
        return cls(**values)


@dataclass
class _World:
    """WORLD analysis of one signal."""

    samples: np.ndarray  # float64
    sample_rate: int
    f0: np.ndarray
    sp: np.ndarray  # power spectral envelope, frames x (fft/2+1)
    ap: np.ndarray
    voiced: np.ndarray  # harvest's F0 in loud frames, in steady runs (trusted for statistics; see _analyse)
    loud: np.ndarray  # frames within 30 dB of the loud end

    @property
    def freqs(self) -> np.ndarray:
        return np.linspace(0.0, self.sample_rate / 2.0, self.sp.shape[1])


def _checked(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    arr = check_audio(samples, sample_rate)
    if arr.size < int(0.3 * sample_rate):
        raise SpeechError(f"the audio is too short for voice analysis ({arr.size / sample_rate:.2f} s; need 0.3 s)")
    if float(np.sqrt(np.mean(arr.astype(np.float64) ** 2))) < _SILENT_RMS:
        raise SpeechError("the audio is silent: there is no voice to analyse")
    return arr


def _analyse(samples: np.ndarray, sample_rate: int, *, for_synthesis: bool,
             min_voiced_frames: int = _MIN_VOICED_FRAMES, time_scale: int = 1) -> _World:
    """WORLD analysis with harvest (dio + stonemask is 10x faster but makes octave errors on Piper's
    breathy voice: 573 of 992 frames that both call voiced an octave or more off harvest's, over 12 Piper
    sentences; harvest still runs at ~0.1 x real time, adaptation's at half that: ``_harvest``).

    ``for_synthesis`` also fills voicing gaps (see ``_fill_voicing``) and computes aperiodicity.
    ``time_scale`` > 1 tracks pitch faster (``_harvest``; the adaptation toward a Face's voice).
    A profile needs 0.2 s of steady voicing. Re-synthesis can fall back on 0.2 s of pitch in runs
    of any length: a short sentence in Piper's breathy voice may have little steady voicing (one 2 s
    sentence: 41 steady frames at worst over 40 syntheses; 72 pitched frames at worst over 25).
    """
    x = np.ascontiguousarray(samples, dtype=np.float64)
    f0, t = _harvest(x, sample_rate, time_scale)
    loud = _loud_frames(x, sample_rate, len(f0))
    pitched = (f0 > 0) & loud
    if time_scale > 1 and int(np.count_nonzero(pitched)) < min_voiced_frames:
        # read faster, voicing shorter than harvest's shortest run is dropped: such audio gets harvest itself
        f0, t = _harvest(x, sample_rate, 1)
        pitched = (f0 > 0) & loud
    voiced = _steady_runs(f0, pitched, _MIN_RUN_FRAMES)
    if for_synthesis and int(np.count_nonzero(voiced)) < min_voiced_frames:
        voiced = pitched
    if int(np.count_nonzero(voiced)) < min_voiced_frames:
        raise SpeechError("no voiced speech found in the audio (no pitch in at least 0.2 s of it)")
    ap = np.zeros((0, 0))
    if for_synthesis:
        f0 = _fill_voicing(x, sample_rate, f0, loud)
        ap = pyworld.d4c(x, f0, t, sample_rate)
    sp = pyworld.cheaptrick(x, f0, t, sample_rate)
    return _World(samples=x, sample_rate=sample_rate, f0=f0, sp=sp, ap=ap, voiced=voiced, loud=loud)


def _harvest(x: np.ndarray, sample_rate: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """WORLD's harvest F0 (Hz) and frame times (s) every ``FRAME_PERIOD_MS``, the signal read ``scale`` times
    faster than it is (pitch, F0 range and time scaled alike, then scaled back): the same frames, for
    about 1 / ``scale`` of harvest's 1 ms candidate refinement (see ``_ADAPT_TIME_SCALE``)."""
    f0, t = pyworld.harvest(x, sample_rate * scale, f0_floor=F0_FLOOR_HZ * scale, f0_ceil=F0_CEIL_HZ * scale,
                            frame_period=FRAME_PERIOD_MS / scale)
    if scale == 1:
        return f0, t
    return np.ascontiguousarray(f0 / scale), np.ascontiguousarray(t * scale)


def _fill_voicing(x: np.ndarray, sample_rate: int, f0: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """Give a pitch to loud, sonorant frames that harvest left unvoiced, by log-interpolation.

    Piper's vocoded voice is breathy: harvest finds no pitch in about half of its vowels, and WORLD
    would re-synthesise those as noise (a whisper): PocketSphinx's word error on a Piper paragraph
    went from 10 % to 20 % after a plain WORLD round trip, and back to 10 % with the gaps filled.
    A frame is sonorant when most of its non-mid energy lies below 900 Hz rather than above 3 kHz
    (vowels, nasals, liquids; not fricatives).
    """
    from scipy.signal import butter, sosfiltfilt

    n = len(f0)
    voiced_idx = np.flatnonzero(f0 > 0)
    if voiced_idx.size < 2:
        return f0
    low = sosfiltfilt(butter(4, [70.0, 900.0], btype="bandpass", fs=sample_rate, output="sos"), x)
    high = sosfiltfilt(butter(4, 3000.0, btype="highpass", fs=sample_rate, output="sos"), x)
    e_low = 10.0 ** (_frame_energy_db(low, sample_rate, n) / 10.0)
    e_high = 10.0 ** (_frame_energy_db(high, sample_rate, n) / 10.0)
    sonorant = loud & (e_low / (e_low + e_high) > _SONORANT_SHARE)
    gaps = np.flatnonzero(sonorant & (f0 <= 0))
    after = np.searchsorted(voiced_idx, gaps)  # index of the next voiced frame
    log_f0 = np.log(np.where(f0 > 0, f0, 1.0))
    out = f0.copy()
    for frame, k in zip(gaps, after):
        prev = voiced_idx[k - 1] if k > 0 else None
        nxt = voiced_idx[k] if k < voiced_idx.size else None
        if prev is not None and nxt is not None and nxt - prev <= 2 * _MAX_FILL_FRAMES:
            w = (frame - prev) / (nxt - prev)
            out[frame] = np.exp(log_f0[prev] * (1.0 - w) + log_f0[nxt] * w)
        elif prev is not None and frame - prev <= _MAX_FILL_FRAMES:
            out[frame] = f0[prev]
        elif nxt is not None and nxt - frame <= _MAX_FILL_FRAMES:
            out[frame] = f0[nxt]
    return out


def _steady_runs(f0: np.ndarray, mask: np.ndarray, min_len: int) -> np.ndarray:
    """Frames of ``mask`` in runs of at least ``min_len`` frames whose pitch moves smoothly.

    A real voice glides (well under a semitone per 5 ms frame); pitch "found" in breath noise or a
    vocoder's aperiodic stretches jumps around and comes in short blips.
    """
    st = np.where(f0 > 0, hz_to_semitones(np.maximum(f0, 1e-3)), 0.0)
    joined = mask[1:] & mask[:-1] & (np.abs(np.diff(st)) < _MAX_GLIDE_ST)
    out = np.zeros_like(mask)
    start = 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or not joined[i - 1]:
            if mask[start] and i - start >= min_len:
                out[start:i] = True
            start = i
    return out


def _frame_energy_db(x: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    hop = int(round(sample_rate * FRAME_PERIOD_MS / 1000.0))
    n = min(n_frames, x.size // hop)
    energy = np.full(n_frames, -120.0)
    starts = np.arange(n) * hop
    energy[:n] = power_db(frame_power(x, starts, starts + hop)[0], floor=1e-12)
    return energy


def _loud_frames(x: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    """Frames within 30 dB of the loud end: pitch found in background noise is not the voice's."""
    energy = _frame_energy_db(x, sample_rate, n_frames)
    return energy > np.percentile(energy, 95) - _SPEECH_RANGE_DB


def _mel(hz: np.ndarray | float) -> Any:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_edges(top_hz: float = 8000.0) -> np.ndarray:
    return 700.0 * (10.0 ** (np.linspace(0.0, _mel(top_hz), MEL_BANDS + 1) / 2595.0) - 1.0)


def _mean_log_envelope(sp: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Mean over ``voiced`` frames of the envelope ``sp`` in dB, per FFT bin (level-normalised per frame)."""
    db = 10.0 * np.log10(np.maximum(sp[voiced], 1e-20))
    db -= db.max(axis=1, keepdims=True)  # loudness does not change the timbre
    return db.mean(axis=0)


def _band_means(freqs: np.ndarray, db: np.ndarray, edges: np.ndarray) -> np.ndarray:
    out = np.empty(len(edges) - 1)
    for i in range(len(edges) - 1):
        sel = (freqs >= edges[i]) & (freqs < edges[i + 1])
        out[i] = db[sel].mean() if np.any(sel) else np.interp(0.5 * (edges[i] + edges[i + 1]), freqs, db)
    return out


def _centroid(freqs: np.ndarray, db: np.ndarray) -> float:
    """Centroid weighted by level above a floor 50 dB under the peak (power would see only F1)."""
    sel = (freqs >= _FORMANT_BAND[0]) & (freqs <= _FORMANT_BAND[1])
    weight = np.maximum(db[sel] - (db[sel].max() - 50.0), 0.0)
    return float(np.sum(freqs[sel] * weight) / np.sum(weight))


def _tilt(freqs: np.ndarray, db: np.ndarray) -> float:
    sel = (freqs >= _TILT_BAND[0]) & (freqs <= min(_TILT_BAND[1], freqs[-1]))
    slope, _ = np.polyfit(np.log2(freqs[sel]), db[sel], 1)
    return float(slope)


def _f0_stats(f0: np.ndarray) -> tuple[float, float, float]:
    """Median, 25th and 75th percentile (Hz) of trusted F0 frames."""
    q25, med, q75 = np.percentile(f0, [25, 50, 75])
    return float(med), float(q25), float(q75)


def _syllable_nuclei(samples: np.ndarray, sample_rate: int) -> int:
    """Count peaks of the 300..3000 Hz energy envelope, one per vowel (De Jong & Wempe style).

    Smoothing (~40 ms), 3 dB prominence and a 100 ms spacing were tuned on the LibriVox (31 of 31
    syllables), JFK (27 of 27) and a Piper sentence (32 of 34).
    """
    from scipy.signal import butter, find_peaks, sosfiltfilt

    sos = butter(4, [300.0, 3000.0], btype="bandpass", fs=sample_rate, output="sos")
    band = sosfiltfilt(sos, samples)
    hop = int(round(sample_rate * FRAME_PERIOD_MS / 1000.0))
    energy_db = _frame_energy_db(band, sample_rate, band.size // hop)
    kernel = np.hanning(9)
    energy_db = np.convolve(energy_db, kernel / kernel.sum(), mode="same")
    floor = np.percentile(energy_db, 95) - 25.0
    peaks, _ = find_peaks(energy_db, prominence=3.0, distance=int(100 / FRAME_PERIOD_MS), height=floor)
    return int(peaks.size)


def _speech_seconds(samples16k: np.ndarray) -> float:
    from facecraft.speech.vad import detect_speech

    segments = detect_speech(samples16k, _ANALYSIS_RATE)
    return float(sum(s.duration for s in segments))


def profile_voice(samples: np.ndarray, sample_rate: int) -> VoiceProfile:
    """Measure a speaker's voice profile from their speech (ideally 10–30 s of it).

    Raises SpeechError (``audio_processing``) for empty, silent, non-finite or unvoiced audio or a
    sample rate below 8 kHz.
    """
    _checked(samples, sample_rate)
    x16 = to_float16k(samples, sample_rate)
    world = _analyse(x16, _ANALYSIS_RATE, for_synthesis=False)
    median, q25, q75 = _f0_stats(world.f0[world.voiced])
    q25_st, q75_st = np.percentile(hz_to_semitones(world.f0[world.voiced]), [25, 75])
    speech_s = _speech_seconds(x16)
    if speech_s <= 0.0:
        speech_s = float(np.count_nonzero(world.voiced)) * FRAME_PERIOD_MS / 1000.0
    voiced_s = float(np.count_nonzero(world.voiced)) * FRAME_PERIOD_MS / 1000.0
    env = _mean_log_envelope(world.sp, world.voiced)
    freqs = world.freqs
    profile = VoiceProfile(
        f0_median_hz=median,
        f0_q25_hz=q25,
        f0_q75_hz=q75,
        f0_median_st=float(hz_to_semitones(median)),
        f0_iqr_st=float(q75_st - q25_st),
        voiced_fraction=float(min(1.0, voiced_s / speech_s)),
        speaking_rate_sps=_syllable_nuclei(world.samples, _ANALYSIS_RATE) / speech_s,
        speech_s=speech_s,
        spectral_centroid_hz=_centroid(freqs, env),
        spectral_tilt_db_oct=_tilt(freqs, env),
        mel_envelope_db=[float(v) for v in _band_means(freqs, env, _mel_edges())],
    )
    log.debug("voice profile: %s", profile)
    return profile


def f0_distance(a: VoiceProfile, b: VoiceProfile) -> float:
    """Distance in semitones between two voices' F0 medians (always >= 0)."""
    return float(abs(12.0 * np.log2(a.f0_median_hz / b.f0_median_hz)))


@dataclass(frozen=True)
class VoiceMapping:
    """How ``adapt_voice`` moves one voice toward a target: measured once (``plan_voice``) on a stretch of
    that voice, then applied to each piece of it (sentence by sentence, in bounded memory) alike."""

    f0_median_st: float  # the source's pitch level (semitones), as re-synthesised (gaps filled)
    f0_spread: float  # factor on the pitch's distance from that level
    f0_new_median_st: float
    warp: float  # frequency warp of the envelope (vocal-tract length)
    eq_db: tuple[float, ...]  # gain per mel band (MEL_BANDS), cut only
    strength: float


def plan_voice(samples: np.ndarray, sample_rate: int, target: VoiceProfile, *, strength: float = 1.0) -> VoiceMapping:
    """The mapping from the voice in ``samples`` (a few seconds of it) toward ``target``."""
    if not 0.0 <= float(strength) <= 1.0:
        raise InputError(f"adaptation strength must be within 0..1, got {strength}")
    return _plan(_analyse(_checked(samples, sample_rate), sample_rate, for_synthesis=True,
                          time_scale=_ADAPT_TIME_SCALE), target, strength)


def _plan(world: _World, target: VoiceProfile, strength: float) -> VoiceMapping:
    # Map from the pitch that will actually be re-synthesised (gaps filled), which is lower than
    # harvest's own voiced frames: it misses Piper's low, breathy stretches.
    trusted_st = hz_to_semitones(world.f0[(world.f0 > 0) & world.loud])
    med = float(np.median(trusted_st))
    q25, q75 = np.percentile(trusted_st, [25, 75])
    spread = float(np.clip(target.f0_iqr_st / max(float(q75 - q25), 0.1), *_SPREAD_LIMITS)) ** strength
    new_med = med + strength * (target.f0_median_st - med)
    env = _mean_log_envelope(world.sp, world.voiced)
    alpha = float(np.clip((target.spectral_centroid_hz / _centroid(world.freqs, env)) ** strength, *_WARP_LIMITS))
    sp = _warp_envelope(world.sp, world.freqs, alpha)
    current = _band_means(world.freqs, _mean_log_envelope(sp, world.voiced), _mel_edges())
    gain = np.clip(np.asarray(target.mel_envelope_db) - current, -_MAX_EQ_DB, _MAX_EQ_DB) * strength
    gain -= np.max(gain)  # cut, never boost: keeps noise down and the peak level sane
    return VoiceMapping(med, spread, new_med, alpha, tuple(float(g) for g in gain), float(strength))


def adapt_voice(
    samples: np.ndarray, sample_rate: int, target: VoiceProfile, *, strength: float = 1.0,
    mapping: VoiceMapping | None = None,
) -> np.ndarray:
    """Move speech toward ``target`` (pitch level and range, vocal-tract length, mean timbre).

    Returns float32 samples at ``sample_rate`` with the same length and peak level as the input.
    ``strength`` 0 returns the input unchanged, 1 applies the full mapping. ``mapping`` (from
    ``plan_voice`` on a longer stretch of the same voice) makes every piece of an utterance move
    alike; without it the mapping is measured on ``samples`` themselves. Raises SpeechError for
    unusable audio and InputError for a strength outside 0..1.
    """
    if not 0.0 <= float(strength) <= 1.0:
        raise InputError(f"adaptation strength must be within 0..1, got {strength}")
    x = _checked(samples, sample_rate)
    if strength == 0.0 or (mapping is not None and mapping.strength == 0.0):
        return x.copy()
    world = _analyse(x, sample_rate, for_synthesis=True, time_scale=_ADAPT_TIME_SCALE,
                     min_voiced_frames=_MIN_VOICED_FRAMES if mapping is None else _MAPPED_MIN_VOICED_FRAMES)
    plan = mapping if mapping is not None else _plan(world, target, strength)
    f0 = _map_f0(world.f0, plan)
    sp = _warp_envelope(world.sp, world.freqs, plan.warp)
    sp = _equalise(sp, world.freqs, np.asarray(plan.eq_db))
    y = pyworld.synthesize(f0, np.ascontiguousarray(sp), world.ap, sample_rate, FRAME_PERIOD_MS)
    y = _fit_length(y, x.size)
    peak_in, peak_out = float(np.max(np.abs(x))), float(np.max(np.abs(y)))
    if peak_out > 0:
        y *= peak_in / peak_out
    log.debug("adapted voice: warp %.3f, strength %.2f", plan.warp, plan.strength)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def shift_voice(samples: np.ndarray, sample_rate: int, *, semitones: float = 0.0, formants: float = 1.0,
                intonation: float = 1.0) -> np.ndarray:
    """A fixed change of voice: pitch moved by ``semitones``, formants scaled by ``formants`` (> 1 moves
    them up: a shorter vocal tract), the pitch's spread around its median scaled by ``intonation``.

    This is how stock voices are made from one packaged TTS voice (``speech.voices``): a plain pitch
    shift alone sounds like the same speaker sped up; moving the formants with it makes another
    speaker. Same length and peak level as the input, so TTS phone timings stay valid. Raises
    SpeechError for unusable audio, InputError for a shift outside -12..12 semitones or a formant
    scale outside the warp limits.
    """
    if not -12.0 <= semitones <= 12.0:
        raise InputError(f"a pitch shift must be within -12..12 semitones, got {semitones}")
    if not _WARP_LIMITS[0] <= formants <= _WARP_LIMITS[1]:
        raise InputError(f"a formant scale must be within {_WARP_LIMITS[0]}..{_WARP_LIMITS[1]}, "
                         f"got {formants}")
    if not _SPREAD_LIMITS[0] <= intonation <= _SPREAD_LIMITS[1]:
        raise InputError(f"an intonation scale must be within {_SPREAD_LIMITS[0]}..{_SPREAD_LIMITS[1]}, "
                         f"got {intonation}")
    x = check_audio(samples, sample_rate)
    silent = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) < _SILENT_RMS
    if silent or (semitones == 0.0 and formants == 1.0 and intonation == 1.0):
        return x.copy()
    # Any pitch at all will do: a short word ("Hi.") has too little for a profile but must still move.
    world = _analyse(x, sample_rate, for_synthesis=True, min_voiced_frames=0)
    f0 = world.f0.copy()
    voiced = f0 > 0
    if np.any(voiced):
        st = hz_to_semitones(f0[voiced])
        med = float(np.median(st))
        f0[voiced] = SEMITONE_REF_HZ * 2.0 ** ((med + semitones + (st - med) * intonation) / 12.0)
    sp = _warp_envelope(world.sp, world.freqs, float(formants))
    y = pyworld.synthesize(f0, np.ascontiguousarray(sp), world.ap, sample_rate, FRAME_PERIOD_MS)
    y = _fit_length(y, x.size)
    peak_in, peak_out = float(np.max(np.abs(x))), float(np.max(np.abs(y)))
    if peak_out > 0:
        y *= peak_in / peak_out
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def _map_f0(f0: np.ndarray, plan: VoiceMapping) -> np.ndarray:
    """Log-domain F0 mapping: median moved toward the target, spread around it scaled to the target's."""
    voiced = f0 > 0
    st = hz_to_semitones(f0[voiced])
    out = f0.copy()
    out[voiced] = SEMITONE_REF_HZ * 2.0 ** ((plan.f0_new_median_st + (st - plan.f0_median_st) * plan.f0_spread) / 12.0)
    return out


def _warp_envelope(sp: np.ndarray, freqs: np.ndarray, alpha: float) -> np.ndarray:
    """sp'(f) = sp(f / alpha): alpha > 1 moves formants up (a shorter vocal tract)."""
    if abs(alpha - 1.0) < 1e-3:
        return sp
    src = np.clip(freqs / alpha, 0.0, freqs[-1])
    pos = src / freqs[-1] * (len(freqs) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(freqs) - 1)
    w = pos - lo
    log_sp = np.log(np.maximum(sp, 1e-20))
    return np.exp(log_sp[:, lo] * (1.0 - w) + log_sp[:, hi] * w)


def _equalise(sp: np.ndarray, freqs: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Apply a smooth EQ given per mel band (``gain``, dB) to the envelope ``sp``."""
    top = min(8000.0, freqs[-1])
    edges = _mel_edges()
    centres = 0.5 * (edges[:-1] + edges[1:])
    valid = centres <= top
    gain_bins = np.interp(freqs, centres[valid], gain[valid])
    return sp * (10.0 ** (gain_bins / 10.0))[None, :]


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    if y.size >= n:
        return y[:n]
    return np.pad(y, (0, n - y.size))
