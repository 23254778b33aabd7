"""Checks run for the validation routes, each in its own process (``facecraft.service.isolation``): the
API process never decodes an upload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facecraft.service.isolation import Send

__all__ = ["check_video_task", "check_image_task", "apply_media_limits", "report_view"]


def apply_media_limits(settings: dict[str, Any]) -> None:
    """The deployment's pixel limits, in this (child) process's decoders."""
    from facecraft import media

    media.set_pixel_limits(
        max_video_pixels=settings.get("max_video_pixels", 0),
        max_image_pixels=settings.get("max_image_pixels", 0),
    )


def report_view(report: Any) -> dict[str, Any]:
    """``{passed, checks: [{id, label, passed, ...}], details}`` from a ``faces.types.CheckReport``."""
    details = report.to_dict()
    checks = [
        {
            "id": c["id"],
            "label": c["label"],
            "passed": c["status"] != "fail",
            "status": c["status"],
            "message": c["message"],
            "ranges": c["ranges"],
        }
        for c in details["checks"]
    ]
    return {"passed": report.passed, "checks": checks, "details": details}


def check_video_task(payload: dict[str, Any], send: Send) -> dict[str, Any]:
    from facecraft.faces.checks import check_video

    apply_media_limits(payload["limits"])
    path = Path(payload["path"])
    report = check_video(path, consent=True)
    report.source = payload.get("name") or path.name  # a file name, never the server's path
    return report_view(report)


def check_image_task(payload: dict[str, Any], send: Send) -> dict[str, Any]:
    from facecraft.faces.checks import check_image

    apply_media_limits(payload["limits"])
    report = check_image(Path(payload["path"]).read_bytes())
    return report_view(report)
