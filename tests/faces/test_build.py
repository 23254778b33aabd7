"""Building a Face bundle from a real clip, loading it, damaging it, exporting and importing it."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from facecraft.errors import BundleError, FacecraftError, InputError
from facecraft.faces import bundle as fb
from facecraft.faces.build import FOOTAGE_GOP, ChecksFailed, build_face
from tests.utils import testdata_path

OBAMA_SHA256 = "311cf83bde979fb12b62d6f7c2ef408ca95dcf982e393f6fe4bfe290612ba6d8"  # SOURCES.md


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[tuple[float, str]]]:
    out = tmp_path_factory.mktemp("faces")
    calls: list[tuple[float, str]] = []
    path = build_face(testdata_path("video", "styletalk_Obama_clip2_muxed.mp4"), name="Obama", out_dir=out,
                      progress=lambda f, step: calls.append((f, step)))
    return path, calls


def test_build_writes_a_complete_bundle(built):
    path, _ = built
    assert path.parent.is_dir() and path.name.startswith("r")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no staging leftovers
    for name in fb.REQUIRED_FILES:
        assert (path / name).stat().st_size > 0, name
    m = json.loads((path / "manifest.json").read_text())
    assert m["format"] == "facecraft.face/2" and m["id"] == path.name and m["name"] == "Obama"
    assert m["source"]["kind"] == "video" and m["source"]["sha256"] == OBAMA_SHA256
    assert m["source"]["duration"] == pytest.approx(30.07, abs=0.05)
    assert m["source"]["size"] == [256, 256]
    assert m["output"]["fps"] == pytest.approx(30.0) and m["output"]["size"] == [256, 256]
    assert m["segments"]["speaking"] and m["engine"]["version"]
    assert m["voice"]["seconds"] > 15
    assert m["files"]["footage.mp4"] == (path / "footage.mp4").stat().st_size


def test_progress_is_monotonic_and_named(built):
    _, calls = built
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] == 0.0
    steps = {s for _, s in calls}
    assert {"probe", "footage", "checks", "voice", "thumbnail"} <= steps


def test_footage_is_constant_rate_h264_with_short_gop(built):
    import av

    from facecraft import media

    path, _ = built
    bundle = fb.load_bundle(path)
    info = media.probe(bundle.footage_path)
    assert info.video.codec == "h264" and info.video.fps == pytest.approx(30.0)
    assert (info.video.width, info.video.height) == (bundle.tracks.width, bundle.tracks.height)
    with av.open(str(bundle.footage_path)) as container:
        stream = container.streams.video[0]
        keys = [i for i, pkt in enumerate(p for p in container.demux(stream) if p.size) if pkt.is_keyframe]
    assert len(keys) > 1 and max(np.diff(keys)) <= FOOTAGE_GOP
    frames = sum(1 for _ in media.iter_frames(bundle.footage_path, max_side=64))
    assert frames == len(bundle.tracks) == bundle.manifest["output"]["frames"]
    assert abs(frames - 902) <= 2


def test_loaded_bundle(built):
    from facecraft import media

    path, _ = built
    bundle = fb.load_bundle(path)
    assert bundle.id == path.name and bundle.name == "Obama"
    assert bundle.report.passed and bundle.report.checks
    t = bundle.tracks
    assert t.present.mean() > 0.95
    pts = t.landmarks[t.present][:, :, :2]
    assert pts.min() >= -5 and pts[..., 0].max() <= t.width + 5 and pts[..., 1].max() <= t.height + 5
    assert bundle.analysis.state.size == len(t)
    voice = media.read_audio(bundle.voice_path, sample_rate=16000)
    assert voice.duration_s == pytest.approx(bundle.manifest["voice"]["seconds"], abs=0.05)
    assert np.abs(voice.samples).max() > 0.05
    assert "f0" in json.dumps(json.loads((path / "voice.json").read_text())).lower()
    thumb = media.read_image(bundle.thumbnail_path)
    assert thumb.shape == (t.height, t.width, 3)
    assert bundle.file("report.json").is_file()
    with pytest.raises(BundleError):
        bundle.file("nope.npz")
    with pytest.raises(BundleError):
        bundle.file("../manifest.json")


@pytest.fixture()
def copy(built, tmp_path) -> Path:
    dst = tmp_path / built[0].name
    shutil.copytree(built[0], dst)
    return dst


def _error(path: Path) -> BundleError:
    with pytest.raises(BundleError) as info:
        fb.load_bundle(path)
    return info.value


def test_missing_file_is_invalid(copy):
    (copy / "tracks.npz").unlink()
    err = _error(copy)
    assert err.error_id == "bundle_invalid" and "tracks.npz" in err.message


def test_truncated_file_is_invalid(copy):
    data = (copy / "footage.mp4").read_bytes()
    (copy / "footage.mp4").write_bytes(data[: len(data) // 2])
    assert _error(copy).error_id == "bundle_invalid"


def test_corrupt_manifest_and_tracks_are_invalid(copy):
    (copy / "tracks.npz").write_bytes(b"\0" * 10)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["tracks.npz"] = 10
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert _error(copy).error_id == "bundle_invalid"
    (copy / "manifest.json").write_text("{not json")
    assert _error(copy).error_id == "bundle_invalid"


def test_other_format_version(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format"] = "facecraft.face/3"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    err = _error(copy)
    assert err.error_id == "bundle_version" and "facecraft.face/3" in err.message


def _as_format_1(path: Path) -> None:
    """Rewrite a bundle as the legacy tracker wrote it: format 1, tracks without version or blendshapes."""
    with np.load(path / "tracks.npz") as data:
        arrays = {k: data[k] for k in data.files if k not in ("blendshapes", "transform")}
    arrays["meta"] = arrays["meta"][:3]
    np.savez_compressed(path / "tracks.npz", **arrays)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format"] = "facecraft.face/1"
    manifest["files"]["tracks.npz"] = (path / "tracks.npz").stat().st_size
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_old_bundle_says_to_rebuild(copy):
    """A bundle built before the Tasks tracker (format 1) fails with the rebuild instruction."""
    _as_format_1(copy)
    err = _error(copy)
    assert err.error_id == "bundle_version" and "facecraft.face/1" in err.message
    assert "facecraft faces create" in err.message
    # The same old tracks under a current manifest: caught by the tracks version.
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(manifest | {"format": fb.FORMAT}))
    err = _error(copy)
    assert err.error_id == "bundle_version" and "version 1" in err.message
    assert "facecraft faces create" in err.message


def test_unfinished_staging_dir_never_loads(built, tmp_path):
    staging = tmp_path / (fb.STAGING_PREFIX + "abc")
    shutil.copytree(built[0], staging)
    assert _error(staging).error_id == "bundle_invalid"
    assert _error(tmp_path / "missing").error_id == "bundle_invalid"


def test_export_import_round_trip(built, tmp_path):
    face_file = fb.export_bundle(built[0], tmp_path / "obama.face")
    assert zipfile.is_zipfile(face_file)
    with pytest.raises(BundleError):
        fb.load_bundle(face_file)
    path = fb.import_bundle(face_file, tmp_path / "lib")
    again = fb.load_bundle(path)
    assert again.id == built[0].name and len(again.tracks) == len(fb.load_bundle(built[0]).tracks)
    with pytest.raises(BundleError):
        fb.import_bundle(face_file, tmp_path / "lib")  # the same id twice
    assert [p.name for p in (tmp_path / "lib").iterdir()] == [again.id]


def test_import_rejects_bad_archives(tmp_path):
    evil = tmp_path / "evil.face"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../manifest.json", "{}")
    with pytest.raises(BundleError):
        fb.import_bundle(evil, tmp_path / "lib")
    (tmp_path / "plain.face").write_bytes(b"not a zip")
    with pytest.raises(BundleError):
        fb.import_bundle(tmp_path / "plain.face", tmp_path / "lib")
    assert not any((tmp_path / "lib").iterdir())


def test_failed_build_leaves_nothing(tmp_path):
    # The video-only clip has no voice: the checks stop the build (part of the clip keeps this quick).
    with pytest.raises(FacecraftError) as info:
        build_face(testdata_path("video", "styletalk_Obama_clip2.mp4"), name="mute", out_dir=tmp_path,
                   source_range=(0.0, 6.0))
    assert info.value.error_id == "audio_processing"
    assert isinstance(info.value, ChecksFailed) and not info.value.report.passed  # the user sees every check
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path):
    video = testdata_path("video", "mimictalk_German_20s.mp4")
    with pytest.raises(InputError):
        build_face(video, name="  ", out_dir=tmp_path)
    with pytest.raises(InputError):
        build_face(video, name="x", out_dir=tmp_path, source_range=(30.0, 40.0))
    with pytest.raises(FacecraftError) as info:
        build_face(tmp_path / "missing.mp4", name="x", out_dir=tmp_path)
    assert info.value.error_id == "video_format"
    assert list(tmp_path.iterdir()) == []


def test_early_duration_check_uses_the_builds_thresholds(tmp_path):
    """A short source range fails before decoding under the upload limits, and passes that early check
    when the caller lowers them (an evaluation on short clips)."""
    from dataclasses import replace

    from facecraft import media
    from facecraft.faces.build import BuildContext, _fail_early
    from facecraft.faces.thresholds import DEFAULT

    video = testdata_path("video", "styletalk_Obama_clip2_muxed.mp4")
    info = media.probe(video)
    ctx = BuildContext(video_path=video, name="short", face_id="x", work_dir=tmp_path, source_range=(0.0, 3.0),
                       info=info)
    with pytest.raises(ChecksFailed) as err:
        _fail_early(ctx, info)
    assert err.value.error_id == "video_duration"
    ctx.thresholds = replace(DEFAULT, min_duration_s=2.0)
    _fail_early(ctx, info)  # no early failure


def _threads_of(face_id: str) -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith(f"build-{face_id}")]


def test_background_jobs_run_beside_the_steps_and_finish_before_the_bundle_is_published(tmp_path):
    """A job started by a step runs while later steps do (here the job waits for a later step), and the
    bundle is published only once it is done: its file is in the bundle and counted in the manifest."""
    import threading

    from facecraft.faces.build import BuildContext, run_build

    work = fb.staging_dir(tmp_path)
    ctx = BuildContext(video_path=Path("none.mp4"), name="jobs", face_id="rjobs", work_dir=work)
    released = threading.Event()

    def job() -> int:
        assert released.wait(30), "the later step never ran"
        (work / "late.bin").write_bytes(b"x" * 1000)
        return 7

    def later(c: BuildContext) -> None:
        assert c.started("late") and not (work / "late.bin").exists()
        released.set()

    path = run_build(ctx, [("first", lambda c: c.start("late", job)), ("later", later)], tmp_path / "rjobs")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["files"]["late.bin"] == 1000 and (path / "late.bin").stat().st_size == 1000
    assert ctx.wait("late") == 7
    assert list(ctx.timings)[:2] == ["first", "later"]
    assert {"late (background)", "background", "commit"} <= set(ctx.timings)
    assert not _threads_of("rjobs")
    with pytest.raises(RuntimeError, match="already started"):
        ctx.start("late", job)


def test_a_failing_background_job_or_step_leaves_nothing_behind(tmp_path):
    """The job's error fails the build; a step failing while a job still runs waits for the job, then
    removes the staging directory: no files, no thread."""
    import time

    from facecraft.faces.build import BuildContext, run_build

    def bad() -> None:
        raise InputError("the job failed")

    ctx = BuildContext(video_path=Path("none.mp4"), name="x", face_id="rbad", work_dir=fb.staging_dir(tmp_path))
    with pytest.raises(InputError, match="the job failed"):
        run_build(ctx, [("start", lambda c: c.start("bad", bad))], tmp_path / "rbad")
    assert list(tmp_path.iterdir()) == [] and not _threads_of("rbad")

    work = fb.staging_dir(tmp_path)

    def slow_writer() -> None:
        time.sleep(0.3)
        (work / "late.bin").write_bytes(b"x")

    def failing(c: BuildContext) -> None:
        raise InputError("the step failed")

    ctx = BuildContext(video_path=Path("none.mp4"), name="x", face_id="rslow", work_dir=work)
    with pytest.raises(InputError, match="the step failed"):
        run_build(ctx, [("start", lambda c: c.start("slow", slow_writer)), ("fail", failing)], tmp_path / "rslow")
    assert list(tmp_path.iterdir()) == [] and not _threads_of("rslow")
