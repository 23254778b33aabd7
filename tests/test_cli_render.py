"""The ``say``, ``render`` and ``listen`` commands on a real Face bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from facecraft import media
from facecraft.cli import main
from tests.engine.fixtures import build_small_bundle
from tests.utils import testdata_path as data_path


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small_bundle(tmp_path_factory)


def test_say_writes_a_video_with_speech(bundle_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "say.mp4"
    assert main(["say", str(bundle_dir), "Hello, my friends.", "-o", str(out), "--no-progress"]) == 0
    info = media.probe(out)
    assert info.video is not None and info.audio is not None
    assert 0.5 < info.duration_s < 5.0


def test_render_with_size_and_transcript(bundle_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "render.mp4"
    wav = data_path("speech", "grid_id2_vcd_swwp2s_16k.wav")
    rc = main(["render", str(bundle_dir), "--audio", str(wav), "--text", "set white with p two soon",
               "-o", str(out), "--size", "128x128", "--no-progress"])
    assert rc == 0
    info = media.probe(out)
    assert info.video is not None and (info.video.width, info.video.height) == (128, 128)
    assert info.duration_s == pytest.approx(2.98, abs=0.1)


def test_listen_writes_the_requested_length(bundle_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "idle.mp4"
    assert main(["listen", str(bundle_dir), "--seconds", "1.5", "-o", str(out), "--no-progress"]) == 0
    assert media.probe(out).duration_s == pytest.approx(1.5, abs=0.1)


def test_say_and_listen_with_an_emotion(bundle_dir: Path, tmp_path: Path) -> None:
    """The issue's command line, and listening with an emotion: the tracked output smiles more than neutral."""
    from facecraft.vision.tracker import FaceTracker
    from facecraft.vision.types import BLENDSHAPE_INDEX

    out = tmp_path / "sorry.mp4"
    assert main(["say", str(bundle_dir), '<emotion value="sad"/>I am sorry to hear that.', "--emotion", "content",
                 "--intensity", "0.6", "-o", str(out), "--no-progress"]) == 0
    assert 0.8 < media.probe(out).duration_s < 5.0

    def smile(emotion: list[str]) -> float:
        path = tmp_path / f"listen-{len(emotion)}.mp4"
        assert main(["listen", str(bundle_dir), "--seconds", "1.2", "-o", str(path), "--no-progress", *emotion]) == 0
        cols = [BLENDSHAPE_INDEX["mouthSmileLeft"], BLENDSHAPE_INDEX["mouthSmileRight"]]
        with FaceTracker(static_image_mode=True, max_faces=1) as tracker:
            shapes = [tracker.process(f.image)[0].blendshapes[cols].mean() for f in media.iter_frames(path)]
        return float(sum(shapes) / len(shapes))

    assert smile(["--emotion", "elated", "--intensity", "1"]) > smile([]) + 0.02


def test_bad_input_is_a_clear_error(bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", str(bundle_dir), "?!", "-o", str(tmp_path / "x.mp4")]) == 2
    assert "error [invalid_input]" in capsys.readouterr().err
    assert main(["listen", str(tmp_path / "nowhere"), "-o", str(tmp_path / "y.mp4")]) == 2
    assert "error [bundle_invalid]" in capsys.readouterr().err
    assert main(["render", str(bundle_dir), "--audio", str(tmp_path / "none.wav"), "-o", str(tmp_path / "z.mp4")]) == 2
    assert "error [invalid_input]" in capsys.readouterr().err
    for extra, error_id in ((["--emotion", "furious"], "unknown_emotion"),
                            (["--emotion", "sad", "--intensity", "2"], "invalid_emotion_intensity"),
                            (["--intensity", "0.5"], "invalid_emotion_intensity")):
        assert main(["listen", str(bundle_dir), "-o", str(tmp_path / "e.mp4"), *extra]) == 2
        assert f"error [{error_id}]" in capsys.readouterr().err
        assert main(["say", str(bundle_dir), "Hi there.", "-o", str(tmp_path / "e.mp4"), *extra]) == 2
        assert f"error [{error_id}]" in capsys.readouterr().err
    assert main(["say", str(bundle_dir), 'Hi <emotion value="sad" loudly/>', "-o", str(tmp_path / "e.mp4")]) == 2
    assert "error [invalid_script]" in capsys.readouterr().err
    assert not (tmp_path / "e.mp4").exists()
