"""The Face as a pipecat processor: speech audio in, the Face's video and that audio out, in step.

``FaceVideoService`` consumes TTS audio frames (``SpeechAudioFrame`` carries the phone timings where
the TTS gives them) and feeds the engine's ``StreamingRenderer``; a clock task pulls one frame per
1/fps and pushes it downstream with the audio that plays under it. The audio is not forwarded as it
arrives: every frame says which utterance it shows and where in it (``StreamFrame.utterance``,
``utterance_frame``), and the service cuts that stretch of the utterance's audio for it, so audio and
mouth leave together whatever the TTS's chunking or the render's jitter. While nothing is said the
renderer shows listening motion (and silence goes out); an ``InterruptionFrame`` drops everything
queued and the mouth closes over a few frames. The clock draws each frame one tick ahead; a listening
frame drawn just before a reply's first audio arrived is given back (``StreamingRenderer.take_back_listening``)
and the reply's first frame leaves at that tick in its place.

Speech events (the replica started/stopped speaking, a caption when a sentence starts to play) are
reported through ``on_speech`` as the frames that carry them leave, not when the audio arrived.

The Face's clock is the only pacer: once a participant is connected, its video frames go straight to
the connection's track (``video_out``) as their audio goes down the pipeline, and neither track paces
again. pipecat's live-video task re-paces frames on a clock of its own that restarts mid-burst: after
the Face caught up a few late frames it held every later frame back by up to five frames while the
audio went on (the mouth 2-3 frames behind the audio on the wire).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from aiortc.mediastreams import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE, MediaStreamError
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.smallwebrtc.transport import RawAudioTrack, RawVideoTrack

from facecraft.audio import resample
from facecraft.conversation.video_codec import rgb_to_i420
from facecraft.engine.cues import Emotion
from facecraft.engine.streaming import StreamFrame, StreamingRenderer
from facecraft.speech.types import Phone
from facecraft.threads import name_os_thread

__all__ = ["FaceVideoService", "SpeechAudioFrame", "SpeechEvent", "FaceVideoTrack", "FaceAudioTrack", "OUT_RATE"]

log = logging.getLogger(__name__)

# The audio the Face sends, at Opus's own rate: aiortc's Opus encoder resamples anything else through a
# 960-sample FIFO that held each packet's audio back ~20 ms behind its video (at 24 kHz the mouth led the
# sound by 2.4 frames on the wire against 1.7 in the render; at 48 kHz 1.7-2.0).
OUT_RATE = 48000
_BEHIND_RESET = 5  # frames late at which the clock restarts instead of bursting to catch up
I420 = "I420"  # OutputImageRawFrame.format of the frames the Face hands its own track (``FaceVideoTrack``)


@dataclass
class SpeechAudioFrame(TTSAudioRawFrame):
    """TTS audio (16-bit PCM, as pipecat's) with what the Face needs to lip-sync and report it."""

    phones: list[Phone] = field(default_factory=list)  # timed from this frame's first sample
    trust_phones: bool = True
    text: str = ""  # the sentence it says (a caption), "" for audio the app sent
    inference_id: str | None = None
    emotion: Emotion | None = None  # cue set before this audio
    asked_at: float = 0.0  # time.monotonic() when the speech was asked for (0: unknown), for the latency log


@dataclass(frozen=True)
class SpeechEvent:
    """``kind``: "started", "caption", "stopped"; ``duration_s`` and ``interrupted`` for "stopped"."""

    kind: str
    inference_id: str | None
    text: str = ""
    duration_s: float = 0.0
    interrupted: bool = False


@dataclass
class _Mark:
    utterance: int
    frame: int  # utterance frame where the audio starts to play
    inference_id: str | None
    text: str
    asked_at: float = 0.0  # latency log: asked for (0: unknown) ...
    arrived_at: float = 0.0  # ... reached the Face ...
    pushed_at: float = 0.0  # ... and the renderer


class _UtteranceAudio:
    """One utterance's audio at ``OUT_RATE``, on the utterance clock (sample 0 = utterance time 0)."""

    def __init__(self) -> None:
        self.samples = np.zeros(0, dtype=np.float32)

    def put(self, start: int, x: np.ndarray) -> None:
        """(The push thread; ``cut`` runs on the loop) a grown buffer is filled before it replaces the old."""
        end = start + x.size
        if end > self.samples.size:
            grown = np.zeros(end, dtype=np.float32)
            grown[: self.samples.size] = self.samples
            grown[start:end] = x
            self.samples = grown
        else:
            self.samples[start:end] = x

    def cut(self, a: int, b: int) -> np.ndarray:
        out = np.zeros(b - a, dtype=np.float32)
        part = self.samples[a:b]
        out[: part.size] = part
        return out


class FaceVideoService(FrameProcessor):
    """Drives one Face's ``StreamingRenderer`` from the pipeline; see the module doc."""

    def __init__(self, stream: StreamingRenderer, *, on_speech: Callable[[SpeechEvent], Any] | None = None,
                 on_frame: Callable[[StreamFrame], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream
        self.fps = float(stream.fps)
        self.on_speech = on_speech
        self.on_frame = on_frame
        self._audio: dict[int, _UtteranceAudio] = {}
        self._marks: deque[_Mark] = deque()
        self._speaking: str | None = None  # inference whose speech is playing (None: listening)
        self._speaking_utt = 0
        self._speaking_since = 0  # output frame index where it started
        self._seen = 0  # the last utterance shown
        self._clock_task: asyncio.Task | None = None
        self._ahead: asyncio.Future | None = None  # the frame being drawn (or drawn) for the clock's next tick
        self._taking = False  # the clock is taking ``_ahead`` (a reply's first audio leaves it alone then)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-render",
                                            initializer=name_os_thread, initargs=("face-render",))
        # speech is handed to the renderer from a thread of its own: the renderer's lock is held while a
        # frame is planned, and the event loop (audio, video, data channel) must never wait on it
        self._pusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-push",
                                          initializer=name_os_thread, initargs=("face-push",))
        # where video frames go once a participant is connected (the connection's track): straight from the
        # Face's clock, beside their audio (None: down the pipeline, where nobody receives them yet)
        self.video_out: Callable[[OutputImageRawFrame], Any] | None = None
        self._i420 = all(side % 2 == 0 for side in stream.size)  # I420 halves the chroma planes' sides
        self._epoch = 0  # interruptions so far: speech pushed for an older one is dropped
        self._push_lock = threading.Lock()  # an interruption and a push never interleave
        self._held_at: float | None = None  # when ``hold`` began (None: not held): the latency log
        self._held_out = False  # a held frame has left since then
        self.frames_sent = 0

    # --- frames in ------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            if self._clock_task is None:
                self._clock_task = self.create_task(self._clock(), "face-clock")
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_clock()
            await self.push_frame(frame, direction)
        elif isinstance(frame, InterruptionFrame):
            self.interrupt()
            await self.push_frame(frame, direction)
        elif isinstance(frame, TTSAudioRawFrame):
            await self.say(frame)
        elif isinstance(frame, TTSStoppedFrame):
            await asyncio.get_running_loop().run_in_executor(self._pusher, self.stream.end_of_speech)
        elif isinstance(frame, TTSStartedFrame):
            pass  # the first audio starts the utterance
        else:
            await self.push_frame(frame, direction)

    async def say(self, frame: TTSAudioRawFrame) -> None:
        """Queue speech audio for the renderer and keep it, on the utterance clock, for the output."""
        pcm = np.frombuffer(frame.audio, dtype=np.int16).astype(np.float32) / 32768.0
        if frame.num_channels > 1:
            pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1)
        if pcm.size == 0:
            return
        speech = frame if isinstance(frame, SpeechAudioFrame) else None
        await asyncio.get_running_loop().run_in_executor(self._pusher, self._push, pcm, frame, speech, self._epoch,
                                                         time.monotonic())
        self._redraw_ahead()

    def _redraw_ahead(self) -> None:
        """A reply's first audio is in: a listening frame drawn ahead for the next tick is given back and the
        reply's first frame drawn in its place now, so that it is ready when the tick comes (not drawn then)."""
        ahead = self._ahead
        if (ahead is None or self._taking or not ahead.done() or ahead.cancelled() or ahead.exception() is not None
                or self._held_at is not None):
            return
        frame, _ = ahead.result()
        if self.stream.take_back_listening(frame):
            self._ahead = asyncio.get_running_loop().run_in_executor(self._executor, self._draw)

    def _push(self, pcm: np.ndarray, frame: TTSAudioRawFrame, speech: SpeechAudioFrame | None, epoch: int,
              arrived_at: float) -> None:
        """(The push thread) hand ``pcm`` to the renderer and keep it for the output, unless an interruption
        came after it was sent. The output's copy is stored at once, before the frames that play it can
        leave (they are drawn on another thread)."""
        out = pcm if frame.sample_rate == OUT_RATE else resample(pcm, frame.sample_rate, OUT_RATE)
        with self._push_lock:
            if epoch != self._epoch:
                return
            if speech is not None and speech.emotion is not None:
                self.stream.set_emotion(speech.emotion)
            phones = speech.phones if speech is not None else None
            pushed = self.stream.push_audio(pcm, frame.sample_rate, phones or None,
                                            trust_phones=speech.trust_phones if speech is not None else True,
                                            relative_phones=True)
            utt = self._audio.get(pushed.utterance)
            if utt is None:
                utt = self._audio[pushed.utterance] = _UtteranceAudio()
            utt.put(int(round(pushed.start_s * OUT_RATE)), out)
            self._marks.append(_Mark(pushed.utterance, int(round(pushed.start_s * self.fps)),
                                     speech.inference_id if speech is not None else frame.context_id,
                                     speech.text if speech is not None else "",
                                     speech.asked_at if speech is not None else 0.0, arrived_at, time.monotonic()))

    def interrupt(self) -> None:
        """Drop everything queued; report the speech in progress as interrupted."""
        with self._push_lock:
            self._epoch += 1
            self.stream.interrupt()
        self._audio.clear()
        self._marks.clear()
        self._held_at = None  # (the stream's interrupt ends a hold)
        if self._speaking is not None or self._speaking_utt:
            self._stopped(interrupted=True)

    def hold(self, held: bool) -> None:
        """Hold the speech where it is (silence, the mouth at rest) or let it go on (``StreamingRenderer.hold``):
        what the caller hears of a reply held over a cough is all of it, in order. The frame already drawn
        ahead of the clock is taken back as it leaves (``_emit``): the hold is heard at the next tick."""
        self._held_at, self._held_out = (time.monotonic() if held else None), False
        self.stream.hold(held)

    @property
    def speaking_inference(self) -> str | None:
        """The inference whose speech is playing (None: none, or audio without one)."""
        return self._speaking

    @property
    def busy(self) -> bool:
        """Speech is playing or queued."""
        return self._speaking is not None or bool(self._marks) or self.stream.speaking

    # --- frames out -----------------------------------------------------------------------------

    async def _clock(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.fps
        self._ahead = loop.run_in_executor(self._executor, self._draw)
        t0, n = loop.time(), 0
        while True:
            self._taking = True
            try:
                frame, i420 = await self._ahead
                if self._marks and self._held_at is None and self.stream.take_back_listening(frame):
                    # speech arrived after this listening frame was drawn ahead (and ``_redraw_ahead`` could
                    # not act): its first frame goes out at this tick instead of the next
                    frame, i420 = await loop.run_in_executor(self._executor, self._draw)
                self._ahead = loop.run_in_executor(self._executor, self._draw)  # drawn while we wait
            finally:
                self._taking = False
            await self._emit(frame, i420)
            n += 1
            delay = t0 + n * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -_BEHIND_RESET * period:
                log.debug("face clock %.0f ms behind: restarting it", -delay * 1000)
                t0, n = loop.time(), 0

    def _draw(self) -> tuple[StreamFrame, np.ndarray | None]:
        """(The render thread) the next frame and, once it goes to a connection's track, its I420 planes
        (the encoder's format: converted here, off the event loop; see ``video_codec``)."""
        frame = self.stream.next_frame()
        return frame, (rgb_to_i420(frame.image) if self.video_out is not None and self._i420 else None)

    async def _stop_clock(self) -> None:
        if self._clock_task is not None:
            await self.cancel_task(self._clock_task)
            self._clock_task = None

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop_clock()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._pusher.shutdown(wait=False, cancel_futures=True)

    async def _emit(self, frame: StreamFrame, i420: np.ndarray | None = None) -> None:
        if self._held_at is not None:
            frame = self._held_frame(frame)
        self._track_speech(frame)
        pcm = (np.clip(self._frame_audio(frame), -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()
        h, w = frame.image.shape[:2]
        audio_cls = TTSAudioRawFrame if frame.speaking else OutputAudioRawFrame
        await self.push_frame(audio_cls(audio=pcm, sample_rate=OUT_RATE, num_channels=1))
        if self.video_out is not None:
            if i420 is None and self._i420:
                i420 = rgb_to_i420(frame.image)
            self.video_out(OutputImageRawFrame(image=i420.tobytes(), size=(w, h), format=I420) if i420 is not None
                           else OutputImageRawFrame(image=frame.image.tobytes(), size=(w, h), format="RGB"))
        else:
            await self.push_frame(OutputImageRawFrame(image=frame.image.tobytes(), size=(w, h), format="RGB"))
        self.frames_sent += 1
        if self.on_frame is not None:
            self.on_frame(frame)

    def _frame_audio(self, frame: StreamFrame) -> np.ndarray:
        """The audio that plays under ``frame`` (``OUT_RATE``, one frame long): its stretch of its utterance's
        audio, silence for a listening or held frame."""
        k = frame.utterance_frame
        utt = self._audio.get(frame.utterance) if frame.utterance else None
        if utt is not None and k >= 0:
            return utt.cut(int(round(k * OUT_RATE / self.fps)), int(round((k + 1) * OUT_RATE / self.fps)))
        return np.zeros(int(round(OUT_RATE / self.fps)), dtype=np.float32)

    def _held_frame(self, frame: StreamFrame) -> StreamFrame:
        """(While held) a speaking frame drawn before the hold goes out silent and plays again after it
        (``StreamingRenderer.take_back``): its image (one frame of the mouth) leaves, its audio does not."""
        if frame.utterance_frame >= 0 and self.stream.take_back(frame):
            frame = replace(frame, speaking=False, utterance_frame=-1)
        if not self._held_out and not frame.speaking and self._held_at is not None:
            self._held_out = True
            log.info("timing hold_out: the first silent frame left %.0f ms after the hold",
                     1000 * (time.monotonic() - self._held_at))
        return frame

    def _track_speech(self, frame: StreamFrame) -> None:
        """Speech events for the frame about to leave."""
        while self._marks and self._marks[0].utterance < frame.utterance:
            self._marks.popleft()  # an utterance cut short
        if self._speaking_utt and frame.utterance != self._speaking_utt:
            self._stopped(interrupted=False)
        while (self._marks and self._marks[0].utterance == frame.utterance
               and self._marks[0].frame <= frame.utterance_frame):
            mark = self._marks.popleft()
            if mark.inference_id != self._speaking or not self._speaking_utt:
                if self._speaking_utt:
                    self._stopped(interrupted=False)
                self._speaking, self._speaking_utt = mark.inference_id, mark.utterance
                self._speaking_since = self.frames_sent
                self._report(SpeechEvent("started", mark.inference_id))
                _log_latency(mark)
            if mark.text:
                self._report(SpeechEvent("caption", mark.inference_id, mark.text))
        for old in [u for u in list(self._audio) if u < frame.utterance or (frame.utterance == 0 and u <= self._seen)]:
            self._audio.pop(old, None)
        self._seen = max(self._seen, frame.utterance)

    def _stopped(self, *, interrupted: bool) -> None:
        duration = (self.frames_sent - self._speaking_since) / self.fps
        inference = self._speaking
        self._speaking, self._speaking_utt = None, 0
        self._report(SpeechEvent("stopped", inference, duration_s=duration, interrupted=interrupted))

    def _report(self, event: SpeechEvent) -> None:
        if self.on_speech is not None:
            try:
                self.on_speech(event)
            except Exception:  # a listener's bug must not stop the video
                log.exception("speech event listener failed")


def _log_latency(mark: _Mark) -> None:
    """Where the time to a reply's first frame went (INFO; ``FACECRAFT_SESSION_LOG=INFO`` shows it)."""
    if log.isEnabledFor(logging.INFO):
        now = time.monotonic()
        asked = f"speech ready {1000 * (mark.arrived_at - mark.asked_at):.0f} ms, " if mark.asked_at else ""
        log.info("first frame of %s: %sto the renderer %.0f ms, to its first frame out %.0f ms", mark.inference_id,
                 asked, 1000 * (mark.pushed_at - mark.arrived_at), 1000 * (now - mark.pushed_at))


class FaceVideoTrack(RawVideoTrack):
    """pipecat's output video track stamped at the Face's frame rate (aiortc's ``VideoStreamTrack`` clock
    is fixed at 30 fps, which would play a 25 fps Face fast) and handing each frame on as soon as the
    Face has drawn it, as ``FaceAudioTrack`` does its audio: the Face's clock paces both, and a second
    pacer on one track only would hold its frames behind the other's (see the module doc)."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        super().__init__(width, height)
        self._fps = float(fps)
        self._count = -1

    async def recv(self) -> Any:
        """The next frame; the Face's own come as I420 planes (``rgb_to_i420``), the encoder's format."""
        from av import VideoFrame

        raw = await self._video_buffer.get()
        if raw.format == I420:
            planes = np.frombuffer(raw.image, dtype=np.uint8).reshape(self._height * 3 // 2, self._width)
            frame = VideoFrame.from_ndarray(planes, format="yuv420p")
        else:
            rgb = np.frombuffer(raw.image, dtype=np.uint8).reshape(self._height, self._width, 3)
            frame = VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = await self.next_timestamp()
        return frame

    async def next_timestamp(self) -> tuple[int, Any]:
        if self.readyState != "live":
            raise MediaStreamError
        self._count += 1
        return int(round(self._count * VIDEO_CLOCK_RATE / self._fps)), VIDEO_TIME_BASE


class FaceAudioTrack(RawAudioTrack):
    """pipecat's output audio track handing aiortc 20 ms per read (one Opus packet) as soon as the Face
    has produced it. The Face produces audio all the time on its own clock, so the track neither paces
    nor fills gaps with silence: a busy machine delays audio and video alike instead of letting the
    audio fall behind (pipecat's track reads 10 ms at a time: twice the work per packet)."""

    _READ_CHUNKS = 2  # 10 ms chunks per read
    _RECHECK_S = 0.1  # how often a read waiting for audio checks that the track is still live

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arrived = asyncio.Event()  # audio was queued (a read waits on it, not on a 2 ms poll)

    def add_audio_bytes(self, audio_bytes: bytes) -> Any:
        future = super().add_audio_bytes(audio_bytes)
        self._arrived.set()
        return future

    async def recv(self) -> Any:
        import fractions

        from av import AudioFrame

        while len(self._chunk_queue) < self._READ_CHUNKS:
            if self.readyState != "live":
                raise MediaStreamError
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), self._RECHECK_S)
            except TimeoutError:
                pass
        parts = []
        for _ in range(self._READ_CHUNKS):
            chunk, future = self._chunk_queue.popleft()
            if future is not None and not future.done():
                future.set_result(True)
            parts.append(chunk)
        samples = np.frombuffer(b"".join(parts), dtype=np.int16)
        frame = AudioFrame.from_ndarray(samples[None, :], layout="mono")
        frame.sample_rate = self._sample_rate
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, self._sample_rate)
        self._timestamp += samples.size
        return frame
