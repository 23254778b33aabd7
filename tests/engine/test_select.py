"""Mouth selection: sealed lips are chosen only where the timeline closes them (issue 17, text path)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facecraft.engine.config import EngineConfig
from facecraft.engine.select import MouthSelector
from facecraft.engine.timeline import rest_timeline


def test_a_sealed_patch_costs_more_where_the_target_has_the_lips_apart(renderer) -> None:  # noqa: ANN001
    """The mirror of the closed-lips penalty: a patch whose lips are sealed (below ``closed_limit``) on a
    frame whose target has them apart pays its shortfall again; open patches and frames where the lips
    must close cost what they did."""
    p, cfg = renderer.priors, renderer.config
    plain = MouthSelector(renderer.db, replace(cfg, w_sealed=0.0), closed_aperture=p.closed,
                          sealed_aperture=p.closed_limit)
    tl = rest_timeline(3, renderer.fps, p, cfg)
    tl.aperture[:] = [p.aperture(np.array(0.6))[()], p.aperture(np.array(0.6))[()], p.closed]
    tl.closed[:] = [False, True, True]
    extra = renderer.selector.target_costs(tl, slice(0, 3), None) - plain.target_costs(tl, slice(0, 3), None)
    ap = renderer.db.features[:, 0].astype(np.float64)
    sealed = ap < p.closed_limit
    assert sealed.sum() >= 3 and (~sealed).sum() >= 3, "the Face shows both sealed and open lips"
    np.testing.assert_allclose(extra[0], np.where(sealed, cfg.w_sealed * (tl.aperture[0] - ap) ** 2, 0.0),
                               rtol=1e-9, atol=1e-12)
    assert np.all(extra[1:] == 0.0)


def test_without_a_seal_limit_costs_are_unchanged(renderer) -> None:  # noqa: ANN001
    p, cfg = renderer.priors, renderer.config
    tl = rest_timeline(2, renderer.fps, p, cfg)
    tl.aperture[:] = p.aperture(np.array([0.6, 0.6]))
    tl.closed[:] = False
    none = MouthSelector(renderer.db, cfg, closed_aperture=p.closed).target_costs(tl, slice(0, 2), None)
    off = MouthSelector(renderer.db, replace(cfg, w_sealed=0.0), closed_aperture=p.closed,
                        sealed_aperture=p.closed_limit).target_costs(tl, slice(0, 2), None)
    np.testing.assert_array_equal(none, off)


def _sealed_before(mouth_ap: np.ndarray, target: np.ndarray, phones: list, fps: float, apart: float,
                   sealed: float) -> list[int]:
    """Per p/b/m (as bench/fidelity.py times them): frames of the 8 before the phone's first frame whose
    target had the lips apart (above ``apart``) but whose planned mouth was sealed (below ``sealed``)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import fidelity

    out = []
    for f0, _, _ in fidelity._bilabial_phones(phones, fps):
        a = max(0, f0 - 8)
        out.append(int(np.sum((target[a:f0] > apart) & (mouth_ap[a:f0] < sealed))))
    return out


@pytest.mark.slow
def test_text_path_lips_do_not_seal_before_the_bilabial(testdata: Path, tmp_path: Path) -> None:
    """A corpus clip whose Face holds ~90 mouths (3.6 s): on the text path (aligned phones trusted) the
    lips sealed on the open vowel before 'might' six frames early (the pose and lip-position terms of a
    few closed patches outweighed the plain aperture error). With the seal penalty no p/b/m is sealed
    more than a frame before its phone where the timeline had the lips apart."""
    from facecraft import media
    from facecraft.engine import Renderer
    from facecraft.faces.build import build_face
    from facecraft.faces.bundle import load_bundle
    from facecraft.faces.thresholds import Thresholds
    from facecraft.media.types import Frame
    from facecraft.perform import select_dub_mouths
    from facecraft.speech.align import align_audio
    from facecraft.vision import track_frames

    video = testdata / "corpus" / "pcavs_00086.mp4"
    info = media.probe(video)
    split = round(info.duration_s * 0.7, 2)
    bundle = build_face(video, name="pcavs 86", out_dir=tmp_path, source_range=(0.0, split),
                        thresholds=Thresholds(min_duration_s=2.0, cut_hist_distance=2.0))
    fps = float(info.video.fps)
    frames = [f.image for f in media.iter_frames(video, start_s=split)]
    h, w = frames[0].shape[:2]
    tracks = track_frames((Frame(i, i / fps, im) for i, im in enumerate(frames)), fps=fps, width=w, height=h)
    audio = media.read_audio(video, sample_rate=16000).samples
    a = int(round(split * 16000))
    samples = audio[a: a + int(round(len(frames) / fps * 16000))]
    alignment = align_audio(samples, 16000)
    assert alignment.source == "align"
    early = {}
    for w_sealed in (0.0, EngineConfig().w_sealed):
        renderer = Renderer(load_bundle(bundle), config=EngineConfig(w_sealed=w_sealed))
        plan = select_dub_mouths(renderer, tracks, samples, 16000, alignment=alignment)
        p = renderer.priors
        assert plan.aperture is not None
        early[w_sealed] = _sealed_before(renderer.db.features[np.asarray(plan.mouths), 0], plan.aperture,
                                         alignment.phones, fps, p.closed_limit, p.closed + 0.1 * (p.open - p.closed))
    with_penalty = early[EngineConfig().w_sealed]
    assert len(with_penalty) >= 2
    assert max(with_penalty) <= 1, early
