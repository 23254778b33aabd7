"""Debian's ``flite`` as a second embedded TTS backend, with its own phone timings.

Flite (CMU, BSD-style licence) ships English voices in Debian's ``flite`` package: ``slt`` (US
female), ``rms`` (US male), ``awb`` (Scottish male), ``kal16`` (US male, diphone). It runs as a
command (``flite -voice V -psdur -t TEXT -o out.wav``): ``-psdur`` prints every segment with its end
time, in CMU ARPAbet (lower case, ``pau`` for pauses), so the timings are the synthesiser's own, like
Piper's. Phones come out upper case with ``pau`` as ``SIL`` and the schwas ``ax``/``axr`` folded into
``AH``/``ER``: the ARPAbet PocketSphinx uses, which ``speech.visemes`` reads. Words are placed by
aligning each word's own phones (``speech.g2p``) to the sentence's, as for Piper.

The command is installed by ``scripts/system_deps.sh``; without it, synthesis raises SpeechError
naming the package.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from facecraft.errors import InputError, SpeechError
from facecraft.speech.g2p import arpabet, transcript_words
from facecraft.speech.text import word_tokens
from facecraft.speech.tts import TTSBackend, _align_owner, _Piece, decode_wav
from facecraft.speech.types import Phone, Word

__all__ = ["FliteTTS", "FLITE_VOICES", "flite_path", "parse_segments"]

#: Voices built into Debian's flite 2.2 (``flite -lv``) that speak at 16 kHz.
FLITE_VOICES = ("slt", "rms", "awb", "kal16")
_PHONES = {"PAU": "SIL", "AX": "AH", "AXR": "ER"}
_TIMEOUT_S = 60.0


def flite_path() -> str | None:
    """Where the ``flite`` command is, or None when Debian's package is not installed."""
    return shutil.which("flite")


def parse_segments(text: str) -> list[Phone]:
    """Phones from ``flite -psdur`` output (``pau:0.164 hh:0.255 ...``: each with its end time).

    Flite restarts its clock at each utterance it splits the text into; the times are made
    continuous, each utterance starting where the previous one ended.
    """
    phones: list[Phone] = []
    offset = start = 0.0
    for line in text.splitlines():
        for item in line.split():
            name, sep, value = item.rpartition(":")
            if not sep or not name:
                continue
            try:
                end = float(value)
            except ValueError:
                continue
            if end + offset < start - 1e-6:  # a new utterance: its clock restarted
                offset = start
            end += offset
            symbol = _PHONES.get(name.upper(), name.upper())
            phones.append(Phone(symbol, start, max(start, end)))
            start = max(start, end)
    return phones


class FliteTTS(TTSBackend):
    """One of Debian flite's voices (``FLITE_VOICES``), timed by flite's own segment durations."""

    def __init__(self, voice: str = "slt") -> None:
        if voice not in FLITE_VOICES:
            raise InputError(f"unknown flite voice {voice!r}: use one of {', '.join(FLITE_VOICES)}")
        self.voice = voice
        self._rate = 16000
        self.stretch = 1.0  # flite's duration_stretch (> 1: slower)

    def styled(self, *, length: float = 1.0, variation: float = 1.0) -> FliteTTS:
        """The same voice ``length`` times slower (flite has no sampling noise: ``variation`` is ignored)."""
        if abs(length - 1.0) < 1e-3:
            return self
        out = FliteTTS(self.voice)
        out.stretch = float(np.clip(self.stretch * length, 0.25, 4.0))
        return out

    @property
    def sample_rate(self) -> int:
        return self._rate

    def _run(self, sentence: str) -> Iterator[_Piece]:
        command = flite_path()
        if command is None:
            raise SpeechError("the flite voices need Debian's flite package "
                              "(scripts/system_deps.sh installs it)")
        with tempfile.TemporaryDirectory(prefix="facecraft-flite-") as tmp:
            wav = Path(tmp) / "speech.wav"
            try:
                args = [command, "-voice", self.voice, "-psdur", "--setf", f"duration_stretch={self.stretch:.3f}",
                        "-t", sentence, "-o", str(wav)]
                done = subprocess.run(args, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise SpeechError(f"flite did not run: {exc}") from exc
            if done.returncode != 0 or not wav.is_file():
                raise SpeechError(f"flite failed (exit {done.returncode}): {done.stderr.strip()[:200]}")
            samples, rate = decode_wav(wav.read_bytes())
        self._rate = rate
        phones = parse_segments(done.stdout)
        if not phones:
            raise SpeechError("flite printed no phone timings")
        duration = samples.size / rate
        last = phones[-1]
        phones[-1] = Phone(last.symbol, last.start, max(last.start, duration))
        yield _Piece(samples=samples, sample_rate=rate, phones=phones, words=_words(phones, sentence))


def _words(phones: list[Phone], sentence: str) -> list[Word]:
    """Words with times: each word's own phones aligned to the sentence's (pauses left out)."""
    tokens = word_tokens(sentence)
    target = [(i, p.symbol) for i, p in enumerate(phones) if p.symbol != "SIL"]
    if not tokens or not target:
        return []
    ref = [(w, phone) for w, token in enumerate(tokens) for word in transcript_words(token)
           for phone in arpabet(word)]
    owner = _align_owner([s for _, s in target], ref)
    spans: dict[int, list[int]] = {}
    for (index, _), w in zip(target, owner):
        if w is not None:
            spans.setdefault(w, []).append(index)
    return [Word(tokens[w], phones[min(idx)].start, phones[max(idx)].end) for w, idx in sorted(spans.items())]
