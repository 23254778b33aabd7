"""The streaming renderer on a real Face bundle: streaming == batch, listening mouths, fades, bundle errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facecraft.errors import BundleError
from tests.utils import GRID_TEXT


def test_streaming_matches_batch_at_the_output_rate(renderer, grid_audio) -> None:  # noqa: ANN001
    from facecraft.engine import StreamingRenderer
    from facecraft.perform import speech_frames
    from facecraft.speech.align import align

    x = grid_audio.samples
    alignment = align(x, 16000, GRID_TEXT)
    batch = list(speech_frames(renderer, x, 16000, alignment=alignment))
    stream = StreamingRenderer(renderer)
    chunk = 4000  # 0.25 s
    lead = 4  # chunks pushed ahead of playback (1 s)
    chunks = [x[i:i + chunk] for i in range(0, len(x), chunk)]
    per_chunk = chunk / 16000 * renderer.fps
    frames: list[np.ndarray] = []
    for i, c in enumerate(chunks):
        stream.push_audio(c, 16000, alignment.phones if i == 0 else None)
        if i >= lead:
            want = int(round((i - lead + 1) * per_chunk))
            while len(frames) < want:
                frames.append(stream.next_frame().image)
    stream.end_of_speech()
    while len(frames) < len(batch):
        frames.append(stream.next_frame().image)
    assert len(frames) == len(batch) == int(round(len(x) / 16000 * renderer.fps))
    assert all(f.shape == (renderer.size[1], renderer.size[0], 3) for f in frames)
    diff = np.mean([np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() for a, b in zip(frames, batch)])
    assert diff < 1.0
    # after the utterance the head keeps moving (listening) with no audio at all
    idle = [stream.next_frame().image for _ in range(10)]
    assert len(idle) == 10 and idle[0].shape == frames[0].shape


def test_listening_on_speaking_footage_keeps_the_mouth_closed(renderer) -> None:  # noqa: ANN001
    """The test Face has too little listening footage, so it listens on speaking footage: the footage's
    talking mouth must not show."""
    from facecraft.engine import StreamingRenderer
    from facecraft.media import Frame
    from facecraft.vision import track_frames

    stream = StreamingRenderer(renderer)
    frames = [stream.next_frame().image for _ in range(int(4 * renderer.fps))]
    assert renderer.graph.state[stream.walker.cur] == 1
    h, w = frames[0].shape[:2]
    tracks = track_frames((Frame(i, i / renderer.fps, im) for i, im in enumerate(frames)), fps=renderer.fps,
                          width=w, height=h)
    closed_limit = renderer.priors.closed_limit
    assert tracks.present.mean() > 0.95
    assert np.mean(tracks.aperture[tracks.present] < closed_limit) >= 0.95


@pytest.mark.parametrize("share, own", [(0.0, True), (1.01, False)])
def test_listening_footage_keeps_its_own_mouth_only_where_it_rests_closed(renderer, share, own) -> None:  # noqa: ANN001
    """Listening footage that is mostly pauses between words (lips apart) gets a mouth at rest instead."""
    from dataclasses import replace

    from facecraft.engine import Renderer, StreamingRenderer

    config = replace(renderer.config, min_state_s=1.0, own_listening_mouth_share=share)
    stream = StreamingRenderer(Renderer(renderer.bundle, size=(128, 96), config=config))
    kept = []
    for _ in range(int(3 * renderer.fps)):
        stream.next_frame()
        step_state = renderer.graph.state[stream.walker.cur]
        if step_state == 0 and not stream.walker.fade:
            kept.append(stream.last_mouth is None)
    assert kept and all(k == own for k in kept)



def _drawn_opacities(renderer, grid_audio, fade: int) -> list[float]:  # noqa: ANN001
    """Opacity of the composed mouth per frame over listening, speech, listening (own mouth kept)."""
    from dataclasses import replace

    from facecraft.engine import Renderer, StreamingRenderer

    config = replace(renderer.config, min_state_s=1.0, own_listening_mouth_share=0.0, mouth_fade=fade)
    stream = StreamingRenderer(Renderer(renderer.bundle, size=(128, 96), config=config))
    seen = []
    for seconds in (1.5, None, 3.0):
        if seconds is None:
            stream.push_audio(grid_audio.samples, grid_audio.sample_rate)
            stream.end_of_speech()
            seconds = grid_audio.duration_s
        for _ in range(int(seconds * renderer.fps)):
            stream.next_frame()
            patch, opacity = stream.last_drawn
            assert (patch is None) == (opacity == 0.0)
            seen.append(opacity)
    return seen


def test_switches_between_composed_and_own_mouth_fade(renderer, grid_audio) -> None:  # noqa: ANN001
    """At a turn the footage's own mouth and a composed one swap over a few frames, not in one."""
    faded = _drawn_opacities(renderer, grid_audio, fade=3)
    assert 0.0 in faded and 1.0 in faded and any(0.0 < o < 1.0 for o in faded)
    assert max(abs(b - a) for a, b in zip(faded, faded[1:])) <= 0.25 + 1e-6
    abrupt = _drawn_opacities(renderer, grid_audio, fade=0)
    assert set(abrupt) == {0.0, 1.0} and max(abs(b - a) for a, b in zip(abrupt, abrupt[1:])) == 1.0


def test_unknown_bundle_version_and_missing_engine_files(bundle_dir: Path, tmp_path: Path) -> None:
    from facecraft.engine import Renderer
    from facecraft.faces.bundle import load_bundle

    future = tmp_path / "future"
    shutil.copytree(bundle_dir, future)
    manifest = json.loads((future / "manifest.json").read_text())
    manifest["format"] = "facecraft.face/99"
    (future / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as err:
        Renderer(load_bundle(future))
    assert err.value.error_id == "bundle_version"

    broken = tmp_path / "broken"
    shutil.copytree(bundle_dir, broken)
    (broken / "mouths.npz").unlink()
    with pytest.raises(BundleError) as err:
        Renderer(load_bundle(broken))
    assert err.value.error_id == "bundle_invalid"


def test_speech_queued_while_speaking_follows_on_the_same_clock(renderer, grid_audio) -> None:  # noqa: ANN001
    from facecraft.engine import StreamingRenderer

    x = grid_audio.samples
    stream = StreamingRenderer(renderer)
    stream.push_audio(x, 16000)
    stream.end_of_speech()
    first = [stream.next_frame() for _ in range(10)]
    assert stream.speaking and all(f.speaking for f in first)
    stream.push_audio(x, 16000)  # the second utterance arrives while the first still plays
    stream.end_of_speech()
    total = int(round(2 * len(x) / 16000 * renderer.fps))
    rest = [stream.next_frame() for _ in range(total - 10)]
    assert len(first) + len(rest) == total
    assert stream._utt is not None and stream._utt.start_frame == 0 and not stream.speaking
    assert not stream.next_frame().speaking  # past the end: back to listening
    assert stream._utt is None and not stream.speaking


def test_a_jump_fade_keeps_the_heads_detail_and_glides_its_light(renderer) -> None:  # noqa: ANN001
    """A fade frame between two footage positions: the head's fine detail is one frame's (no double image:
    averaging two textures aligned only to a pixel or two halves it), its light and shape in between."""
    import cv2

    tracks = renderer.tracks
    present = np.flatnonzero(tracks.present)
    old_i, new_i = int(present[len(present) // 5]), int(present[4 * len(present) // 5])
    old, new = renderer.footage.get(old_i), renderer.footage.get(new_i)
    x0, y0, x1, y1 = (int(v) for v in np.round(tracks.box[new_i]))
    face = (slice(max(y0, 0), y1), slice(max(x0, 0), x1))

    def detail(image: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(image[face], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())

    w = 0.5
    faded = renderer._morph(old, old_i, new, new_i, w)
    assert faded.shape == new.shape and faded.dtype == np.uint8
    reference = w * detail(old) + (1 - w) * detail(new)
    assert detail(faded) > 0.75 * reference, (detail(faded), reference)
    plain = cv2.addWeighted(old, w, new, 1 - w, 0.0)
    assert detail(faded) > detail(plain)
    # the low band glides: the faded head's smooth picture is between the two frames' (closer than either)
    def low(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (0, 0), 8).astype(np.float32)[face]

    mixed = w * low(old) + (1 - w) * low(new)
    err = np.abs(low(faded) - mixed).mean()
    assert err < np.abs(low(new) - mixed).mean() and err < np.abs(low(old) - mixed).mean()


@pytest.mark.parametrize("blurred", ["old", "new"])
def test_the_middle_frame_of_a_fade_keeps_the_sharper_frames_detail(renderer, blurred) -> None:  # noqa: ANN001
    """Halfway through a fade both footage frames are as near; one of them may be blurred by motion. The
    detail band comes from the sharper one, whichever side of the jump it is on."""
    import cv2

    tracks = renderer.tracks
    present = np.flatnonzero(tracks.present)
    old_i, new_i = int(present[len(present) // 5]), int(present[4 * len(present) // 5])
    old, new = renderer.footage.get(old_i), renderer.footage.get(new_i)
    if blurred == "old":
        old = cv2.GaussianBlur(old, (0, 0), 2.0)
    else:
        new = cv2.GaussianBlur(new, (0, 0), 2.0)
    x0, y0, x1, y1 = (int(v) for v in np.round(0.5 * tracks.box[old_i] + 0.5 * tracks.box[new_i]))
    face = (slice(max(y0, 0), y1), slice(max(x0, 0), x1))

    def detail(image: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(image[face], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())

    faded = renderer._morph(old, old_i, new, new_i, 0.5)
    sharp, soft = (new, old) if blurred == "old" else (old, new)
    # measured 0.67-0.71 of the sharp frame's (one resampling), the soft one's is a twentieth of it
    assert detail(faded) > 0.5 * detail(sharp) and detail(faded) > 2 * detail(soft), \
        (detail(faded), detail(sharp), detail(soft))
