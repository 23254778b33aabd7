"""The model registry: every model is where MODELS.md says, with its hash; a damaged one fails clearly."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from facecraft import models
from facecraft.errors import FacecraftError, ModelError
from facecraft.models import MODELS, ModelFile, model_path
from tests.utils import REPO


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget which models this process has verified (each test sees the check run)."""
    monkeypatch.setattr(models, "_verified", {})


def test_every_model_is_installed_with_its_hash_and_size() -> None:
    for name, model in MODELS.items():
        path = model_path(name)
        assert path.exists(), name
        assert models.measure(path) == (model.sha256, model.size), name


def test_models_md_lists_every_model_with_its_hash() -> None:
    text = (models.MODELS_DIR / "MODELS.md").read_text(encoding="utf-8")
    for name, model in MODELS.items():
        assert f"`{name}`" in text and model.sha256 in text and f"{model.size:,}" in text, name


def test_the_command_checks_them_all() -> None:
    result = subprocess.run([sys.executable, "-m", "facecraft.models"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(m.sha256 in result.stdout for m in MODELS.values())


def _copy_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(models.MODELS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    monkeypatch.setattr(models, "MODELS_DIR", folder)
    return folder


def test_an_altered_model_file_is_refused_by_name(tmp_path, monkeypatch, fresh_registry) -> None:
    folder = _copy_models_dir(tmp_path, monkeypatch)
    task = folder / "face_landmarker.task"
    data = bytearray(task.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the landmark model
    task.write_bytes(bytes(data))
    with pytest.raises(ModelError) as info:
        model_path("face_landmarker")
    err = info.value
    assert isinstance(err, FacecraftError) and err.error_id == "model_invalid"
    assert "face_landmarker.task" in err.message and "sha256" in err.message
    # The tracker does not start on it either: the same clear error, not a MediaPipe traceback.
    from facecraft.vision import FaceTracker

    with pytest.raises(ModelError, match="face_landmarker.task"):
        FaceTracker()


def test_a_missing_model_file_is_refused_by_name(tmp_path, monkeypatch, fresh_registry) -> None:
    folder = _copy_models_dir(tmp_path, monkeypatch)
    (folder / "face_detection_full_range_sparse.tflite").unlink()
    with pytest.raises(ModelError, match="face_detection_full_range_sparse.tflite.*missing"):
        model_path("face_detector_full_range")


def test_a_packaged_model_is_checked_the_same_way(monkeypatch, fresh_registry) -> None:
    real = MODELS["silero_vad"]
    monkeypatch.setitem(MODELS, "silero_vad", ModelFile(real.name, real.path, "0" * 64, real.size,
                                                         distribution=real.distribution))
    with pytest.raises(ModelError, match="silero_vad.onnx"):
        model_path("silero_vad")
    monkeypatch.setitem(MODELS, "ghost", ModelFile("ghost", "ghost/model.onnx", "0" * 64, 1,
                                                   distribution="no-such-distribution"))
    with pytest.raises(ModelError, match="no-such-distribution"):
        model_path("ghost")
    with pytest.raises(ModelError, match="unknown model"):
        model_path("nope")


def test_a_model_folder_hash_covers_every_file(tmp_path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"a")
    (folder / "sub" / "b.bin").write_bytes(b"bb")
    before = models.tree_sha256(folder)
    assert before[1] == 3
    (folder / "sub" / "b.bin").write_bytes(b"bc")
    assert models.tree_sha256(folder)[0] != before[0]
    (folder / "sub" / "b.bin").rename(folder / "sub" / "c.bin")
    assert models.tree_sha256(folder)[0] not in (before[0],)


def test_the_wheel_ships_the_model_files(tmp_path) -> None:
    """A wheel built from the project holds the committed model files and MODELS.md (package data)."""
    src = tmp_path / "project"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
         str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("facecraft-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name, model in MODELS.items():
            if model.distribution is None:
                info = zf.getinfo(f"facecraft/models/{model.path}")
                assert info.file_size == model.size, name
        assert "facecraft/models/MODELS.md" in names


def test_nothing_of_ours_imports_sounddevice() -> None:
    """MediaPipe 1.2 pulls sounddevice, whose import fails without PortAudio: we must never import it."""
    code = (
        "import sys, facecraft.vision, facecraft.faces.build, facecraft.engine, facecraft.speech, "
        "facecraft.service.app, facecraft.cli\n"
        "from facecraft.vision import FaceTracker\n"
        "FaceTracker().close()\n"
        "print('sounddevice' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"
