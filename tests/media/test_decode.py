"""Frame decoding and audio extraction on real recordings and on files made with PyAV encoders."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from facecraft.errors import MediaError
from facecraft.media import iter_frames, probe, read_audio, scaled_size
from tests.utils import testdata_path as recording  # aliased: pytest would collect test*


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("video/mimictalk_German_20s.mp4", (512, 512)),
        ("video/sadtalker_WDA_KatieHill_000.mp4", (512, 512)),
        ("video/latentsync_demo3_vertical_hevc.mp4", (1920, 1080)),
        ("speech/grid_id2_vcd_swwp2s.mpg", (288, 360)),
    ],
)
def test_first_second_decodes_in_order(name: str, size: tuple[int, int]) -> None:
    path = recording(*name.split("/"))
    fps = probe(path).video.fps  # type: ignore[union-attr]
    frames = list(iter_frames(path, end_s=1.0))
    assert len(frames) == round(fps)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert np.allclose([f.time_s for f in frames], np.arange(len(frames)) / fps, atol=1e-3)
    image = frames[-1].image
    assert image.shape == (*size, 3) and image.dtype == np.uint8
    assert 20 < image.mean() < 235  # a real picture, not a blank frame


def test_max_side_downscales_keeping_aspect() -> None:
    path = recording("video", "latentsync_demo3_vertical_hevc.mp4")
    frame = next(iter(iter_frames(path, max_side=512)))
    assert frame.image.shape == (512, 288, 3)
    assert scaled_size(1080, 1920, 512) == (288, 512)
    assert scaled_size(256, 256, 512) == (256, 256)  # never upscaled


@pytest.mark.parametrize(
    ("name", "start", "first"),
    [("video/styletalk_Obama_clip2.mp4", 10.0, 300), ("speech/grid_id2_vcd_swwp2s.mpg", 0.2, 5),
     ("speech/grid_id2_vcd_swwp2s.mpg", 1.0, 25), ("video/latentsync_demo3_vertical_hevc.mp4", 2.5, 75)],
)
def test_seek_gives_the_same_frames_as_decoding_from_the_start(name: str, start: float, first: int) -> None:
    """MPEG program streams seek by byte estimate and land late: the decoder must back off."""
    path = recording(*name.split("/"))
    fps = probe(path).video.fps  # type: ignore[union-attr]
    frames = list(iter_frames(path, start_s=start, end_s=start + 0.2, max_side=256))
    assert [f.index for f in frames] == list(range(first, first + round(0.2 * fps)))
    assert frames[0].time_s == pytest.approx(start, abs=1e-3)
    reference = {f.index: f.image for f in iter_frames(path, end_s=start + 0.2, max_side=256)}
    for frame in frames:
        assert np.array_equal(reference[frame.index], frame.image)


@pytest.mark.parametrize(
    ("codec", "suffix", "name"),
    [("libvpx", "webm", "vp8"), ("libvpx-vp9", "webm", "vp9"), ("mpeg4", "mov", "mpeg4"),
     ("libx264", "mov", "h264"), ("mpeg1video", "mpg", "mpeg1video")],
)
def test_containers_and_codecs_made_with_pyav(tmp_path: Path, codec: str, suffix: str, name: str) -> None:
    source = recording("video", "mimictalk_German_20s.mp4")
    originals = [f.image for f in iter_frames(source, end_s=0.4, max_side=128)]
    path = tmp_path / f"clip.{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 128, "yuv420p"
        for image in originals:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe(path)
    assert info.video is not None and info.video.codec == name
    assert (info.video.width, info.video.height) == (128, 128)
    decoded = [f.image for f in iter_frames(path)]
    assert len(decoded) == len(originals) == 10
    assert np.abs(decoded[5].astype(int) - originals[5].astype(int)).mean() < 12


def test_read_audio_resamples_to_mono_float() -> None:
    audio = read_audio(recording("video", "mimictalk_German_20s.mp4"))
    assert audio.sample_rate == 16000
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration_s == pytest.approx(20.0, abs=0.1)
    assert 0.01 < float(np.sqrt(np.mean(audio.samples**2))) < 0.5
    stereo = read_audio(recording("speech", "whisper_jfk.flac"), sample_rate=22050, mono=False)
    assert stereo.samples.shape[1] == 2 and stereo.sample_rate == 22050
    assert stereo.duration_s == pytest.approx(11.0, abs=0.05)


def test_read_audio_matches_the_wav_it_was_muxed_from() -> None:
    muxed = read_audio(recording("video", "styletalk_Obama_clip2_muxed.mp4"))
    wav = read_audio(recording("video", "styletalk_Obama_clip2.wav"))
    # The AAC encoder delay is removed by the container's edit list: same timing, same samples.
    assert muxed.duration_s == pytest.approx(wav.duration_s, abs=0.03)
    n = min(len(muxed.samples), len(wav.samples))
    assert np.corrcoef(muxed.samples[:n], wav.samples[:n])[0, 1] > 0.99


def test_read_audio_without_audio_stream() -> None:
    with pytest.raises(MediaError) as err:
        read_audio(recording("video", "styletalk_Obama_clip2.mp4"))
    assert err.value.error_id == "audio_processing"
