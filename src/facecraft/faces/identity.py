"""Is the person in a consent clip the person in the training footage? Face embeddings decide.

The embedding model is dlib's face-recognition ResNet (128-d, trained for identity), shipped inside the
``face-recognition-models`` package with dlib's 5-point landmark model that aligns each face before it is
embedded; ``dlib-bin`` runs them (prebuilt wheels). Both files are listed with their sha256 in
``MODEL_FILES`` (and the project's model list) and checked when loaded. A clip's embedding is the mean over
up to ``FRAMES_PER_CLIP`` frames spread over its opening seconds; two clips show the same person when their
embeddings are closer than ``SAME_PERSON_DISTANCE``, measured by ``bench/consent.py`` (same-person pairs:
two recordings of one person, and two stretches of one recording; different-person pairs: everyone else
in the dev clips and ``corpus/``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from facecraft.errors import VisionError
from facecraft.faces.types import Check

__all__ = [
    "MODEL_FILES",
    "SAME_PERSON_DISTANCE",
    "FRAMES_PER_CLIP",
    "ClipIdentity",
    "clip_identity",
    "identity_check",
    "embedding_distance",
]

log = logging.getLogger(__name__)

# name -> (size in bytes, sha256) of the files taken from the face-recognition-models 0.3.0 wheel.
MODEL_FILES = {
    "dlib_face_recognition_resnet_model_v1.dat": (
        22466066,
        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    ),
    "shape_predictor_5_face_landmarks.dat": (
        9150489,
        "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    ),
}
# Measured by bench/consent.py (bench/results/consent.json): same-person pairs (35: two stretches of a clip,
# three recordings of Obama) at most 0.385, different people (493 pairs) at least 0.507; between the two.
SAME_PERSON_DISTANCE = 0.45
FRAMES_PER_CLIP = 8
_SCAN_S = 20.0  # the frames are taken from this opening stretch
_DETECT_SIDE = 640  # frames are scanned for faces at this long side


def _model_path(name: str) -> Path:
    """A model file of the installed ``face_recognition_models`` package, found without importing it (its
    ``__init__`` imports the deprecated ``pkg_resources``), hash-checked."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise VisionError("the face-recognition-models package is not installed", error_id="video_processing")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    size, digest = MODEL_FILES[name]
    if not path.is_file() or path.stat().st_size != size:
        raise VisionError(f"model file {name} is missing or has the wrong size", error_id="video_processing")
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        raise VisionError(
            f"model file {name} does not match its recorded sha256", error_id="video_processing"
        )
    return path


@lru_cache(maxsize=1)
def _models() -> tuple[Any, Any, Any]:
    import dlib

    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(_model_path("shape_predictor_5_face_landmarks.dat")))
    encoder = dlib.face_recognition_model_v1(str(_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    return detector, shapes, encoder


@dataclass(frozen=True)
class ClipIdentity:
    embedding: np.ndarray | None  # mean 128-d embedding, None when no face was found
    faces: int  # frames whose largest face was embedded
    frames: int  # frames looked at


def frame_embedding(image: np.ndarray) -> np.ndarray | None:
    """The embedding of the largest face in an RGB frame, or None."""
    detector, shapes, encoder = _models()
    rects = detector(image, 1)
    if not rects:
        return None
    rect = max(rects, key=lambda r: r.width() * r.height())
    return np.asarray(encoder.compute_face_descriptor(image, shapes(image, rect)), dtype=np.float64)


def clip_identity(
    path: str | Path, *, frames: int = FRAMES_PER_CLIP, start_s: float = 0.0, end_s: float | None = None
) -> ClipIdentity:
    """The mean face embedding of a clip over ``frames`` frames spread over ``[start_s, end_s)``."""
    from facecraft import media

    info = media.probe(path)
    if info.video is None:
        raise VisionError("the clip has no video stream", error_id="video_format")
    stop = min(end_s if end_s is not None else start_s + _SCAN_S, info.duration_s)
    times = np.linspace(start_s, max(start_s, stop - 0.2), frames)
    wanted = iter(times)
    target = next(wanted, None)
    embeddings, seen = [], 0
    for frame in media.iter_frames(path, max_side=_DETECT_SIDE, start_s=start_s, end_s=stop):
        if target is None:
            break
        if frame.time_s + 1e-3 < target:
            continue
        seen += 1
        emb = frame_embedding(np.ascontiguousarray(frame.image))
        if emb is not None:
            embeddings.append(emb)
        target = next(wanted, None)
    if not embeddings:
        return ClipIdentity(None, 0, seen)
    return ClipIdentity(np.mean(embeddings, axis=0), len(embeddings), seen)


def embedding_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def identity_check(
    consent: ClipIdentity, training: ClipIdentity, *, threshold: float = SAME_PERSON_DISTANCE
) -> Check:
    """Pass when the consent clip and the training footage show the same person
    (``consent_identity_mismatch`` otherwise)."""
    label = "Consent clip: same person"
    if consent.embedding is None:
        return Check(
            "consent_identity_mismatch",
            label,
            "fail",
            "No face was found in the consent clip: it must show the person speaking the statement.",
        )
    if training.embedding is None:
        return Check(
            "consent_identity_mismatch", label, "fail", "No face could be compared in the training video."
        )
    distance = embedding_distance(consent.embedding, training.embedding)
    if distance <= threshold:
        return Check(
            "consent_identity_mismatch",
            label,
            "pass",
            f"The consent clip shows the same person (face distance {distance:.2f}).",
            round(distance, 3),
            threshold,
        )
    return Check(
        "consent_identity_mismatch",
        label,
        "fail",
        f"The consent clip shows someone else than the training video (face distance {distance:.2f}, "
        f"the same person is below {threshold:.2f}).",
        round(distance, 3),
        threshold,
    )
