"""Typed values of the faces layer: the upload-check report and the speaking/listening analysis."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from facecraft.speech.types import Segment

Status = Literal["pass", "warn", "fail"]


@dataclass
class Check:
    """One upload check. ``id`` is an error id from reference/API.md."""

    id: str
    label: str  # short title, e.g. "Face size"
    status: Status
    message: str  # one human sentence
    value: float | str | None = None
    threshold: float | str | None = None
    ranges: list[tuple[float, float]] = field(default_factory=list)  # seconds


@dataclass
class CheckReport:
    source: str
    checks: list[Check]
    duration_s: float | None = None

    @property
    def status(self) -> Status:
        states = {c.status for c in self.checks}
        return "fail" if "fail" in states else "warn" if "warn" in states else "pass"

    @property
    def passed(self) -> bool:
        return self.status != "fail"

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "passed": self.passed,
            "duration_s": self.duration_s,
            "checks": [asdict(c) | {"ranges": [list(r) for r in c.ranges]} for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckReport:
        checks = [Check(**(c | {"ranges": [tuple(r) for r in c.get("ranges", [])]})) for c in data["checks"]]
        return cls(source=data["source"], checks=checks, duration_s=data.get("duration_s"))


@dataclass
class Analysis:
    """Speaking/listening split of a footage clip, aligned on its frames (``analysis.json``).

    ``state`` has one value per frame: 0 listening, 1 speaking. ``speech`` holds the raw voice
    activity segments of the audio (seconds); ``speaking``/``listening`` are the runs of ``state``.
    """

    fps: float
    state: np.ndarray  # (N,) uint8
    speaking: list[Segment]
    listening: list[Segment]
    speech: list[Segment]
    mouth_motion: np.ndarray  # (N,) rolling std of the inner-lip aperture (IOD units)

    @property
    def speaking_s(self) -> float:
        return float(sum(s.duration for s in self.speaking))

    @property
    def listening_s(self) -> float:
        return float(sum(s.duration for s in self.listening))

    def to_dict(self) -> dict[str, Any]:
        seg = lambda xs: [[round(s.start, 3), round(s.end, 3)] for s in xs]  # noqa: E731
        return {
            "fps": self.fps,
            "frames": int(self.state.shape[0]),
            "speaking": seg(self.speaking),
            "listening": seg(self.listening),
            "speech": seg(self.speech),
            "speaking_s": round(self.speaking_s, 3),
            "listening_s": round(self.listening_s, 3),
            "state": self.state.astype(int).tolist(),
            "mouth_motion": [round(float(v), 5) for v in np.nan_to_num(self.mouth_motion)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        seg = lambda xs: [Segment(float(a), float(b)) for a, b in xs]  # noqa: E731
        return cls(
            fps=float(data["fps"]),
            state=np.asarray(data["state"], dtype=np.uint8),
            speaking=seg(data["speaking"]),
            listening=seg(data["listening"]),
            speech=seg(data["speech"]),
            mouth_motion=np.asarray(data.get("mouth_motion", []), dtype=np.float32),
        )
