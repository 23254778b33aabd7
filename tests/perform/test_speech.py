"""Text to pieces for the streaming renderer: sentence by sentence, cues on the right pieces."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_a_live_first_sentence_leaves_in_parts_that_join_without_a_seam(renderer) -> None:  # noqa: ANN001
    """With a pace (live), the first sentence is adapted part by part: a short head first, the same length
    and voice as adapting it whole, phones split at the cuts, no click where the parts meet."""
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
    cuts = pace.cuts(samples.size / rate)
    assert cuts and 0.2 <= cuts[0] <= 0.5, cuts
    parts = list(_Adapter(voice, mapping, pace).feed(piece()))
    assert len(whole) == 1 and len(parts) == len(cuts) + 1
    bounds = np.cumsum([p.samples.size for p in parts])[:-1]
    assert np.all(np.abs(bounds / rate - np.array(cuts)) < 1.5 / rate)
    joined = np.concatenate([p.samples for p in parts])
    assert joined.size == whole[0].samples.size == samples.size
    assert parts[0].text == "hi" and all(p.text == "" and p.emotion is None for p in parts[1:])
    edges = [0.0, *cuts, float("inf")]
    for k, part in enumerate(parts):
        assert all(edges[k] <= p.start < edges[k + 1] for p in part.phones)
    assert sum(len(p.phones) for p in parts) == len(phones)
    # the same voice as adapted whole (the head, away from the cut, where only the analysis context differs)
    n = bounds[0] - int(0.05 * rate)
    assert np.corrcoef(joined[:n], whole[0].samples[:n])[0, 1] > 0.9
    # no seam: the sample-to-sample step at a cut is like the speech's own steps
    typical = np.percentile(np.abs(np.diff(joined)), 99)
    for cut in bounds:
        steps = np.abs(np.diff(joined[cut - int(0.02 * rate): cut + int(0.02 * rate)]))
        assert steps.max() <= 1.5 * typical
    assert pace.ratio != 0.3, "every adaptation updates the pace"


def test_the_cuts_follow_the_pace() -> None:
    from facecraft.perform.speech import AdaptPace

    def feasible(pace: AdaptPace, duration: float, cuts: list[float]) -> bool:
        parts = np.diff([0.0, *cuts, duration])
        return all(pace.ratio * (b + 2 * pace.margin_s) + pace.safety_s <= a + 1e-9 for a, b in zip(parts, parts[1:]))

    for ratio in (0.15, 0.3, 0.6, 1.0):
        pace = AdaptPace(ratio=ratio)
        for duration in (0.8, 1.5, 3.0, 6.0):
            cuts = pace.cuts(duration)
            assert len(cuts) < pace.max_parts
            assert all(b > a for a, b in zip([0.0, *cuts], [*cuts, duration]))
            assert feasible(pace, duration, cuts), (ratio, duration, cuts)
    assert AdaptPace(ratio=0.2).cuts(0.4) == [], "too short to cut"
    assert AdaptPace(ratio=3.0).cuts(1.5) == [], "adapting a part would outlast the one before: no gain"
    assert AdaptPace(ratio=0.2).cuts(6.0)[0] <= 0.35, "a long sentence still starts with a short part"
    assert AdaptPace(ratio=0.2).cuts(1.0)[0] < AdaptPace(ratio=0.6).cuts(1.0)[0]


def test_a_live_reply_says_a_long_first_sentence_clause_first() -> None:
    from facecraft.perform.speech import AdaptPace, clause_first

    long = "This is a long sentence that keeps going for a while, so that it can be cut in the middle of it."
    assert clause_first(long) == ["This is a long sentence that keeps going for a while,",
                                  "so that it can be cut in the middle of it."]
    assert clause_first("Sure, I can help.") == ["Sure, I can help."], "too short a clause to say alone"
    assert clause_first("It costs 1,000 dollars and more.") == ["It costs 1,000 dollars and more."]
    assert clause_first("Yes. Then, after that we go on and on.") == ["Yes. Then, after that we go on and on."]
    tts = CountingPiper()
    CountingPiper.sentences = 0
    pieces = text_pieces(long + " Thanks.", tts, pace=AdaptPace())  # live, no voice mapping: no parts
    first = next(pieces)
    assert CountingPiper.sentences == 1 and first.text.endswith("a while,")
    rest = list(pieces)
    assert [p.text for p in rest] == ["so that it can be cut in the middle of it.", "Thanks."]
    clock = first.samples.size / first.sample_rate
    assert rest[0].phones[0].start >= clock - 1e-6, "phones run on over the clause's cut"
    offline = list(text_pieces(long, CountingPiper()))
    assert len(offline) == 1, "files are synthesised sentence by sentence as before"


def test_a_stock_shifted_voice_says_a_live_first_sentence_in_parts() -> None:
    """A photo Face's stock voice (Piper moved by WORLD) shifts a live reply's first sentence part by part:
    its first audio leaves after the shift of a short head, not of the whole sentence; the parts join into
    the same length and voice as the whole shift, with no click at a cut."""
    import pyworld

    from facecraft.perform.speech import AdaptPace
    from facecraft.speech.voices import tts_for

    text = "The museum opens tomorrow at ten in the morning."
    whole = list(text_pieces(text, tts_for("ada-us", deterministic=True)))
    pace = AdaptPace(ratio=0.3)
    parts = list(text_pieces(text, tts_for("ada-us", deterministic=True), pace=pace))
    assert len(whole) == 1 and len(parts) >= 2
    rate = parts[0].sample_rate
    assert parts[0].samples.size / rate <= 0.6 < whole[0].samples.size / rate
    joined = np.concatenate([p.samples for p in parts])
    assert joined.size == whole[0].samples.size
    assert parts[0].text == text and all(p.text == "" for p in parts[1:])
    assert sum(len(p.phones) for p in parts) == len(whole[0].phones)
    # the same shifted voice: frame by frame (harvest, where both are voiced) the pitch of the whole shift,
    # about 9 semitones above Piper's own (medians: the tracker's octave slips on the output are ~10 %)
    def semitones(a: np.ndarray, b: np.ndarray) -> float:
        fa, _ = pyworld.harvest(a.astype(np.float64), rate, frame_period=5.0)
        fb, _ = pyworld.harvest(b.astype(np.float64), rate, frame_period=5.0)
        both = (fa > 0) & (fb > 0)
        return float(np.median(12 * np.log2(fa[both] / fb[both])))

    assert abs(semitones(joined, whole[0].samples)) < 0.3
    piper = tts_for("joe-us", deterministic=True).synthesize(text)[0]
    assert abs(semitones(joined, piper[:joined.size]) - 9.0) < 1.0
    typical = np.percentile(np.abs(np.diff(joined)), 99)
    for cut in np.cumsum([p.samples.size for p in parts])[:-1]:
        steps = np.abs(np.diff(joined[cut - int(0.02 * rate): cut + int(0.02 * rate)]))
        assert steps.max() <= 1.5 * typical
    assert pace.ratio != 0.3, "every shift updates the pace"
    later = list(text_pieces("Yes. " + text, tts_for("ada-us", deterministic=True), pace=AdaptPace(ratio=0.3)))
    assert later[-1].text == text and later[0].text == "Yes.", "only the first sentence goes in parts"


def _lead_s(x: np.ndarray, rate: int, level: float = 0.01) -> float:
    """Seconds before the first 20 ms window louder than ``level`` RMS (as a listener's meter hears it)."""
    step = rate // 50
    return next((i / rate for i in range(0, x.size - step, step // 4)
                 if float(np.sqrt(np.mean(x[i:i + step] ** 2))) > level), x.size / rate)


def _longest_gap_s(x: np.ndarray, rate: int, level: float = 0.005) -> float:
    """The longest run of quiet 10 ms windows between a sentence's first and last sound."""
    step = rate // 100
    loud = np.array([float(np.sqrt(np.mean(x[i:i + step] ** 2))) > level for i in range(0, x.size - step, step)])
    inside = loud[np.argmax(loud): loud.size - np.argmax(loud[::-1])]
    runs = np.diff(np.flatnonzero(np.concatenate([[True], inside, [True]]))) - 1
    return float(runs.max()) * step / rate if runs.size else 0.0


def test_a_live_reply_starts_at_its_first_sound(renderer) -> None:  # noqa: ANN001
    """A reply's first sentence leaves without the TTS's leading silence (Piper's 20-80 ms): its first sound
    is heard that much sooner, its phones move with the audio, and the parts it is adapted in join with no
    pause inside the sentence longer than the sentence adapted whole has; a later sentence is untouched."""
    from facecraft.perform.speech import LEAD_KEEP_S, AdaptPace, face_voice, live_voice_mapping

    tts = PiperTTS(noise_scale=0.0, noise_w_scale=0.0)
    voice = face_voice(renderer.bundle)
    mapping = live_voice_mapping(tts, voice)
    text = "Nice to meet you, how are you today? I agree with you."

    def say(trim: bool, pace: AdaptPace | None) -> list:  # noqa: ANN001
        return list(text_pieces(text, tts, voice=voice, mapping=mapping, pace=pace, trim_start=trim))

    live, kept = say(True, AdaptPace(ratio=0.3)), say(False, AdaptPace(ratio=0.3))
    whole = say(False, None)  # each sentence adapted whole (the offline path), nothing cut
    rate = live[0].sample_rate
    first_live = [p for p in live if p.text != "I agree with you."]
    first_kept = [p for p in kept if p.text != "I agree with you."]
    assert len(first_live) >= 2, "the first sentence still leaves in parts"
    joined_live, joined_kept = (np.concatenate([p.samples for p in ps]) for ps in (first_live, first_kept))
    cut = joined_kept.size - joined_live.size
    assert 0.02 <= cut / rate <= 0.1, cut / rate
    assert _lead_s(joined_live, rate) <= LEAD_KEEP_S + 0.02 < _lead_s(joined_kept, rate)
    assert live[0].phones[0].start == 0.0
    assert [p.symbol for p in live[0].phones[1:4]] == [p.symbol for p in kept[0].phones[1:4]]
    assert all(abs(a.end + cut / rate - b.end) < 1e-6 for a, b in zip(live[0].phones[1:4], kept[0].phones[1:4]))
    assert live[-1].text == kept[-1].text == "I agree with you."
    assert live[-1].samples.size == kept[-1].samples.size, "a later sentence keeps its pause before it"
    assert live[-1].phones[0].start == pytest.approx(kept[-1].phones[0].start - cut / rate, abs=1e-6)
    # no pause inserted inside the sentence by the parts (an audible gap: > 60 ms would be one)
    assert _longest_gap_s(joined_live, rate) <= _longest_gap_s(whole[0].samples, rate) + 0.02
