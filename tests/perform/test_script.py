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


# --- streamed text (an LLM's tokens) ----------------------------------------------------------------------


def _stream(tokens: list[str], **kw: bool) -> list[object]:
    from facecraft.perform.script import TagStripper

    stripper = TagStripper(**kw)
    out: list[object] = []
    for token in tokens:
        out += stripper.feed(token)
    return out + stripper.flush()


def _joined(items: list[object]) -> list[object]:
    out: list[object] = []
    for item in items:
        if isinstance(item, str) and out and isinstance(out[-1], str):
            out[-1] += item
        else:
            out.append(item)
    return out


def test_tags_split_across_tokens_are_found_and_never_spoken() -> None:
    text = 'Hello! <emotion value="sad" intensity="0.5"/>I am sorry. <emotion value=\'excited\'>Good news, a < b.'
    expected = ["Hello! ", Emotion("sad", 0.5), "I am sorry. ", Emotion("excited"), "Good news, a < b."]
    for size in (1, 2, 3, 5, 8, 100):  # every way of cutting it into tokens
        tokens = [text[i:i + size] for i in range(0, len(text), size)]
        assert _joined(_stream(tokens)) == expected, size


def test_text_that_only_looks_like_a_tag_is_released() -> None:
    assert _joined(_stream(["I feel <emo", "tional> today, <b>bold</b> < 3"])) == [
        "I feel <emotional> today, <b>bold</b> < 3"]
    # a possible tag is held back only until the token that settles it
    from facecraft.perform.script import TagStripper

    stripper = TagStripper()
    assert stripper.feed("Hi <em") == ["Hi "]
    assert stripper.feed("phasis") == ["<emphasis"]


def test_bad_streamed_tags_are_dropped_or_raised_with_the_script_error_ids() -> None:
    from facecraft.perform.script import strip_tags

    tokens = ['A <emotion value="furious"/>b <emotion value="sad" intensity="9"/>c <emotion value="sad" loudly/>d',
              " e <emoti"]
    assert _joined(_stream(tokens)) == ["A b c d e "]
    assert strip_tags('<emotion value="elated"/>Yes! <emotion value="nope"/>No.') == "Yes! No."
    for bad, error_id in (('<emotion value="furious"/>', "unknown_emotion"),
                          ('<emotion value="sad" intensity="1.5"/>', "invalid_emotion_intensity"),
                          ('<emotion value="sad" loudly/>', "invalid_script"), ("x <emotion value=", "invalid_script")):
        with pytest.raises(InputError) as err:
            _stream([bad], strict=True)
        assert err.value.error_id == error_id, bad
