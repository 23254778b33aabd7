"""What every bench script shares: a description of the machine it ran on, and writing its JSON.

Bench scripts run as ``python bench/NAME.py``, so this folder is on ``sys.path`` and they import
``from _common import machine_info, write_result``.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


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
