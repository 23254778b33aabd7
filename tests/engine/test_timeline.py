"""Timeline: visemes at the output rate, closures, co-articulation and the speaking state."""

from __future__ import annotations

import numpy as np
import pytest

from facecraft import media
from facecraft.engine.config import EngineConfig
from facecraft.engine.timeline import ShapePriors, build_timeline
from facecraft.speech.types import Phone
from facecraft.speech.visemes import VISEMES
from tests.utils import testdata_path as data_path

PRIORS = ShapePriors(closed=0.02, open=0.40, width_mid=0.55, width_spread=0.05)
FPS = 25.0


@pytest.fixture(scope="module")
def grid() -> tuple[np.ndarray, list[Phone]]:
    from facecraft.speech.align import align

    audio = media.read_audio(data_path("speech", "grid_id2_vcd_swwp2s_16k.wav"), sample_rate=16000)
    return audio.samples, align(audio.samples, 16000, "set white with p two soon").phones


def _timeline(samples: np.ndarray, phones: list[Phone] | None, **kw: object):  # noqa: ANN202
    n = int(round(len(samples) / 16000 * FPS))
    return build_timeline(samples, 16000, fps=FPS, n_frames=n, phones=phones, priors=PRIORS,
                          config=EngineConfig(**kw))  # type: ignore[arg-type]


def test_silence_and_bilabials_close_the_lips(grid) -> None:  # noqa: ANN001
    samples, phones = grid
    tl = _timeline(samples, phones)
    assert len(tl) == 74 or len(tl) == 75
    t = (np.arange(len(tl)) + 0.5) / FPS
    assert tl.closed[t < 0.4].all() and tl.closed[t > 2.35].all()  # GRID's leading/trailing silence
    rest = PRIORS.closed + EngineConfig().rest_share * (PRIORS.open - PRIORS.closed)
    assert tl.aperture[tl.closed].max() <= rest + 1e-9  # lips together: resting or pressed
    pp = [p for p in phones if p.symbol.rstrip("012") in ("P", "B", "M")]
    assert pp, "the transcript has a 'p'"
    for p in pp:  # each bilabial closes the lips on at least one frame near it (after the visual lead)
        frames = np.arange(int((p.start - 0.1) * FPS), int((p.end + 0.1) * FPS) + 1)
        assert tl.closed[frames].any() and np.isclose(tl.aperture[frames], PRIORS.closed).any()
    assert tl.aperture.max() > PRIORS.closed + 0.3 * (PRIORS.open - PRIORS.closed)


def test_coarticulation_smooths_between_visemes() -> None:
    rng = np.random.default_rng(0)
    samples = (0.2 * rng.standard_normal(16000)).astype(np.float32)  # loud noise: voiced everywhere
    phones = [Phone("AA", 0.0, 0.5), Phone("IY", 0.5, 1.0)]
    tl = _timeline(samples, phones, energy_weight=0.0, lead_s=0.0)
    aa, ih = VISEMES.index("aa"), VISEMES.index("ih")
    assert tl.viseme[3] == aa and tl.viseme[20] == ih
    boundary = tl.aperture[11:14]
    assert tl.aperture[5] > boundary.max() or tl.aperture[5] > tl.aperture[20]
    assert np.all(np.abs(np.diff(tl.aperture[5:20])) < 0.5 * (PRIORS.open - PRIORS.closed))


def test_no_phones_follows_loudness_and_state_bridges_short_pauses(grid) -> None:  # noqa: ANN001
    samples, _ = grid
    tl = _timeline(samples, None)
    assert tl.closed[:8].all()
    assert (~tl.closed).sum() > 20
    speaking = np.flatnonzero(tl.speaking)
    assert speaking.size and np.all(np.diff(speaking) == 1), "one speaking run across the word gaps"
    assert tl.speaking[speaking[0]] and speaking[0] <= np.flatnonzero(tl.voiced)[0]


def test_bilabials_press_at_the_phone_not_before(grid) -> None:  # noqa: ANN001
    """The visual lead moves opening gestures early; a p/b/m closes the lips during its own phone."""
    samples, phones = grid
    tl = _timeline(samples, phones)
    pressed = np.isclose(tl.aperture, PRIORS.closed) & ~(tl.viseme == VISEMES.index("sil"))
    for p in (p for p in phones if p.symbol.rstrip("012") in ("P", "B", "M")):
        first, last = int(np.floor(p.start * FPS)), int(np.ceil(p.end * FPS)) - 1
        near = np.flatnonzero(pressed[max(0, first - 4): last + 4]) + max(0, first - 4)
        assert near.size and near.min() >= first and near.max() <= max(first, last), (p, near)


def test_a_short_leading_silence_still_closes_the_lips(grid) -> None:  # noqa: ANN001
    """TTS often starts speaking within 0.1 s: the first frames must not show an open mouth on silence."""
    samples, phones = grid
    first = min(p.start for p in phones if p.symbol != "SIL")
    cut = int((first - 0.1) * 16000)
    moved = [Phone(p.symbol, max(0.0, p.start - cut / 16000), max(0.0, p.end - cut / 16000)) for p in phones
             if p.end > cut / 16000]
    tl = _timeline(samples[cut:], moved)
    assert tl.closed[:2].all()
    rest = PRIORS.closed + EngineConfig().rest_share * (PRIORS.open - PRIORS.closed)
    assert (tl.aperture[:2] <= rest + 1e-9).all()


def test_the_visual_lead_does_not_close_the_lips_before_a_bilabial(grid) -> None:  # noqa: ANN001
    """The lead moves openings early; frames before a p/b/m whose own phone still sounds keep that phone's
    viseme (the selector prefers closed mouths on a p/b/m viseme: they closed two frames early)."""
    samples, phones = grid
    tl = _timeline(samples, phones)
    pp = VISEMES.index("PP")
    centres = (np.arange(len(tl)) + 0.5) / FPS
    checked = 0
    for k, p in enumerate(phones):
        if p.symbol.rstrip("012") not in ("P", "B", "M") or not k or phones[k - 1].symbol == "SIL":
            continue
        before = np.flatnonzero((centres >= phones[k - 1].start) & (centres < p.start))
        assert before.size and (tl.viseme[before] != pp).all(), (p, tl.viseme[before])
        share = (tl.aperture[before[-1]] - PRIORS.closed) / (PRIORS.open - PRIORS.closed)
        assert share > 0.1, "the lips are still apart on the frame before the phone"
        checked += 1
    assert checked


def test_soft_speech_of_a_quiet_recording_follows_the_audio_model(renderer) -> None:  # noqa: ANN001
    """A quiet recording (a corpus clip whose speech sits near -30 dBFS, dipping below -42 within words):
    where the Face's audio model shapes the mouth, only far quieter frames (``model_silence_db``) count as
    pauses, so the lips do not close mid-word; without a model the loudness gate stays as it was."""
    from dataclasses import replace

    x = media.read_audio(data_path("corpus", "deepavsr_00016.mp4"), sample_rate=16000).samples
    n = int(len(x) / 16000 * renderer.fps)
    predicted = renderer.predict_mouth(x, n)

    def closed_in_voice(config: EngineConfig, with_model: bool) -> float:
        tl = build_timeline(x, 16000, fps=renderer.fps, n_frames=n, phones=None, priors=renderer.priors,
                            config=config, predicted=predicted if with_model else None, trust_phones=False)
        return float(tl.closed[tl.voiced].mean())

    config = renderer.config
    assert closed_in_voice(config, True) < 0.03
    assert closed_in_voice(config, False) > 0.1  # the level gate alone (no model) closes soft speech
    assert closed_in_voice(replace(config, model_silence_db=config.silence_db), True) > 0.1


def test_loud_unvoiced_frames_at_a_cut_are_speech_not_silence() -> None:
    """A recording cut mid-speech (the held-out last 30 % of a clip, as ``bench/fidelity.py --loso`` has it):
    the VAD misses its last frames, which are still -37..-39 dBFS (this speaker's words sit near -20). The
    edge rule closes only frames silent by their level, so these stay open (closing them cost the clip
    aperture r 0.38 -> 0.19); the same audio followed by real silence still closes its last frame."""
    x = media.read_audio(data_path("video", "sadtalker_WDA_KatieHill_000.mp4"), sample_rate=16000).samples
    cut = x[int(5.6 * 16000):]
    tl = _timeline(cut, None)
    missed = np.flatnonzero(~tl.voiced)
    assert missed.size and missed[-1] == len(tl) - 1, "the VAD misses the cut's last frames"
    assert not tl.closed[missed].any()
    silent = _timeline(np.concatenate([cut, np.zeros(1600, np.float32)]), None)
    assert silent.closed[-1] and silent.aperture[-1] <= PRIORS.aperture(np.array([EngineConfig().rest_share]))[0]


def test_the_silence_before_the_first_and_after_the_last_word_rests_whatever_the_cap(grid) -> None:  # noqa: ANN001
    """``pause_cap_share`` lets pauses between words follow the audio model's opening; the silence before the
    first word and after the last rests at ``rest_share`` even when the model says open (GRID's own edges)."""
    samples, _ = grid
    n = int(round(len(samples) / 16000 * FPS))
    predicted = np.tile([PRIORS.open, PRIORS.width_mid], (n, 1))  # a model that says "wide open" throughout
    rest = PRIORS.aperture(np.array([EngineConfig().rest_share]))[0]
    shown = {}
    for cap in (EngineConfig().pause_cap_share, 1.2):
        tl = build_timeline(samples, 16000, fps=FPS, n_frames=n, phones=None, priors=PRIORS,
                            config=EngineConfig(pause_cap_share=cap), predicted=predicted, trust_phones=False)
        voiced = np.flatnonzero(tl.voiced)
        edges = (np.arange(n) < voiced[0]) | (np.arange(n) > voiced[-1])
        assert edges[:3].all() and edges[-3:].all()
        assert tl.closed[edges].all() and (tl.aperture[edges] <= rest + 1e-9).all()
        shown[cap] = tl.aperture[tl.closed & ~edges]
    # GRID's pause between a noise blip and the first word follows the model when the cap allows it
    assert shown[1.2].size and (shown[1.2] > shown[EngineConfig().pause_cap_share]).all()


def test_pauses_between_words_follow_the_face_s_own_habit(grid) -> None:  # noqa: ANN001
    """A Face's pause habit (``ShapePriors.pause_share``, measured at build) caps its lips in the pauses
    between words ("cap") or sets them ("level"); the silence before the first word and after the last rests
    at ``rest_share`` whatever the habit; without a habit (or with "off") the config's cap stands. (Every
    pause planned as a long one capped at the habit, ``inner_pause_s`` 0: the short ones' wide habit is
    ``test_short_pauses_inside_speech_follow_the_wide_habit_long_ones_and_the_edges_rest``.)"""
    from dataclasses import replace

    samples, _ = grid
    n = int(round(len(samples) / 16000 * FPS))
    predicted = np.tile([PRIORS.open, PRIORS.width_mid], (n, 1))  # a model that says "wide open" throughout
    cfg = EngineConfig(inner_pause_s=0.0, long_pause="habit")
    rest = PRIORS.aperture(np.array([cfg.rest_share]))[0]
    open_habit = replace(PRIORS, pause_share=0.5)

    def run(priors: ShapePriors, mode: str, pred: np.ndarray | None = predicted):  # noqa: ANN202
        return build_timeline(samples, 16000, fps=FPS, n_frames=n, phones=None, priors=priors,
                              config=replace(cfg, pause_habit=mode), predicted=pred, trust_phones=False)

    base, off, cap, level = run(PRIORS, "cap"), run(open_habit, "off"), run(open_habit, "cap"), run(open_habit, "level")
    voiced = np.flatnonzero(base.voiced)
    edges = (np.arange(n) < voiced[0]) | (np.arange(n) > voiced[-1])
    inside = base.closed & ~edges
    assert inside.any() and edges[:3].all() and edges[-3:].all()
    for tl in (base, off, cap, level):
        assert tl.closed[edges].all() and (tl.aperture[edges] <= rest + 1e-9).all()
        assert np.array_equal(tl.closed, base.closed)  # the habit changes how far apart, not where the pauses are
    habit = PRIORS.aperture(np.array([0.5]))[0]
    assert np.allclose(off.aperture, base.aperture)  # "off": the config's cap, as a Face without a habit
    assert np.allclose(cap.aperture[inside], habit)  # the model says wide open: capped at the habit
    assert np.allclose(level.aperture[inside], habit)
    assert (base.aperture[inside] < habit - 0.1).all()
    # a model that says "closed" keeps the pause closed under the cap; the level opens it to the habit
    shut = np.tile([PRIORS.closed, PRIORS.width_mid], (n, 1))
    assert np.allclose(run(open_habit, "cap", shut).aperture[inside], PRIORS.closed)
    assert np.allclose(run(open_habit, "level", shut).aperture[inside], habit)
    # a listening Face rests with its lips together whatever its habit
    from facecraft.engine.timeline import rest_timeline

    listening = rest_timeline(10, FPS, open_habit, cfg)
    assert listening.closed.all() and np.allclose(listening.aperture, rest)


def test_the_pause_habit_is_measured_where_the_timeline_finds_pauses(grid) -> None:  # noqa: ANN001
    """``pause_habit`` reads the apertures in the pauses between words that ``find_pauses`` finds (the same
    function the timeline uses), not in the silence before the first word and after the last; too few such
    frames give None (the default stands)."""
    from facecraft.engine.timeline import MIN_HABIT_FRAMES, audio_levels, find_pauses, pause_habit

    samples, _ = grid
    n = int(round(len(samples) / 16000 * FPS))
    cfg = EngineConfig()
    db, voiced = audio_levels(samples, 16000, FPS, n, cfg)
    quiet, edge = find_pauses(db, voiced, None, fps=FPS, config=cfg, trusted=False, modelled=np.ones(n, bool))
    inside = quiet & ~edge
    assert edge[:3].all() and edge[-3:].all() and not (edge & ~quiet).any()
    # lips a third open in the pauses between words, wide open at the edges and while speaking
    aperture = np.where(inside, PRIORS.aperture(np.array([1 / 3]))[0], PRIORS.open)
    k = int(inside.sum())  # GRID: one short pause between a noise blip and the first word (5 frames)
    assert 3 <= k < MIN_HABIT_FRAMES
    assert pause_habit(samples, 16000, aperture, FPS, PRIORS, cfg, min_frames=3) == pytest.approx(1 / 3)
    assert pause_habit(samples, 16000, aperture, FPS, PRIORS, cfg) is None  # too few: the default stands
    # frames where the footage does not speak (listening) do not count
    assert pause_habit(samples, 16000, aperture, FPS, PRIORS, cfg, speaking=np.zeros(n, bool), min_frames=3) is None


@pytest.fixture(scope="module")
def pauses(grid) -> tuple[np.ndarray, list[tuple[float, float]]]:  # noqa: ANN001
    """GRID's sentence said three times, with a short pause (0.3 s) and a long one (1.0 s) between: real
    speech, and the recording's own quiet (its trailing silence, looped) before, between and after. Returns the
    samples and the (start, end) seconds of the two pauses."""
    samples, _ = grid
    rate = 16000
    quiet = samples[int(2.45 * rate):]  # GRID's trailing silence (~0.5 s, no VAD blip unlike its leading one)
    core = samples[int(0.45 * rate): int(2.25 * rate)]

    def silence(seconds: float) -> np.ndarray:
        return np.tile(quiet, int(seconds * rate / len(quiet)) + 1)[: int(seconds * rate)]

    parts = [quiet, core, silence(0.3), core, silence(1.0), core, quiet]
    starts = np.cumsum([0] + [len(p) for p in parts]) / rate
    return np.concatenate(parts).astype(np.float32), [(starts[2], starts[3]), (starts[4], starts[5])]


def test_short_pauses_inside_speech_follow_the_wide_habit_long_ones_and_the_edges_rest(pauses) -> None:  # noqa: ANN001
    """With a model that says "wide open" throughout, a Face whose lips part in its pauses (``pause_share``
    0.3, wide habit ``pause_open`` 0.7): the short pause inside speech (< ``inner_pause_s``) opens to the wide
    habit, the long one and the silence before the first word and after the last rest (``long_pause`` "rest";
    "tail": the long one reopens for its last ``inner_pause_s``, before the next word); with ``inner_pause_s``
    0 and ``long_pause`` "habit" every pause between words is capped at the median habit (the engine before);
    without a measured wide habit the model decides (``pause_open_unknown``), without any habit the config's cap."""
    from dataclasses import replace

    from facecraft.engine.timeline import inner_frames

    samples, ((s0, s1), (l0, l1)) = pauses
    n = int(round(len(samples) / 16000 * FPS))
    t = (np.arange(n) + 0.5) / FPS
    predicted = np.tile([PRIORS.open, PRIORS.width_mid], (n, 1))
    cfg = EngineConfig(inner_pause_s=0.4, long_pause="rest")
    priors = replace(PRIORS, pause_share=0.3, pause_open=0.7)
    share = (lambda ap: (ap - PRIORS.closed) / (PRIORS.open - PRIORS.closed))  # noqa: E731

    def run(p: ShapePriors, **kw: object):  # noqa: ANN202
        return build_timeline(samples, 16000, fps=FPS, n_frames=n, phones=None, priors=p,
                              config=replace(cfg, **kw), predicted=predicted, trust_phones=False)

    tl = run(priors)
    short = tl.closed & (t > s0) & (t < s1)
    long = tl.closed & (t > l0 + 0.1) & (t < l1 - 0.1)
    edges = (t < 0.4) | (t > t[-1] - 0.3)
    assert short.sum() >= 5 and long.sum() >= 15 and tl.closed[edges].all()
    assert np.allclose(share(tl.aperture[short]), 0.7)  # the wide habit
    assert np.allclose(share(tl.aperture[long]), cfg.rest_share) and np.allclose(share(tl.aperture[edges]),
                                                                                 cfg.rest_share)
    before = run(priors, inner_pause_s=0.0, long_pause="habit")
    assert np.allclose(share(before.aperture[short | long]), 0.3)
    assert np.allclose(share(before.aperture[edges]), cfg.rest_share)
    unmeasured = run(replace(priors, pause_open=None))  # the wide habit unknown: the model's own opening
    assert np.allclose(share(unmeasured.aperture[short]), 1.0)
    assert np.allclose(share(run(replace(priors, pause_open=None), pause_open_unknown=0.4).aperture[short]), 0.4)
    assert np.allclose(share(run(replace(priors, pause_share=None, pause_open=None)).aperture[short]),
                       cfg.pause_cap_share)  # no habit at all: the config's cap
    assert np.allclose(share(run(priors, long_pause="habit").aperture[long]), 0.3)
    tail = run(priors, long_pause="tail").aperture
    run_end = np.flatnonzero(tl.closed & (t > l0) & (t < l1 + 0.2))[-1] + 1  # the long pause's last frame + 1
    k = inner_frames(FPS, cfg)
    assert k == 8  # 0.4 s is more than the streaming renderer sees end in time: 12 frames' look-ahead, less 4
    reopened = np.arange(run_end - k, run_end)  # its last 8 frames
    assert np.allclose(share(tail[reopened]), 0.7)
    assert np.allclose(share(tail[long & (np.arange(n) < run_end - k)]), cfg.rest_share)
    assert np.array_equal(tl.closed, before.closed)  # where the pauses are does not change, only how far apart


@pytest.mark.parametrize(("long_pause", "lead"), [("rest", 0), ("tail", 0), ("tail", 3)])
def test_stretches_planned_with_the_look_ahead_shape_pauses_as_the_whole_utterance(  # noqa: ANN001
    pauses, long_pause: str, lead: int
) -> None:
    """The streaming renderer plans a frame once ``lookahead`` frames of audio follow it: whether a pause is
    short (open to the wide habit) or long (rests), and where a long one's reopening tail starts, must be known
    by then (with the lips' early close, ``mouth_lead``, and the VAD's confirmation of the next word), so every
    frame planned as the audio arrives gets the whole utterance's target."""
    from dataclasses import replace

    from facecraft.engine.cues import NEUTRAL
    from facecraft.engine.timeline_stream import UtteranceTimeline

    samples, _ = pauses
    cfg = EngineConfig(inner_pause_s=0.4, long_pause=long_pause)
    priors = replace(PRIORS, pause_share=0.3, pause_open=0.7)

    def predict(x: np.ndarray, count: int, first: int, offset: int) -> np.ndarray:
        return np.tile([PRIORS.open, PRIORS.width_mid], (count, 1))

    n = int(round(len(samples) / 16000 * FPS))
    whole = build_timeline(samples, 16000, fps=FPS, n_frames=n, phones=None, priors=priors, config=cfg,
                           predicted=np.tile([PRIORS.open, PRIORS.width_mid], (n, 1)), trust_phones=False,
                           mouth_lead=lead)
    utt = UtteranceTimeline(fps=FPS, priors=priors, config=cfg, predict=predict, model_frames=2, mouth_lead=lead,
                            emotion=NEUTRAL)
    got = np.full(n, np.nan)
    done = 0
    for i in range(0, len(samples), 320):  # 20 ms pieces, each frame planned as soon as its look-ahead is heard
        utt.push(samples[i: i + 320], None, trust_phones=False)
        final = utt.total - cfg.lookahead
        if final > done:
            got[done:final] = utt.timeline(done, final).aperture
            done = final
    utt.end()
    got[done:] = utt.timeline(done, n).aperture
    assert np.allclose(got, whole.aperture), np.flatnonzero(~np.isclose(got, whole.aperture))
    shares = (whole.aperture[whole.closed] - PRIORS.closed) / (PRIORS.open - PRIORS.closed)
    assert np.isclose(shares, 0.7).sum() >= 3 and np.isclose(shares, cfg.rest_share).sum() >= 15  # both kinds


def test_a_real_face_opens_short_pauses_to_its_wide_habit_and_rests_at_the_edges(renderer, pauses, grid) -> None:  # noqa: ANN001
    """The test Face (Obama, 30 fps, whose lips part in its pauses: habit and wide habit measured at build)
    planning real speech with its own model (``long_pause`` "tail"): in the last ``inner_frames`` of each pause
    inside speech (all of a short one) the lips follow the model up to the wide habit (here it says ~0.2-0.3
    of the way to open); the rest of the long pause and the silence before the first word and after the last
    rest. On the text path (aligned phones, trusted: what ``say`` and live replies plan) the edges rest too."""
    from dataclasses import replace

    from facecraft.engine.timeline import inner_frames
    from facecraft.vision.smoothing import runs

    samples, ((s0, s1), (l0, l1)) = pauses
    priors = renderer.priors
    assert priors.pause_share is not None and priors.pause_open is not None
    assert priors.pause_open > priors.pause_share + 0.05
    config = replace(renderer.config, inner_pause_s=0.4, long_pause="tail")
    renderer_config, renderer.config = renderer.config, config
    try:
        n = int(round(len(samples) / 16000 * renderer.fps))
        tl = renderer.timeline(samples, n, [], trust_phones=False)
        predicted = renderer.predict_mouth(samples, n)
        text_samples, phones = grid
        m = int(round(len(text_samples) / 16000 * renderer.fps))
        text = renderer.timeline(text_samples, m, phones, trust_phones=True)
    finally:
        renderer.config = renderer_config
    fps = renderer.fps
    k = inner_frames(fps, config, renderer.mouth_lead)
    assert k >= 5
    share = (tl.aperture - priors.closed) / (priors.open - priors.closed)
    assert predicted is not None
    model = (np.clip(predicted[:, 0], priors.closed, priors.open * 1.2) - priors.closed) / (priors.open - priors.closed)
    rest = config.rest_share + 1e-9
    found = 0
    for a, b in runs(tl.closed):
        if a == 0 or b == n:  # the silence before the first word and after the last
            assert (share[a:b] <= rest).all()
            continue
        if not (s0 - 0.2 < a / fps < s1 or l0 - 0.2 < a / fps < l1):
            continue
        found += 1
        start = max(a, b - k - renderer.mouth_lead)  # the reopening moves early with the lips' lead, as the pause
        tail = slice(start, b)
        assert np.allclose(share[tail], np.minimum(model[tail], priors.pause_open))
        assert (share[tail] > 2 * config.rest_share).mean() > 0.5  # apart, as the model says
        assert (share[a:start] <= rest).all()
        assert b - a < k + 3 or b - a > 2 * k  # the short pause, then the long one
    assert found == 2
    u = (np.arange(m) + 0.5) / fps
    text_edges = (u < 0.35) | (u > 2.4)  # GRID's leading and trailing silence
    text_share = (text.aperture - priors.closed) / (priors.open - priors.closed)
    assert text.closed[text_edges].all() and (text_share[text_edges] <= rest).all()
