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


def test_a_live_first_sentence_leaves_in_two_parts_that_join_without_a_seam(renderer) -> None:  # noqa: ANN001
    """With a pace (live), the first sentence is adapted as a short head, then the rest: same length and
    voice as adapting it whole, phones split at the cut, no click where the parts meet."""
    from facecraft.perform.speech import AdaptPace, Piece, _Adapter, face_voice, live_voice_mapping
    from facecraft.speech.types import Phone

    tts = PiperTTS(noise_scale=0.0, noise_w_scale=0.0)
    voice = face_voice(renderer.bundle)
    mapping = live_voice_mapping(tts, voice)
    assert mapping is not None
    samples, rate, alignment = tts.synthesize("Nice to meet you, how are you today?")
    phones = list(alignment.phones)

    def piece() -> Piece:
        return Piece(samples.copy(), rate, [Phone(p.symbol, p.start, p.end) for p in phones], True, None, "hi")

    whole = list(_Adapter(voice, mapping).feed(piece()))
    pace = AdaptPace(ratio=0.3)
    head_s = pace.head_s(samples.size / rate)
    assert head_s is not None and 0.2 <= head_s < samples.size / rate / 2
    parts = list(_Adapter(voice, mapping, pace).feed(piece()))
    assert len(whole) == 1 and len(parts) == 2
    head, tail = parts
    cut = head.samples.size
    assert abs(cut / rate - head_s) < 1.5 / rate
    joined = np.concatenate([head.samples, tail.samples])
    assert joined.size == whole[0].samples.size == samples.size
    assert head.text == "hi" and tail.text == "" and tail.emotion is None
    assert all(p.start < head_s for p in head.phones) and all(p.start >= head_s for p in tail.phones)
    assert len(head.phones) + len(tail.phones) == len(phones)
    # the same voice as adapted whole (away from the cut, where only the analysis context differs)
    a, b = joined[: cut - int(0.05 * rate)], whole[0].samples[: cut - int(0.05 * rate)]
    assert np.corrcoef(a, b)[0, 1] > 0.9
    # no seam: the sample-to-sample step at the cut is like the speech's own steps around it
    steps = np.abs(np.diff(joined[cut - int(0.02 * rate): cut + int(0.02 * rate)]))
    typical = np.percentile(np.abs(np.diff(joined)), 99)
    assert steps.max() <= 1.5 * typical
    assert pace.ratio != 0.3, "every adaptation updates the pace"


def test_a_short_sentence_is_not_cut() -> None:
    from facecraft.perform.speech import AdaptPace

    pace = AdaptPace(ratio=0.3)
    assert pace.head_s(0.5) is None
    slow = AdaptPace(ratio=3.0)
    assert slow.head_s(1.5) is None, "adapting the rest would outlast the head: no gain"
    assert AdaptPace(ratio=0.2).head_s(3.0) < 1.0
