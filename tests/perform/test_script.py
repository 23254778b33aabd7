"""Scripts: emotion tags are parsed once, validated with clear error ids, and never read out."""

from __future__ import annotations

import pytest

from facecraft.engine.cues import Emotion
from facecraft.errors import InputError
from facecraft.perform.script import Cue, Segment, parse_script


def test_tags_become_cues_at_the_words_they_precede() -> None:
    script = parse_script(
        "Hello there.  <emotion value=\"excited\"/> Great news! <emotion value='sad' intensity=\"0.6\" /> Sorry."
    )
    assert script.text == "Hello there. Great news! Sorry."
    assert [c.emotion for c in script.cues] == [Emotion("excited"), Emotion("sad", 0.6)]
    assert script.text[script.cues[0].char_offset:].strip().startswith("Great")
    assert script.text[script.cues[1].char_offset:].strip().startswith("Sorry")
    assert script.segments() == [
        Segment("Hello there.", None),
        Segment("Great news!", Emotion("excited")),
        Segment("Sorry.", Emotion("sad", 0.6)),
    ]
    assert parse_script("Plain words.").cues == []
    assert parse_script("<EMOTION value=sad>Hi</emotion>, a < b > c <https://x.org>.").text == \
        "Hi, a < b > c <https://x.org>."
    assert script.cues[1].to_dict() == {"char_offset": script.cues[1].char_offset, "emotion": "sad",
                                        "intensity": 0.6}
    assert isinstance(script.cues[0], Cue)


@pytest.mark.parametrize(
    "script, error_id",
    [
        ('Hi <emotion value="furious"/> there', "unknown_emotion"),
        ("<emotion/> hi", "unknown_emotion"),
        ('Hi <emotion value="sad" intensity="1.5"/> there', "invalid_emotion_intensity"),
        ('Hi <emotion value="sad" intensity="lots"/> there', "invalid_emotion_intensity"),
        ('Hi <emotion value="sad" colour="blue"/> there', "invalid_script"),
        ('Hi <emotion value="sad" loudly/> there', "invalid_script"),
        ('Hi <emotion value="sad" there', "invalid_script"),
        ('<emotion value="sad"/>', "invalid_input"),
        ("  ", "invalid_input"),
        ("x" * 20_001, "invalid_input"),
    ],
)
def test_bad_scripts_get_clear_error_ids(script: str, error_id: str) -> None:
    with pytest.raises(InputError) as err:
        parse_script(script)
    assert err.value.error_id == error_id and err.value.message
