"""Random access to the bundle's footage frames, cheap for the forward runs the motion walk makes.

A few sequential decoders stay open; a request for the next frame of one of them costs one decode,
anything else re-seeks (the footage has a short GOP). Recently decoded frames are kept in a small
LRU so that cross-fades and repeated frames cost nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from facecraft.media.decode import iter_frames
from facecraft.media.types import Frame

__all__ = ["FootageReader"]

_SKIP_AHEAD = 15  # decode forward rather than seek when the wanted frame is this close


class _Stream:
    def __init__(self, path: Path, fps: float, start: int) -> None:
        self.it: Iterator[Frame] = iter_frames(path, start_s=max(0.0, start / fps))
        self.next_index = start
        self.used = 0

    def read_to(self, index: int) -> np.ndarray | None:
        for frame in self.it:
            self.next_index = frame.index + 1
            if frame.index >= index:
                return frame.image
        self.next_index = 1 << 40
        return None


class FootageReader:
    def __init__(self, path: Path, fps: float, *, cache_frames: int = 48, streams: int = 2) -> None:
        self.path = Path(path)
        self.fps = fps
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.cache_frames = cache_frames
        self.streams: list[_Stream] = []
        self.max_streams = streams
        self.clock = 0

    def get(self, index: int) -> np.ndarray:
        """RGB uint8 image of footage frame ``index``."""
        if index in self.cache:
            self.cache.move_to_end(index)
            return self.cache[index]
        self.clock += 1
        stream = next((s for s in self.streams if s.next_index <= index <= s.next_index + _SKIP_AHEAD), None)
        if stream is None:
            stream = _Stream(self.path, self.fps, index)
            if len(self.streams) >= self.max_streams:
                self.streams.remove(min(self.streams, key=lambda s: s.used))
            self.streams.append(stream)
        stream.used = self.clock
        image = stream.read_to(index)
        if image is None:  # past the end: hold the last decodable frame
            image = self.get(index - 1) if index > 0 else np.zeros((16, 16, 3), np.uint8)
        self.cache[index] = image
        if len(self.cache) > self.cache_frames:
            self.cache.popitem(last=False)
        return image
