"""Typed values of the faces layer: the upload-check report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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
