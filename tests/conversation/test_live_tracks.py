"""The Face's output tracks: stamped at the Face's frame rate, never paced a second time.

The Face's clock paces audio and video together; a track that paced its frames again on a clock of its
own held video behind the audio on the wire (the mouth 2-3 frames late), so frames the Face drew in a
burst (catching up after a slow frame) must leave in that burst, stamped where they belong.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from pipecat.frames.frames import OutputImageRawFrame

from facecraft.conversation.face_video import FaceAudioTrack, FaceVideoTrack


def _image(w: int, h: int, value: int) -> OutputImageRawFrame:
    return OutputImageRawFrame(image=np.full((h, w, 3), value, np.uint8).tobytes(), size=(w, h), format="RGB")


def test_video_track_hands_a_burst_on_at_once_stamped_at_the_faces_frame_rate() -> None:
    async def scenario() -> tuple[list[int], list[int], float]:
        track = FaceVideoTrack(16, 16, fps=25)
        for k in range(6):
            track.add_video_frame(_image(16, 16, 10 * k))
        t0 = time.monotonic()
        frames = [await asyncio.wait_for(track.recv(), 5) for _ in range(6)]
        took = time.monotonic() - t0
        return [f.pts for f in frames], [int(f.to_ndarray(format="rgb24")[0, 0, 0]) for f in frames], took

    pts, values, took = asyncio.run(scenario())
    assert values == [0, 10, 20, 30, 40, 50], "frames out of order"
    assert pts == [k * 90000 // 25 for k in range(6)], "pts not at the Face's 25 fps"
    assert took < 0.5 * 5 / 25 + 0.1, f"six queued frames took {took * 1000:.0f} ms: the track paces again"


def test_audio_track_hands_queued_audio_on_at_once_in_20_ms_frames() -> None:
    async def scenario() -> tuple[list[int], list[int], float]:
        track = FaceAudioTrack(sample_rate=24000, auto_silence=False)
        pcm = (np.arange(24000 // 10) % 100).astype(np.int16)  # 100 ms
        track.add_audio_bytes(pcm.tobytes())
        t0 = time.monotonic()
        frames = [await asyncio.wait_for(track.recv(), 5) for _ in range(5)]
        took = time.monotonic() - t0
        return [f.pts for f in frames], [f.samples for f in frames], took

    pts, sizes, took = asyncio.run(scenario())
    assert sizes == [480] * 5 and pts == [480 * k for k in range(5)]
    assert took < 0.06, f"100 ms of queued audio took {took * 1000:.0f} ms to hand on"
