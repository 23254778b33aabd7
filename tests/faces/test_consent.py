"""Consent (API.md): a real spoken statement (Piper, muxed with real footage) passes with its time range; the
dev clips, which have none, fail with ``consent_phrase_mismatch``; a consent clip of the same person passes
the identity check, one of someone else fails it; attestation is recorded as such."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench.hostile import _clip_frames, _encode

from facecraft import media
from facecraft.faces.build import BuildContext, step_consent
from facecraft.faces.checks import check_video
from facecraft.faces.consent import STATEMENT, ConsentPolicy, statement_check
from facecraft.faces.identity import SAME_PERSON_DISTANCE, clip_identity, identity_check
from tests.utils import testdata_path


@pytest.fixture(scope="module")
def statement_audio() -> tuple[np.ndarray, int]:
    from facecraft.speech.tts import PiperTTS

    samples, rate, _ = PiperTTS().synthesize(STATEMENT.replace("[FULL NAME]", "Jordan Lee"))
    return samples, rate


@pytest.fixture(scope="module")
def consent_clip(tmp_path_factory: pytest.TempPathFactory, statement_audio) -> Path:  # noqa: ANN001
    """The German anchor's real footage with the consent statement (spoken by Piper) as its sound."""
    samples, rate = statement_audio
    seconds = len(samples) / rate + 0.5
    clip = testdata_path("video", "mimictalk_German_20s.mp4")
    frames, fps = _clip_frames(clip, seconds)
    audio = media.resample(samples, rate, 16000) if rate != 16000 else samples
    folder = tmp_path_factory.mktemp("consent")
    _encode(folder / "consent.mp4", frames, fps=round(fps), audio=audio)
    return folder / "consent.mp4"


def test_spoken_statement_passes_with_its_time_range(statement_audio) -> None:  # noqa: ANN001
    samples, rate = statement_audio
    check = statement_check(samples, rate)
    assert check.status == "pass", check.message
    ((start, end),) = check.ranges
    assert 0.0 <= start < 3.0 and end > 8.0 and end <= len(samples) / rate + 0.5


def test_other_speech_fails() -> None:
    audio = media.read_audio(testdata_path("video", "mimictalk_German_20s.mp4"), max_s=45)
    check = statement_check(audio.samples, audio.sample_rate)
    assert (check.id, check.status) == ("consent_phrase_mismatch", "fail")
    silent = statement_check(None, 16000)
    assert silent.status == "fail" and "no audio" in silent.message


def test_check_video_reports_the_statement_in_a_muxed_clip(consent_clip: Path) -> None:
    report = check_video(consent_clip, consent=True)
    consent = next(c for c in report.checks if c.id == "consent_phrase_mismatch")
    assert consent.status == "pass", consent.message
    assert consent.ranges and consent.ranges[0][1] > consent.ranges[0][0]


def test_identity_same_and_other_person(consent_clip: Path) -> None:
    german = clip_identity(testdata_path("video", "mimictalk_German_20s.mp4"))
    obama = clip_identity(testdata_path("video", "edtalk_uncrop_Obama.mp4"))
    clip = clip_identity(consent_clip)
    assert german.faces >= 6 and obama.faces >= 6 and clip.faces >= 6
    same = identity_check(clip, german)
    assert same.status == "pass" and float(same.value) < SAME_PERSON_DISTANCE
    other = identity_check(clip, obama)
    assert (other.id, other.status) == ("consent_identity_mismatch", "fail")


def test_build_step_records_how_consent_was_established(consent_clip: Path, tmp_path: Path) -> None:
    video = testdata_path("video", "mimictalk_German_20s.mp4")

    def run(policy: ConsentPolicy, training: Path = video) -> BuildContext:
        ctx = BuildContext(
            video_path=training,
            name="t",
            face_id="rtest",
            work_dir=tmp_path,
            source_range=(0.0, 8.0),
            consent=policy,
        )
        step_consent(ctx)
        return ctx

    by_clip = run(ConsentPolicy("clip", clip_path=str(consent_clip)))
    assert [c.status for c in by_clip.consent_checks] == ["pass", "pass"]
    assert by_clip.manifest["consent"]["method"] == "clip" and by_clip.manifest["consent"]["range"]
    missing = run(ConsentPolicy("statement"))
    assert missing.consent_checks[0].status == "fail"
    attested = run(ConsentPolicy("attested", attested_by="kabc"))
    assert attested.consent_checks[0].status == "pass" and "attested" in attested.consent_checks[0].message
    assert attested.manifest["consent"] == {"method": "attested", "attested_by": "kabc"}
