"""The Face's VP8 encoder settings and its RGB -> I420 conversion, with real libvpx (PyAV) on both ends."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc import rtcrtpsender
from aiortc.codecs import OpusEncoder, vpx
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from pipecat.frames.frames import OutputImageRawFrame

from facecraft.conversation.face_video import I420, FaceAudioTrack, FaceVideoTrack
from facecraft.conversation.video_codec import FaceVp8Encoder, rgb_to_i420, use_face_encoder


def _frames(n: int = 40, side: int = 128) -> list[np.ndarray]:
    """A textured face-sized blob moving over a gradient: something for the encoder to work on."""
    yy, xx = np.mgrid[0:side, 0:side]
    out = []
    for k in range(n):
        cx, cy = side / 2 + 10 * np.sin(k / 6), side / 2 + 6 * np.cos(k / 7)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (side / 6) ** 2))
        img = np.stack([60 + 150 * blob + 0.3 * xx, 80 + 100 * blob + 0.3 * yy, 90 + 60 * blob + 8 * np.sin(xx / 3)],
                       axis=-1)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-9))


def test_i420_matches_the_swscale_conversion_aiortc_would_do() -> None:
    image = _frames(1)[0]
    ours = rgb_to_i420(image)
    theirs = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p").to_ndarray()
    assert ours.shape == theirs.shape == (image.shape[0] * 3 // 2, image.shape[1])
    assert int(np.abs(ours.astype(int) - theirs.astype(int)).max()) <= 2


def test_the_faces_encoder_round_trips_i420_frames_through_libvpx() -> None:
    encoder, decoder = FaceVp8Encoder(), av.CodecContext.create("libvpx", "r")
    frames = _frames()
    psnr = []
    for k, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb_to_i420(image), format="yuv420p")
        frame.pts, frame.time_base = k * 3000, Fraction(1, 90000)
        payloads, timestamp = encoder.encode(frame, force_keyframe=(k == 0))
        assert payloads and abs(timestamp - k * 3000) <= 1  # aiortc converts time bases in floats
        data = b"".join(vpx.vp8_depayload(p) for p in payloads)
        for out in decoder.decode(av.Packet(data)):
            psnr.append(_psnr(out.to_ndarray(format="rgb24"), image))
    assert encoder.codec is not None and encoder.codec.bit_rate == encoder.target_bitrate
    assert len(psnr) == len(frames)
    assert np.median(psnr) > 30.0, f"decoded frames {np.median(psnr):.1f} dB from the rendered ones"


def test_use_face_encoder_swaps_vp8_only_and_twice_is_once() -> None:
    before = rtcrtpsender.get_encoder
    try:
        use_face_encoder()
        use_face_encoder()
        vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
        opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
        assert isinstance(rtcrtpsender.get_encoder(vp8), FaceVp8Encoder)
        assert isinstance(rtcrtpsender.get_encoder(opus), OpusEncoder)
        assert rtcrtpsender.get_encoder.__wrapped__ is getattr(before, "__wrapped__", before)
    finally:
        rtcrtpsender.get_encoder = before


def test_video_track_takes_the_faces_i420_frames() -> None:
    image = _frames(1, side=32)[0]

    async def scenario() -> np.ndarray:
        track = FaceVideoTrack(32, 32, fps=25)
        track.add_video_frame(OutputImageRawFrame(image=rgb_to_i420(image).tobytes(), size=(32, 32), format=I420))
        frame = await asyncio.wait_for(track.recv(), 5)
        assert frame.format.name == "yuv420p"
        return frame.to_ndarray(format="rgb24")

    assert _psnr(asyncio.run(scenario()), image) > 35.0


def test_audio_track_waiting_for_audio_wakes_when_it_comes_and_ends_when_stopped() -> None:
    async def scenario() -> tuple[int, bool]:
        track = FaceAudioTrack(sample_rate=24000, auto_silence=False)
        reading = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.05)
        assert not reading.done()
        track.add_audio_bytes(np.zeros(480, np.int16).tobytes())
        frame = await asyncio.wait_for(reading, 5)
        waiting = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.02)
        track.stop()
        with pytest.raises(MediaStreamError):
            await asyncio.wait_for(waiting, 5)
        return frame.samples, True

    samples, ended = asyncio.run(scenario())
    assert samples == 480 and ended
