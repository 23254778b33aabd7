"""Consent (reference/API.md): the training video opens with the consent statement, or a separate consent
clip of the same person says it. Or the operator attests consent given outside the footage.

The statement is recognised, not assumed: the first ``STATEMENT_WINDOW_S`` seconds of speech go through
the offline recogniser and its words are compared with the expected statement tolerantly, because
recognition errors happen (PocketSphinx misses ~20-40% of words on read speech). The comparison keeps the
statement's content words (function words such as "the" or "and" match any speech) and measures the
longest run of them recognised in order: ``coverage`` = matched / expected. The threshold is measured by
``bench/consent.py`` (statements spoken by Piper over real footage against the dev clips and ``corpus/``,
which have no statement).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from facecraft.faces.types import Check
from facecraft.speech.types import Word

__all__ = [
    "STATEMENT",
    "STATEMENT_WINDOW_S",
    "MIN_COVERAGE",
    "ConsentPolicy",
    "StatementMatch",
    "match_statement",
    "statement_check",
    "attested_check",
    "expected_words",
]

log = logging.getLogger(__name__)

# API.md's wording; "[FULL NAME]" is the speaker's name, which the recogniser cannot know.
STATEMENT = (
    "I, [FULL NAME], am currently speaking and give consent to create an AI clone of me by using the audio "
    "and video samples I provide. I understand that this AI clone can be used to create videos that look "
    "and sound like me."
)
STATEMENT_WINDOW_S = 45.0  # the statement takes ~15 s to say; it must open the video
# Measured by bench/consent.py (bench/results/consent.json): spoken statements (clean, noisy, after other
# speech) reached 0.45-0.95, the openings of 34 clips without it at most 0.05; the threshold sits between.
MIN_COVERAGE = 0.25
_FUNCTION_WORDS = frozenset(
    "i a an the of to and by me my am is are be can that this which with like for in on at it".split()
)
# Words of the statement the recogniser spells otherwise ("AI" is two letters).
_EQUIVALENT = {"a.i.": "ai", "eye": "i", "clones": "clone", "videos": "video", "samples": "sample"}


@dataclass(frozen=True)
class ConsentPolicy:
    """How a build establishes consent: the statement in the footage, a separate clip, or attestation."""

    mode: Literal["statement", "clip", "attested"]
    clip_path: str | None = None  # mode "clip": the consent clip
    attested_by: str | None = None  # mode "attested": who attests (an API key id, "cli", ...)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementMatch:
    coverage: float  # share of the statement's content words recognised in order
    matched: list[Word]  # the recognised words that matched, with their times
    heard: str  # everything recognised in the window

    @property
    def span(self) -> tuple[float, float] | None:
        if not self.matched:
            return None
        return round(self.matched[0].start, 2), round(self.matched[-1].end, 2)


def _norm(word: str) -> str:
    word = word.lower().strip(".,!?;:'\"")
    return _EQUIVALENT.get(word, word)


def expected_words(statement: str = STATEMENT) -> list[str]:
    """The statement's content words, in order (the name placeholder and function words left out)."""
    from facecraft.speech.g2p import transcript_words

    text = statement.replace("[FULL NAME]", " ")
    return [w for w in (_norm(x) for x in transcript_words(text)) if w not in _FUNCTION_WORDS]


def _merge_letters(words: list[Word]) -> list[Word]:
    """ "a" followed by "i" (how "AI" is often recognised) becomes one word "ai"."""
    out: list[Word] = []
    for word in words:
        if out and _norm(out[-1].text) in ("a", "ay") and _norm(word.text) in ("i", "eye"):
            out[-1] = Word("ai", out[-1].start, word.end)
        else:
            out.append(word)
    return out


def match_statement(words: list[Word], statement: str = STATEMENT) -> StatementMatch:
    """Longest common subsequence of the statement's content words and the recognised words."""
    expected = expected_words(statement)
    heard = [w for w in _merge_letters(words) if _norm(w.text) not in _FUNCTION_WORDS]
    n, m = len(expected), len(heard)
    table = np.zeros((n + 1, m + 1), dtype=np.int32)
    for i in range(n):
        for j in range(m):
            if expected[i] == _norm(heard[j].text):
                table[i + 1, j + 1] = table[i, j] + 1
            else:
                table[i + 1, j + 1] = max(table[i, j + 1], table[i + 1, j])
    matched: list[Word] = []
    i, j = n, m
    while i > 0 and j > 0:
        if expected[i - 1] == _norm(heard[j - 1].text):
            matched.append(heard[j - 1])
            i, j = i - 1, j - 1
        elif table[i - 1, j] >= table[i, j - 1]:
            i -= 1
        else:
            j -= 1
    matched.reverse()
    coverage = float(table[n, m]) / max(n, 1)
    return StatementMatch(coverage, matched, " ".join(w.text for w in words))


def recognise_opening(
    samples: np.ndarray, sample_rate: int, window_s: float = STATEMENT_WINDOW_S
) -> list[Word]:
    """Words recognised (offline) in the first ``window_s`` seconds; none for silence."""
    from facecraft.errors import SpeechError
    from facecraft.speech.asr import PocketSphinxASR

    head = np.asarray(samples[: int(window_s * sample_rate)], dtype=np.float32)
    try:
        return PocketSphinxASR().transcribe(head, sample_rate).words
    except SpeechError:
        return []


def statement_check(
    samples: np.ndarray | None, sample_rate: int, *, min_coverage: float = MIN_COVERAGE, where: str = "video"
) -> Check:
    """The consent statement at the start of the ``where`` ("video" or "consent clip"): pass or fail
    (``consent_phrase_mismatch``) with the time range where it was heard."""
    label = "Consent statement"
    if samples is None or len(samples) == 0:
        return Check(
            "consent_phrase_mismatch",
            label,
            "fail",
            f"The {where} has no audio, so it cannot carry the consent statement.",
        )
    match = match_statement(recognise_opening(samples, sample_rate))
    span = match.span
    ranges = [span] if span is not None else []
    value, threshold = round(match.coverage, 3), min_coverage
    log.info(
        "consent statement coverage %.2f in the %s (heard: %s)", match.coverage, where, match.heard[:200]
    )
    if match.coverage >= min_coverage and span is not None:
        return Check(
            "consent_phrase_mismatch",
            label,
            "pass",
            f"The consent statement was heard at {span[0]:.1f}-{span[1]:.1f} s "
            f"({match.coverage:.0%} of its words recognised).",
            value,
            threshold,
            ranges,
        )
    return Check(
        "consent_phrase_mismatch",
        label,
        "fail",
        f'The {where} must open with the consent statement ("I, [your full name], am currently '
        f'speaking and give consent to create an AI clone of me..."); only {match.coverage:.0%} of '
        f"its words were heard in the first {STATEMENT_WINDOW_S:.0f} s.",
        value,
        threshold,
        ranges,
    )


def attested_check(attested_by: str | None) -> Check:
    who = f" ({attested_by})" if attested_by else ""
    return Check(
        "consent_phrase_mismatch",
        "Consent statement",
        "pass",
        f"Not checked: the operator attested the person's consent{who}.",
        "attested",
        None,
    )
