"""Translate PyAV errors into MediaError at the package boundary.

Why: callers (checks, the service) need one exception type with a stable error id, never an
``av.error.*`` traceback. ``video_format`` means "not a video we can open"; ``video_processing``
means "a video, but damaged".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import av

from facecraft.errors import MediaError

__all__ = ["translate_av_errors", "check_readable", "has_media_signature"]

# Leading bytes of containers we accept; used to tell "damaged video" from "not a video".
_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # mp4 / mov / 3gp
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM (EBML)
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x00\x00\x01\xb3"),  # MPEG video elementary stream
    (0, b"FLV"),
    (0, b"OggS"),
)


def has_media_signature(path: Path) -> bool:
    """True when the file starts like a video container (so a failure to open means damage)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return True
    return any(head[off:off + len(sig)] == sig for off, sig in _SIGNATURES)


def check_readable(path: Path) -> None:
    """Raise ``video_format`` for a missing path, a directory or an empty file."""
    if not path.exists():
        raise MediaError(f"file not found: {path.name}", error_id="video_format")
    if not path.is_file():
        raise MediaError(f"not a file: {path.name}", error_id="video_format")
    if path.stat().st_size == 0:
        raise MediaError(f"the file is empty: {path.name}", error_id="video_format")


@contextlib.contextmanager
def translate_av_errors(path: Path, *, opening: bool, damaged_id: str = "video_processing") -> Iterator[None]:
    """Map ``av`` errors raised in the block to MediaError.

    ``opening`` tells whether the container is being opened (an InvalidDataError then means the
    bytes are not media at all: ``video_format``) or decoded (then it means corruption:
    ``damaged_id``, ``video_processing`` by default). A file that fails to open but starts with a
    known container signature (an mp4 cut before its index) counts as damaged, not as non-media.
    """
    try:
        yield
    except MediaError:
        raise
    except av.error.InvalidDataError as exc:
        if opening and not has_media_signature(path):
            raise MediaError(f"not a readable media file: {path.name}", error_id="video_format") from exc
        raise MediaError(f"corrupt or truncated media: {path.name} ({exc})", error_id=damaged_id) from exc
    except (av.error.DecoderNotFoundError, av.error.DemuxerNotFoundError) as exc:
        message = f"unsupported format or codec: {path.name} ({exc})"
        raise MediaError(message, error_id="video_format") from exc
    except av.error.FileNotFoundError as exc:
        raise MediaError(f"file not found: {path.name}", error_id="video_format") from exc
    except (av.error.FFmpegError, EOFError, ValueError) as exc:
        raise MediaError(f"could not process media: {path.name} ({exc})", error_id=damaged_id) from exc
