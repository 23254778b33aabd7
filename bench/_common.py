"""What every bench script shares: a description of the machine it ran on, running clip by clip,
and writing its JSON.

Bench scripts run as ``python bench/NAME.py``, so this folder is on ``sys.path`` and they import
``from _common import machine_info, write_result``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# the real recordings
TESTDATA = Path(os.environ.get("FACECRAFT_TESTDATA", REPO.parent / "shared" / "testdata"))
STT_QUESTIONS = REPO / "bench" / "data" / "stt_questions.txt"  # caller questions shared by the speech benches


def stt_questions() -> list[str]:
    """The caller questions of ``bench/data/stt_questions.txt`` (blank lines and ``#`` comments dropped)."""
    lines = STT_QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(**extra: Any) -> dict[str, Any]:
    """CPU, cores, Python, platform and the load average at the time of the call, plus ``extra``."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        **extra,
    }


def write_result(out: Path | str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON (numpy scalars as floats) and say where it went."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    print(f"wrote {out}")
    return out


def run_clips(videos: list[Path], run: Callable[[Path], dict[str, Any]]) -> list[dict[str, Any]]:
    """``run(video)`` for each clip, with its ``seconds`` (also on stderr). A clip that fails is kept as
    ``{"clip", "error"}`` and the bench goes on: one bad clip must not lose the others' figures."""
    clips: list[dict[str, Any]] = []
    for video in videos:
        t0 = time.perf_counter()
        try:
            row = run(video)
        except Exception as exc:  # noqa: BLE001 - reported in the table and the JSON
            row = {"clip": video.name, "error": f"{type(exc).__name__}: {exc}"}
        row["seconds"] = time.perf_counter() - t0
        clips.append(row)
        print(f"{video.name}: {row['seconds']:.1f} s", file=sys.stderr)
    return clips


def clip_means(clips: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, float]:
    """Mean of each key over the clips that did not fail (NaN-aware; NaN when every clip failed)."""
    ok = [c for c in clips if "error" not in c]
    return {k: float(np.nanmean([c.get(k, np.nan) for c in ok])) if ok else float("nan") for k in keys}


def live_bundle(bundle: Path | None, video: Path, name: str) -> Path:
    """``bundle``, or a Face built from the first 8 s of ``video`` into a fresh temporary folder (the live
    benches' default: a short build, the same clip each time)."""
    if bundle is not None:
        return bundle
    import tempfile

    from facecraft.faces.build import build_face

    print(f"building a Face from {video.name} (8 s) ...", file=sys.stderr)
    return build_face(video, name=name, out_dir=Path(tempfile.mkdtemp(prefix="bench-live-")), source_range=(0.0, 8.0))
