"""``bench/robustness.py --quick`` (its reduced form) against a real ``facecraft serve``: hostile inputs end
with their error ids, no traceback, no stuck job, no lost Face, the JSON has the keys the issue asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.utils import REPO, free_port, testdata_path


def test_quick_robustness_run(tmp_path: Path) -> None:
    testdata_path("video", "mimictalk_German_20s.mp4")  # skips without the recordings
    out = tmp_path / "robustness.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "robustness.py"),
            "--quick",
            "--out",
            str(out),
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    for key in (
        "inputs_tried",
        "tracebacks",
        "stuck_jobs",
        "lost_faces",
        "peak_rss_mb",
        "api_p95_ms_under_load",
    ):
        assert key in report
    assert report["inputs_tried"] >= 25 and report["inputs_failed"] == 0
    assert (report["tracebacks"], report["stuck_jobs"], report["lost_faces"]) == (0, 0, 0)
    assert report["load"]["errors"] == 0 and report["load"]["requests"] > 50
