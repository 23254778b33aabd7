"""End-to-end CLI: ``facecraft check`` and ``facecraft faces create|show|export|import`` as subprocesses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils import testdata_path

FACECRAFT = Path(sys.executable).parent / "facecraft"


def facecraft(*args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FACECRAFT), *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def german_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faces")
    result = facecraft("faces", "create", "--video", testdata_path("video", "mimictalk_German_20s.mp4"),
                       "--name", "German anchor", "--out", out, "--consent-attested")
    assert result.returncode == 0, result.stderr[-2000:]
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.parent == out and path.is_dir()
    return path


def test_check_json_on_a_real_clip():
    result = facecraft("check", testdata_path("video", "styletalk_Obama_clip2_muxed.mp4"), "--json", "--no-consent")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["passed"] is True and report["status"] == "warn"
    ids = {c["id"] for c in report["checks"]}
    assert {"video_duration", "quality_issue_detected", "second_person_detected", "improper_distance"} <= ids


def test_check_table_and_exit_code_on_bad_files(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 1000)
    result = facecraft("check", bad)
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "video_format" in result.stdout and "result: FAIL" in result.stdout
    assert "Traceback" not in result.stderr
    wav = tmp_path / "speech.mp4"
    shutil.copy(testdata_path("video", "styletalk_Obama_clip2.wav"), wav)
    result = facecraft("check", wav, "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["checks"][-1]["id"] == "video_format"


def test_check_reports_the_missing_consent_statement():
    """The dev clips do not open with the consent statement: the check fails with its API id."""
    result = facecraft("check", testdata_path("video", "mimictalk_German_20s.mp4"))
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if "consent_phrase_mismatch" in x)
    assert "FAIL" in line and "Consent statement" in line


def test_create_without_consent_stops_with_its_id(tmp_path):
    result = facecraft("faces", "create", "--video", testdata_path("video", "mimictalk_German_20s.mp4"),
                       "--name", "no consent", "--out", tmp_path, "--range", "0", "6", "--no-progress")
    assert result.returncode == 2 and "error [consent_phrase_mismatch]" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_check_a_photo():
    result = facecraft("check", testdata_path("photo", "face_recognition_biden2.jpg"))
    assert result.returncode == 0, result.stdout
    assert "One person" in result.stdout


def test_create_and_show(german_bundle):
    result = facecraft("faces", "show", german_bundle)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "German anchor" in result.stdout and "facecraft.face/2" in result.stdout
    assert "mimictalk_German_20s.mp4" in result.stdout and "speaking" in result.stdout
    shown = json.loads(facecraft("faces", "show", german_bundle, "--json").stdout)
    assert shown["manifest"]["output"]["frames"] == 500 and shown["report"]["passed"] is True


def test_show_damaged_and_wrong_version(german_bundle, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(german_bundle, damaged)
    (damaged / "voice.wav").unlink()
    result = facecraft("faces", "show", damaged)
    assert result.returncode == 2 and "error [bundle_invalid]" in result.stderr and "voice.wav" in result.stderr
    manifest = json.loads((german_bundle / "manifest.json").read_text())
    newer = tmp_path / "newer"
    shutil.copytree(german_bundle, newer)
    (newer / "manifest.json").write_text(json.dumps(manifest | {"format": "facecraft.face/9"}))
    result = facecraft("faces", "show", newer)
    assert result.returncode == 2 and "error [bundle_version]" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_and_import(german_bundle, tmp_path):
    face_file = tmp_path / "german.face"
    assert facecraft("faces", "export", german_bundle, face_file).returncode == 0
    result = facecraft("faces", "import", face_file, "--out", tmp_path / "lib")
    assert result.returncode == 0, result.stderr[-2000:]
    imported = Path(result.stdout.strip())
    assert imported.name == german_bundle.name
    assert facecraft("faces", "show", imported).returncode == 0


def test_create_refuses_a_clip_without_voice(tmp_path):
    result = facecraft("faces", "create", "--video", testdata_path("video", "styletalk_Obama_clip2.mp4"),
                       "--name", "mute", "--out", tmp_path, "--range", "0", "6", "--no-progress",
                       "--consent-attested")
    assert result.returncode == 2 and "error [audio_processing]" in result.stderr
    assert list(tmp_path.iterdir()) == []
