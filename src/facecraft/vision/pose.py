"""Head pose (yaw, pitch, roll in degrees) from face-mesh landmarks with ``cv2.solvePnP``.

The MediaPipe wheel does not ship its canonical face model (``face_geometry/data`` is empty), so the
few vertices we need are copied below from MediaPipe's ``canonical_face_model.obj`` (Apache-2.0; its
vertex i is mesh landmark i). Only points that do not move with speech are used (nose, nose bridge,
forehead, eye corners, temples, cheeks): lips and chin would tilt the estimate while talking.
The pinhole camera has a focal length equal to the long side of the frame.
Angles: yaw > 0 when the face turns toward the image right, pitch > 0 when it tilts up (chin
raised), roll > 0 when it rolls clockwise in the image; (0, 0, 0) faces the camera.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MODEL_POINTS", "POSE_INDICES", "head_pose", "head_poses"]

# landmark index: (x, y, z) of the canonical face (cm; x toward the image right, y up, z toward the camera)
_CANONICAL: dict[int, tuple[float, float, float]] = {
    1: (0.0, -1.126865, 7.475604),
    2: (0.0, -2.089024, 6.058267),
    4: (0.0, -0.463170, 7.586580),
    6: (0.0, 2.473255, 5.788627),
    9: (0.0, 4.885979, 5.385258),
    10: (0.0, 8.261778, 4.481535),
    151: (0.0, 6.545390, 5.027311),
    168: (0.0, 3.271027, 5.236015),
    33: (-4.445859, 2.663991, 3.173422),
    263: (4.445859, 2.663991, 3.173422),
    133: (-1.856432, 2.585245, 3.757904),
    362: (1.856432, 2.585245, 3.757904),
    127: (-7.743095, 2.364999, -2.005167),
    356: (7.743095, 2.364999, -2.005167),
    93: (-7.542244, -1.049282, -2.431321),
    323: (7.542244, -1.049282, -2.431321),
}
POSE_INDICES: tuple[int, ...] = tuple(_CANONICAL)
# In camera axes (x right, y down, z away from the camera) so that a frontal face has R = identity.
MODEL_POINTS = np.array([_CANONICAL[i] for i in POSE_INDICES], dtype=np.float64) * (1.0, -1.0, -1.0)


def _camera(width: int, height: int) -> np.ndarray:
    f = float(max(width, height))
    return np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1]], dtype=np.float64)


def _euler(rvec: np.ndarray) -> tuple[float, float, float]:
    rot, _ = cv2.Rodrigues(rvec)
    # R = Rz(roll) @ Ry(yaw) @ Rx(pitch) in camera axes
    yaw = np.degrees(np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    return float(-yaw), float(-pitch), float(roll)


def head_pose(landmarks: np.ndarray, width: int, height: int,
              guess: np.ndarray | None = None) -> tuple[tuple[float, float, float], np.ndarray | None]:
    """(yaw, pitch, roll) for one (478, 3) landmark array, and the rotation vector for the next guess."""
    image_points = np.ascontiguousarray(landmarks[list(POSE_INDICES), :2], dtype=np.float64)
    if not np.all(np.isfinite(image_points)):
        return (float("nan"),) * 3, None
    cam = _camera(width, height)
    dist = np.zeros(4)
    if guess is not None:
        ok, rvec, tvec = cv2.solvePnP(MODEL_POINTS, image_points, cam, dist, rvec=guess[0].copy(),
                                      tvec=guess[1].copy(), useExtrinsicGuess=True,
                                      flags=cv2.SOLVEPNP_ITERATIVE)
    else:
        ok, rvec, tvec = cv2.solvePnP(MODEL_POINTS, image_points, cam, dist, flags=cv2.SOLVEPNP_EPNP)
        if ok:
            ok, rvec, tvec = cv2.solvePnP(MODEL_POINTS, image_points, cam, dist, rvec=rvec, tvec=tvec,
                                          useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or tvec[2, 0] <= 0:
        return (float("nan"),) * 3, None
    return _euler(rvec), np.stack([rvec, tvec])


def head_poses(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 3) yaw, pitch, roll for (N, 478, 3) landmarks; NaN where landmarks are missing."""
    out = np.full((landmarks.shape[0], 3), np.nan, dtype=np.float32)
    guess = None
    for i in range(landmarks.shape[0]):
        angles, guess = head_pose(landmarks[i], width, height, guess)
        out[i] = angles
    return out
