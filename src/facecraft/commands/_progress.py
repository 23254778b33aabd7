"""The CLI's percent progress bar, fed by the library's ``progress(fraction[, step])`` callbacks."""

from __future__ import annotations

from types import TracebackType


class PercentBar:
    """A tqdm bar from 0 to 100 % that only moves forward; a context manager. Disabled, it does nothing.

    Called as ``bar(fraction)`` or ``bar(fraction, step)``: a new step name shows as ``desc: step``.
    Library callbacks fire per frame; the bar redraws only when the whole percent or the step changes.
    """

    def __init__(self, desc: str, *, enabled: bool = True, width: int = 10) -> None:
        self.desc = desc
        self._step = ""
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=100, unit="%", desc=desc, leave=False,
                             bar_format=f"{{desc:<{width}}} {{percentage:3.0f}}%|{{bar}}| {{elapsed}}")

    def __call__(self, fraction: float, step: str = "") -> None:
        if self._bar is None:
            return
        if step and step != self._step:
            self._step = step
            self._bar.set_description_str(f"{self.desc}: {step}", refresh=False)
        percent = round(fraction * 100)
        if percent > self._bar.n:
            self._bar.update(percent - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> PercentBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
