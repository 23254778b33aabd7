"""Upload checks for a training video or a photo: one report of pass/warn/fail checks.

Each check carries the error id of reference/API.md, a human sentence, the measured value, the
threshold it was held against (``faces.thresholds``) and, where it helps, the time ranges at fault.
Checks never raise for a bad upload: an unreadable, truncated or non-media file gives a ``fail``
report, so the service and the portal can always show the user what is wrong.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from facecraft.audio import RATE
from facecraft.errors import FacecraftError
from facecraft.faces.analyze import analyze, fill_nan
from facecraft.faces.scene import SceneMeter, SceneStats
from facecraft.faces.thresholds import DEFAULT, Thresholds
from facecraft.faces.types import Analysis, Check, CheckReport
from facecraft.media.types import Frame, MediaInfo
from facecraft.speech.types import Segment
from facecraft.vision.smoothing import runs
from facecraft.vision.types import Tracks

__all__ = [
    "check_video",
    "check_image",
    "file_checks",
    "size_check",
    "content_checks",
    "decode_check",
    "metered",
    "snr_db",
    "CHECK_MAX_SIDE",
]

log = logging.getLogger(__name__)

CHECK_MAX_SIDE = 640  # frames are analysed at this long side: enough for the mesh, fast on 2 cores
AUDIO_RATE = RATE
_MAX_RANGES = 20
_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"}
_CODECS = {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"}
_CONTAINER_NAMES = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "webm"}


def _check(id_: str, label: str, status: str, message: str, value: float | str | None = None,
           threshold: float | str | None = None, ranges: list[tuple[float, float]] | None = None) -> Check:
    if isinstance(value, (float, np.floating)):
        value = round(float(value), 3)
    if isinstance(threshold, (float, np.floating)):
        threshold = round(float(threshold), 3)
    return Check(id=id_, label=label, status=status, message=message, value=value,  # type: ignore[arg-type]
                 threshold=threshold, ranges=ranges or [])


def _ranges(flags: np.ndarray, times: np.ndarray, fps: float, *, min_frames: int = 1) -> list[tuple[float, float]]:
    """Time ranges (s) of the True runs of ``flags`` that last at least ``min_frames`` frames."""
    out = []
    for a, b in runs(flags):
        if b - a >= min_frames:
            out.append((round(float(times[a]), 2), round(float(times[b - 1]) + 1.0 / fps, 2)))
    return out[:_MAX_RANGES]


# --- file and stream checks -----------------------------------------------------------------


def size_check(size_bytes: int, th: Thresholds = DEFAULT) -> Check:
    """File size against the upload limit (750 MB)."""
    mb = size_bytes / 1024 / 1024
    limit_mb = th.max_file_bytes / 1024 / 1024
    if size_bytes > th.max_file_bytes:
        return _check("file_size", "File size", "fail", f"The file is {mb:.0f} MB; the limit is {limit_mb:.0f} MB.",
                      mb, limit_mb)
    return _check("file_size", "File size", "pass", f"The file is {mb:.1f} MB.", mb, limit_mb)


def file_checks(info: MediaInfo, th: Thresholds = DEFAULT, *, include_size: bool = True) -> list[Check]:
    """Checks that need only the probe: size, format/codec, duration, fps, resolution, audio."""
    checks: list[Check] = [size_check(info.size_bytes, th)] if include_size else []

    video = info.video
    if video is None:
        checks.append(_check("video_format", "Format and codec", "fail",
                             "The file has no video stream (audio only).", info.container, "mp4 or webm"))
        return checks
    good_container = info.container in _CONTAINERS
    good_codec = video.codec in _CODECS
    what = f"{_CONTAINER_NAMES.get(info.container, info.container.split(',')[0])} / {video.codec}"
    if good_container and good_codec:
        checks.append(_check("video_codec_and_format", "Format and codec", "pass",
                             f"{what} is supported.", what, "mp4/webm, H.264/HEVC/VP9"))
    else:
        id_ = "video_codec_and_format" if not (good_container or good_codec) else (
            "video_format" if not good_container else "video_codec")
        checks.append(_check(id_, "Format and codec", "warn",
                             f"{what} decodes, but mp4 (H.264) or webm is recommended.", what,
                             "mp4/webm, H.264/HEVC/VP9"))

    dur = info.duration_s
    if dur < th.min_duration_s:
        checks.append(_check("video_duration", "Duration", "fail",
                             f"The video lasts {dur:.1f} s; at least {th.min_duration_s:.0f} s is needed "
                             "(about 60 s is recommended).", dur, th.min_duration_s))
    elif dur > th.max_duration_s:
        checks.append(_check("video_duration", "Duration", "fail",
                             f"The video lasts {dur:.0f} s; the limit is {th.max_duration_s:.0f} s.",
                             dur, th.max_duration_s))
    elif dur < th.recommended_duration_s:
        checks.append(_check("video_duration", "Duration", "warn",
                             f"The video lasts {dur:.1f} s; about 60 s (30 s speaking, 30 s listening) "
                             "gives a better Face.", dur, th.recommended_duration_s))
    else:
        checks.append(_check("video_duration", "Duration", "pass", f"The video lasts {dur:.1f} s.",
                             dur, th.recommended_duration_s))

    fps = video.fps
    if fps < th.fail_fps:
        checks.append(_check("video_fps", "Frame rate", "fail",
                             f"{fps:.1f} fps is too choppy; record at 25 fps or more.", fps, th.fail_fps))
    elif fps < th.min_fps:
        checks.append(_check("video_fps", "Frame rate", "warn",
                             f"{fps:.1f} fps is below the recommended 25 fps.", fps, th.min_fps))
    else:
        checks.append(_check("video_fps", "Frame rate", "pass", f"{fps:.2f} fps.", fps, th.min_fps))

    short = min(video.width, video.height)
    size = f"{video.width}x{video.height}"
    if short < th.min_short_side_px:
        checks.append(_check("quality_issue_detected", "Resolution", "warn",
                             f"{size} is below 720p; 1080p is recommended.", short, th.min_short_side_px))
    else:
        checks.append(_check("quality_issue_detected", "Resolution", "pass", f"{size}.", short,
                             th.min_short_side_px))

    if info.audio is None:
        checks.append(_check("audio_processing", "Audio track", "fail",
                             "The video has no audio track; the Face needs the speaker's voice."))
    else:
        checks.append(_check("audio_processing", "Audio track", "pass",
                             f"{info.audio.codec} audio at {info.audio.sample_rate} Hz."))
    return checks


def decode_check(decoded: int, info: MediaInfo) -> Check:
    """Fail a truncated or partly undecodable video: far fewer frames than the container promises."""
    expected = info.video.frame_count if info.video else 0
    if decoded == 0:
        return _check("video_processing", "Decoding", "fail", "No frame of the video could be decoded.",
                      0, expected)
    if expected and decoded < 0.9 * expected:
        return _check("video_processing", "Decoding", "fail",
                      f"Only {decoded} of {expected} frames decode: the file looks truncated or corrupt.",
                      decoded, expected)
    return _check("video_processing", "Decoding", "pass", f"{decoded} frames decoded.", decoded, expected)


# --- content checks -------------------------------------------------------------------------


def _face_checks(tracks: Tracks, th: Thresholds) -> list[Check]:
    checks: list[Check] = []
    n = len(tracks)
    fps = tracks.fps or 25.0
    present = np.asarray(tracks.present, dtype=bool)
    share = float(present.mean()) if n else 0.0
    missing = _ranges(~present, tracks.times, fps, min_frames=max(1, round(0.2 * fps)))
    if share < th.fail_face_present:
        checks.append(_check("face_or_obstruction_detected", "Face visible", "fail",
                             f"A face is visible in only {share:.0%} of the frames.", share,
                             th.fail_face_present, missing))
    elif share < th.min_face_present:
        checks.append(_check("face_or_obstruction_detected", "Face visible", "warn",
                             f"The face is hidden or lost in {1 - share:.0%} of the frames.", share,
                             th.min_face_present, missing))
    else:
        checks.append(_check("face_or_obstruction_detected", "Face visible", "pass",
                             f"The face is visible in {share:.0%} of the frames.", share, th.min_face_present))

    many = np.asarray(tracks.face_count) > 1
    second = float(many.mean()) if n else 0.0
    if second > th.max_second_face:
        checks.append(_check("second_person_detected", "One person", "fail",
                             f"A second face is visible in {second:.0%} of the frames; only one person "
                             "may appear.", second, th.max_second_face,
                             _ranges(many, tracks.times, fps, min_frames=max(1, round(0.2 * fps)))))
    else:
        checks.append(_check("second_person_detected", "One person", "pass",
                             "Only one person is visible.", second, th.max_second_face))
    if present.sum() < 5:
        return checks

    box = np.asarray(tracks.box, dtype=np.float64)[present]
    heights = (box[:, 3] - box[:, 1]) / float(tracks.height)
    ratio = float(np.median(heights))
    if ratio < th.min_face_height:
        checks.append(_check("improper_distance", "Face size", "warn",
                             f"The face fills {ratio:.0%} of the frame height; move closer so that it fills "
                             f"at least {th.min_face_height:.0%}.", ratio, th.min_face_height))
    elif ratio > th.max_face_height:
        checks.append(_check("improper_distance", "Face size", "warn",
                             f"The face fills {ratio:.0%} of the frame height and may be cut off; "
                             "step back a little.", ratio, th.max_face_height))
    else:
        checks.append(_check("improper_distance", "Face size", "pass",
                             f"The face fills {ratio:.0%} of the frame height.", ratio, th.min_face_height))
    cv = float(np.std(heights) / max(np.median(heights), 1e-6))
    if cv > th.max_face_size_cv:
        checks.append(_check("inconsistent_distance", "Steady distance", "warn",
                             f"The distance to the camera changes a lot (face size varies by {cv:.0%}).",
                             cv, th.max_face_size_cv))
    else:
        checks.append(_check("inconsistent_distance", "Steady distance", "pass",
                             f"The distance to the camera is steady (±{cv:.0%}).", cv, th.max_face_size_cv))

    pose = np.asarray(tracks.pose, dtype=np.float64)
    yaw = np.abs(pose[:, 0])
    turned = present & (yaw > th.max_yaw_deg)
    turned_share = float(turned.sum() / max(present.sum(), 1))
    if turned_share > th.max_turned_share:
        checks.append(_check("face_turned_away", "Facing the camera", "warn",
                             f"The face is turned away in {turned_share:.0%} of the frames.",
                             turned_share, th.max_turned_share,
                             _ranges(turned, tracks.times, fps, min_frames=max(1, round(0.3 * fps)))))
    else:
        checks.append(_check("face_turned_away", "Facing the camera", "pass",
                             "The face looks at the camera.", turned_share, th.max_turned_share))
    pitch = float(np.nanmedian(pose[present, 1]))
    roll = float(np.nanmedian(pose[present, 2]))
    if abs(pitch) > th.max_pitch_deg or abs(roll) > th.max_roll_deg:
        checks.append(_check("improper_camera_angle", "Camera angle", "warn",
                             f"The camera looks at the face from an angle (pitch {pitch:.0f}°, roll {roll:.0f}°); "
                             "place it at eye level, level.", round(max(abs(pitch), abs(roll)), 1),
                             th.max_pitch_deg))
    else:
        checks.append(_check("improper_camera_angle", "Camera angle", "pass",
                             f"The camera is at eye level (pitch {pitch:.0f}°, roll {roll:.0f}°).",
                             round(max(abs(pitch), abs(roll)), 1), th.max_pitch_deg))
    return checks


def _picture_checks(tracks: Tracks, scene: SceneStats | None, th: Thresholds) -> list[Check]:
    checks: list[Check] = []
    present = np.asarray(tracks.present, dtype=bool)
    fps = tracks.fps or 25.0
    if present.sum() >= 5:
        luma = np.asarray(tracks.luminance, dtype=np.float64)
        med = float(np.nanmedian(luma[present]))
        if med < th.min_face_luma:
            checks.append(_check("poor_lighting", "Lighting", "warn",
                                 f"The face is too dark (mean level {med:.0f} of 255); add light in front.",
                                 med, th.min_face_luma))
        elif med > th.max_face_luma:
            checks.append(_check("poor_lighting", "Lighting", "warn",
                                 f"The face is too bright (mean level {med:.0f} of 255).", med, th.max_face_luma))
        else:
            checks.append(_check("poor_lighting", "Lighting", "pass",
                                 f"The face is well lit (mean level {med:.0f} of 255).", med, th.min_face_luma))
        smooth = _smooth(fill_nan(luma), max(1, round(fps)))
        change, where = _largest_change(smooth, max(1, round(fps)))
        if change > th.max_luma_change:
            t = float(tracks.times[min(where, len(tracks) - 1)])
            checks.append(_check("lighting_change_detected", "Steady lighting", "warn",
                                 f"The light on the face changes by {change:.0f} levels around {t:.1f} s.",
                                 change, th.max_luma_change, [(round(max(t - 1, 0), 2), round(t + 1, 2))]))
        else:
            checks.append(_check("lighting_change_detected", "Steady lighting", "pass",
                                 "The lighting is steady.", change, th.max_luma_change))
        sharp = float(np.nanmedian(np.asarray(tracks.sharpness, dtype=np.float64)[present]))
        if sharp < th.min_sharpness:
            checks.append(_check("quality_issue_detected", "Sharpness", "warn",
                                 "The face is blurry or out of focus.", sharp, th.min_sharpness))
        else:
            checks.append(_check("quality_issue_detected", "Sharpness", "pass", "The face is sharp.",
                                 sharp, th.min_sharpness))
    if scene is not None and scene.times.size:
        cut = (scene.hist_distance > th.cut_hist_distance) | (scene.pixel_change > th.cut_pixel_change)
        cut[0] = False
        if cut.any():
            times = [round(float(t), 2) for t in scene.times[cut]][:_MAX_RANGES]
            checks.append(_check("video_editing_detected", "One continuous take", "fail",
                                 f"The video is edited: {int(cut.sum())} cut(s), first at {times[0]:.1f} s. "
                                 "Record one continuous take.", int(cut.sum()), 0,
                                 [(t, t) for t in times]))
        else:
            checks.append(_check("video_editing_detected", "One continuous take", "pass",
                                 "No cuts found.", 0, 0))
    return checks


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if values.size == 0:
        return values
    kernel = np.ones(window) / window
    pad = window // 2
    return np.convolve(np.pad(values, (pad, window - 1 - pad), mode="edge"), kernel, mode="valid")


def _largest_change(values: np.ndarray, lag: int) -> tuple[float, int]:
    """Largest |v[i+lag] - v[i]| and the index where it ends."""
    if values.size <= lag:
        return 0.0, 0
    diff = np.abs(values[lag:] - values[:-lag])
    i = int(np.argmax(diff))
    return float(diff[i]), i + lag


def _motion_check(tracks: Tracks, th: Thresholds) -> Check | None:
    present = np.asarray(tracks.present, dtype=bool)
    fps = tracks.fps or 25.0
    if present.sum() < 5:
        return None
    first, last = int(np.argmax(present)), len(present) - int(np.argmax(present[::-1]))
    lost = ~present
    lost[:first] = False
    lost[last:] = False
    gaps = _ranges(lost, tracks.times, fps, min_frames=max(1, round(th.max_tracking_gap_s * fps)))
    box = np.asarray(tracks.box, dtype=np.float64)
    centre = np.stack([fill_nan((box[:, 0] + box[:, 2]) / 2), fill_nan((box[:, 1] + box[:, 3]) / 2)], axis=1)
    iod = float(np.nanmedian(tracks.interocular[present]))
    step = np.linalg.norm(np.diff(centre, axis=0), axis=1) * fps / max(iod, 1e-6)
    # Speed over a short window: single-frame jitter of the box is not head motion.
    speed = _smooth(step, max(1, round(0.2 * fps))) if step.size else step
    p95 = float(np.percentile(speed, 95)) if speed.size else 0.0
    fast = np.concatenate([[False], speed > th.max_head_speed_iod])
    if gaps:
        return _check("excessive_movement_detected", "Steady head", "warn",
                      f"The face is lost for more than {th.max_tracking_gap_s:.0f} s ({len(gaps)} time(s)).",
                      round(p95, 2), th.max_head_speed_iod, gaps)
    if p95 > th.max_head_speed_iod:
        return _check("excessive_movement_detected", "Steady head", "warn",
                      f"The head moves a lot ({p95:.1f} eye-distances per second); keep it steadier.",
                      p95, th.max_head_speed_iod,
                      _ranges(fast, tracks.times, fps, min_frames=max(1, round(0.2 * fps))))
    return _check("excessive_movement_detected", "Steady head", "pass",
                  "Head motion is natural and tracking holds.", p95, th.max_head_speed_iod)


def snr_db(samples: np.ndarray, sample_rate: int, speech: list[Segment]) -> float:
    """Speech-to-background energy ratio: speech frames (VAD) against the rest.

    When there is too little non-speech to measure (continuous talk), the quietest tenth of the
    frames stands for the background.
    """
    frame = max(1, int(0.03 * sample_rate))
    n = len(samples) // frame
    if n < 2:
        return 0.0
    energy = (samples[: n * frame].astype(np.float64).reshape(n, frame) ** 2).mean(axis=1)
    times = (np.arange(n) + 0.5) * frame / sample_rate
    is_speech = np.zeros(n, dtype=bool)
    for seg in speech:
        is_speech |= (times >= seg.start) & (times < seg.end)
    if not is_speech.any():
        return 0.0
    signal = energy[is_speech].mean()
    rest = energy[~is_speech]
    noise = rest.mean() if rest.size * frame >= 0.5 * sample_rate else np.percentile(energy, 10)
    return float(min(10 * np.log10(max(signal, 1e-12) / max(noise, 1e-12)), 90.0))


def _audio_checks(samples: np.ndarray | None, sample_rate: int, analysis: Analysis,
                  th: Thresholds) -> list[Check]:
    if samples is None:
        return []
    speech_s = float(sum(s.duration for s in analysis.speech))
    if speech_s < th.min_speech_s:
        return [_check("audio_processing", "Speech", "fail",
                       f"Only {speech_s:.1f} s of speech was heard; the Face needs the speaker talking.",
                       speech_s, th.min_speech_s)]
    checks = [_check("audio_processing", "Speech", "pass", f"{speech_s:.1f} s of speech.", speech_s,
                     th.min_speech_s)]
    snr = snr_db(samples, sample_rate, analysis.speech)
    if snr < th.min_snr_db:
        checks.append(_check("background_noise_detected", "Background noise", "warn",
                             f"The voice is only {snr:.0f} dB above the background; record somewhere quieter.",
                             snr, th.min_snr_db))
    else:
        checks.append(_check("background_noise_detected", "Background noise", "pass",
                             f"The voice is {snr:.0f} dB above the background.", snr, th.min_snr_db))
    return checks


def _mouth_checks(tracks: Tracks, analysis: Analysis, th: Thresholds) -> list[Check]:
    checks: list[Check] = []
    present = np.asarray(tracks.present, dtype=bool)
    n = min(len(present), analysis.state.size)
    present, state = present[:n], analysis.state[:n]
    speaking = present & (state == 1)
    listening = present & (state == 0)
    teeth = np.nan_to_num(np.asarray(tracks.teeth[:n], dtype=np.float64))
    aperture = np.nan_to_num(np.asarray(tracks.aperture[:n], dtype=np.float64))
    fps = tracks.fps or 25.0
    if speaking.sum() >= 5:
        share = float((teeth[speaking] > th.teeth_frame_share).mean())
        status = "warn" if share < th.min_teeth_speaking else "pass"
        msg = (f"Teeth show in only {share:.0%} of the speaking frames; articulate clearly."
               if status == "warn" else f"Teeth show in {share:.0%} of the speaking frames.")
        checks.append(_check("teeth_not_visible", "Teeth visible", status, msg, share, th.min_teeth_speaking))
    if listening.sum() >= fps:  # judge the lips over at least a second of listening
        closed = float((aperture[listening] < th.lips_closed_aperture).mean())
        status = "warn" if closed < th.min_closed_listening else "pass"
        msg = (f"The lips are open in {1 - closed:.0%} of the listening frames; keep them closed while listening."
               if status == "warn" else f"The lips are closed in {closed:.0%} of the listening frames.")
        open_ranges = _ranges(listening & (aperture >= th.lips_closed_aperture), tracks.times[:n], fps,
                              min_frames=max(1, round(0.5 * fps))) if status == "warn" else []
        checks.append(_check("other_quality_issue", "Lips closed while listening", status, msg, closed,
                             th.min_closed_listening, open_ranges))
    longest = max((s.duration for s in analysis.listening), default=0.0)
    ranges = [(s.start, s.end) for s in analysis.listening][:_MAX_RANGES]
    if longest < th.min_listening_s:
        checks.append(_check("other_quality_issue", "Listening segment", "warn",
                             f"The longest listening stretch is {longest:.1f} s; end with about 30 s of "
                             "quiet listening.", longest, th.min_listening_s, ranges))
    else:
        checks.append(_check("other_quality_issue", "Listening segment", "pass",
                             f"{analysis.listening_s:.1f} s of listening (longest {longest:.1f} s).", longest,
                             th.min_listening_s, ranges))
    return checks


def content_checks(tracks: Tracks, scene: SceneStats | None, samples: np.ndarray | None,
                   sample_rate: int, analysis: Analysis, th: Thresholds = DEFAULT) -> list[Check]:
    """Checks of what the video shows and says (face, picture, motion, audio, mouth)."""
    checks = _face_checks(tracks, th)
    checks += _picture_checks(tracks, scene, th)
    motion = _motion_check(tracks, th)
    if motion is not None:
        checks.append(motion)
    checks += _audio_checks(samples, sample_rate, analysis, th)
    if np.asarray(tracks.present).sum() >= 5:
        checks += _mouth_checks(tracks, analysis, th)
    return checks


# --- entry points ---------------------------------------------------------------------------


def metered(frames: Iterable[Frame], meter: SceneMeter) -> Iterator[Frame]:
    """Pass frames through unchanged while the scene meter looks at each one."""
    for frame in frames:
        meter.add(frame.time_s, frame.image)
        yield frame


def _fail(exc: BaseException) -> Check:
    if isinstance(exc, FacecraftError):
        return _check(exc.error_id, "Readable video", "fail", exc.message)
    return _check("video_processing", "Readable video", "fail", f"The video could not be processed ({exc}).")


def check_video(path: str | Path, *, thresholds: Thresholds = DEFAULT, max_side: int = CHECK_MAX_SIDE,
                progress: Callable[[int], None] | None = None, consent: bool = False) -> CheckReport:
    """Run every upload check on a training video; a bad file gives a ``fail`` report, never an error.

    ``progress`` gets the number of frames tracked so far; ``consent`` adds the consent-statement check
    (``faces.consent``: recognised in the opening seconds, with its time range).
    """
    path = Path(path)
    checks: list[Check] = []
    report = CheckReport(source=str(path), checks=checks)
    try:
        _run_video_checks(path, thresholds, max_side, progress, report, consent)
    except Exception as exc:  # noqa: BLE001 - the contract: a report, never an exception
        if not isinstance(exc, FacecraftError):
            log.exception("check of %s failed", path)
        checks.append(_fail(exc))
    return report


def _run_video_checks(path: Path, th: Thresholds, max_side: int, progress: Callable[[int], None] | None,
                      report: CheckReport, consent: bool = False) -> None:
    from facecraft import media, vision

    if path.is_file() and path.stat().st_size > 0:
        report.checks.append(size_check(path.stat().st_size, th))
        if report.checks[-1].status == "fail":
            return  # too big to be worth decoding
    info = media.probe(path)
    report.duration_s = info.duration_s
    report.checks.extend(file_checks(info, th, include_size=False))
    if info.video is None:
        return
    meter = SceneMeter()
    frames = metered(media.iter_frames(path, max_side=max_side), meter)
    first = next(frames, None)
    if first is None:
        report.checks.append(decode_check(0, info))
        return
    h, w = first.image.shape[:2]
    tracks = vision.track_frames(itertools.chain([first], frames), fps=info.video.fps, width=w, height=h,
                                 progress=progress)
    report.checks.append(decode_check(len(tracks), info))
    samples = None
    if info.audio is not None:
        try:
            samples = media.read_audio(path, sample_rate=AUDIO_RATE, mono=True).samples
        except FacecraftError as exc:
            report.checks.append(_check("audio_processing", "Speech", "fail",
                                        f"The audio track could not be decoded: {exc.message}"))
    analysis = analyze(tracks, samples, AUDIO_RATE)
    if consent:
        from facecraft.faces.consent import statement_check

        report.checks.append(statement_check(samples, AUDIO_RATE))
    report.checks.extend(content_checks(tracks, meter.stats(), samples, AUDIO_RATE, analysis, th))


# --- photos ---------------------------------------------------------------------------------

_IMAGE_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG"}


def check_image(path_or_bytes: str | Path | bytes, *, thresholds: Thresholds = DEFAULT) -> CheckReport:
    """Photo rules of reference/API.md: JPG/PNG >= 512x512, one frontal, evenly lit, sharp face."""
    source = "<bytes>" if isinstance(path_or_bytes, (bytes, bytearray)) else str(path_or_bytes)
    checks: list[Check] = []
    report = CheckReport(source=source, checks=checks)
    try:
        _run_image_checks(path_or_bytes, thresholds, checks)
    except Exception as exc:  # noqa: BLE001 - a report, never an exception
        if not isinstance(exc, FacecraftError):
            log.exception("check of %s failed", source)
        fail = _fail(exc)
        fail.label = "Readable image"
        checks.append(fail)
    return report


def _run_image_checks(path_or_bytes: str | Path | bytes, th: Thresholds, checks: list[Check]) -> None:
    from facecraft import media, vision

    data = bytes(path_or_bytes) if isinstance(path_or_bytes, (bytes, bytearray)) else Path(path_or_bytes).read_bytes()
    kind = next((k for magic, k in _IMAGE_MAGIC.items() if data.startswith(magic)), None)
    image = media.read_image(data)
    if kind is None:
        checks.append(_check("video_format", "Format", "fail", "The photo must be a JPG or PNG file.",
                             None, "JPG/PNG"))
    else:
        checks.append(_check("video_format", "Format", "pass", f"{kind} image.", kind, "JPG/PNG"))
    h, w = image.shape[:2]
    side = th.min_photo_side_px
    if min(h, w) < side:
        checks.append(_check("quality_issue_detected", "Resolution", "fail",
                             f"{w}x{h} is too small; the photo must be at least {side}x{side}.", min(h, w), side))
    else:
        checks.append(_check("quality_issue_detected", "Resolution", "pass", f"{w}x{h}.", min(h, w), side))
    tracks = vision.track_image(image)
    count = int(tracks.face_count[0]) if len(tracks) else 0
    if count == 0 or not bool(tracks.present[0]):
        checks.append(_check("face_or_obstruction_detected", "Face visible", "fail",
                             "No face was found in the photo.", 0, 1))
        return
    if count > 1:
        checks.append(_check("second_person_detected", "One person", "fail",
                             f"{count} faces are visible; the photo must show one person.", count, 1))
    else:
        checks.append(_check("second_person_detected", "One person", "pass", "One person.", count, 1))
    x0, y0, x1, y1 = (float(v) for v in tracks.box[0])
    ratio = (y1 - y0) / h
    lo, hi = th.min_photo_face_height, th.max_photo_face_height
    status = "pass" if lo <= ratio <= hi else "warn"
    msg = (f"The face fills {ratio:.0%} of the photo height." if status == "pass" else
           f"The face fills {ratio:.0%} of the photo height; a head-and-shoulders framing works best.")
    checks.append(_check("improper_distance", "Framing", status, msg, ratio, f"{lo:.2f}-{hi:.2f}"))
    yaw, pitch, roll = (float(v) for v in tracks.pose[0])
    if abs(yaw) > th.max_yaw_deg:
        checks.append(_check("face_turned_away", "Facing the camera", "fail",
                             f"The face is turned {abs(yaw):.0f}° away; use a front-facing photo.", abs(yaw),
                             th.max_yaw_deg))
    else:
        checks.append(_check("face_turned_away", "Facing the camera", "pass", "The face looks at the camera.",
                             abs(yaw), th.max_yaw_deg))
    tilt = max(abs(pitch), abs(roll))
    checks.append(_check("improper_camera_angle", "Camera angle", "warn" if tilt > th.max_pitch_deg else "pass",
                         f"Head pitch {pitch:.0f}°, roll {roll:.0f}°.", tilt, th.max_pitch_deg))
    luma = float(tracks.luminance[0])
    gap = _side_luma_gap(image, (x0, y0, x1, y1))
    if luma < th.min_face_luma or luma > th.max_face_luma:
        checks.append(_check("poor_lighting", "Lighting", "warn",
                             f"The face is {'too dark' if luma < th.min_face_luma else 'too bright'} "
                             f"(level {luma:.0f} of 255).", luma, th.min_face_luma))
    elif gap > th.max_photo_side_luma_gap:
        checks.append(_check("poor_lighting", "Lighting", "warn",
                             f"The light is uneven: one side of the face is {gap:.0f} levels darker.", gap,
                             th.max_photo_side_luma_gap))
    else:
        checks.append(_check("poor_lighting", "Lighting", "pass", "The face is evenly lit.", luma,
                             th.min_face_luma))
    sharp = float(tracks.sharpness[0])
    checks.append(_check("quality_issue_detected", "Sharpness", "warn" if sharp < th.min_sharpness else "pass",
                         "The face is blurry." if sharp < th.min_sharpness else "The face is sharp.",
                         sharp, th.min_sharpness))


def _side_luma_gap(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Mean luma difference between the left and right half of the face box."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    grey = image[y0:y1, x0:x1].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    mid = (x1 - x0) // 2
    return float(abs(grey[:, :mid].mean() - grey[:, mid:].mean()))
