"""Text helpers for speech synthesis: light normalisation, sentence splitting, word tokens.

Numbers, dates and symbols are left to espeak-ng's own normaliser (what Piper does). We only expand
the few titles whose full stop makes espeak start a new sentence ("Dr. Smith" would otherwise be
spoken as two sentences with a pause), and we split long text into sentences ourselves so that every
TTS backend streams one chunk per sentence.
"""

from __future__ import annotations

import re
import unicodedata

from facecraft.errors import InputError

__all__ = ["normalize_text", "split_sentences", "word_tokens", "has_speakable", "require_speakable"]

# Titles and abbreviations whose trailing "." espeak reads as the end of a sentence.
_ABBREVIATIONS = {
    "mr": "Mister",
    "mrs": "Missus",
    "ms": "Miz",
    "dr": "Doctor",
    "prof": "Professor",
    "st": "Saint",
    "sr": "Senior",
    "jr": "Junior",
    "vs": "versus",
    "etc": "et cetera",
    "approx": "approximately",
    "no": "number",
}
_ABBREV_RE = re.compile(r"\b(" + "|".join(_ABBREVIATIONS) + r")\.(?=\s+[\w$])", re.IGNORECASE)
_LATIN_RE = re.compile(r"\b(e\.g|i\.e|a\.m|p\.m)\.", re.IGNORECASE)
_LATIN = {"e.g": "for example", "i.e": "that is", "a.m": "A M", "p.m": "P M"}
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": ", ", "…": "..."})
# A sentence ends at . ! ? (possibly followed by a closing quote or bracket, which stays with it)
# and whitespace before what starts a new sentence (a capital, a digit, an opening quote); a line
# break also ends one.
_SENTENCE_END_RE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])|\s*\n\s*")
_CLAUSE_RE = re.compile(r"(?<=[,;:])\s+")
_WORD_RE = re.compile(r"[$€£]?[^\W_]+(?:['’.,\-][^\W_]+)*%?", re.UNICODE)


def normalize_text(text: str) -> str:
    """Unicode-normalise, straighten quotes, expand sentence-breaking abbreviations, squeeze spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _LATIN_RE.sub(lambda m: _LATIN[m.group(1).lower()], text)

    def expand(match: re.Match[str]) -> str:
        word = match.group(1)
        # "No." is only "number" before a digit ("No. 5"); elsewhere it is the word "no".
        if word.lower() == "no" and not re.match(r"\s+\d", text[match.end() :]):
            return match.group(0)
        expansion = _ABBREVIATIONS[word.lower()]
        return expansion[0].upper() + expansion[1:] if word[0].isupper() else expansion

    text = _ABBREV_RE.sub(expand, text)
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def has_speakable(text: str) -> bool:
    """True when the text holds at least one letter or digit (punctuation alone says nothing)."""
    return any(ch.isalnum() for ch in text)


def require_speakable(text: str) -> str:
    """Return normalised text, or raise InputError (``invalid_input``) when there is nothing to say."""
    if not isinstance(text, str):
        raise InputError(f"text must be a string, not {type(text).__name__}")
    normalized = normalize_text(text)
    if not has_speakable(normalized):
        raise InputError("text is empty or has only punctuation: there is nothing to say")
    return normalized


def split_sentences(text: str, *, max_chars: int = 300) -> list[str]:
    """Split normalised text into sentences to synthesise and stream one at a time.

    A sentence longer than ``max_chars`` is split further at clause punctuation so that the first
    audio of a long paragraph still arrives quickly. Pieces without anything speakable are dropped.
    """
    sentences: list[str] = []
    for piece in _SENTENCE_END_RE.split(normalize_text(text)):
        piece = piece.strip()
        if not has_speakable(piece):
            continue
        sentences.extend(_split_long(piece, max_chars))
    return sentences


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    parts: list[str] = []
    current = ""
    for clause in _CLAUSE_RE.split(sentence):
        if current and len(current) + 1 + len(clause) > max_chars:
            parts.append(current)
            current = clause
        else:
            current = f"{current} {clause}".strip()
    if current:
        parts.append(current)
    return [p for p in parts if has_speakable(p)]


def word_tokens(text: str) -> list[str]:
    """The spoken words of a sentence as written ("It's", "23", "well-known"), punctuation dropped."""
    return _WORD_RE.findall(text)
