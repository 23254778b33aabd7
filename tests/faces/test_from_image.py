"""A Face from one photo (faces.from_image): the bundle loads, its synthesised footage speaks and
listens, a sentence rendered from it opens and closes the mouth, and bad photos fail their check."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facecraft import media, vision
from facecraft.cli import main as cli_main
from facecraft.errors import InputError
from facecraft.faces import load_bundle
from facecraft.faces.build import ChecksFailed
from facecraft.faces.from_image import build_face_from_image
from facecraft.faces.thresholds import DEFAULT
from facecraft.speech.visemes import VISEMES
from tests.utils import testdata_path as data_path  # aliased: pytest would collect test*-named names


@pytest.fixture(scope="module")
def photo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("photo-faces")
    steps: list[str] = []
    path = build_face_from_image(data_path("photo", "real3dportrait_Macron.png"), name="Photo", out_dir=out,
                                 progress=lambda f, step: steps.append(step))
    assert steps[-1] == "done" and "footage" in steps and "mouths" in steps
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    return path


def test_photo_bundle_loads_with_image_source_and_stock_voice(photo_bundle: Path) -> None:
    bundle = load_bundle(photo_bundle)
    m = bundle.manifest
    assert m["source"]["kind"] == "image" and m["source"]["filename"] == "real3dportrait_Macron.png"
    assert m["voice"]["source"] == {"kind": "stock", "engine": "piper", "voice_name": "joe-us",
                                    "voice_id": "en_US-joe-medium"}
    assert 15.0 <= m["source"]["duration"] <= 35.0
    # The known states, not a VAD guess: one speaking part, then a listening part of several seconds.
    assert len(bundle.analysis.speaking) == 1 and bundle.analysis.speaking_s > 6.0
    assert bundle.analysis.listening_s > 6.0
    assert bundle.report.passed and {c.id for c in bundle.report.checks} >= {"second_person_detected"}
    coverage = m["engine"]["params"]["mouths"]["viseme_coverage"]
    assert all(coverage[v] > 0 for v in VISEMES), coverage
    # no lip-sync model, so no pause habit measured on synthesised footage: the engine's default stands
    assert "lipsync" not in m["engine"]["params"] and not (photo_bundle / "lipsync.npz").exists()


def test_synthesised_footage_moves_like_a_person(photo_bundle: Path) -> None:
    bundle = load_bundle(photo_bundle)
    tracks, state = bundle.tracks, bundle.analysis.state.astype(bool)
    assert tracks.present.all()
    aperture = np.nan_to_num(tracks.aperture)
    # Speaking opens the mouth wide at times; listening keeps the lips closed.
    assert np.percentile(aperture[state], 90) > 0.12
    assert np.median(aperture[~state]) < DEFAULT.lips_closed_aperture
    # Blinks: the eyes close now and then, open most of the time.
    eyes = np.nan_to_num(tracks.eye_open)
    assert eyes.min() < 0.65 * np.median(eyes)
    assert np.mean(eyes > 0.8 * np.median(eyes)) > 0.8
    # Gentle head motion: it moves, by a few degrees at most.
    roll = tracks.pose[:, 2]
    assert 0.1 < float(np.std(roll)) < 3.0
    centre = tracks.landmarks[:, 6, :2]
    assert float(np.ptp(centre[:, 0])) > 1.0


def test_sentence_from_photo_face_speaks_then_closes(photo_bundle: Path, tmp_path: Path) -> None:
    from facecraft.perform import render_text

    out = render_text(load_bundle(photo_bundle), "Hello, this Face was made from a single photo.",
                      out_path=tmp_path / "said.mp4")
    info = media.probe(out)
    assert info.video is not None and info.audio is not None and info.duration_s > 1.5
    frames = list(media.iter_frames(out))
    tracks = vision.track_frames(frames, fps=info.video.fps, width=info.video.width, height=info.video.height)
    aperture = np.nan_to_num(tracks.aperture)
    assert tracks.present.mean() > 0.95
    assert aperture.max() > 0.12, aperture.round(3).tolist()
    assert np.median(aperture[-3:]) < DEFAULT.lips_closed_aperture, aperture.round(3).tolist()


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def _no_face() -> bytes:
    y, x = np.mgrid[0:640, 0:640]
    return _png(np.dstack([x % 256, y % 256, np.full_like(x, 128)]).astype(np.uint8))


def _two_faces() -> bytes:
    a = media.read_image(data_path("photo", "real3dportrait_Macron.png"))
    b = cv2.resize(media.read_image(data_path("photo", "hallo_reference_6.jpg")), (512, 512))
    return _png(np.concatenate([a, b], axis=1))


def _too_small() -> bytes:
    a = media.read_image(data_path("photo", "real3dportrait_Macron.png"))
    return _png(cv2.resize(a, (320, 320), interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize(("make", "error_id"), [
    (_no_face, "face_or_obstruction_detected"),
    (_two_faces, "second_person_detected"),
    (_too_small, "quality_issue_detected"),
])
def test_bad_photo_fails_its_check(make, error_id: str, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(ChecksFailed) as info:
        build_face_from_image(make(), name="bad", out_dir=tmp_path)
    assert info.value.error_id == error_id, info.value.message
    assert any(c.id == error_id and c.status == "fail" for c in info.value.report.checks)
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_unknown_voice_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="unknown voice"):
        build_face_from_image(_no_face(), name="x", out_dir=tmp_path, voice="nobody")
    photo = tmp_path / "plain.png"
    photo.write_bytes(_no_face())
    code = cli_main(["faces", "create", "--image", str(photo), "--name", "x", "--out", str(tmp_path / "o"),
                     "--no-progress"])
    assert code == 2
    assert "face_or_obstruction_detected" in capsys.readouterr().err


def test_auto_fix_reframes_a_tight_crop_to_a_square_head_and_shoulders() -> None:
    from facecraft.faces.checks import check_image
    from facecraft.faces.from_image import _track_one, reframe

    image = media.read_image(data_path("photo", "face_recognition_biden2.jpg"))
    oval = _track_one(image)[[10, 152, 234, 454], :2]
    (x0, y0), (x1, y1) = oval.min(0).astype(int), oval.max(0).astype(int)
    tight = np.ascontiguousarray(image[y0 - 20: y1 + 20, x0 - 60: x1 + 200])  # face fills it, off-centre
    before = {c.id: c for c in check_image(_png(tight)).checks}
    assert before["improper_distance"].status == "warn"
    fixed = reframe(tight, _track_one(tight))
    assert fixed.shape[0] == fixed.shape[1] >= 512
    after = {c.id: c for c in check_image(_png(fixed)).checks}
    assert after["improper_distance"].status == "pass", after["improper_distance"].message
    assert after["second_person_detected"].status == "pass"  # the face is still found, once


def test_photo_mouth_interiors_vary_with_the_opening() -> None:
    """Each opening shows its own interior: a wide 'aa' the lower teeth and the tongue, a rounded 'oh' a
    dark hole with no lower teeth, a narrow 'DD' a strip of upper teeth with gaps between the incisors;
    not one band of teeth repeated."""
    from facecraft.faces.from_image import FaceSynth, MouthPose, _fit_size, _track_one
    from facecraft.speech.visemes import VISEME_SHAPES
    from facecraft.vision import landmarks as lm
    from facecraft.vision.warp import apply_affine

    image = _fit_size(media.read_image(data_path("photo", "real3dportrait_Macron.png")))
    landmarks = _track_one(image)
    assert landmarks is not None
    synth = FaceSynth(image, landmarks)
    inside: dict[str, np.ndarray] = {}
    boxes: dict[str, np.ndarray] = {}
    for v in ("DD", "E", "aa", "oh"):
        s = VISEME_SHAPES[v]
        pose = MouthPose(aperture=s.aperture, width=s.width, rounding=s.rounding, closure=s.closure, teeth=s.teeth)
        out = synth.render(pose)
        inner = apply_affine(synth.from_units, synth._target_units(pose))[list(lm.LIPS_INNER)]
        mask = np.zeros(out.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))  # the lips' anti-aliased edge is not the interior
        ys, xs = np.nonzero(mask)
        inside[v] = out[ys, xs].astype(np.float64)
        y0, y1 = ys.min(), ys.max() + 1
        lower = ys >= y0 + 0.6 * (y1 - y0)  # the bottom 40 % of the opening
        boxes[v] = out[ys[lower], xs[lower]].astype(np.float64)
        crop = cv2.resize(out[y0:y1, xs.min():xs.max() + 1], (48, 16), interpolation=cv2.INTER_AREA)
        inside[v + "_crop"] = crop.astype(np.float64)

    def luma(rgb: np.ndarray) -> np.ndarray:
        return rgb @ np.array([0.299, 0.587, 0.114])

    bright = {v: float(np.mean(luma(boxes[v]) > 110)) for v in ("DD", "E", "aa", "oh")}
    assert bright["aa"] > 0.1 and bright["aa"] > 3 * max(bright["oh"], 0.01), bright  # lower teeth
    red = boxes["aa"][(boxes["aa"][:, 0] > 1.3 * boxes["aa"][:, 1]) & (luma(boxes["aa"]) < 150)]
    assert len(red) > 0.1 * len(boxes["aa"]), "the tongue shows on the floor of a wide-open mouth"
    assert float(np.mean(luma(inside["oh"]))) < float(np.mean(luma(inside["aa"]))), "a rounded mouth is darker"
    teeth = inside["DD"][luma(inside["DD"]) > 150]
    assert len(teeth) > 0.15 * len(inside["DD"]), "a narrow opening shows the upper teeth"
    crops = [inside[v + "_crop"] for v in ("DD", "E", "aa", "oh")]
    for i in range(len(crops)):
        for j in range(i + 1, len(crops)):
            assert np.abs(crops[i] - crops[j]).mean() > 8.0, (i, j)
