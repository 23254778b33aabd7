"""Engine parameters in one place (every stage reads its own part of this dataclass)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineConfig:
    # timeline
    lead_s: float = 0.08  # the mouth moves this much before the sound it makes
    coartic: tuple[float, ...] = (0.1, 0.2, 0.4, 0.2, 0.1)  # look-back/ahead blend of viseme targets (frames)
    audio_model_weight: float = 1.0  # share of the aperture target from the Face's audio-to-lips model
    width_model_weight: float = 0.7  # share of the width target from the same model
    model_lead_frames: int = 0  # extra frames the model's prediction is taken early (its lag is learned)
    quiet_follows_model: bool = True  # in pauses: the model's aperture, capped (else rest_share itself)
    pause_cap_share: float = 0.06  # the cap: this share of the way from closed to open (Faces without a habit)
    # pauses between words: "cap": the model's aperture capped at the Face's own habit (measured at build,
    # ``timeline.pause_habit``); "level": the habit itself; "off": ``pause_cap_share`` for every Face
    pause_habit: str = "cap"
    # pauses between words shorter than this (at most ``timeline.inner_frames``, so the streaming renderer hears
    # such a pause end before it plans it) follow the model capped at the Face's wide pause habit (its
    # ``pause_open_quantile``): most people keep the lips apart there; 0: every pause as the longer ones
    inner_pause_s: float = 0.4
    pause_open_quantile: float = 0.9  # the wide habit: this quantile of the footage's pause openings (at build)
    # the wide habit of a Face whose footage has too few pauses to measure it: the model's own opening (a share
    # above 1: no cap). Its median habit is then the 0.06 default, which closed such Faces' short pauses where
    # their held-out footage kept the lips apart (plan r 0.34 -> 0.56 on one tune clip, bench/lipsync_stages.py)
    pause_open_unknown: float = 1.2
    # longer pauses between words: "rest" as the edges do; "tail": rest, but their last ``inner_frames`` (the
    # lips part again before the next word, as in a short pause); "habit": capped at the habit throughout (the
    # engine before). Plan r on 12 tune clips: rest 0.609, tail 0.663, habit 0.648; rendered on the 13 LOSO
    # clips: tail 0.579, habit 0.591 (bench/results/fidelity_loso_subset_*_i17k.json): "tail" closes the lips
    # in long pauses (outer closure 0.67 -> 0.75) at about the same r
    long_pause: str = "tail"
    audio_model_weight_trusted: float = 0.4  # the same when phones are given or forced-aligned
    energy_weight: float = 0.5  # share of the aperture target that follows the loudness envelope
    rest_share: float = 0.06  # lips at rest in pauses: this share of the way from closed to open
    silence_db: float = -42.0  # frames quieter than this (dBFS) close the mouth
    model_silence_db: float = -50.0  # the same where the audio model shapes the mouth (it knows soft speech)
    loud_db: float = -16.0  # frames this loud open to the footage's wide-open aperture
    close_early: bool = True  # close the lips before a pause by the Face's own lip lead (learned at build)
    min_pause_s: float = 0.2  # quieter stretches shorter than this do not close the mouth
    vad_hangover_ms: int = 100  # pauses shorter than this stay speech (short: let the mouth close)
    speaking_back_s: float = 0.6  # the head keeps "speaking" motion across pauses this short
    speaking_ahead_s: float = 0.2  # and starts it this long before the voice
    # mouth selection
    candidates: int = 24  # Viterbi candidates per output frame
    block: int = 8  # frames committed per selection step (streaming and batch alike)
    first_block: int = 1  # frames of an utterance's first step (shaped without the audio model: fast)
    # frames of look-ahead beyond the block; the lip-sync model reads ~22 (Whisper windows end 0.3-0.5 s after
    # their states): the rest reads as silence, within 5 % of the batch mouths (engine.renderer)
    lookahead: int = 12
    w_aperture: float = 150.0
    w_width: float = 3.0
    w_viseme: float = 0.03  # label mismatch (the footage's labels are recognised, so noisy)
    w_pose: float = 0.01  # per degree of yaw/pitch difference between mouth source and base frame
    w_closed: float = 5000.0  # lips wider than the target where they must be closed (pauses, p/b/m)
    w_sealed: float = 150.0  # sealed lips where the target has them apart: their shortfall counted again
    w_lip_position: float = 150.0  # distance of the patch's lips from where the base frame's pose puts them
    w_join_shape: float = 1.0
    w_join_pixels: float = 0.2
    jump_penalty: float = 0.03
    w_emotion: float = 0.05  # a patch whose own footage does not show the wanted emotion (at intensity 1)
    # motion
    seed: int = 7
    good_jump: float = 1.5  # jump costs (units of a normal frame step) that look continuous
    max_jump: float = 4.0  # beyond this, a jump only happens when it must
    max_jump_deg: float = 5.0  # nor across a larger head rotation (degrees): the run plays backwards instead
    max_jump_scale: float = 0.025  # nor across a larger change of head size (|log| of the inter-ocular ratio)
    jump_rate_s: float = 4.0  # mean seconds between optional jumps (variety)
    recent_s: float = 3.0  # do not jump back into footage shown this recently
    crossfade: int = 3  # frames blended after a jump (the head glides between the two positions)
    fade_flow: bool = True  # and the two frames meet along dense optical flow (no double image)
    max_reversals: int = 2  # times a run is played back and forth before moving on at up to 2x max_jump_deg
    switch_wait_s: float = 1.0  # longest the head keeps the other state's footage waiting for a close pose
    own_listening_mouth_share: float = 0.5  # listening footage keeps its own mouth where this share of it is closed
    mouth_fade: int = 3  # frames a switch between a composed mouth and the footage's own is blended over
    min_state_s: float = 2.0  # less footage of a state than this: the other state's footage stands in for it
    emotion_walk: float = 1.0  # jump-cost bonus of footage that shows the wanted emotion (at intensity 1)
    # compose
    mask_grow: float = 0.06  # share the lower-face polygon grows beyond the jaw line
    feather: float = 0.035  # feather width as a share of the patch width
    color_strength: float = 0.8
    local_shading: bool = True  # match low-frequency shading across the patch (else one Lab mean/std)
    shading_sigma: float = 0.05  # its smoothing, as a share of the patch width
    jaw_follow: float = 0.5  # share of the patch's aperture gap to the target made up by moving its jaw
    jaw_max_open: float = 0.12  # the most that move opens a mouth (inter-ocular units)
    # footage cache
    cache_frames: int = 48
