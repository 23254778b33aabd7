"""A spoken conversation with a PAL, judged by a real aiortc client: turn latency by stage, barge-in, STT WER.

The stock PAL (``eileen-host``) with its stock Face (``eileen-collins``, built from its photo if needed),
full mode with the embedded defaults (Silero VAD, smart-turn v3, Whisper tiny.en, the embedded LLM, the
Face's Piper voice), one session process under a ``SessionManager``. The caller is a ``LiveClient`` whose
microphone plays the questions of ``bench/data/stt_questions.txt``, each spoken by another stock voice, with
a natural pause after each answer. Per turn, from the end of the caller's speech (when the microphone track
handed the last loud sample of its recording to the connection):

- ``heard``: the last ``conversation.utterance`` role user before the answer (the turn it answers);
  ``early_ends``: user utterances before it in the same question (the turn ended at a pause inside the
  question and went on, its reply withdrawn unheard; ``turn_early_ends`` in the summary);
- ``vad_stop_ms``: the session's last ``conversation.user.stopped_speaking`` before the words arrives
  (client clock);
- ``turn_ms``: the session decided the turn was over (its log: "the caller's turn ended");
- ``stt_done_ms``: the STT returned (its log: "timing stt_done"); ``stt_ms``: the recognised words arrive
  at the client (``conversation.utterance`` role user);
- ``llm_first_token_ms`` / ``tts_first_audio_ms``: from the session's ``timing ...`` log lines where it
  writes them (absent otherwise);
- ``llm_cached_tokens`` / ``llm_new_tokens``: the embedded LLM's prompt cache on the turn (its log);
- ``llm_guess_ahead_ms``: how long before the turn was confirmed the LLM started on the words heard at the
  caller's pause (the answer used that start; absent when the turn was answered from scratch);
- ``first_clause_ms``: the reply's first words went to the voice (its log: "timing first_clause", with
  ``first_clause_words``); ``llm_done_ms``: the answer's last token (its log: "timing llm_done");
- ``tts_queued_ms``, ``tts_executor_ms``, ``tts_synth_ms``, ``tts_voice_ms``: the first synthesis after the
  turn (its log: "first speech of"): waiting in the echo queue, the executor round trip, and within it Piper
  and the voice step (durations, not times since the end of speech);
- ``first_audio_ms``: the first audible reply packet arrives (on the wire);
- ``first_frame_ms``: ``conversation.replica.started_speaking`` arrives (sent with the first speaking frame).

With ``--thread-cpu`` the session's threads are sampled (``/proc/<pid>/task/*/stat``, every 20 ms) and each turn
reports the CPU they used while the LLM read the prompt (``stt_done`` -> first token) and wrote the first clause
(first token -> first clause): ``cpu_prompt`` / ``cpu_clause``, milliseconds of CPU per thread (its name, its id)
with the window's wall time, the busiest first. What runs beside the LLM is what slows it on two cores.

Barge-in: the caller asks for a long story, says "Okay" over it (0.3 s: shorter than the PAL's minimum),
then speaks over it. ``barge_in_ms``: the start of the caller's speech -> the received audio is silent (the
Face is held at the VAD's start); ``hold_ms``: -> the session held the Face (its log); ``vad_start_ms``: ->
``conversation.user.started_speaking`` at the client; ``interrupted_event_ms``: -> ``replica_interrupted``
(the minimum speech reached: the reply is dropped). The cough: ``cough_held_ms`` (its start -> silence),
``cough_resumed_ms`` (its end -> the answer audible again), ``cough_interrupted`` (must be False). Log times
are the session's ``asctime`` (milliseconds) mapped onto the monotonic clock; everything runs on this machine.
The answers are printed. ``barge_in_wire_ms``: the same silence on the wire (before the client's jitter
buffer, which holds four 20 ms packets: ~80 ms); ``hold_out_ms``: -> the first silent frame left the Face (its
log); ``audible_at_onset``: the answer was heard in the 100 ms before the caller's speech (a barge-in over a
pause measures only the pause), ``barge_in_audible_ms_p50`` over those. The Face sends a frame's audio (two
20 ms packets) at each tick of its 40 ms clock and the client's buffer hands them on together: the silence
lands on that grid.

``--over echo`` barges in over a fixed monologue (Piper, sent as ``conversation.echo`` audio) instead of the
LLM's story: the same hold and barge-in path without the story's LLM and TTS competing for the CPU (on a busy
machine the story starves and pauses, and the barge-in then measures a pause).

    python bench/conversation.py [--turns 8] [--barge 3] [--over story|echo] [--short-story] [--thread-cpu]
                                 [--work DIR] [--out FILE]

Targets (2-core CPU, embedded defaults): end of turn -> first reply frame <= 800 ms p50; barge-in <= 300 ms
p50. Figures on the shared development machine are noisy: the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, machine_info, stt_questions, write_result
from facecraft.conversation import SessionManager, SessionSpec
from facecraft.conversation.client import LiveClient

VOICES = ("joe-us", "ada-us", "sam-us", "grace-us")
# a request the stock PAL answers at length (147 words, to its max_tokens); "Please tell me a long story about the
# moon, the sun and all of the planets, one by one." got one 15-word sentence ending in a colon (the answer stops at
# a newline): ~5 s of speech, so the barge-in raced with the answer's end
STORY = "Tell me a long bedtime story about a little fox who visits the moon."
MONOLOGUE = ("Once upon a time a little fox lived at the edge of a quiet forest, under an old oak tree. Every night "
             "she looked up at the moon and wondered what it would be like to walk on it. One evening she packed "
             "a small bag with berries, a warm scarf and a lantern, and set off toward the tallest hill she knew. "
             "On the way she met an owl, a hedgehog and a very sleepy badger, and each of them gave her a piece "
             "of advice for the long journey ahead. When she finally reached the top of the hill, the moon was so "
             "close and so bright that she could almost touch it with her paw.")
MONOLOGUE_VOICE = "grace-us"
SHORT_STORY = "Please tell me a long story about the moon, the sun and all of the planets, one by one."
BARGE = "Wait, stop please. I have another question."
# a backchannel shorter than the stock PAL's minimum speech for a barge-in: holds the Face, never interrupts
# (Piper's "Hm." or "Mm-hm." is no speech to the VAD at all; "Okay." cut to 0.3 s is)
COUGH, COUGH_S = "Okay.", 0.3
WAIT_S = 120.0
LOUD = 0.02
TARGETS = {"first_frame_ms_p50": 800.0, "barge_in_ms_p50": 300.0}
_LLM_PROMPT = re.compile(r"timing llm_prompt (\d+) tokens cached, (\d+) new")
_LLM_GUESS = re.compile(r"timing llm_guess_used started (\d+) ms before")
_FIRST_CLAUSE = re.compile(r"timing first_clause \w+: (\d+) words")
_FIRST_SPEECH = re.compile(r"first speech of \w+: queued (\d+) ms, to the executor and back (\d+) ms "
                           r"\(synthesis (\d+) ms, voice (\d+) ms")
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) session \w+ [\w.]+: (.*)$")

err = sys.stderr  # replaced by the real terminal once fd 2 carries the session's log


def say(*args: Any) -> None:
    print(*args, file=err, flush=True)



def speech48(text: str, voice: str) -> tuple[np.ndarray, float, float]:
    """``text`` spoken by a stock voice at 48 kHz, and where its speech starts and ends (seconds)."""
    from facecraft.audio import resample
    from facecraft.speech.voices import tts_for

    x, rate, _ = tts_for(voice, deterministic=True).synthesize(text)
    x = resample(x.astype(np.float32), rate, 48000)
    loud = np.flatnonzero(np.abs(x) > LOUD)
    return x, float(loud[0] / 48000), float(loud[-1] / 48000)


def stock_pal() -> tuple[dict[str, Any], str]:
    """The stock PAL as ``session_pal`` hands it to a session (no database: the server's defaults empty)."""
    from facecraft.service.stock_pals import STOCK_PALS

    p = STOCK_PALS[0]
    return {"pal_id": f"stock-{p.key}", "pal_name": p.name, "system_prompt": p.system_prompt, "context": p.context,
            "greeting": p.greeting, "pipeline_mode": "full", "default_face_id": None, "document_ids": [],
            "layers": dict(p.layers), "llm_defaults": {}, "speech_defaults": {}, "knowledge": []}, p.face_key


def stock_bundle(face_key: str, work: Path) -> Path:
    from facecraft.faces.stock import build_stock_face, get_source

    out = work / face_key
    built = [p for p in out.glob("*") if (p / "manifest.json").exists()] if out.exists() else []
    if built:
        return built[0]
    say(f"building the stock Face {face_key} from its photo into {out} ...")
    return build_stock_face(get_source(face_key), out)


class SessionLog:
    """The session's log lines (fd 2 of this process, inherited by the session) on the monotonic clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = time.time() - time.monotonic()

    def lines(self) -> list[tuple[float, str]]:
        out = []
        for line in self.path.read_text(errors="replace").splitlines():
            m = _LOG_TIME.match(line)
            if m:
                epoch = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out.append((epoch - self.offset, m.group(2)))
        return out

    def first_match(self, pattern: re.Pattern[str], after: float) -> re.Match[str] | None:
        return next((m for t, msg in self.lines() if t >= after - 0.002 and (m := pattern.match(msg))), None)

    def first(self, prefix: str, after: float) -> float | None:
        # log times have millisecond resolution: allow one tick before ``after``
        return next((t for t, msg in self.lines() if t >= after - 0.002 and msg.startswith(prefix)), None)


class ThreadCPU:
    """The CPU time of each thread of a process, sampled every ``period`` s in a thread of this bench."""

    def __init__(self, pid: int, period: float = 0.02) -> None:  # (the kernel counts CPU in 10 ms ticks)
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, dict[int, float]]] = []
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._run, name="thread-cpu", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            now, cpu = time.monotonic(), {}
            try:
                tids = os.listdir(f"/proc/{self.pid}/task")
            except OSError:
                return
            for tid in tids:
                try:
                    fields = Path(f"/proc/{self.pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                    if int(tid) not in self.names:  # (Python's threads all show "python"; the first is the loop's)
                        self.names[int(tid)] = ("main" if int(tid) == self.pid else
                                                Path(f"/proc/{self.pid}/task/{tid}/comm").read_text().strip())
                except OSError:  # the thread ended
                    continue
                cpu[int(tid)] = (int(fields[11]) + int(fields[12])) / self._tick
            self.samples.append((now, cpu))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def window(self, t0: float | None, t1: float | None, top: int = 6) -> dict[str, Any] | None:
        """CPU ms per thread between ``t0`` and ``t1`` (the samples nearest them), the busiest ``top``."""
        if t0 is None or t1 is None or t1 <= t0 or not self.samples:
            return None
        a = min(self.samples, key=lambda s: abs(s[0] - t0))
        b = min(self.samples, key=lambda s: abs(s[0] - t1))
        used = {tid: 1000 * (cpu - a[1].get(tid, 0.0)) for tid, cpu in b[1].items()}
        busiest = sorted(((ms_, tid) for tid, ms_ in used.items() if ms_ > 0), reverse=True)
        return {"wall_ms": round(1000 * (b[0] - a[0])), "cpu_ms": round(sum(used.values())),
                "threads": [f"{self.names.get(tid, '?')}/{tid}: {ms_:.0f}" for ms_, tid in busiest[:top]]}


def after(t: float):  # noqa: ANN201
    return lambda e: e["_t"] > t


def role(name: str, t: float):  # noqa: ANN201
    return lambda e: e["_t"] > t and (e.get("properties") or {}).get("role") == name


def ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round((a - b) * 1000, 1)


async def sent(c: LiveClient, seconds: float) -> float:
    """When the microphone handed the sample at ``seconds`` into its recording to the peer connection: the
    track paces itself on the wall clock but catches up in bursts after a stall, so ``speak()`` + offset
    would be late on a loaded machine."""
    index = int(seconds * 48000)
    while c._mic.pos <= index:  # noqa: SLF001 - the client's own microphone track
        await asyncio.sleep(0.005)
    return time.monotonic()


async def one_turn(c: LiveClient, log: SessionLog, text: str, voice: str,
                   cpu: ThreadCPU | None = None) -> dict[str, Any]:
    x, onset, end = speech48(text, voice)
    t0 = c.speak(x)
    t_end = await sent(c, end)
    row: dict[str, Any] = {"voice": voice, "question": text}
    await c.wait_event("conversation.utterance", WAIT_S, where=role("user", t0))
    started = await c.wait_event("conversation.replica.started_speaking", WAIT_S, where=after(t0))
    sound = await c.wait_sound(t_end, WAIT_S)
    await c.wait_event("conversation.replica.stopped_speaking", WAIT_S, where=after(started["_t"]))
    answer = await c.wait_event("conversation.utterance", WAIT_S, where=role("replica", started["_t"]))
    # a turn ended at a pause inside the question and then continued (its reply withdrawn unheard) reports the
    # words before the pause first: the last user utterance before the answer is the turn that was answered
    users = [e for e in c.events if e.get("event_type") == "conversation.utterance"
             and role("user", t0)(e) and e["_t"] <= started["_t"]]
    user = users[-1]
    # the VAD may stop at a pause inside the question: its last stop before the words came back counts
    stops = [e["_t"] for e in c.events if e.get("event_type") == "conversation.user.stopped_speaking"
             and t0 + onset < e["_t"] <= user["_t"]]
    row.update(
        heard=user["properties"].get("speech", ""), answer=answer["properties"].get("speech", ""),
        early_ends=len(users) - 1,
        vad_stop_ms=ms(stops[-1] if stops else None, t_end),
        turn_ms=ms(log.first("the caller's turn ended", t_end), t_end),
        stt_done_ms=ms(log.first("timing stt_done", t_end), t_end), stt_ms=ms(user["_t"], t_end),
        llm_first_token_ms=ms(log.first("timing llm_first_token", t_end), t_end),
        tts_first_audio_ms=ms(log.first("timing tts_first_audio", t_end), t_end),
        first_audio_ms=ms(sound, t_end), first_frame_ms=ms(started["_t"], t_end),
    )
    # the embedded LLM's prompt cache: tokens of the turn's prompt it had cached and tokens it processed
    prompt = log.first_match(_LLM_PROMPT, t_end)
    if prompt is not None:
        row.update(llm_cached_tokens=int(prompt.group(1)), llm_new_tokens=int(prompt.group(2)))
    guess = log.first_match(_LLM_GUESS, t_end)  # the answer started on the guess at the caller's pause
    row["llm_guess_ahead_ms"] = None if guess is None else float(guess.group(1))
    # first token -> first audio, split: the first clause cut (and its words), the answer's last token, and the
    # first synthesis's wait in the echo queue, its executor round trip, Piper and the voice step inside it
    row.update(first_clause_ms=ms(log.first("timing first_clause", t_end), t_end),
               llm_done_ms=ms(log.first("timing llm_done", t_end), t_end))
    clause = log.first_match(_FIRST_CLAUSE, t_end)
    row["first_clause_words"] = None if clause is None else int(clause.group(1))
    speech = log.first_match(_FIRST_SPEECH, t_end)
    if speech is not None:
        row.update(tts_queued_ms=float(speech.group(1)), tts_executor_ms=float(speech.group(2)),
                   tts_synth_ms=float(speech.group(3)), tts_voice_ms=float(speech.group(4)))
    if cpu is not None:
        stt, token = log.first("timing stt_done", t_end), log.first("timing llm_first_token", t_end)
        clause_at = log.first("timing first_clause", t_end)
        row.update(cpu_prompt=cpu.window(stt, token), cpu_clause=cpu.window(token, clause_at))
    return row


def monologue16() -> np.ndarray:
    """``MONOLOGUE`` spoken by ``MONOLOGUE_VOICE`` at 16 kHz (~35 s)."""
    from facecraft.audio import resample
    from facecraft.speech.voices import tts_for

    x, rate, _ = tts_for(MONOLOGUE_VOICE, deterministic=True).synthesize(MONOLOGUE)
    return resample(x.astype(np.float32), rate, 16000)


async def echo_monologue(c: LiveClient, samples: np.ndarray, inference_id: str, stop: asyncio.Event,
                         ahead_s: float = 2.0) -> None:
    """``samples`` (16 kHz) as ``conversation.echo`` audio in 1 s messages of one inference, sent as a streaming
    TTS would (``ahead_s`` ahead of real time), not all at once: 35 s pushed at once keeps the Face's speech
    encoder busy for seconds (the VAD's start came ~250 ms later at load ~10). Stops at ``stop`` (the barge-in:
    what was sent is ahead of what was heard, and a message after the interruption would be said anew)."""
    import base64

    step, t0 = 16000, time.monotonic()
    for i in range(0, samples.size, step):
        wait = t0 + i / 16000 - ahead_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if stop.is_set():
            return
        pcm = (np.clip(samples[i:i + step], -1, 1) * 32767).astype("<i2").tobytes()
        c.send({"message_type": "conversation", "event_type": "conversation.echo",
                "properties": {"audio": base64.b64encode(pcm).decode(), "sample_rate": 16000,
                               "inference_id": inference_id, "done": i + step >= samples.size}})


async def barge_in(c: LiveClient, log: SessionLog, k: int, story: str = STORY,
                   monologue: np.ndarray | None = None) -> dict[str, Any]:
    """A long answer (the LLM's story, or ``monologue`` echoed); a cough over it (held, then it goes on, not
    interrupted); then speech that barges in."""
    x, onset, _ = speech48(BARGE, VOICES[k % len(VOICES)])
    hm, hm_onset, _ = speech48(COUGH, VOICES[(k + 1) % len(VOICES)])
    cough = hm[int(hm_onset * 48000): int((hm_onset + COUGH_S) * 48000)]
    t = time.monotonic()
    if monologue is not None:
        stop = asyncio.Event()
        feeding = asyncio.get_running_loop().create_task(echo_monologue(c, monologue, f"monologue-{k}", stop))
    else:
        c.send({"message_type": "conversation", "event_type": "conversation.respond", "properties": {"text": story}})
    began = await c.wait_event("conversation.replica.started_speaking", WAIT_S, where=after(t))
    heard = await c.wait_sound(began["_t"], WAIT_S)
    await asyncio.sleep(1.5)  # well into the answer
    t_cough = c.speak(cough)
    t_cough_end = await sent(c, COUGH_S)
    on_again = await c.wait_sound(t_cough_end + 0.05, WAIT_S)  # the answer goes on after the cough
    held = c.silent_after(t_cough, hold=0.2)
    await asyncio.sleep(1.5)
    await heard_now(c, 30.0)  # not over a pause between the answer's sentences (a starved reply on a busy machine)
    if monologue is not None:
        stop.set()
    t_spoken = c.speak(x)
    t_speech = await sent(c, onset)
    interrupted = await c.wait_event("conversation.replica_interrupted", 30.0, where=after(t_spoken))
    await asyncio.sleep(1.0)
    silent = silent_from(c, t_speech, interrupted["_t"] + 0.5)
    wire = silent_from(c, t_speech, interrupted["_t"] + 0.5, wire=True)
    cough_cut = [e for e in c.events if e.get("event_type") == "conversation.replica_interrupted"
                 and t_cough < e["_t"] < t_spoken]
    # the barge-in is a turn of its own: let its answer finish before the next
    if monologue is not None:
        await feeding
    reply = await c.wait_event("conversation.replica.started_speaking", WAIT_S, where=after(interrupted["_t"]))
    await c.wait_event("conversation.replica.stopped_speaking", WAIT_S, where=after(reply["_t"]))
    # a hold let go before the barge-in (the caller's pause, "Wait, [pause] stop"): the answer was heard again
    barged = log.first("the caller barged in", t_spoken) or interrupted["_t"]
    released = [t for t, msg in log.lines() if t_speech - 0.002 <= t < barged - 0.002
                and msg.startswith("the Face's speech goes on")]
    return {"barge_in_ms": None if silent == float("inf") else round(silent * 1000, 1),
            "barge_in_wire_ms": None if wire == float("inf") else round(wire * 1000, 1),
            "hold_ms": ms(log.first("the Face's speech held", t_spoken), t_speech),
            "hold_out_ms": ms(log.first("timing hold_out", t_spoken), t_speech),
            "hold_released": len(released), "audible_at_onset": audible(c, t_speech), "envelope": envelope(c, t_speech),
            "vad_start_ms": ms(next((e["_t"] for e in c.events if e.get("event_type")
                                     == "conversation.user.started_speaking" and e["_t"] > t_spoken), None), t_speech),
            "interrupted_event_ms": ms(interrupted["_t"], t_speech), "story_heard_s": round(t_speech - heard, 2),
            "cough_held_ms": None if held == float("inf") else round(held * 1000, 1),
            "cough_resumed_ms": ms(on_again, t_cough_end), "cough_interrupted": bool(cough_cut)}


def silent_from(c: LiveClient, t0: float, t1: float, level: float = 0.01, wire: bool = False) -> float:
    """Seconds from ``t0`` to where the received audio goes quiet (RMS below ``level``, each 20 ms packet as
    decoded) and stays quiet until ``t1`` (a pause between two sentences of the answer that happens to follow
    ``t0`` does not count); inf if it is not quiet at ``t1``. The packets' times are when aiortc's receiver
    handed them out decoded (its jitter buffer holds four 20 ms packets back: the listener's side), or with
    ``wire`` when their RTP packet arrived."""
    def at(a: Any) -> float:
        return a.wire if wire else a.t

    packets = [a for a in c.audio if t0 <= at(a) <= t1]
    loud = [i for i, a in enumerate(packets) if float(np.sqrt(np.mean(a.samples ** 2))) >= level]
    if not packets or (loud and loud[-1] == len(packets) - 1):
        return float("inf")
    return at(packets[loud[-1] + 1] if loud else packets[0]) - t0


async def heard_now(c: LiveClient, timeout: float, level: float = 0.02) -> None:
    """Wait until the last decoded packet, 30 ms old at most, is louder than ``level`` RMS: the Face is heard."""
    deadline = time.monotonic() + timeout
    while not (c.audio and c.audio[-1].t > time.monotonic() - 0.03
               and float(np.sqrt(np.mean(c.audio[-1].samples ** 2))) >= level):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the answer was not heard for {timeout:.0f} s before the barge-in")
        await asyncio.sleep(0.005)


def audible(c: LiveClient, t0: float, span: float = 0.1, level: float = 0.01) -> bool:
    """Whether the Face was heard (RMS of the decoded audio at least ``level``) in the ``span`` before ``t0``:
    a barge-in over a pause of the answer (or a starved reply) measures nothing but that pause."""
    x = [a.samples for a in c.audio if t0 - span <= a.t <= t0]
    return bool(x) and float(np.sqrt(np.mean(np.concatenate(x) ** 2))) >= level


def envelope(c: LiveClient, t0: float, before: float = 0.1, after: float = 0.6) -> list[list[float]]:
    """The received audio around ``t0``: per packet [decoded ms, wire ms (both from ``t0``), RMS]."""
    return [[round((a.t - t0) * 1000, 1), round((a.wire - t0) * 1000, 1),
             round(float(np.sqrt(np.mean(a.samples ** 2))), 4)] for a in c.audio if t0 - before <= a.t <= t0 + after]


def pct(values: list[float | None], q: float) -> float | None:
    v = [x for x in values if x is not None]
    return round(float(np.percentile(v, q)), 1) if v else None


async def bench(bundle: Path, pal: dict[str, Any], log: SessionLog, turns: int, barges: int,
                story: str = STORY, over: str = "story", thread_cpu: bool = False) -> dict[str, Any]:
    manager = SessionManager(1, lambda e: None)
    spec = SessionSpec(conversation_id="bench-pal", bundle_dir=bundle, voice=None, mode="full",
                       max_call_duration_s=3600, participant_left_timeout_s=60, participant_absent_timeout_s=600,
                       ice_servers=(), pal=pal)
    rows: list[dict[str, Any]] = []
    barge_rows: list[dict[str, Any]] = []
    cpu: ThreadCPU | None = None
    monologue = monologue16() if over == "echo" and barges else None
    try:
        t = time.monotonic()
        await manager.start(spec)
        start_s = time.monotonic() - t
        if thread_cpu:
            cpu = ThreadCPU(manager.pids()["bench-pal"])
        c = LiveClient(lambda o: manager.offer("bench-pal", o["sdp"], o["type"]), keep_images=False)
        await c.connect()
        await c.wait_channel_open(60)
        await c.wait_event("conversation.replica.stopped_speaking", WAIT_S)  # the greeting
        texts = stt_questions()
        failures = 0
        for k in range(turns):
            text, voice = texts[k % len(texts)], VOICES[k % len(VOICES)]
            try:
                row = await one_turn(c, log, text, voice, cpu)
            except TimeoutError as exc:  # kept as a result: a turn the session never answered
                failures += 1
                rows.append({"voice": voice, "question": text, "error": str(exc)})
                say(f"  turn {k + 1}: {voice:9} FAILED: {exc}")
                if failures >= 2:
                    break
                continue
            rows.append(row)
            say(f"  turn {k + 1}: {voice:9} first frame {row['first_frame_ms']} ms, audio {row['first_audio_ms']} ms"
                f" | {row['heard']!r} -> {row['answer']!r}")
            for key in ("cpu_prompt", "cpu_clause"):
                if row.get(key):
                    say(f"    {key}: {row[key]['wall_ms']} ms wall, {row[key]['cpu_ms']} ms CPU: "
                        + ", ".join(row[key]["threads"]))
            await asyncio.sleep(1.2)  # a natural pause before the caller's next question
        for k in range(barges if failures < 2 else 0):
            try:
                barge_rows.append(await barge_in(c, log, k, story, monologue))
            except TimeoutError as exc:
                barge_rows.append({"barge_in_ms": None, "error": str(exc) or "an event did not come in time"})
            say(f"  barge-in {k + 1}: silent after {barge_rows[-1]['barge_in_ms']} ms")
            await asyncio.sleep(1.0)
        await c.close()
    finally:
        if cpu is not None:
            cpu.stop()
        await manager.close()
    return {"session_start_s": round(start_s, 2), "turns": rows, "barge_ins": barge_rows}


def summarise(result: dict[str, Any], pal: dict[str, Any]) -> dict[str, Any]:
    from facecraft.conversation.turns import TurnSettings
    from facecraft.speech.asr import wer_measures

    rows = [r for r in result["turns"] if "error" not in r]
    out: dict[str, Any] = {"turns_answered": len(rows), "turns_failed": len(result["turns"]) - len(rows)}
    for key in ("vad_stop_ms", "turn_ms", "stt_done_ms", "stt_ms", "llm_first_token_ms", "first_clause_ms",
                "llm_done_ms", "tts_first_audio_ms", "first_audio_ms", "first_frame_ms"):
        out[f"{key}_p50"] = pct([r[key] for r in rows], 50)
        out[f"{key}_p95"] = pct([r[key] for r in rows], 95)
    for key in ("first_clause_words", "tts_queued_ms", "tts_executor_ms", "tts_synth_ms", "tts_voice_ms"):
        out[f"{key}_p50"] = pct([r.get(key) for r in rows], 50)
    out["llm_cached_tokens_p50"] = pct([r.get("llm_cached_tokens") for r in rows], 50)
    out["llm_new_tokens_p50"] = pct([r.get("llm_new_tokens") for r in rows], 50)
    out["llm_guess_used"] = sum(r.get("llm_guess_ahead_ms") is not None for r in rows)
    out["llm_guess_ahead_ms_p50"] = pct([r.get("llm_guess_ahead_ms") for r in rows], 50)
    out["barge_ins"] = len(result["barge_ins"])
    out["barge_in_ms_p50"] = pct([b["barge_in_ms"] for b in result["barge_ins"]], 50)
    out["barge_in_ms_p95"] = pct([b["barge_in_ms"] for b in result["barge_ins"]], 95)
    out["barge_in_wire_ms_p50"] = pct([b.get("barge_in_wire_ms") for b in result["barge_ins"]], 50)
    # only the barge-ins that began while the Face was heard (not over a pause of its answer)
    heard = [b for b in result["barge_ins"] if b.get("audible_at_onset")]
    out["barge_ins_audible"] = len(heard)
    out["barge_in_audible_ms_p50"] = pct([b["barge_in_ms"] for b in heard], 50)
    # where the silence comes from: the session held the Face (its log), the VAD's start event at the client
    out["barge_hold_ms_p50"] = pct([b.get("hold_ms") for b in result["barge_ins"]], 50)
    out["barge_vad_start_ms_p50"] = pct([b.get("vad_start_ms") for b in result["barge_ins"]], 50)
    out["barge_hold_out_ms_p50"] = pct([b.get("hold_out_ms") for b in result["barge_ins"]], 50)
    # inside the session: the hold -> its first silent frame out (the Face's clock and the frame drawn ahead)
    out["barge_hold_to_out_ms_p50"] = pct([b["hold_out_ms"] - b["hold_ms"] for b in result["barge_ins"]
                                           if b.get("hold_out_ms") is not None and b.get("hold_ms") is not None], 50)
    out["barge_hold_released"] = sum(b.get("hold_released") or 0 for b in result["barge_ins"])
    # speech shorter than the PAL's minimum (replica_interruptibility) never interrupts, by design: what the
    # stages add after that minimum is the part the pipeline can shorten
    minimum = TurnSettings.from_flow((pal.get("layers") or {}).get("conversational_flow")).barge_in_s
    if minimum is not None:  # the Face is held at once; the interruption (flush, event) comes at the minimum
        out["barge_in_min_speech_ms"] = round(minimum * 1000)
        out["interrupted_event_ms_p50"] = pct([b.get("interrupted_event_ms") for b in result["barge_ins"]], 50)
        out["interrupted_after_min_speech_ms_p50"] = pct(
            [b["interrupted_event_ms"] - minimum * 1000 if b.get("interrupted_event_ms") is not None else None
             for b in result["barge_ins"]], 50)
    coughs = [b for b in result["barge_ins"] if "cough_interrupted" in b]
    if coughs:
        out["coughs_interrupting"] = sum(bool(b["cough_interrupted"]) for b in coughs)
        out["cough_held_ms_p50"] = pct([b["cough_held_ms"] for b in coughs], 50)
        out["cough_resumed_ms_p50"] = pct([b["cough_resumed_ms"] for b in coughs], 50)
    if rows:
        out["stt_wer"] = round(wer_measures([r["question"] for r in rows], [r["heard"] for r in rows])["wer"], 4)
        out["turn_early_ends"] = sum(int(r.get("early_ends") or 0) for r in rows)
    return out


def main() -> int:
    global err
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=8, help="spoken questions (each a turn)")
    ap.add_argument("--barge", type=int, default=3, help="barge-ins over a long answer")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "facecraft-bench-conversation",
                    help="where the stock Face is built (kept for the next run)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "conversation.json")
    ap.add_argument("--over", choices=["story", "echo"], default="story",
                    help="what the barge-ins interrupt: the LLM's story, or a fixed monologue echoed as audio")
    ap.add_argument("--short-story", action="store_true",
                    help="barge in over the old story request (its answer is one sentence: the barge-in races its end)")
    ap.add_argument("--thread-cpu", action="store_true",
                    help="sample the session's threads: the CPU beside the LLM per turn (cpu_prompt, cpu_clause)")
    args = ap.parse_args()
    pal, face_key = stock_pal()
    bundle = stock_bundle(face_key, args.work)
    # the session inherits fd 2: its INFO log (with millisecond times) goes to a file this bench reads, one
    # per bench process, so two benches sharing a --work folder do not read each other's sessions
    log_path = args.work / f"session-{os.getpid()}.log"
    args.work.mkdir(parents=True, exist_ok=True)
    err = os.fdopen(os.dup(2), "w", buffering=1)
    with log_path.open("w") as fh:
        os.dup2(fh.fileno(), 2)
    os.environ["FACECRAFT_SESSION_LOG"] = "INFO"
    load_before = os.getloadavg()
    story = SHORT_STORY if args.short_story else STORY
    result = asyncio.run(bench(bundle, pal, SessionLog(log_path), args.turns, args.barge, story, args.over,
                               args.thread_cpu))
    summary = summarise(result, pal)
    print(f"\nconversation with the stock PAL, load average before {load_before[0]:.1f}")
    print(f"{'key':28} {'value':>10}  target")
    for key, value in summary.items():
        target = TARGETS.get(key)
        mark = ""
        if target is not None and value is not None:
            mark = f"<= {target:.0f}  {'met' if value <= target else 'NOT met'}"
        print(f"{key:28} {value if value is not None else '-':>10}  {mark}")
    print("\nanswers:")
    for r in result["turns"]:
        if "error" in r:
            print(f"  Q ({r['voice']}): {r['question']}\n     FAILED: {r['error']}")
        else:
            print(f"  Q ({r['voice']}): {r['question']}\n     heard: {r['heard']}\n     A: {r['answer']}")
    write_result(args.out, {"bench": "conversation", "pal": pal["pal_id"], "face": face_key,
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load_before]),
                            "targets": TARGETS, "story": story if args.over == "story" else None,
                            "barge_over": args.over, **summary, **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
