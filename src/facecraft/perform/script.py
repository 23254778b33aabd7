"""Scripts: the words a Face says, with cue tags. The one place script tags are parsed.

API.md lets a video script carry ``<emotion value="X"/>`` tags that switch emotion from that point;
an optional ``intensity="0..1"`` sets how strongly (1 when absent). Tags are validated here and
never reach TTS as words. A script splits into ``Segment``s: the text between two tags and the
emotion it is spoken with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from facecraft.engine.cues import Emotion
from facecraft.errors import InputError
from facecraft.speech.text import has_speakable

__all__ = ["Cue", "Script", "Segment", "parse_script", "MAX_SCRIPT_CHARS"]

MAX_SCRIPT_CHARS = 20_000
_TAG = re.compile(r"<\s*(/?)\s*emotion\b([^<>]*?)/?\s*>", re.IGNORECASE)
_ATTR = re.compile(r"""([A-Za-z_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'/>]+))""")
_STRAY = re.compile(r"<\s*/?\s*emotion\b", re.IGNORECASE)


@dataclass(frozen=True)
class Cue:
    char_offset: int  # position in the plain text from which the emotion holds
    emotion: Emotion

    def to_dict(self) -> dict[str, int | str | float]:
        return {"char_offset": self.char_offset, "emotion": self.emotion.name,
                "intensity": self.emotion.intensity}


@dataclass(frozen=True)
class Segment:
    text: str  # may be empty or unspeakable (a tag at the very start)
    emotion: Emotion | None  # the cue it starts with (None: the emotion before it goes on)


@dataclass(frozen=True)
class Script:
    text: str  # the words to speak, tags removed
    cues: list[Cue]

    def segments(self) -> list[Segment]:
        """The text cut at its cues, in order."""
        out: list[Segment] = []
        pos, emotion = 0, None
        for cue in self.cues:
            out.append(Segment(self.text[pos:cue.char_offset].strip(), emotion))
            pos, emotion = cue.char_offset, cue.emotion
        out.append(Segment(self.text[pos:].strip(), emotion))
        return [s for s in out if s.text or s.emotion is not None]


def parse_script(script: str) -> Script:
    """Split a script into its words and cues.

    InputError ``unknown_emotion`` for an emotion API.md does not list, ``invalid_emotion_intensity``
    for an intensity outside 0..1, ``invalid_script`` for a malformed emotion tag, ``invalid_input``
    when nothing is left to say. Other angle brackets (``<https://...>``, ``a < b``) are words.
    """
    if not isinstance(script, str):
        raise InputError(f"a script must be text, not {type(script).__name__}")
    if len(script) > MAX_SCRIPT_CHARS:
        raise InputError(f"the script is longer than {MAX_SCRIPT_CHARS} characters")
    parts: list[str] = []
    cues: list[tuple[int, Emotion]] = []  # (offset in the joined text, emotion)
    length, pos = 0, 0
    for match in _TAG.finditer(script):
        closing, body = match.groups()
        chunk = script[pos:match.start()]
        parts.append(chunk)
        length += len(chunk)
        pos = match.end()
        if not closing:  # </emotion>: the emotion set before goes on
            cues.append((length, _emotion(body, match.group(0))))
    parts.append(script[pos:])
    joined = "".join(parts)
    if _STRAY.search(joined):
        raise InputError("the script has an unfinished <emotion tag (missing '>')", error_id="invalid_script")
    text, where = _squeeze(joined)
    if not has_speakable(text):
        raise InputError("the script has nothing to say (no words besides tags)")
    return Script(text, [Cue(where[offset], emotion) for offset, emotion in cues])


def _squeeze(text: str) -> tuple[str, list[int]]:
    """``text`` with runs of spaces and tabs made one space and the ends stripped, and where each of its
    positions (0..len) lands in the result."""
    out: list[str] = []
    where: list[int] = []
    pos = 0
    for run in re.finditer(r"[ \t]{2,}", text):
        for ch in text[pos:run.start()]:
            where.append(len(out))
            out.append(ch)
        where.extend([len(out)] * (run.end() - run.start()))
        out.append(" ")
        pos = run.end()
    for ch in text[pos:]:
        where.append(len(out))
        out.append(ch)
    where.append(len(out))
    squeezed = "".join(out)
    lead = len(squeezed) - len(squeezed.lstrip())
    stripped = squeezed.strip()
    return stripped, [min(max(0, w - lead), len(stripped)) for w in where]


def _emotion(body: str, tag: str) -> Emotion:
    attrs: dict[str, str] = {}
    rest = _ATTR.sub(lambda m: attrs.setdefault(m.group(1).lower(), next(
        g for g in m.groups()[1:] if g is not None)) and "", body)
    if rest.strip(" \t\n/"):
        raise InputError(f"malformed emotion tag {tag!r}: write <emotion value=\"sad\" intensity=\"0.6\"/>",
                         error_id="invalid_script")
    unknown = sorted(set(attrs) - {"value", "intensity"})
    if unknown:
        raise InputError(f"emotion tag {tag!r} has unknown attribute(s) {', '.join(unknown)}",
                         error_id="invalid_script")
    if "value" not in attrs:
        raise InputError(f"emotion tag {tag!r} has no value", error_id="unknown_emotion")
    intensity = 1.0
    if "intensity" in attrs:
        try:
            intensity = float(attrs["intensity"])
        except ValueError:
            raise InputError(f"emotion intensity {attrs['intensity']!r} is not a number",
                             error_id="invalid_emotion_intensity") from None
    return Emotion(attrs["value"].strip().lower(), intensity)
