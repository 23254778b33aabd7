"""Scripts: the words a Face says, with cue tags. The one place script tags are parsed.

API.md lets a video script carry ``<emotion value="X"/>`` tags that switch emotion from that point;
an optional ``intensity="0..1"`` sets how strongly (1 when absent). Tags are validated here and
never reach TTS as words. A script splits into ``Segment``s: the text between two tags and the
emotion it is spoken with. Streamed text (an LLM's answer, token by token) goes through
``TagStripper`` instead, which finds the same tags as they arrive.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from facecraft.engine.cues import Emotion
from facecraft.errors import InputError
from facecraft.speech.text import has_speakable

__all__ = ["Cue", "Script", "Segment", "parse_script", "MAX_SCRIPT_CHARS", "TagStripper", "strip_tags"]

log = logging.getLogger(__name__)

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


_OPENERS = ("<emotion", "</emotion")
MAX_TAG_CHARS = 200  # a tag longer than this is not one: the text is released as words


class TagStripper:
    """Emotion tags out of streamed text (an LLM's tokens), as they come: a tag may be split over tokens.

    ``feed(token)`` returns what is certain so far, in order: text to speak or show, and an ``Emotion``
    where a tag was. Text that may still be the start of a tag (``"<emo"``) is held back until the next
    token settles it; ``flush()`` at the end of the stream releases what is left. A model's stream is not
    a user's script: an unknown emotion, a bad intensity or a malformed tag is dropped (and logged)
    rather than raised, so the conversation goes on; ``strict=True`` raises the script's error ids
    instead. Other angle brackets (``a < b``, ``<https://...>``) are words.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self._held = ""

    def feed(self, token: str) -> list[str | Emotion]:
        self._held += token
        out: list[str | Emotion] = []
        while self._held:
            start = self._held.find("<")
            if start < 0:
                out.append(self._held)
                self._held = ""
                break
            if start:
                out.append(self._held[:start])
                self._held = self._held[start:]
            head = self._held.lower().replace(" ", "")
            if not any(o.startswith(head[:len(o)]) for o in _OPENERS):  # "<b", "< 3": not a tag
                out.append("<")
                self._held = self._held[1:]
                continue
            end = self._held.find(">")
            if end < 0:
                if len(self._held) > MAX_TAG_CHARS:
                    out.append(self._held)
                    self._held = ""
                break  # wait for the rest of the tag
            tag, self._held = self._held[:end + 1], self._held[end + 1:]
            found = self._tag(tag)
            if found is not None:
                out.append(found)
        return _merge(out)

    def flush(self) -> list[str | Emotion]:
        """The end of the stream: text held back as a possible tag is released (an unfinished tag is
        dropped, or raised with ``strict``)."""
        held, self._held = self._held, ""
        head = held.lower().replace(" ", "")
        if not held:
            return []
        if _STRAY.match(held) or (len(head) > 1 and any(o.startswith(head) for o in _OPENERS)):
            self._bad(InputError(f"unfinished emotion tag {held[:40]!r}", error_id="invalid_script"))
            return []
        return [held]

    def _tag(self, tag: str) -> Emotion | str | None:
        """The emotion of a complete tag, None for one to drop, the text itself when it is no tag."""
        match = _TAG.fullmatch(tag)
        if match is None:
            if _STRAY.match(tag):
                self._bad(InputError(f"malformed emotion tag {tag!r}", error_id="invalid_script"))
                return None
            return tag  # "<emotional>" or the like: words
        if match.group(1):  # </emotion>: the emotion goes on
            return None
        try:
            return _emotion(match.group(2), tag)
        except InputError as exc:
            self._bad(exc)
            return None

    def _bad(self, exc: InputError) -> None:
        if self.strict:
            raise exc
        log.warning("emotion tag dropped from streamed text: %s", exc.message)


def _merge(items: list[str | Emotion]) -> list[str | Emotion]:
    """Adjacent texts joined, empty ones left out."""
    out: list[str | Emotion] = []
    for item in items:
        if isinstance(item, str):
            if not item:
                continue
            if out and isinstance(out[-1], str):
                out[-1] = out[-1] + item
                continue
        out.append(item)
    return out


def strip_tags(text: str) -> str:
    """``text`` without its emotion tags (captions, transcripts): never raises."""
    stripper = TagStripper()
    return "".join(x for x in stripper.feed(text) + stripper.flush() if isinstance(x, str))
