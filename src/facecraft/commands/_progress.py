"""The CLI's progress display, fed by the library's ``progress(fraction[, step])`` callbacks: a percent
bar on a terminal, one line per stage anywhere else (a log file, CI, a pipe)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


class PercentBar:
    """A tqdm bar from 0 to 100 % that only moves forward; a context manager. Disabled, it does nothing.

    Called as ``bar(fraction)`` or ``bar(fraction, step)``: a new step name shows as ``desc: step``.
    Library callbacks fire per frame; the bar redraws only when the whole percent or the step changes.
    When ``stream`` (stderr) is not a terminal there is no bar: each new step is one line
    (``desc: step``) and the end is one line with the time taken.
    """

    def __init__(self, desc: str, *, enabled: bool = True, width: int = 10,
                 stream: TextIO | None = None) -> None:
        self.desc = desc
        self._step = ""
        self._bar = None
        self._stream = stream or sys.stderr
        self._lines = False
        self._started = time.perf_counter()
        if enabled and self._stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=100, unit="%", desc=desc, leave=False, file=self._stream,
                             bar_format=f"{{desc:<{width}}} {{percentage:3.0f}}%|{{bar}}| {{elapsed}}")
        else:
            self._lines = enabled

    def __call__(self, fraction: float, step: str = "") -> None:
        if step and step != self._step:
            self._step = step
            if self._lines:
                print(f"{self.desc}: {step}", file=self._stream, flush=True)
            elif self._bar is not None:
                self._bar.set_description_str(f"{self.desc}: {step}", refresh=False)
        if self._bar is None:
            return
        percent = round(fraction * 100)
        if percent > self._bar.n:
            self._bar.update(percent - self._bar.n)

    def write(self, line: str) -> None:
        """Print a line to stdout above the bar (a bare print would break the bar on a terminal)."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self, *, ok: bool = True) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._lines and ok:
            elapsed = time.perf_counter() - self._started
            print(f"{self.desc}: done in {elapsed:.1f} s", file=self._stream, flush=True)
            self._lines = False

    def __enter__(self) -> PercentBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(ok=exc_type is None)
