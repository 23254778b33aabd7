"""Video scripts: API.md lets a script carry ``<emotion value="X"/>`` tags that switch emotion from that
point. They are parsed here, at the API boundary, so that the tags are validated and never reach TTS as
words; the cues are recorded with the video for the engine."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from facecraft.errors import InputError
from facecraft.speech.text import has_speakable

__all__ = ["EMOTIONS", "EmotionCue", "parse_script"]

EMOTIONS = (
    "neutral",
    "angry",
    "excited",
    "elated",
    "content",
    "sad",
    "dejected",
    "scared",
    "contempt",
    "disgusted",
    "surprised",
)
_TAG = re.compile(r"<\s*emotion\b([^>]*)>", re.IGNORECASE)
_VALUE = re.compile(r"""value\s*=\s*["']?([A-Za-z_-]+)["']?""", re.IGNORECASE)


@dataclass(frozen=True)
class EmotionCue:
    char_offset: int  # position in the plain text from which the emotion holds
    emotion: str

    def to_dict(self) -> dict[str, int | str]:
        return asdict(self)


def parse_script(script: str) -> tuple[str, list[EmotionCue]]:
    """Split a script into the words to speak and its emotion cues; InputError on an unknown emotion."""
    parts: list[str] = []
    cues: list[EmotionCue] = []
    length, pos = 0, 0
    for match in _TAG.finditer(script):
        chunk = script[pos : match.start()]
        parts.append(chunk)
        length += len(chunk)
        value = _VALUE.search(match.group(1))
        emotion = value.group(1).lower() if value else ""
        if emotion not in EMOTIONS:
            raise InputError(
                f"unknown emotion {emotion or '(none)'!r} in the script; use one of {', '.join(EMOTIONS)}"
            )
        cues.append(EmotionCue(length, emotion))
        pos = match.end()
    parts.append(script[pos:])
    text = re.sub(r"[ \t]{2,}", " ", "".join(parts)).strip()
    if not has_speakable(text):
        raise InputError("the script has nothing to say (no words besides tags)")
    return text, cues
