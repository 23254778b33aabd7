"""Keep the server's file system out of what clients read: error messages name files, never paths."""

from __future__ import annotations

import re

__all__ = ["redact_paths"]

# An absolute POSIX path of two or more parts, not inside a URL (``scheme://host/a/b`` keeps its path:
# the part after ``//`` is preceded by a word character or a slash) and not a ratio such as ``6/10``.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"`<>|:]+/)+([^\s/'\"`<>|:,;)]+)")


def redact_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its last part (``/srv/x/video.mp4`` → ``video.mp4``)."""
    return _ABSOLUTE_PATH.sub(r"\1", text)
