"""CLI command ``facecraft check``: the upload checks of a training video (or photo) as a table or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facecraft.commands._help import example

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
_MARK = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``check`` to the top-level parser."""
    p = sub.add_parser("check", help="run the upload checks on a training video or photo",
                       description="Run the upload checks on a training video (or a photo). "
                                   "Exit 0 when no check fails, 1 otherwise.",
                       **example("facecraft check clip.mp4", "facecraft check portrait.jpg --json"))
    p.add_argument("path", metavar="VIDEO", help="training video (or a JPG/PNG photo)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-consent", action="store_true",
                   help="skip the consent-statement check (consent given elsewhere, e.g. a separate clip)")
    p.set_defaults(handler=run)


def format_report(report) -> str:  # noqa: ANN001 - CheckReport, imported lazily
    """A readable table: one line per check, time ranges under it."""
    lines = [f"{report.source}  ({report.duration_s:.1f} s)" if report.duration_s else report.source]
    width = max((len(c.label) for c in report.checks), default=10)
    for c in report.checks:
        lines.append(f"  {_MARK.get(c.status, c.status)}  {c.label:<{width}}  {c.message}  [{c.id}]")
        if c.ranges and (c.status != "pass" or c.id == "consent_phrase_mismatch"):
            spans = ", ".join(f"{a:.1f}-{b:.1f}s" if b > a else f"{a:.1f}s" for a, b in c.ranges[:8])
            more = f" (+{len(c.ranges) - 8})" if len(c.ranges) > 8 else ""
            lines.append(f"  {'':4}  {'':<{width}}  at {spans}{more}")
    counts = {s: sum(c.status == s for c in report.checks) for s in ("pass", "warn", "fail")}
    lines.append(f"result: {report.status.upper()}  ({counts['pass']} passed, {counts['warn']} warnings, "
                 f"{counts['fail']} failed)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from facecraft.faces.checks import check_image, check_video

    path = Path(args.path)
    if path.suffix.lower() in _IMAGE_SUFFIXES:
        report = check_image(path)
    else:
        bar = None if args.no_progress or args.json else _progress_bar(path)
        try:
            report = check_video(path, progress=(lambda n: bar.update(n - bar.n)) if bar else None,
                                 consent=not args.no_consent)
        finally:
            if bar is not None:
                bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    return 0 if report.passed else 1


def _progress_bar(path: Path):  # noqa: ANN202 - a tqdm bar, imported lazily
    """A tqdm bar over the frames tracked (total from the probe when it can be read), or None."""
    from tqdm import tqdm

    from facecraft import media
    from facecraft.errors import FacecraftError

    try:
        info = media.probe(path)
    except FacecraftError:
        return None
    total = info.video.frame_count if info.video else None
    return tqdm(total=total or None, unit="frame", desc="checking", leave=False, disable=None)
