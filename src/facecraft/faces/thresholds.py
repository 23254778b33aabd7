"""Every threshold of the upload checks and of the speaking/listening analysis, in one place.

The values follow the training-video rules of reference/API.md where it gives a number (750 MB,
25 fps, 720p, face >= 25% of the frame height) and were tuned on the real recordings in
../shared/testdata elsewhere. Scale-free face measures are in units of the inter-ocular distance
(IOD, outer eye corners), as in ``facecraft.vision.types``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Thresholds", "DEFAULT"]


@dataclass(frozen=True)
class Thresholds:
    """Limits of the upload checks. ``fail`` limits block a build; the others only warn."""

    # --- file and stream -------------------------------------------------------------------
    max_file_bytes: int = 750 * 1024 * 1024  # API: <= 750 MB
    min_duration_s: float = 5.0  # fail: too little footage to build mouths and motion from
    recommended_duration_s: float = 45.0  # warn below: ~60 s (30 speaking + 30 listening) is best
    max_duration_s: float = 600.0  # fail above: a training video is one to a few minutes
    min_fps: float = 24.5  # warn below 25 fps (API rule), with rounding slack for 24.98 fps files
    fail_fps: float = 15.0  # fail below: too choppy to reuse as footage
    min_short_side_px: int = 720  # warn below 720p (API: < 720p is a quality issue)
    # --- faces -----------------------------------------------------------------------------
    min_face_present: float = 0.90  # warn when the face is tracked in fewer frames than this
    fail_face_present: float = 0.50  # fail below: not enough footage with the face
    max_second_face: float = 0.10  # fail when a second face is seen in more frames than this
    min_face_height: float = 0.25  # face box height / frame height (API: >= 25%)
    max_face_height: float = 0.95  # warn above: the face does not fit in the frame
    max_face_size_cv: float = 0.15  # warn when std/median of the face height exceeds this
    max_yaw_deg: float = 25.0  # a frame is "turned away" beyond this yaw
    max_pitch_deg: float = 20.0  # camera above/below: median pitch beyond this
    max_roll_deg: float = 20.0  # tilted camera/head: median roll beyond this
    max_turned_share: float = 0.20  # warn when more frames than this are turned away
    # --- picture ---------------------------------------------------------------------------
    min_face_luma: float = 50.0  # median face luma below this is too dark (0..255)
    max_face_luma: float = 215.0  # above this is too bright / blown out
    max_luma_change: float = 30.0  # largest change of the 1 s-smoothed face luma (levels)
    min_sharpness: float = 15.0  # median variance of the Laplacian of the face crop
    cut_hist_distance: float = 0.45  # grey-histogram distance between frames that marks a cut
    cut_pixel_change: float = 40.0  # and the mean absolute pixel change that goes with it
    max_head_speed_iod: float = 1.5  # p95 head-centre speed, IOD per second, before a warning
    max_tracking_gap_s: float = 1.0  # a face lost for longer than this is reported
    # --- audio -----------------------------------------------------------------------------
    min_speech_s: float = 2.0  # fail with less detected speech than this
    min_snr_db: float = 15.0  # warn when speech is less than this louder than the rest
    # --- mouth -----------------------------------------------------------------------------
    teeth_frame_share: float = 0.04  # teeth value above which a frame shows teeth
    min_teeth_speaking: float = 0.10  # warn when fewer speaking frames show teeth
    lips_closed_aperture: float = 0.06  # inner-lip opening (IOD) below which lips count as closed
    min_closed_listening: float = 0.70  # warn when fewer listening frames have closed lips
    min_listening_s: float = 5.0  # warn when the longest listening segment is shorter
    # --- photos (API: JPG/PNG >= 512x512, head and shoulders, even light) ------------------
    min_photo_side_px: int = 512  # fail below
    min_photo_face_height: float = 0.15  # face box / photo height: warn below (too far) ...
    max_photo_face_height: float = 0.80  # ... and above (cropped, no shoulders)
    max_photo_side_luma_gap: float = 45.0  # warn when one half of the face is this much darker


DEFAULT = Thresholds()
