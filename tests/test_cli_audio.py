"""``facecraft align`` and ``facecraft transcribe`` on real recordings, and their error messages."""

from __future__ import annotations

import json

import pytest

from facecraft.cli import main
from tests.utils import testdata_path


def test_align_a_video_file_with_text(capsys) -> None:
    # the GRID .mpg: MPEG-1 video with MP2 audio at 44.1 kHz stereo
    mpg = str(testdata_path("speech", "grid_id2_vcd_swwp2s.mpg"))
    rc = main(["align", mpg, "--text", "Set white with P 2 soon."])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert "(2.98 s, align)" in lines[0]
    assert [line.split()[-1] for line in lines[1:7]] == ["set", "white", "with", "p", "two", "soon"]
    start = float(lines[1].split()[0])
    assert 0.45 <= start <= 0.6  # .align: "set" starts at 0.49 s


def test_align_json_without_text_recognises_first(capsys) -> None:
    rc = main(["align", str(testdata_path("speech", "grid_id2_vcd_swwp2s_16k.wav")), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert data["source"] in ("align", "phone_loop")
    assert data["duration_s"] == pytest.approx(2.98, abs=0.01)
    assert data["phones"][0]["symbol"] == "SIL"
    assert any(p["symbol"] not in ("SIL",) for p in data["phones"])
    assert set(data) == {"words", "phones", "duration_s", "source"}


def test_transcribe(capsys) -> None:
    rc = main(["transcribe", str(testdata_path("speech", "pocketsphinx_librivox_0870.wav")), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert "leisure to consider how much there might be" in data["text"]
    assert data["words"][0]["start"] < data["words"][-1]["end"]


def test_errors_are_one_line_with_an_id(capsys, tmp_path) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is text, not a recording")
    assert main(["transcribe", str(not_audio)]) == 2
    assert capsys.readouterr().err.startswith("error [video_format]:")

    silent_video = testdata_path("video", "styletalk_Obama_clip2.mp4")  # no audio track
    assert main(["align", str(silent_video), "--text", "hello"]) == 2
    assert capsys.readouterr().err.startswith("error [audio_processing]:")

    grid = str(testdata_path("speech", "grid_id2_vcd_swwp2s_16k.wav"))
    assert main(["align", grid, "--text", "  "]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error [invalid_input]:") and "Traceback" not in err
