"""End of the caller's turn, in audio time: when the VAD reports the stop, what smart-turn v3 says there, and
what that costs in false ends of turn at pauses inside the caller's speech.

    python bench/turn_end.py [--stops 0.2,0.15,0.12,0.1] [--voices ...] [--corpus N] [--out FILE]

The PAL's own parts (``turns.vad_analyzer``: pipecat's Silero with our start and volume gate, and
``turns.smart_turn_analyzer``: smart-turn v3 from the registry) are fed 20 ms chunks as the transport hands
them, on the audio's clock (no wall clock: a loaded machine changes nothing but the run time). Sources:

- **questions**: ``bench/data/stt_questions.txt`` spoken by the stock voices (Piper's joe-us and its shifted
  voices, the flite voices), each complete (its end is a real end of turn), and **cut** at the dips of its
  loudness inside it (30-85 % of the way; the rest dropped: a caller who stops mid-sentence, whose turn is
  not over);
- **recordings**: ``testdata/speech`` and the ``testdata/corpus`` clips (26 people), real speech of several
  sentences: every VAD stop that more speech follows within ``GAP_MAX_S`` is a pause inside the speaker's turn.

Per VAD ``stop_secs``: the stop's lag after the last loud sample (complete questions), smart-turn's probability
at each stop (its input: the audio since the turn began, as the PAL hands it, up to the stop), the silence
after each inner stop, and Whisper tiny.en's words up to the stop (``--words``: for a rule that ends the turn
on a complete sentence after a shorter silence). Sources split into **tune** and **report** halves
(leave-one-speaker-out by voice and by person): a rule chosen on the tune half is judged on the report half.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import TESTDATA, machine_info, stt_questions, write_result
from facecraft.conversation.turns import TURN_RATE, TurnSettings, smart_turn_analyzer

VOICES = ("joe-us", "ada-us", "slt-us", "sam-us", "grace-us", "rms-us")
TUNE_VOICES = {"joe-us", "ada-us", "slt-us"}
CHUNK = TURN_RATE // 50
LOUD = 0.02
LEAD_S, TAIL_S = 0.5, 2.0
GAP_MAX_S = 3.0  # an inner stop: more speech follows within this (else the recording's speaker paused for good)
PRE_S = 0.5 + 0.064  # smart-turn's pre-speech (pre_speech_ms + VAD start) before the turn's first VAD start
SMART_MAX_S = 8.0
LATER_S = (0.1, 0.2, 0.3, 0.5)  # smart-turn asked again this long after the stop (the silence going on)

log = logging.getLogger("turn_end")



def spoken(text: str, voice: str) -> np.ndarray:
    from facecraft.audio import resample
    from facecraft.speech.voices import tts_for

    x, rate, _ = tts_for(voice, deterministic=True).synthesize(text)
    return resample(x.astype(np.float32), rate, TURN_RATE)


def cut_points(x: np.ndarray) -> list[int]:
    """Sample indices of the loudness dips inside ``x`` (30-85 % of its speech), at most 3, spread out."""
    loud = np.flatnonzero(np.abs(x) > LOUD)
    a, b = int(loud[0]), int(loud[-1])
    hop = TURN_RATE // 100
    rms = np.array([np.sqrt(np.mean(x[i:i + hop] ** 2)) for i in range(a, b, hop)])
    level = np.median(rms)
    low = rms < 0.1 * level
    dips, i = [], 0
    while i < low.size:
        if low[i]:
            j = i
            while j < low.size and low[j]:
                j += 1
            if j - i >= 3:  # >= 30 ms quiet: between words
                dips.append(a + hop * (i + j) // 2)
            i = j
        else:
            i += 1
    span = b - a
    inner = [d for d in dips if a + 0.3 * span <= d <= a + 0.85 * span]
    if len(inner) > 3:
        inner = [inner[int(k)] for k in np.linspace(0, len(inner) - 1, 3)]
    return inner


def vad_segments(x: np.ndarray, stop_secs: float) -> list[tuple[float, float | None]]:
    """(start, stop) audio seconds of each VAD speech segment of ``x`` as the PAL's VAD reports them."""
    from pipecat.audio.vad.vad_analyzer import VADState

    from facecraft.conversation import turns

    async def go() -> list[tuple[float, float | None]]:
        saved = turns.VAD_STOP_S
        turns.VAD_STOP_S = stop_secs
        try:
            vad = turns.vad_analyzer()
        finally:
            turns.VAD_STOP_S = saved
        vad.set_sample_rate(TURN_RATE)
        pcm = (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)
        out: list[tuple[float, float | None]] = []
        speaking = False
        try:
            for i in range(0, pcm.size - CHUNK + 1, CHUNK):
                state = await vad.analyze_audio(pcm[i:i + CHUNK].tobytes())
                t = (i + CHUNK) / TURN_RATE
                if not speaking and state == VADState.SPEAKING:
                    speaking = True
                    out.append((t, None))
                elif speaking and state == VADState.QUIET:
                    speaking = False
                    out[-1] = (out[-1][0], t)
        finally:
            await vad.cleanup()
        return out

    return asyncio.run(go())


class Judge:
    """smart-turn's probability and (optionally) Whisper's words for the turn's audio up to a stop."""

    def __init__(self, words: bool) -> None:
        self.smart = smart_turn_analyzer(TurnSettings())
        self.asr = None
        if words:
            from facecraft.speech.asr import WhisperASR

            self.asr = WhisperASR(word_timings=False)

    def probability(self, x: np.ndarray, start: float, stop: float) -> float:
        a = max(0, int((start - PRE_S) * TURN_RATE))
        b = int(stop * TURN_RATE)
        seg = x[max(a, b - int(SMART_MAX_S * TURN_RATE)):b]
        return float(self.smart._predict_endpoint(seg)["probability"])  # noqa: SLF001

    def words(self, x: np.ndarray, start: float, stop: float) -> str | None:
        if self.asr is None:
            return None
        a = max(0, int((start - PRE_S) * TURN_RATE))
        return self.asr.transcribe(x[a:int(stop * TURN_RATE)], TURN_RATE).text.strip()


def stops_of(x: np.ndarray, stop_secs: float, judge: Judge, speech_end: float | None,
             inner_only: bool) -> list[dict[str, Any]]:
    """Each VAD stop of ``x``: when, the silence after it (to the next start or the end), smart-turn's
    probability, the words; ``final``: no speech follows (the end of the turn)."""
    segs = vad_segments(x, stop_secs)
    out = []
    duration = x.size / TURN_RATE
    for k, (_start, stop) in enumerate(segs):
        if stop is None:
            continue
        following = segs[k + 1][0] if k + 1 < len(segs) else None
        final = following is None
        if inner_only and (following is None or following - stop > GAP_MAX_S):
            continue
        row: dict[str, Any] = {"stop_s": round(stop, 3), "final": final,
                               "silence_after_s": round((following if following is not None else duration) - stop, 3),
                               "p": round(judge.probability(x, segs[0][0], stop), 4)}
        # asked again later in the same silence (a decision that waits for more quiet)
        row["p_later"] = {str(d): round(judge.probability(x, segs[0][0], stop + d), 4) for d in LATER_S
                          if (following if following is not None else duration) - stop > d}
        if speech_end is not None:
            row["lag_ms"] = round((stop - speech_end) * 1000, 1)
        words = judge.words(x, segs[0][0], stop)
        if words is not None:
            row["words"] = words
        out.append(row)
    return out


def recordings(corpus: int) -> list[tuple[str, np.ndarray]]:
    from facecraft.media import read_audio

    paths = sorted((TESTDATA / "speech").glob("*.wav")) + sorted((TESTDATA / "speech").glob("*.flac"))
    paths += sorted((TESTDATA / "corpus").glob("*.mp4"))[:corpus]
    out = []
    for p in paths:
        try:
            out.append((p.stem, read_audio(p, sample_rate=TURN_RATE).samples.astype(np.float32)))
        except Exception as exc:  # noqa: BLE001 - a clip without sound is skipped, said so
            log.warning("%s skipped: %s", p.name, exc)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stops", default="0.2,0.15,0.12,0.1")
    ap.add_argument("--voices", default=",".join(VOICES))
    ap.add_argument("--corpus", type=int, default=26, help="corpus clips to use (0: none)")
    ap.add_argument("--words", action="store_true", help="Whisper's words at each stop")
    ap.add_argument("--out", default="bench/results/turn_end.json")
    ap.add_argument("--rows", help="a result JSON of this bench: judge its rows again (no audio run)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.rows:
        import json

        old = json.loads(Path(args.rows).read_text())
        return report(args.out, old["rows"], old["stops"], old["machine"])
    stops = [float(s) for s in args.stops.split(",")]
    judge = Judge(args.words)
    t0 = time.monotonic()
    rows: list[dict[str, Any]] = []
    silence = lambda s: np.zeros(int(s * TURN_RATE), np.float32)  # noqa: E731
    for voice in args.voices.split(","):
        half = "tune" if voice in TUNE_VOICES else "report"
        for q in stt_questions():
            x = spoken(q, voice)
            loud = np.flatnonzero(np.abs(x) > LOUD)
            full = np.concatenate([silence(LEAD_S), x, silence(TAIL_S)])
            end = LEAD_S + loud[-1] / TURN_RATE
            for s in stops:
                rows.append({"kind": "complete", "half": half, "source": voice, "text": q, "vad_stop_s": s,
                             "stops": stops_of(full, s, judge, end, inner_only=False)})
            for c in cut_points(x):
                cut = np.concatenate([silence(LEAD_S), x[:c], silence(TAIL_S)])
                for s in stops:
                    rows.append({"kind": "cut", "half": half, "source": voice, "text": q,
                                 "cut_at": round(c / max(1, loud[-1]), 2), "vad_stop_s": s,
                                 "stops": stops_of(cut, s, judge, None, inner_only=False)})
        print(f"{voice}: done ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    for k, (name, x) in enumerate(recordings(args.corpus)):
        half = "report" if name.startswith(("whisper_", "pocketsphinx_", "grid_")) or k % 2 else "tune"
        for s in stops:
            rows.append({"kind": "recording", "half": half, "source": name, "vad_stop_s": s,
                         "speech_s": round(x.size / TURN_RATE, 2),
                         "stops": stops_of(x, s, judge, None, inner_only=True)})
        print(f"{name}: done ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    return report(args.out, rows, stops, machine_info())


def report(out: str, rows: list[dict[str, Any]], stops: list[float], machine: dict[str, Any]) -> int:
    summary = summarise(rows, stops)
    for line in table(summary):
        print(line)
    judged = policies(rows, stops)
    print("\nturn_taking_patience as (VAD stop, [(silence after it, threshold)...], fallback silence after it):")
    for line in judged["lines"]:
        print(line)
    words = words_rule(rows)
    if words:
        print("\nWhisper's words at the last stop read as a complete sentence (ends . ? !, not in a function word):")
        for key, e in words.items():
            print(f"  {key}: {e}")
    write_result(out, {"bench": "turn_end", "machine": machine, "stops": stops, "summary": summary,
                       "policies": judged["table"], "words_rule": words, "rows": rows})
    return 0


# turn_taking_patience, before (VAD stop 0.2 s, smart-turn once) and now (0.1 s, asked again 0.1 s later; low's and
# high's fallback 0.1 s longer after the stop: the same silence after the last word; medium's 1.1 s), and others
POLICIES: dict[str, tuple[float, list[tuple[float, float]], float]] = {
    "low (before)": (0.2, [(0.0, 0.35)], 0.8),
    "low (now)": (0.1, [(0.0, 0.35), (0.1, 0.7)], 0.9),
    "medium (before)": (0.2, [(0.0, 0.5)], 1.5),
    "medium (now)": (0.1, [(0.0, 0.5), (0.1, 0.7)], 1.1),
    "medium, fallback after the word kept": (0.1, [(0.0, 0.5), (0.1, 0.7)], 1.6),
    "medium at 0.1, once": (0.1, [(0.0, 0.5)], 1.6),
    "medium at 0.1, again at 0.5": (0.1, [(0.0, 0.5), (0.1, 0.5)], 1.6),
    "medium, then 0.4/0.3 later": (0.1, [(0.0, 0.5), (0.1, 0.5), (0.3, 0.4), (0.5, 0.3)], 1.6),
    "medium, fallback 0.8 s": (0.2, [(0.0, 0.5)], 0.8),
    "medium (now), fallback 0.9 s": (0.1, [(0.0, 0.5), (0.1, 0.7)], 0.9),
    "high (before)": (0.2, [(0.0, 0.7)], 2.5),
    "high (now)": (0.1, [(0.0, 0.7), (0.1, 0.7)], 2.6),
}


FUNCTION_WORDS = set(
    "a an the and or but so to of for in on at by with from as if that than then what which who where when why how "
    "is are was were be been am do does did have has had can could would should will may might must my your his "
    "her its our their me you him us them i we they it this these those not no very just about into over under "
    "after before because while until like some any".split())


def reads_complete(text: str) -> bool:
    """Whisper's words end as a sentence does: a final . ? or ! (not "..." or a cut "-"), two words or more,
    the last not a function word ("... a table for." is not)."""
    import re

    text = text.strip()
    if not text or text.endswith(("...", "-", ",")) or text[-1] not in ".?!":
        return False
    words = re.findall(r"[a-z']+", text.lower())
    return len(words) >= 2 and words[-1] not in FUNCTION_WORDS


def words_rule(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A second, shorter fallback that ends the turn when the words read complete (``--words`` runs): how often
    complete and cut questions read complete, and of those smart-turn does not end (medium now), how many."""
    out: dict[str, Any] = {}
    stop_s, ladder, fallback = POLICIES["medium (now)"]
    for half in ("tune", "report"):
        sel = [r for r in rows if r["half"] == half and r["vad_stop_s"] == stop_s and r["kind"] != "recording"]
        finals = [(r["kind"], st) for r in sel for st in r["stops"] if st["final"] and "words" in st]
        if not finals:
            continue
        comp = [st for k, st in finals if k == "complete"]
        cuts = [st for k, st in finals if k == "cut"]
        missed = [st for st in comp if _decides(st, ladder, fallback) is None]
        cut_kept = [st for st in cuts if _decides(st, ladder, fallback) is None]
        out[half] = {"complete_read_complete": round(np.mean([reads_complete(st["words"]) for st in comp]), 3),
                     "cut_read_complete": round(np.mean([reads_complete(st["words"]) for st in cuts]), 3),
                     "smart_turn_missed_read_complete": f"{sum(reads_complete(st['words']) for st in missed)}"
                                                        f"/{len(missed)}",
                     "cuts_newly_ended": f"{sum(reads_complete(st['words']) for st in cut_kept)}/{len(cuts)}"}
    return out


def _decides(stop: dict[str, Any], ladder: list[tuple[float, float]], fallback: float,
             window: float | None = None) -> float | None:
    """Seconds after the VAD's stop at which smart-turn ends the turn (None: not before the fallback or the end
    of ``window``, the silence there was)."""
    limit = min(fallback, window if window is not None else fallback)
    for after, threshold in ladder:
        if after >= limit:
            break
        p = stop["p"] if after == 0 else stop["p_later"].get(str(after))
        if p is not None and p >= threshold:
            return after
    return None


def policies(rows: list[dict[str, Any]], stops: list[float]) -> dict[str, Any]:
    """Each of ``POLICIES`` per half: complete questions' end of turn after the last loud sample (p50, mean, p90
    ms; the share the fallback ended), cut questions it ends (at any pause: the worst case; after a 0.3 s pause),
    and the recordings' inner pauses it ends (the model or the fallback) per minute of speech."""
    table_: dict[str, Any] = {}
    lines = []
    for half in ("tune", "report"):
        for name, (stop_s, ladder, fallback) in POLICIES.items():
            if stop_s not in stops:
                continue
            sel = [r for r in rows if r["half"] == half and r["vad_stop_s"] == stop_s]
            ends, by_fallback = [], 0
            for r in (r for r in sel if r["kind"] == "complete"):
                for st in (st for st in r["stops"] if st["final"]):
                    after = _decides(st, ladder, fallback)
                    by_fallback += after is None
                    ends.append(st["lag_ms"] + 1000 * (fallback if after is None else after))
            cuts = [st for r in sel if r["kind"] == "cut" for st in r["stops"] if st["final"]]
            inner = [st for r in sel if r["kind"] == "recording" for st in r["stops"]]
            minutes = sum(r["speech_s"] for r in sel if r["kind"] == "recording") / 60
            cut_ends = sum(_decides(st, ladder, fallback) is not None for st in cuts)
            e = {"complete_n": len(ends), "end_ms_p50": _pct(ends, 50), "end_ms_mean": round(float(np.mean(ends)), 1),
                 "end_ms_p90": _pct(ends, 90), "fallback_share": round(by_fallback / len(ends), 3),
                 "cut_ended": round(cut_ends / len(cuts), 3),
                 "cut_ended_in_0.3s": round(sum(_decides(st, ladder, fallback, 0.3) is not None for st in cuts)
                                            / len(cuts), 3),
                 "recording_pauses_ended_per_min": round(sum(
                     _decides(st, ladder, fallback, st["silence_after_s"]) is not None
                     or st["silence_after_s"] > fallback for st in inner) / minutes, 2) if minutes else None}
            table_[f"{half}/{name}"] = e
            lines.append(f"{half:6} {name:36} end p50 {e['end_ms_p50']:>6} mean {e['end_ms_mean']:>6} p90 "
                         f"{e['end_ms_p90']:>6} fallback {e['fallback_share']:.2f} | cut ended {e['cut_ended']:.2f} "
                         f"(in 0.3 s {e['cut_ended_in_0.3s']:.2f}) | real pauses ended/min "
                         f"{e['recording_pauses_ended_per_min']}")
    return {"table": table_, "lines": lines}


def _pct(v: list[float], q: float) -> float | None:
    return round(float(np.percentile(v, q)), 1) if v else None


def summarise(rows: list[dict[str, Any]], stops: list[float]) -> dict[str, Any]:
    """Per half and VAD stop: final-stop lag p50/p95 (complete), the share of complete questions smart-turn
    calls complete at their last stop (at 0.35/0.5/0.7), of cut ones (a false end), and of inner stops of the
    questions and the recordings (false ends per minute of speech)."""
    out: dict[str, Any] = {}
    for half in ("tune", "report"):
        for s in stops:
            sel = [r for r in rows if r["half"] == half and r["vad_stop_s"] == s]
            comp = [r for r in sel if r["kind"] == "complete"]
            finals = [st for r in comp for st in r["stops"] if st["final"]]
            inner_q = [st for r in comp for st in r["stops"] if not st["final"]]
            cuts = [st for r in sel if r["kind"] == "cut" for st in r["stops"] if st["final"]]
            inner_r = [st for r in sel if r["kind"] == "recording" for st in r["stops"]]
            minutes = sum(r["speech_s"] for r in sel if r["kind"] == "recording") / 60
            entry: dict[str, Any] = {
                "complete_n": len(finals), "lag_ms_p50": _pct([f["lag_ms"] for f in finals], 50),
                "lag_ms_p95": _pct([f["lag_ms"] for f in finals], 95),
                "cut_n": len(cuts), "question_inner_stops": len(inner_q), "recording_inner_stops": len(inner_r),
                "recording_minutes": round(minutes, 2)}
            for thr in (0.2, 0.35, 0.5, 0.7):
                entry[f"complete_at_{thr}"] = round(np.mean([f["p"] >= thr for f in finals]), 3) if finals else None
                entry[f"cut_complete_at_{thr}"] = round(np.mean([f["p"] >= thr for f in cuts]), 3) if cuts else None
                entry[f"q_inner_false_at_{thr}"] = sum(f["p"] >= thr for f in inner_q)
                entry[f"rec_false_per_min_at_{thr}"] = (round(sum(f["p"] >= thr for f in inner_r) / minutes, 2)
                                                        if minutes else None)
            out[f"{half}/{s}"] = entry
    return out


def table(summary: dict[str, Any]) -> list[str]:
    head = (f"{'half/stop':12} {'n':>3} {'lag50':>6} {'lag95':>6} | complete@.35/.5/.7 | cut complete@.35/.5/.7 "
            f"| q inner false@.5 | rec stops, false/min@.35/.5/.7")
    lines = [head]
    for key, e in summary.items():
        lines.append(
            f"{key:12} {e['complete_n']:>3} {e['lag_ms_p50']!s:>6} {e['lag_ms_p95']!s:>6} | "
            f"{e['complete_at_0.35']!s:>5} {e['complete_at_0.5']!s:>5} {e['complete_at_0.7']!s:>5} | "
            f"{e['cut_complete_at_0.35']!s:>5} {e['cut_complete_at_0.5']!s:>5} {e['cut_complete_at_0.7']!s:>5} "
            f"(n {e['cut_n']}) | {e['q_inner_false_at_0.5']}/{e['question_inner_stops']} | "
            f"{e['recording_inner_stops']} in {e['recording_minutes']} min: {e['rec_false_per_min_at_0.35']} "
            f"{e['rec_false_per_min_at_0.5']} {e['rec_false_per_min_at_0.7']}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
