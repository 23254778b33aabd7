"""Outputs become visible only when complete: written under a temporary name, verified, then moved.

A render that is still running, or that died half-way, must never be served: an mp4 without its index
(``moov atom not found``) or a playlist that lists missing segments looks like a broken player to the
user. ``os.replace`` and ``rename`` are atomic on one file system, so a reader sees the old state or the
new one, never a partial file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from facecraft.errors import RenderError

__all__ = ["verify_mp4", "verify_hls", "publish_file", "publish_dir"]


def verify_mp4(path: Path) -> float:
    """The duration of a finished, playable mp4 (index present, a video stream with frames, audio when
    expected); RenderError otherwise."""
    from facecraft import media
    from facecraft.errors import MediaError

    try:
        info = media.probe(path)
    except MediaError as exc:
        raise RenderError(f"the rendered video is unreadable: {exc.message}") from exc
    if info.video is None or info.video.frame_count <= 0 or info.duration_s <= 0:
        raise RenderError("the rendered video has no frames")
    return float(info.duration_s)


def verify_hls(folder: Path, playlist: str) -> None:
    """A complete VOD playlist (``#EXT-X-ENDLIST``) whose every segment exists and is not empty."""
    index = folder / playlist
    try:
        lines = index.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RenderError("the HLS playlist was not written") from exc
    if not lines or lines[0].strip() != "#EXTM3U" or "#EXT-X-ENDLIST" not in (x.strip() for x in lines):
        raise RenderError("the HLS playlist is incomplete")
    segments = [x.strip() for x in lines if x.strip() and not x.startswith("#")]
    if not segments:
        raise RenderError("the HLS playlist lists no segment")
    for name in segments:
        seg = folder / name
        if seg.parent != folder or not seg.is_file() or seg.stat().st_size == 0:
            raise RenderError(f"the HLS segment {name} is missing or empty")


def publish_file(staged: Path, final: Path) -> None:
    os.replace(staged, final)


def publish_dir(staged: Path, final: Path) -> None:
    """Put ``staged`` at ``final``, replacing a previous version (which is removed after the swap)."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
