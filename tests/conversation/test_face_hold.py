"""The Face held over the caller's speech: the frame its clock drew ahead leaves silent and plays after
the hold, so the hold is heard a frame sooner and the reply held over a cough is still all heard, in order."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.frames.frames import TTSAudioRawFrame


def test_the_frame_drawn_ahead_of_a_hold_leaves_silent_and_plays_after_it(renderer, grid_audio) -> None:  # noqa: ANN001
    from facecraft.conversation.face_video import FaceVideoService
    from facecraft.engine import Renderer, StreamingRenderer

    stream = StreamingRenderer(Renderer(renderer.bundle, size=(64, 48)))
    face = FaceVideoService(stream)
    try:
        pcm = grid_audio.samples.astype(np.float32)
        raw = TTSAudioRawFrame(audio=(pcm * 32767).astype(np.int16).tobytes(), sample_rate=16000, num_channels=1)
        face._push(pcm, raw, None, face._epoch, 0.0)  # the push thread's work, done here
        before = [stream.next_frame() for _ in range(25)]  # into the sentence's words
        ahead = stream.next_frame()  # drawn ahead of the clock; the hold comes before it leaves
        expected = face._frame_audio(ahead)
        assert ahead.speaking and np.sqrt(np.mean(expected ** 2)) > 0.01
        face.hold(True)
        out = face._held_frame(ahead)
        assert out.utterance_frame == -1 and not out.speaking and not face._frame_audio(out).any()
        held = [face._held_frame(stream.next_frame()) for _ in range(4)]
        assert all(not face._frame_audio(f).any() for f in held)
        face.hold(False)
        resumed = stream.next_frame()
        assert resumed.utterance_frame == ahead.utterance_frame == before[-1].utterance_frame + 1
        np.testing.assert_array_equal(face._frame_audio(resumed), expected)  # nothing of the reply lost
    finally:
        face._executor.shutdown(wait=False)
        face._pusher.shutdown(wait=False)


@pytest.mark.parametrize("at_once", [True, False], ids=["drawn-when-the-audio-comes", "drawn-at-the-tick"])
def test_a_reply_s_first_frame_leaves_at_the_tick_after_its_audio_not_one_later(renderer, grid_audio,  # noqa: ANN001
                                                                                at_once: bool) -> None:
    """The Face's clock draws each frame a tick ahead: when a reply's first audio arrives after a listening
    frame was drawn ahead, that frame is given back and the reply's first frame leaves at the next tick in
    its place (not behind it), with its audio. ``say`` draws it at once; else the clock does at the tick."""
    import asyncio

    from facecraft.conversation.face_video import FaceVideoService
    from facecraft.engine import Renderer, StreamingRenderer

    stream = StreamingRenderer(Renderer(renderer.bundle, size=(64, 48)))
    face = FaceVideoService(stream)
    out: list = []

    async def emit(frame, i420=None) -> None:  # noqa: ANN001
        out.append((frame, face._frame_audio(frame)))

    face._emit = emit  # type: ignore[method-assign]
    pcm = grid_audio.samples.astype(np.float32)
    raw = TTSAudioRawFrame(audio=(pcm * 32767).astype(np.int16).tobytes(), sample_rate=16000, num_channels=1)

    async def run() -> int:
        clock = asyncio.create_task(face._clock())
        deadline = asyncio.get_running_loop().time() + 120  # (a clear failure, not a hang, if the clock stalls)
        try:
            while len(out) < 3:
                await asyncio.sleep(0.005)
            while face._taking or face._ahead is None or not face._ahead.done():  # the next listening frame is
                await asyncio.sleep(0.002)  # drawn, waiting for its tick
                assert asyncio.get_running_loop().time() < deadline
            n = len(out)
            face._push(pcm, raw, None, face._epoch, 0.0)  # (no tick can pass between the check and this)
            if at_once:  # as ``say`` does once the push is done
                ahead = face._ahead
                face._redraw_ahead()
                assert face._ahead is not ahead  # the reply's first frame is being drawn for the next tick
            while len(out) <= n + 1:
                await asyncio.sleep(0.005)
                assert asyncio.get_running_loop().time() < deadline
            return n
        finally:
            clock.cancel()

    try:
        n = asyncio.run(run())
        assert all(not f.speaking for f, _ in out[:n])
        first, audio = out[n]
        assert first.speaking and first.utterance_frame == 0 and first.index == out[n - 1][0].index + 1
        from facecraft.audio import resample
        from facecraft.conversation.face_video import OUT_RATE

        said = resample(pcm, 16000, OUT_RATE)
        np.testing.assert_allclose(audio, said[:audio.size], atol=1e-6)  # the reply's first 40 ms leave with it
        assert out[n + 1][0].utterance_frame == 1
    finally:
        face._executor.shutdown(wait=False)
        face._pusher.shutdown(wait=False)
