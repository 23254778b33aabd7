"""Echo mode: the app decides what the Face says (``conversation.echo``), as text or audio.

``EchoService`` is the part of the pipeline between the transport's input and the Face: it takes
``EchoFrame``s (queued into the pipeline by the session) and pushes TTS frames to the Face. Text is
synthesised sentence by sentence through ``perform``'s TTS path in the Face's voice (one voice
mapping per session, measured at its start); audio the app sends goes out as it arrives. Speech is
said in the order it was sent; an ``InterruptionFrame`` drops what is queued and what is being
synthesised. The PAL pipeline of issue 15 takes this processor's place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    DataFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    StartFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from facecraft.conversation.face_video import SpeechAudioFrame
from facecraft.conversation.protocol import Echo
from facecraft.errors import FacecraftError, InputError
from facecraft.perform.speech import AdaptPace, Piece, text_pieces
from facecraft.speech.tts import TTSBackend
from facecraft.speech.voice import VoiceMapping, VoiceProfile

__all__ = ["EchoFrame", "EchoService", "FaceVoice"]

log = logging.getLogger(__name__)


@dataclass
class EchoFrame(DataFrame):
    """An echo request travelling down the pipeline."""

    echo: Echo | None = None


class FaceVoice:
    """How one session's Face speaks: its TTS and, for a Face built from video, the mapping toward
    its voice (measured once, in the background, from the session's start). Each reply's first
    sentence is adapted in parts, cut by the adaptation's pace measured over the session
    (``AdaptPace``): its first audio leaves sooner."""

    def __init__(self, tts: TTSBackend, profile: VoiceProfile | None) -> None:
        self.tts = tts
        self.profile = profile
        self.pace = AdaptPace()
        self._mapping: Future[VoiceMapping | None] | None = None

    def start(self, executor: ThreadPoolExecutor) -> None:
        from facecraft.perform.speech import live_voice_mapping

        if self.profile is not None and self._mapping is None:
            self._mapping = executor.submit(live_voice_mapping, self.tts, self.profile)

    def pieces(self, text: str, *, reply_start: bool = True) -> Iterator[Piece]:
        """``text`` as it is said; ``reply_start``: it begins a reply (its TTS's leading silence is cut)."""
        mapping = self._mapping.result() if self._mapping is not None else None
        profile = self.profile if mapping is not None else None
        return text_pieces(text, self.tts, voice=profile, mapping=mapping, pace=self.pace, trim_start=reply_start)


class EchoService(FrameProcessor):
    """Says what ``EchoFrame``s ask, in order; see the module doc."""

    def __init__(self, voice: FaceVoice, executor: ThreadPoolExecutor, *,
                 on_error: Callable[[InputError | FacecraftError, str | None], Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.voice = voice
        self.executor = executor
        self.on_error = on_error
        self._queue: asyncio.Queue[tuple[Echo, float]] = asyncio.Queue()  # with when it was asked for
        self._worker: asyncio.Task | None = None
        self._open: str | None = None  # inference being said and not done yet

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, EchoFrame):
            if frame.echo is not None:
                self._queue.put_nowait((frame.echo, time.monotonic()))
            return
        if isinstance(frame, InterruptionFrame):
            await self._restart()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop()
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self._worker = self.create_task(self._work(), "echo")

    def enqueue(self, echo: Echo) -> None:
        """Queue an echo directly (the session's shortcut past the pipeline's data path)."""
        self._queue.put_nowait((echo, time.monotonic()))

    async def _stop(self) -> None:
        if self._worker is not None:
            await self.cancel_task(self._worker)
            self._worker = None

    async def _restart(self) -> None:
        """Interrupted: forget what is queued and what is being said."""
        await self._stop()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._open = None
        self._worker = self.create_task(self._work(), "echo")

    async def _work(self) -> None:
        while True:
            echo, asked_at = await self._queue.get()
            try:
                await self._say(echo, asked_at)
            except (FacecraftError, InputError) as exc:
                log.info("echo %s failed: %s", echo.inference_id, exc)
                if self.on_error is not None:
                    self.on_error(exc, echo.inference_id)
                if self._open == echo.inference_id:
                    await self.push_frame(TTSStoppedFrame(context_id=echo.inference_id))
                    self._open = None

    async def _say(self, echo: Echo, asked_at: float = 0.0) -> None:
        starts = self._open != echo.inference_id  # the first words of a reply (not a later sentence of one)
        if starts:
            if self._open is not None:  # a new inference ends the one left open
                await self.push_frame(TTSStoppedFrame(context_id=self._open))
            self._open = echo.inference_id
            await self.push_frame(TTSStartedFrame(context_id=echo.inference_id))
        if echo.audio is not None and echo.audio.size:
            pcm = (np.clip(echo.audio, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()
            await self.push_frame(SpeechAudioFrame(audio=pcm, sample_rate=echo.sample_rate, num_channels=1,
                                                   context_id=echo.inference_id, inference_id=echo.inference_id,
                                                   trust_phones=False, asked_at=asked_at))
        elif echo.text:
            await self._say_text(echo, asked_at, starts)
        if echo.done:
            await self.push_frame(TTSStoppedFrame(context_id=echo.inference_id))
            self._open = None

    async def _say_text(self, echo: Echo, asked_at: float = 0.0, starts: bool = True) -> None:
        loop = asyncio.get_running_loop()
        text = echo.text or ""
        began = time.monotonic()

        def first() -> tuple[Iterator[Piece], Piece | None]:  # one hop to the executor, not two
            pieces = self.voice.pieces(text, reply_start=starts)
            return pieces, next(pieces, None)

        pieces, piece = await loop.run_in_executor(self.executor, first)
        if piece is not None:
            log.info("first speech of %s: queued %.0f ms, to the executor and back %.0f ms (synthesis %.0f ms, "
                     "voice %.0f ms of %.2f s)", echo.inference_id, 1000 * (began - asked_at) if asked_at else 0.0,
                     1000 * (time.monotonic() - began), 1000 * piece.synth_s, 1000 * piece.voice_s,
                     piece.samples.size / piece.sample_rate)
        clock = 0.0
        while piece is not None:
            start = clock
            clock += piece.samples.size / piece.sample_rate
            phones = [type(p)(p.symbol, p.start - start, p.end - start) for p in piece.phones]
            pcm = (np.clip(piece.samples, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes()
            await self.push_frame(SpeechAudioFrame(
                audio=pcm, sample_rate=piece.sample_rate, num_channels=1, context_id=echo.inference_id,
                phones=phones, trust_phones=piece.trust_phones, text=piece.text, inference_id=echo.inference_id,
                emotion=piece.emotion, asked_at=asked_at if start == 0.0 else 0.0))
            piece = await loop.run_in_executor(self.executor, next, pieces, None)
