"""Named index sets into MediaPipe's 478-point face mesh (468 mesh points + 10 iris points).

"Left"/"right" follow MediaPipe: LEFT_* is the subject's left (image right when the person faces
the camera). Rings are ordered so they can be drawn as polygons.
"""

from __future__ import annotations

__all__ = [
    "LIPS_INNER", "LIPS_OUTER", "JAW", "FACE_OVAL", "STABLE", "LEFT_EYE", "RIGHT_EYE", "LEFT_BROW",
    "RIGHT_BROW", "MOUTH_CORNERS", "INNER_LIP_PAIRS", "LEFT_EYE_LIDS", "RIGHT_EYE_LIDS",
    "LEFT_EYE_CORNERS", "RIGHT_EYE_CORNERS", "EYE_OUTER_CORNERS", "LEFT_IRIS", "RIGHT_IRIS",
    "NOSE_TIP", "CHIN", "MOBILE",
]

LIPS_OUTER: tuple[int, ...] = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
)
LIPS_INNER: tuple[int, ...] = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
    148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
# Lower face outline, ear to ear through the chin: it moves when the jaw opens.
JAW: tuple[int, ...] = (
    234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454,
)
RIGHT_EYE: tuple[int, ...] = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE: tuple[int, ...] = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
RIGHT_BROW: tuple[int, ...] = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW: tuple[int, ...] = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
RIGHT_IRIS: tuple[int, ...] = (468, 469, 470, 471, 472)
LEFT_IRIS: tuple[int, ...] = (473, 474, 475, 476, 477)
MOUTH_CORNERS: tuple[int, int] = (61, 291)
NOSE_TIP = 1
CHIN = 152
# Outer eye corners: their distance is the inter-ocular distance used to normalise features.
EYE_OUTER_CORNERS: tuple[int, int] = (33, 263)
RIGHT_EYE_CORNERS: tuple[int, int] = (33, 133)
LEFT_EYE_CORNERS: tuple[int, int] = (362, 263)
# (upper, lower) pairs whose distance is the opening of the mouth or an eye.
INNER_LIP_PAIRS: tuple[tuple[int, int], ...] = ((82, 87), (13, 14), (312, 317))
RIGHT_EYE_LIDS: tuple[tuple[int, int], ...] = ((160, 144), (159, 145), (158, 153))
LEFT_EYE_LIDS: tuple[tuple[int, int], ...] = ((385, 380), (386, 374), (387, 373))
# Points that do not move with speech or expression: nose bridge, eye corners, forehead, temples.
STABLE: tuple[int, ...] = (6, 168, 197, 195, 33, 133, 362, 263, 10, 151, 9, 108, 337, 234, 454)
# Points that move fast with speech, blinks and expressions (smoothed lightly).
MOBILE: tuple[int, ...] = tuple(sorted(set(
    LIPS_OUTER + LIPS_INNER + JAW + RIGHT_EYE + LEFT_EYE + RIGHT_BROW + LEFT_BROW + RIGHT_IRIS + LEFT_IRIS
    + (0, 11, 12, 13, 14, 15, 16, 17, 18, 37, 38, 39, 40, 41, 42, 72, 73, 74, 80, 81, 82, 84, 85, 86, 87, 88,
       178, 179, 180, 181, 191, 267, 268, 269, 270, 271, 272, 302, 303, 304, 310, 311, 312, 314, 315, 316,
       317, 318, 402, 403, 404, 405, 415, 200, 199, 175, 201, 421, 208, 428)
)))
