"""The streaming renderer as the live call uses it: pushes from one thread, pulls from another, cues,
barge-in, bounded memory."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from facecraft.engine.cues import Emotion


@pytest.fixture(scope="module")
def speech(grid_audio) -> np.ndarray:  # noqa: ANN001
    return grid_audio.samples


@pytest.fixture(scope="module")
def small(renderer):  # noqa: ANN001, ANN201
    from facecraft.engine import Renderer

    return Renderer(renderer.bundle, size=(64, 48))  # drawing is not what these tests look at


def _looped(x: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * 16000)
    return np.tile(x, n // len(x) + 1)[:n]


def test_push_and_pull_from_two_threads_for_30_s(small, speech) -> None:  # noqa: ANN001
    """A pusher thread feeds 20 ms chunks in real time (2 s ahead) while the main thread pulls at the
    frame rate: every frame comes once, in order, on the frame clock, and every frame of speech shows."""
    from facecraft.engine import StreamingRenderer

    stream = StreamingRenderer(small)
    fps = stream.fps
    audio = _looped(speech, 30.0)
    chunk, lead_s = 320, 2.0
    errors: list[BaseException] = []
    ahead = int(lead_s * 16000)
    stream.push_audio(audio[:ahead], 16000)  # the first sentence arrives before the first frame
    t0 = time.perf_counter()

    def push() -> None:
        try:
            for a in range(ahead, len(audio), chunk):
                wait = t0 + a / 16000 - lead_s - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                stream.push_audio(audio[a:a + chunk], 16000)
            stream.end_of_speech()
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    n = int(round(31.0 * fps))
    frames = []
    for i in range(n):
        wait = t0 + i / fps - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        f = stream.next_frame()
        frames.append((f.index, f.time_s, f.speaking, f.image.shape))
    pusher.join(timeout=10)
    assert not errors and not pusher.is_alive()
    index = np.array([f[0] for f in frames])
    times = np.array([f[1] for f in frames])
    speaking = np.array([f[2] for f in frames])
    assert (index == np.arange(n)).all(), "a frame was lost or repeated"
    assert np.all(np.diff(times) > 0) and np.allclose(np.diff(times), 1 / fps)
    assert all(f[3] == (48, 64, 3) for f in frames)
    spoken = np.flatnonzero(speaking)
    assert len(spoken) == int(round(len(audio) / 16000 * fps)), "frames of speech were lost (starved)"
    assert (np.diff(spoken) == 1).all() and spoken[0] == 0
    assert not speaking[spoken[-1] + 1:].any() and not stream.speaking


def test_push_cost_and_memory_do_not_grow_with_the_utterance(small, speech) -> None:  # noqa: ANN001
    """Live pushing and pulling: the audio held stays bounded after a minute of one utterance."""
    from facecraft.engine import StreamingRenderer

    stream = StreamingRenderer(small)
    audio = _looped(speech, 60.0)
    per_frame = 16000 / stream.fps
    stream.push_audio(audio[:16000], 16000)
    held = []
    pulled = 0
    for a in range(16000, len(audio), 320):
        stream.push_audio(audio[a:a + 320], 16000)
        while pulled < (a - 16000) / per_frame:
            stream.next_frame()
            pulled += 1
        if a % 160000 == 0:
            held.append(stream._utt.timeline.held_samples)
    # the queued second plus the timeline's reach (the audio model's past included) and the block being
    # planned, not a minute
    bound = 16000 + (stream._utt.timeline.reach + stream.config.block + 3) * per_frame + 1024
    assert max(held) < min(bound, 6 * 16000), (held, bound)
    assert max(held) - min(held) <= (stream.config.block + 1) * per_frame, held  # flat: 10 s as 50 s in


def test_a_reply_s_first_frame_waits_for_no_speech_states(small, speech, monkeypatch) -> None:  # noqa: ANN001
    """Its first frame is shaped without the audio model; the speech states of the next frames are encoded
    in the background once it is out, each window once."""
    from facecraft.engine import StreamingRenderer
    from facecraft.speech import encoder as enc

    stream = StreamingRenderer(small)
    stream.next_frame()
    asked: list[int] = []
    predict = small.predict_mouth
    monkeypatch.setattr(small, "predict_mouth", lambda *a, **k: asked.append(1) or predict(*a, **k))
    e = enc.encoder()
    e.clear_cache()
    before = e.encoded
    x = speech[: 2 * 16000]
    stream.push_audio(x, 16000)
    stream.end_of_speech()
    assert stream.next_frame().speaking and not asked
    frames = [stream.next_frame() for _ in range(int(2 * stream.fps) - 1)]
    assert all(f.speaking for f in frames) and asked
    # the windows of the audio, and those past its end that the model's reach asks for (read as silence)
    reach_s = small.audio_model.edge_frames / stream.fps + enc.future_s() + 0.2
    windows = int(np.ceil((x.size / 16000 + reach_s) * enc.STATE_RATE / enc.SEGMENT))
    assert e.encoded - before <= windows, "a window was encoded twice"


def test_emotion_cues_reach_the_frames(small, speech) -> None:  # noqa: ANN001
    from facecraft.engine import StreamingRenderer

    stream = StreamingRenderer(small)
    first = speech[:16000]
    stream.push_audio(first, 16000)
    stream.set_emotion(Emotion("sad", 0.6))
    stream.push_audio(speech[16000:32000], 16000)
    stream.end_of_speech()
    frames = [stream.next_frame() for _ in range(int(2 * stream.fps) + 5)]
    cut = int(round(stream.fps))
    assert all(f.emotion.name == "neutral" for f in frames[:cut])
    assert all(f.emotion == Emotion("sad", 0.6) for f in frames[cut:])
    assert not frames[-1].speaking and stream.emotion.name == "sad"  # listening keeps the last cue


def test_interrupt_drops_the_queue_and_closes_the_mouth(small, speech) -> None:  # noqa: ANN001
    from facecraft.engine import StreamingRenderer

    stream = StreamingRenderer(small, close_frames=4)
    stream.push_audio(speech, 16000)
    frames = [stream.next_frame() for _ in range(26)]  # 1.04 s: inside "white", the mouth open
    assert all(f.speaking for f in frames) and stream.queued_s > 0.5
    opened = frames[-1].aperture
    rest = float(stream._rest.aperture[0])
    assert opened > rest + 0.02
    stream.interrupt()
    assert not stream.speaking and stream.queued_s == 0.0
    after = [stream.next_frame() for _ in range(10)]
    assert not any(f.speaking for f in after)
    assert [f.index for f in after] == list(range(26, 36))
    closing = [opened] + [f.aperture for f in after[:4]]
    assert np.all(np.diff(closing) < 0) and closing[-1] == pytest.approx(rest)  # closes over 4 frames
    assert all(f.aperture == pytest.approx(rest) for f in after[4:])
    stream.push_audio(speech[:8000], 16000)  # the next turn starts a new utterance at once
    assert stream.next_frame().speaking


def test_frames_say_which_utterance_and_where_in_it(small, speech) -> None:  # noqa: ANN001
    """A live output takes each frame's audio from its utterance at ``utterance_frame / fps``: pushes
    report the utterance and the time their audio starts at, frames their place on that clock."""
    from facecraft.engine import StreamingRenderer

    stream = StreamingRenderer(small)
    idle = stream.next_frame()
    assert (idle.utterance, idle.utterance_frame) == (0, -1)
    first = stream.push_audio(speech[:16000], 16000)
    more = stream.push_audio(speech[16000:24000], 16000)
    assert first.utterance == more.utterance and first.start_s == 0.0 and more.start_s == pytest.approx(1.0)
    stream.end_of_speech()
    frames = [stream.next_frame() for _ in range(int(round(1.2 * stream.fps)))]
    assert [f.utterance_frame for f in frames] == list(range(len(frames)))
    assert {f.utterance for f in frames} == {first.utterance}
    # speech pushed after the end while the last utterance still plays continues its clock
    tail = stream.push_audio(speech[:8000], 16000)
    assert tail.utterance == first.utterance and tail.start_s == pytest.approx(1.5)
    stream.end_of_speech()
    rest = [stream.next_frame() for _ in range(int(round(0.9 * stream.fps)))]
    assert rest[0].utterance_frame == len(frames) and rest[-1].utterance == 0
    nxt = stream.push_audio(speech[:8000], 16000)  # a new utterance once the last has played
    assert nxt.utterance != first.utterance and nxt.start_s == 0.0
    assert stream.next_frame().utterance_frame == 0


@pytest.mark.parametrize("relative", [False, True])
def test_speech_later_than_its_clock_plays_from_the_next_frame(small, speech, relative) -> None:  # noqa: ANN001
    """A live reply's next sentence can come after the last one has played (the LLM slower than speech):
    the clock went on meanwhile, so the late speech starts at the next frame instead of at the end of the
    audio pushed before, which was shown already and would never play again."""
    from facecraft.engine import StreamingRenderer

    def speaking_frames(stream: StreamingRenderer, utterance: int, start_frame: int) -> int:
        stream.end_of_speech()
        frames = [stream.next_frame() for _ in range(int(round(1.5 * stream.fps)))]
        return sum(f.speaking for f in frames if f.utterance == utterance and f.utterance_frame >= start_frame)

    late_speech = speech[16000:32000]
    fresh = StreamingRenderer(small)
    expected = speaking_frames(fresh, fresh.push_audio(late_speech, 16000).utterance, 0)
    assert expected > 0.5 * fresh.fps

    stream = StreamingRenderer(small)
    first = stream.push_audio(speech[8000:12800], 16000, relative_phones=relative)  # 0.3 s
    shown = int(round(stream.fps))  # the clock runs 0.7 s past it
    for _ in range(shown):
        stream.next_frame()
    late = stream.push_audio(late_speech, 16000, relative_phones=relative)
    assert late.utterance == first.utterance and late.start_s == pytest.approx(shown / stream.fps, abs=1e-3)
    assert abs(speaking_frames(stream, late.utterance, shown) - expected) <= 2


def test_bad_audio_is_refused(small) -> None:  # noqa: ANN001
    from facecraft.engine import StreamingRenderer
    from facecraft.errors import InputError

    stream = StreamingRenderer(small)
    with pytest.raises(InputError):
        stream.push_audio(np.array([0.0, np.nan], np.float32), 16000)
    with pytest.raises(InputError):
        stream.push_audio(np.zeros((4, 4, 4), np.float32), 16000)
    with pytest.raises(InputError):
        Emotion("furious")
    with pytest.raises(InputError):
        Emotion("sad", 1.5)


def test_relative_phones_land_where_absolute_ones_do(small, speech) -> None:  # noqa: ANN001
    """A live caller pushes sentence by sentence with each sentence's own phone times; the renderer
    places them on the utterance clock exactly as phones given on that clock."""
    from facecraft.engine import StreamingRenderer
    from facecraft.speech.types import Phone

    def phones(shift: float) -> list[Phone]:
        return [Phone("m", 0.1 + shift, 0.2 + shift), Phone("a", 0.2 + shift, 0.5 + shift),
                Phone("p", 0.5 + shift, 0.6 + shift), Phone("u", 0.6 + shift, 0.9 + shift)]

    absolute, relative = StreamingRenderer(small), StreamingRenderer(small)
    absolute.push_audio(speech[:16000], 16000, phones(0.0))
    absolute.push_audio(speech[16000:32000], 16000, phones(1.0))
    relative.push_audio(speech[:16000], 16000, phones(0.0), relative_phones=True)
    relative.push_audio(speech[16000:32000], 16000, phones(0.0), relative_phones=True)
    for stream in (absolute, relative):
        stream.end_of_speech()
    a = [absolute.next_frame() for _ in range(50)]
    b = [relative.next_frame() for _ in range(50)]
    assert [f.aperture for f in a] == pytest.approx([f.aperture for f in b])


def test_a_hold_stops_the_speech_where_it_is_and_it_goes_on_from_there(small, speech) -> None:  # noqa: ANN001
    """The caller speaks over the Face: its speech waits (silent listening frames, the mouth closing to
    rest, no utterance frame shown), then goes on from the frame where it stopped; interrupt ends a hold."""
    from facecraft.engine import StreamingRenderer

    stream = StreamingRenderer(small, close_frames=4)
    stream.push_audio(speech, 16000)
    frames = [stream.next_frame() for _ in range(26)]
    rest = float(stream._rest.aperture[0])
    assert frames[-1].aperture > rest + 0.02
    queued = stream.queued_s
    stream.hold(True)
    held = [stream.next_frame() for _ in range(8)]
    assert not any(f.speaking for f in held) and all(f.utterance_frame == -1 for f in held)
    assert all(f.utterance == frames[-1].utterance for f in held)  # the utterance is not over
    assert held[4].aperture == pytest.approx(rest) and stream.speaking and stream.queued_s == queued
    stream.hold(False)
    resumed = [stream.next_frame() for _ in range(3)]
    assert all(f.speaking for f in resumed)
    assert [f.utterance_frame for f in resumed] == [26, 27, 28]  # where it stopped: nothing was skipped
    stream.hold(True)
    stream.interrupt()
    assert not stream.speaking
    stream.push_audio(speech[:8000], 16000)  # a hold does not outlive an interruption
    assert stream.next_frame().speaking


def test_a_frame_drawn_before_a_hold_is_taken_back_and_shown_after_it(small, speech) -> None:  # noqa: ANN001
    """A live puller draws a frame ahead of its clock: taken back once the hold began, that frame is the
    first one shown when the speech goes on (nothing skipped); only the last frame drawn, only while held."""
    from facecraft.engine import StreamingRenderer

    stream = StreamingRenderer(small, close_frames=4)
    stream.push_audio(speech, 16000)
    frames = [stream.next_frame() for _ in range(12)]
    assert frames[-1].speaking and frames[-1].utterance_frame == 11
    assert not stream.take_back(frames[-1])  # not held: it plays as drawn
    stream.hold(True)
    assert not stream.take_back(frames[-2])  # an older frame has left already
    assert stream.take_back(frames[-1]) and not stream.take_back(frames[-1])
    held = [stream.next_frame() for _ in range(3)]
    assert all(f.utterance_frame == -1 and not f.speaking for f in held)
    stream.hold(False)
    resumed = [stream.next_frame() for _ in range(3)]
    assert [f.utterance_frame for f in resumed] == [11, 12, 13] and all(f.speaking for f in resumed)
    assert resumed[0].aperture == pytest.approx(frames[-1].aperture)  # the same frame's plan, shown again


def test_a_listening_frame_drawn_just_before_speech_is_undone_and_the_speech_takes_its_place(small, speech) -> None:  # noqa: ANN001, E501
    """A live puller draws a frame ahead of its clock: a listening frame drawn just before a reply's audio
    arrived is given back, and the reply's first frame takes its place and timestamp, drawn exactly as if the
    listening frame had never been (the head's motion, expression and mouth fade do not skip a frame)."""
    from facecraft.engine import StreamingRenderer

    plain = StreamingRenderer(small)  # the reply arrives before frame 8 is drawn
    for _ in range(8):
        plain.next_frame()
    plain.push_audio(speech, 16000)
    want = [plain.next_frame() for _ in range(4)]

    stream = StreamingRenderer(small)  # ... and here just after it was drawn ahead
    listening = [stream.next_frame() for _ in range(9)]
    assert not stream.take_back_listening(listening[-1])  # no speech waits: it plays as drawn
    stream.push_audio(speech, 16000)
    assert not stream.take_back_listening(listening[-2])  # an older frame has left already
    assert stream.take_back_listening(listening[-1]) and not stream.take_back_listening(listening[-1])
    got = [stream.next_frame() for _ in range(4)]
    assert [f.utterance_frame for f in got] == [0, 1, 2, 3] and got[0].speaking
    assert [f.index for f in got] == [f.index for f in want] == [8, 9, 10, 11]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.image, w.image)
    speaking = got[-1]  # a speaking frame is never given back this way
    assert not stream.take_back_listening(speaking)

    held = StreamingRenderer(small)  # nor a frame drawn while the speech is held (``take_back`` is for that)
    before = held.next_frame()
    held.hold(True)
    held.push_audio(speech, 16000)
    assert not held.take_back_listening(before)


def _apertures(stream, frames: int) -> np.ndarray:  # noqa: ANN001
    return np.array([stream.next_frame().aperture for _ in range(frames)])


def test_mouths_streamed_right_behind_the_audio_match_the_batch_ones(small, speech) -> None:  # noqa: ANN001
    """The lip-sync model reads more audio ahead of a frame (Whisper states are final 0.3-0.5 s after their
    sound) than the streaming look-ahead holds: audio streamed in 20 ms pieces with each frame pulled as
    soon as its look-ahead is there (the tightest a live call can run) plans mouths from states whose
    windows end in silence. They must still be the batch render's within a small tolerance
    (bench/stream_lipsync.py: max 2 % of the closed-to-open range on four new people's clips)."""
    from facecraft.engine import StreamingRenderer

    assert small.audio_model is not None and small.audio_model.future_frames > small.config.lookahead
    n = int(round(speech.size / 16000 * small.fps))
    batch = StreamingRenderer(small)
    batch.push_audio(speech, 16000)
    batch.end_of_speech()
    want = _apertures(batch, n)
    stream = StreamingRenderer(small)
    got: list[float] = []
    step = 320
    for i in range(0, speech.size, step):
        stream.push_audio(speech[i: i + step], 16000)
        while stream.ready > 0:
            got.append(stream.next_frame().aperture)
    stream.end_of_speech()
    got += list(_apertures(stream, n - len(got)))
    span = small.priors.open - small.priors.closed
    diff = np.abs(np.asarray(got) - want) / span
    assert np.corrcoef(got, want)[0, 1] > 0.99, diff.round(3)
    assert diff.max() < 0.1 and diff.mean() < 0.02, diff.round(3)
