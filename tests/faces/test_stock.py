"""The stock Faces' sources (faces.stock): public-domain photos inside installed packages, checked by
sha256 and by the photo checks; a photo Face built with a named voice speaks with that voice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from facecraft import media
from facecraft.errors import InputError
from facecraft.faces import load_bundle
from facecraft.faces.checks import check_image
from facecraft.faces.from_image import build_face_from_image
from facecraft.faces.stock import STOCK_SOURCES, get_source, read_source, source_path
from facecraft.perform import render_text
from facecraft.speech.flite import flite_path
from facecraft.speech.voice import profile_voice
from facecraft.speech.voices import get_voice
from tests.utils import missing_dependency


@pytest.mark.parametrize("source", STOCK_SOURCES, ids=lambda s: s.key)
def test_each_stock_photo_is_the_recorded_file_and_passes_the_photo_checks(source) -> None:  # noqa: ANN001
    data = read_source(source)
    assert source_path(source).is_file()
    report = check_image(data)
    assert not report.failures(), [c.message for c in report.failures()]
    assert get_voice(source.voice).voice_id == source.voice
    assert source.licence.startswith("Public domain") and source.origin and source.greeting


def test_a_changed_or_missing_file_is_refused() -> None:
    source = STOCK_SOURCES[0]
    with pytest.raises(InputError, match="not the recorded"):
        read_source(replace(source, sha256="0" * 64))
    with pytest.raises(InputError, match="not installed"):
        read_source(replace(source, module="facecraft_no_such_package"))
    with pytest.raises(InputError, match="no longer ships"):
        read_source(replace(source, path="data/no_such_file.png"))
    with pytest.raises(InputError, match="eileen-collins"):
        get_source("nobody")


def test_the_stock_record_lists_every_source() -> None:
    record = (Path(__file__).resolve().parents[2] / "src" / "facecraft" / "faces" / "STOCK.md").read_text()
    for source in STOCK_SOURCES:
        assert source.key in record and source.sha256 in record and source.path in record


@pytest.fixture(scope="module")
def slt_face(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if flite_path() is None:
        missing_dependency("Debian's flite is not installed (scripts/system_deps.sh installs it)")
    out = tmp_path_factory.mktemp("named-voice")
    return build_face_from_image(read_source(get_source("eileen-collins")), name="Eileen", out_dir=out,
                                 voice="slt-us")


def test_a_photo_face_speaks_the_voice_it_was_given(slt_face: Path, tmp_path: Path) -> None:
    bundle = load_bundle(slt_face)
    voice = bundle.manifest["voice"]
    assert voice["source"] == {"kind": "stock", "engine": "flite", "voice_name": "slt-us", "voice_id": "slt"}
    assert voice["tts"] == {"engine": "flite", "voice": "slt", "voice_name": "slt-us"}
    out = render_text(bundle, "Hello there. It is good to see you again.", out_path=tmp_path / "hello.mp4")
    audio = media.read_audio(out, sample_rate=16000)
    f0 = profile_voice(audio.samples, audio.sample_rate).f0_median_hz
    assert 150.0 <= f0 <= 230.0, f0  # flite's slt (a woman), not the default male voice adapted


def test_a_photo_face_with_an_unknown_voice_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="ada-us"):
        build_face_from_image(read_source(STOCK_SOURCES[0]), name="x", out_dir=tmp_path, voice="nobody")
    assert not list(tmp_path.iterdir())
