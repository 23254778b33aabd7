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
