"""Upload checks on the real test videos and photos, and on broken inputs made here."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from facecraft.faces.checks import check_image, check_video
from facecraft.faces.types import CheckReport
from tests.utils import testdata_path

VIDEOS = (
    "mimictalk_German_20s.mp4",
    "styletalk_Obama_clip2_muxed.mp4",
    "styletalk_Obama_clip2.mp4",
    "sadtalker_WDA_KatieHill_000.mp4",
    "videoretalking_face_2.mp4",
    "edtalk_uncrop_Obama.mp4",
    "latentsync_demo3_vertical_hevc.mp4",
)


def by_label(report: CheckReport, label: str):
    found = [c for c in report.checks if c.label == label]
    assert found, f"no check {label!r} in {[c.label for c in report.checks]}"
    return found[0]


def ids(report: CheckReport, status: str) -> set[str]:
    return {c.id for c in report.checks if c.status == status}


@pytest.fixture(scope="module")
def reports() -> dict[str, CheckReport]:
    """Every real video checked once (the expensive part: decode + track + VAD)."""
    return {name: check_video(testdata_path("video", name)) for name in VIDEOS}


def test_every_real_video_gives_a_complete_report(reports):
    for name, report in reports.items():
        labels = {c.label for c in report.checks}
        assert {"File size", "Format and codec", "Duration", "Frame rate", "Resolution", "Decoding",
                "Face visible", "One person"} <= labels, name
        assert by_label(report, "Decoding").status == "pass", name
        assert by_label(report, "One person").status == "pass", name
        assert report.duration_s and report.duration_s > 4
        for check in report.checks:
            assert check.message and check.status in ("pass", "warn", "fail")


def test_buildable_clips_pass(reports):
    for name in ("mimictalk_German_20s.mp4", "styletalk_Obama_clip2_muxed.mp4", "edtalk_uncrop_Obama.mp4"):
        report = reports[name]
        assert report.passed, (name, [(c.id, c.message) for c in report.failures()])
        assert by_label(report, "Face visible").status == "pass"
        assert by_label(report, "One continuous take").status == "pass"
        assert by_label(report, "Speech").status == "pass"
        # 20-30 s clips: a warning that ~60 s is recommended, not a failure.
        assert by_label(report, "Duration").status == "warn"


def test_small_clips_get_quality_warnings(reports):
    for name in ("styletalk_Obama_clip2_muxed.mp4", "mimictalk_German_20s.mp4"):
        res = by_label(reports[name], "Resolution")
        assert res.status == "warn" and res.id == "quality_issue_detected"
        assert res.value == (256 if "Obama" in name else 512)


def test_vertical_hevc_phone_clip_decodes_and_warns_about_distance(reports):
    report = reports["latentsync_demo3_vertical_hevc.mp4"]
    assert by_label(report, "Format and codec").value.endswith("hevc")
    size = by_label(report, "Face size")
    assert size.id == "improper_distance" and size.status == "warn"
    assert size.value < 0.25
    assert by_label(report, "Resolution").status == "pass"  # 1080 px wide


def test_clip_without_audio_fails_on_audio(reports):
    report = reports["styletalk_Obama_clip2.mp4"]
    audio = by_label(report, "Audio track")
    assert audio.status == "fail" and audio.id == "audio_processing"


def test_five_second_clip_is_long_enough_but_warned(reports):
    report = reports["videoretalking_face_2.mp4"]
    assert by_label(report, "Duration").status == "warn"


def test_analysis_driven_checks_are_reported(reports):
    report = reports["styletalk_Obama_clip2_muxed.mp4"]
    noise = by_label(report, "Background noise")
    assert noise.id == "background_noise_detected" and isinstance(noise.value, float)
    teeth = by_label(report, "Teeth visible")
    assert teeth.id == "teeth_not_visible" and 0 <= teeth.value <= 1
    listening = by_label(report, "Listening segment")
    assert listening.value > 0
    assert by_label(report, "Steady head").id == "excessive_movement_detected"
    assert by_label(report, "Lighting").status == "pass"


# --- broken inputs --------------------------------------------------------------------------


def _failed(report: CheckReport) -> set[str]:
    assert report.status == "fail"
    return {c.id for c in report.failures()}


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    assert _failed(check_video(path)) & {"video_format", "video_processing"}


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "video_format" in _failed(check_video(empty))
    assert "video_format" in _failed(check_video(tmp_path / "nope.mp4"))


def test_truncated_file(tmp_path):
    src = testdata_path("video", "mimictalk_German_20s.mp4").read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(src[: len(src) * 2 // 5])
    assert _failed(check_video(path)) & {"video_processing", "video_format"}


def test_wav_renamed_mp4(tmp_path):
    path = tmp_path / "voice.mp4"
    shutil.copy(testdata_path("video", "styletalk_Obama_clip2.wav"), path)
    report = check_video(path)
    assert "video_format" in _failed(report)
    assert "audio only" in report.failures()[0].message


def test_still_image_as_video(tmp_path):
    path = tmp_path / "photo.mp4"
    shutil.copy(testdata_path("photo", "real3dportrait_Macron.png"), path)
    assert "video_format" in _failed(check_video(path))


def test_clip_shorter_than_minimum(tmp_path):
    from facecraft import media

    src = testdata_path("video", "mimictalk_German_20s.mp4")
    audio = media.read_audio(src, sample_rate=16000)
    path = tmp_path / "short.mp4"
    frames = [f.image for f in media.iter_frames(src, end_s=2.0)]
    media.encode_video(frames, path, fps=25, audio=media.Audio(audio.samples[: 2 * 16000], 16000))
    report = check_video(path)
    duration = by_label(report, "Duration")
    assert duration.status == "fail" and duration.id == "video_duration"
    assert "video_duration" in _failed(report)


def test_side_by_side_two_faces(tmp_path):
    import cv2

    from facecraft import media

    left = [f.image for f in media.iter_frames(testdata_path("video", "sadtalker_WDA_KatieHill_000.mp4"),
                                               end_s=5.5)]
    right = [f.image for f in media.iter_frames(testdata_path("video", "videoretalking_face_2.mp4"),
                                                max_side=512, end_s=5.5)]
    n = min(len(left), len(right))
    frames = [np.hstack([cv2.resize(left[i], (384, 384)), cv2.resize(right[i], (384, 384))]) for i in range(n)]
    path = tmp_path / "two.mp4"
    media.encode_video(frames, path, fps=25)
    report = check_video(path)
    second = by_label(report, "One person")
    assert second.status == "fail" and second.id == "second_person_detected"
    assert second.ranges


def test_cut_between_two_clips_is_video_editing(tmp_path):
    from facecraft import media

    a = [f.image for f in media.iter_frames(testdata_path("video", "mimictalk_German_20s.mp4"), end_s=3.0)]
    b = [f.image for f in media.iter_frames(testdata_path("video", "sadtalker_WDA_KatieHill_000.mp4"), end_s=3.0)]
    path = tmp_path / "edited.mp4"
    media.encode_video(a + b, path, fps=25)
    cut = by_label(check_video(path), "One continuous take")
    assert cut.status == "fail" and cut.id == "video_editing_detected"
    assert any(abs(start - 3.0) < 0.2 for start, _ in cut.ranges)


# --- photos ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["face_recognition_biden2.jpg", "real3dportrait_Macron.png", "edtalk_leijun.png",
                                  "hallo_reference_6.jpg"])
def test_real_photos_pass(name):
    report = check_image(testdata_path("photo", name))
    assert report.passed, [(c.id, c.message) for c in report.failures()]
    assert by_label(report, "One person").status == "pass"


def test_photo_problems(tmp_path):
    import cv2

    from facecraft import media

    image = media.read_image(testdata_path("photo", "real3dportrait_Macron.png"))
    ok, small = cv2.imencode(".png", cv2.cvtColor(cv2.resize(image, (256, 256)), cv2.COLOR_RGB2BGR))
    assert ok
    res = by_label(check_image(small.tobytes()), "Resolution")
    assert res.status == "fail" and res.id == "quality_issue_detected"
    ok, pair = cv2.imencode(".png", cv2.cvtColor(np.hstack([image, image]), cv2.COLOR_RGB2BGR))
    assert "second_person_detected" in _failed(check_image(pair.tobytes()))
    ok, blank = cv2.imencode(".jpg", np.full((600, 600, 3), 128, np.uint8))
    assert "face_or_obstruction_detected" in _failed(check_image(blank.tobytes()))
    assert _failed(check_image(b"not an image at all"))
