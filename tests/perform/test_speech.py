"""Text to pieces for the streaming renderer: sentence by sentence, cues on the right pieces."""

from __future__ import annotations

import numpy as np

from facecraft.engine.cues import Emotion
from facecraft.perform.speech import text_pieces
from facecraft.speech.tts import PiperTTS


class CountingPiper(PiperTTS):
    """The real Piper voice, counting the sentences it was asked for."""

    sentences = 0

    def _run(self, sentence: str):  # noqa: ANN202
        CountingPiper.sentences += 1
        yield from super()._run(sentence)


def test_a_long_script_is_synthesised_one_sentence_at_a_time() -> None:
    tts = CountingPiper()
    pieces = text_pieces("Hello there. " * 200, tts)  # no voice: nothing is held back
    first = next(pieces)
    assert CountingPiper.sentences == 1 and first.sample_rate == tts.sample_rate
    second = next(pieces)
    assert CountingPiper.sentences == 2
    offset = first.samples.size / first.sample_rate
    assert second.phones[0].start >= offset - 1e-6, "phones are on the utterance clock"


def test_cues_start_their_segment_and_phones_run_on(renderer) -> None:  # noqa: ANN001
    from facecraft.engine import StreamingRenderer
    from facecraft.perform.speech import face_voice

    script = 'Good morning. <emotion value="sad" intensity="0.5"/> I have news. It is not good.'
    pieces = list(text_pieces(script, PiperTTS(), voice=face_voice(renderer.bundle)))
    assert [p.emotion for p in pieces] == [None, Emotion("sad", 0.5), None]
    starts = [p.phones[0].start for p in pieces]
    assert all(b > a for a, b in zip(starts, starts[1:]))
    stream = StreamingRenderer(renderer)
    for p in pieces:
        if p.emotion is not None:
            stream.set_emotion(p.emotion)
        stream.push_audio(p.samples, p.sample_rate, p.phones)
    stream.end_of_speech()
    seconds = sum(p.samples.size / p.sample_rate for p in pieces)
    shown = []
    while stream.ready:
        shown.append(stream.next_frame())
    assert len(shown) == int(round(seconds * stream.fps))
    cut = int(round(pieces[0].samples.size / pieces[0].sample_rate * stream.fps))
    assert {f.emotion.name for f in shown[:cut]} == {"neutral"}
    assert {f.emotion for f in shown[cut + 1:]} == {Emotion("sad", 0.5)}
    assert np.mean([f.speaking for f in shown]) == 1.0


def test_a_stock_voice_with_an_emotion_is_resynthesised_once_per_sentence(monkeypatch) -> None:  # noqa: ANN001
    """A shifted stock voice (WORLD moves joe-us to ada-us) takes the emotion's pitch and range in its own
    pass: every sentence goes through the vocoder once, not once for the voice and again for the emotion,
    and the emotion still lowers the pitch."""
    import facecraft.speech.voice as world_voice
    from facecraft.speech.voice import profile_voice
    from facecraft.speech.voices import tts_for

    calls = []
    real = world_voice.pyworld.synthesize

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(world_voice.pyworld, "synthesize", counted)
    script = "I am sorry to hear that. We will find another way."
    pitch = {}
    for name in ("neutral", "sad"):
        calls.clear()
        emotion = None if name == "neutral" else Emotion(name, 1.0)
        pieces = list(text_pieces(script, tts_for("ada-us", deterministic=True), emotion=emotion))
        assert len(calls) == len(pieces) == 2, name
        x = np.concatenate([p.samples for p in pieces])
        pitch[name] = profile_voice(x, pieces[0].sample_rate).f0_median_st
    assert pitch["sad"] < pitch["neutral"] - 0.7, pitch
