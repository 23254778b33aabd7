"""HLS for ``stream_url``: remux the finished mp4 (no re-encode) into an .m3u8 playlist + MPEG-TS segments."""

from __future__ import annotations

import logging
from pathlib import Path

import av

from facecraft.errors import RenderError
from facecraft.service.urls import PLAYLIST

__all__ = ["PLAYLIST", "write_hls"]

log = logging.getLogger(__name__)


def write_hls(mp4_path: Path, out_dir: Path, *, segment_s: float = 4.0) -> Path:
    """Write ``out_dir/index.m3u8`` and ``seg_NNN.ts`` next to it; returns the playlist path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    playlist = out_dir / PLAYLIST
    options = {
        "hls_time": f"{segment_s:g}",
        "hls_playlist_type": "vod",
        "hls_list_size": "0",
        "hls_segment_filename": str(out_dir / "seg_%03d.ts"),
    }
    try:
        with av.open(str(mp4_path)) as src, av.open(str(playlist), "w", format="hls", options=options) as dst:
            mapping = {}
            for stream in src.streams:
                if stream.type in ("video", "audio"):
                    mapping[stream.index] = dst.add_stream_from_template(stream)
            for packet in src.demux(*[s for s in src.streams if s.index in mapping]):
                if packet.dts is None:
                    continue
                packet.stream = mapping[packet.stream.index]
                dst.mux(packet)
    except (av.FFmpegError, OSError) as exc:
        raise RenderError(f"could not write the HLS stream: {exc}") from exc
    log.info("wrote HLS playlist %s", playlist)
    return playlist
