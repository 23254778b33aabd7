"""The caller's voice activity as conversation events (Silero VAD frames -> started/stopped)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import Frame, VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

__all__ = ["UserEvents"]


class UserEvents(FrameProcessor):
    """Reports ``on_change(True)`` when the caller starts speaking, ``on_change(False)`` when they stop."""

    def __init__(self, on_change: Callable[[bool], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_change = on_change

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self.on_change(True)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self.on_change(False)
        await self.push_frame(frame, direction)
