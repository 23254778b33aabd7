"""Emotion tags in video scripts are validated and stripped before TTS."""

from __future__ import annotations

import pytest

from facecraft.errors import InputError
from facecraft.service.script import EmotionCue, parse_script


def test_tags_become_cues() -> None:
    text, cues = parse_script(
        "Hello there. <emotion value=\"excited\"/> Great news! <emotion value='sad' /> Sorry."
    )
    assert text == "Hello there. Great news! Sorry."
    assert [c.emotion for c in cues] == ["excited", "sad"]
    assert text[cues[0].char_offset :].strip().startswith("Great")
    assert parse_script("Plain words.") == ("Plain words.", [])
    assert cues[0] == EmotionCue(cues[0].char_offset, "excited")


@pytest.mark.parametrize(
    "script", ['Hi <emotion value="furious"/> there', '<emotion value="sad"/>', "  ", "<emotion/> hi"]
)
def test_bad_scripts(script: str) -> None:
    with pytest.raises(InputError):
        parse_script(script)
