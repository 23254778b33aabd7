"""Full mode (``pipeline_mode: full``): a PAL hears the caller and answers in the Face's voice.

The session's pipeline in full mode::

    transport in -> Silero VAD -> user events -> TurnTaker -> FacecraftLLMService -> ReplyAssembler
    -> EchoService -> FaceVideoService -> transport out

``PalBrain`` holds the conversation: the caller's turn audio goes through the STT (in the session's
executor, so the event loop never waits on it; started speculatively at the VAD's stop, while smart-turn
still decides, and used when the turn ends with no more speech: ``speculate``; its words go to the LLM as
an ``LLMGuessFrame`` at once, so the answer is being thought while the turn is decided), the words go out as a
``conversation.utterance`` {role: user} event, and the turn, with the knowledge passages BM25 finds for it,
goes to the LLM as an ``LLMContextFrame``. ``ReplyAssembler`` turns the streamed answer into sentences
(emotion tags taken out by ``TagStripper`` and handed on as tags the speech path acts on, never spoken) and
queues them on the echo path's TTS, the same one ``conversation.echo`` text takes.

The context keeps only what the caller heard: the Face's replies enter the history from its speech
reports (one caption per sentence as it starts to play), so a reply cut by a barge-in is stored up to the
sentence that was playing, and text the LLM wrote that never played is forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from facecraft.conversation.echo import EchoFrame, EchoService
from facecraft.conversation.face_video import SpeechAudioFrame
from facecraft.conversation.llm import LLMAnswerFailedFrame, LLMGuessFrame, LLMWarmFrame
from facecraft.conversation.protocol import Echo
from facecraft.conversation.turns import QUIET_LEVEL, TURN_RATE
from facecraft.engine.cues import Emotion
from facecraft.errors import FacecraftError
from facecraft.perform.script import TagStripper
from facecraft.speech.text import has_speakable

__all__ = ["PalBrain", "PalParts", "ReplyAssembler", "TimedEchoService", "llm_hold", "load_pal_parts",
           "KNOWLEDGE_TOKENS",
           "MAX_HISTORY", "FIRST_CLAUSE_WORDS", "SHORT_CLAUSE_AFTER_S", "LONG_FIRST_WORDS"]

log = logging.getLogger(__name__)
# Lines "timing <stage> ..." (INFO) mark a turn's stages in the session log for bench/conversation.py:
# stt_done, llm_first_token <inference_id>, first_clause <inference_id> (the reply's first words sent to the
# voice), llm_done <inference_id> (the answer's last token), tts_first_audio <inference_id>; turns.py logs the
# turn's end, echo.py each reply's first synthesis ("first speech of ...").

KNOWLEDGE_TOKENS = 400  # passages of the PAL's documents added to a turn (BM25, best first)
MAX_HISTORY = 40  # turns kept in the LLM context (older ones dropped, the system prompt stays)
_SENTENCE_END = re.compile(r"[.!?;:](?:[\"')\]]*)\s+")
_TAGS = re.compile(r"<\s*/?\s*emotion\b[^<>]*>", re.IGNORECASE)
_LONG_CLAUSE = 160  # characters of a sentence without an end at which a clause break sends it on
_CLAUSE_END = re.compile(r"[,\u2013\u2014](?:[\"')\]]*)\s+")
# a reply's first clause this long goes to the voice before its sentence ends. Not shorter (measured, i15e): the
# rest of the sentence then reaches the Face after the clause has played, and StreamingRenderer places speech
# pushed late behind its utterance clock, where it is skipped ("Sure, [silence]"); 1 word would cut the first
# audio's CPU from 0.74 to 0.21 s median on the bench's replies once late speech waits for its turn instead
FIRST_CLAUSE_WORDS = 4
# ... unless the LLM is slow: a first sentence still open this long after the reply's first token says its first
# clause whatever its length ("Sure, [the rest of the sentence]"): the rest follows after the comma's pause
# (StreamingRenderer._catch_up plays late speech after silence now, it no longer skips it). None: never.
SHORT_CLAUSE_AFTER_S = 0.3
# A reply's first sentence that runs on with no comma ("The museum opens tomorrow at 10:00 AM.") goes to the voice
# in two parts, cut before a word that starts a phrase of its own ("The museum opens tomorrow" / "at 10:00 AM."),
# once it has LONG_FIRST_WORDS words (or the LLM is slow, as above) and the part before the cut has
# FIRST_CLAUSE_WORDS: its first audio then waits for fewer tokens and a shorter synthesis.
LONG_FIRST_WORDS = 6
# (not "to": "going to", "like to"; not "so": "so much")
_PHRASE_START = re.compile(r"\s+(?=(?:at|in|on|for|from|with|by|until|because|and|but|which|when|where|while|"
                           r"after|before|since|if)\s)", re.IGNORECASE)
# a reply's first sentence ends at its full stop, not at the space after it (the token after it may be the
# answer's end: "My name is Eileen."), unless the word before the stop may be an abbreviation ("Dr.", "a.m.")
_FINAL_STOP = re.compile(r"(?:[!?]|(?<![.\w])[A-Za-z][a-z]{2,}(?<!Mrs)(?<!etc)(?<!approx)\.)(?:[\"')\]]*)$")


@dataclass
class PalParts:
    """What full mode loads once per session (in the session's executor)."""

    llm: Any  # facecraft.llm.types.ChatLLM
    options: Any  # facecraft.llm.types.GenerationOptions
    asr: Any  # facecraft.speech.asr.ASRBackend
    knowledge: Any  # facecraft.knowledge.KnowledgeBase | None


def load_pal_parts(pal: dict[str, Any] | None) -> PalParts:
    """The PAL's LLM (embedded, or an endpoint by URL), the STT, and its documents indexed."""
    pal = pal or {}
    from facecraft.knowledge import KnowledgeBase, load_passages
    from facecraft.llm.factory import LLMDefaults, generation_options, make_llm
    from facecraft.speech.asr import WhisperASR
    from facecraft.speech.encoder import whisper_model
    from facecraft.speech.remote import SpeechDefaults, make_stt

    layer = (pal.get("layers") or {}).get("llm") or {}
    defaults = LLMDefaults(**(pal.get("llm_defaults") or {}))
    llm = make_llm(layer, defaults)
    load = getattr(llm, "load", None)  # the embedded model: loaded now, before anyone joins (loading it
    if callable(load):  # during the call stalled the session's audio output for as long as it took)
        load()
    asr = make_stt((pal.get("layers") or {}).get("stt"), SpeechDefaults(**(pal.get("speech_defaults") or {})))
    if isinstance(asr, WhisperASR):
        whisper_model()  # load (and hash-check) the recogniser now, not on the caller's first turn
    chunks = []
    for doc in pal.get("knowledge") or []:
        chunks.extend(load_passages(doc["passages"], document_id=doc.get("document_id", ""),
                                    document_name=doc.get("document_name", "")))
    knowledge = KnowledgeBase(chunks) if chunks else None
    return PalParts(llm=llm, options=generation_options(layer, defaults), asr=asr, knowledge=knowledge)


class PalBrain:
    """The conversation's memory and the path from a finished turn to the LLM; see the module doc.

    ``push`` sends a frame down the pipeline from the turn taker; ``report`` sends an outbound event
    (``(event_type, properties, inference_id)``); ``on_error`` is told about an STT failure (the Face
    apologises, the conversation goes on)."""

    def __init__(self, parts: PalParts, executor: ThreadPoolExecutor, *,
                 push: Callable[[Frame], Any], report: Callable[[str, dict[str, Any], str | None], None],
                 on_error: Callable[[FacecraftError], Any]) -> None:
        self.parts = parts
        self.executor = executor
        self.push = push
        self.report = report
        self.on_error = on_error
        self.history: list[dict[str, str]] = []
        self.thinking = False  # a turn is between the end of the caller's speech and the reply's end
        self._heard: dict[str, list[str]] = {}  # captions played per inference not yet in the history
        self._epoch = 0  # counts interruptions: a turn recognised across one is heard but not answered
        self._guess: tuple[np.ndarray, Future] | None = None  # audio at the caller's last pause, its STT
        self._turns = 0  # turns heard (``take_back`` voids the one in flight)
        self._void = -1  # the turn taken back
        self._last_user: dict[str, str] | None = None  # the caller's last turn in the history
        self._guessed_llm = False  # an LLMGuessFrame went out that no turn has used or voided yet

    def speculate(self, samples: np.ndarray | None) -> None:
        """The caller paused (``samples``: the turn so far, float32 at the turn's rate) or went on (None):
        recognise what was said so far now, in case the pause ends the turn, and let the LLM start on it."""
        if samples is not None and self._guess is not None and _extends(samples, self._guess[0]):
            return  # the recognition started at this pause's first quiet audio still holds
        if self._guess is not None:  # not started yet: no use (a long turn with many pauses queues no pile)
            self._guess[1].cancel()
        self._guess = None
        if self._guessed_llm:
            self._guessed_llm = False
            self.push(LLMGuessFrame(context=None))
        if samples is not None and samples.size and self.executor is not None:
            rate = TURN_RATE
            future = self.executor.submit(self.parts.asr.transcribe, samples, rate)
            self._guess = samples, future
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # (called outside the session's loop: recognition only)
                return
            future.add_done_callback(lambda f: loop.call_soon_threadsafe(self._think_ahead, f))

    def _think_ahead(self, future: Future) -> None:
        """The speculative STT is done: the LLM starts on the turn it heard (held back until confirmed)."""
        if (self._guess is None or self._guess[1] is not future or future.cancelled() or future.exception()
                or self.thinking):
            return
        text = future.result().text.strip()
        if has_speakable(text):
            self._guessed_llm = True
            messages = self._messages(text, self._turn_history(text))
            self.push(LLMGuessFrame(context=LLMContext(messages=messages)))  # type: ignore[arg-type]

    def _guessed(self, samples: np.ndarray) -> Future | None:
        """The speculative STT of this turn's audio, if the turn is the audio it heard (and silence after)."""
        guess, self._guess = self._guess, None
        if guess is None:
            return None
        heard, future = guess
        return future if _extends(samples, heard) else None

    # --- the caller ----------------------------------------------------------------------------

    async def user_audio(self, samples: np.ndarray, rate: int) -> None:
        """A finished turn of the caller's speech: recognised, reported, answered."""
        if samples.size < rate // 10:
            return
        self.thinking = True
        epoch = self._epoch
        self._turns += 1
        turn = self._turns
        loop = asyncio.get_running_loop()
        guess = self._guessed(samples) if rate == TURN_RATE else None
        try:
            if guess is not None:
                transcript = await asyncio.wrap_future(guess)
            else:
                transcript = await loop.run_in_executor(self.executor, self.parts.asr.transcribe, samples, rate)
            log.info("timing stt_done %.1f s of audio%s", samples.size / rate, " (speculative)" if guess else "")
        except FacecraftError as exc:
            if turn == self._void:
                return
            self.thinking = False
            log.info("the STT failed on a turn of %.1f s: %s", samples.size / rate, exc)
            self.on_error(exc)
            return
        if turn == self._void:
            return
        text = transcript.text.strip()
        if not has_speakable(text):
            self.thinking = False
            log.info("a turn of %.1f s held no words", samples.size / rate)
            return
        await self.user_text(text, answer=epoch == self._epoch)

    async def user_text(self, text: str, *, answer: bool = True) -> None:
        """The caller's turn as text (recognised speech or ``conversation.respond``); ``answer=False``: an
        interruption came while it was being recognised (the words join the context, the turn that cut in
        gets the answer)."""
        self.commit_heard()
        self.report("conversation.utterance", {"role": "user", "speech": text}, None)
        self._last_user = {"role": "user", "content": text}
        self.history.append(self._last_user)
        del self.history[:-MAX_HISTORY]
        guessed, self._guessed_llm = self._guessed_llm, False  # the context that follows uses or stops it
        if not answer:
            if guessed:
                self.push(LLMGuessFrame(context=None))
            return
        self.thinking = True
        messages = self._messages(text, self.history)
        self.push(LLMContextFrame(context=LLMContext(messages=messages)))  # type: ignore[arg-type]

    def _turn_history(self, text: str) -> list[dict[str, str]]:
        """The history as ``user_text(text)`` will make it (what was heard of the Face, then the turn)."""
        heard = [{"role": "assistant", "content": " ".join(said)} for said in self._heard.values() if said]
        return [*self.history, *heard, {"role": "user", "content": text}][-MAX_HISTORY:]

    def _messages(self, query: str, history: list[dict[str, str]]) -> list[dict[str, Any]]:
        """The turns, the last one with the passages of the PAL's documents that bear on it (they are not
        kept: the next turn gets its own)."""
        messages: list[dict[str, Any]] = [dict(m) for m in history]
        if self.parts.knowledge is not None:
            hits = self.parts.knowledge.search(query, budget_tokens=KNOWLEDGE_TOKENS)
            if hits:
                notes = "\n\n".join(h.chunk.text for h in hits)
                messages[-1]["content"] = (f"(Notes from your documents that may help:\n{notes})\n\n"
                                           f"{messages[-1]['content']}")
        return messages

    # --- the Face --------------------------------------------------------------------------------

    def speech(self, kind: str, inference_id: str | None, text: str = "") -> None:
        """The Face's speech reports: captions are what the caller heard."""
        key = inference_id or ""
        if kind == "caption" and text:
            self._heard.setdefault(key, []).append(text)
        elif kind == "stopped":
            self.commit_heard()
            self.thinking = False
            if self.history and self.history[-1]["role"] == "assistant":  # the LLM reads it while the caller
                # speaks: the next turn's prompt then only adds the caller's words
                said: list[Any] = [dict(m) for m in self.history]
                self.push(LLMWarmFrame(context=LLMContext(messages=said)))

    def commit_heard(self) -> None:
        """What the caller heard of the Face so far goes into the history."""
        for said in self._heard.values():
            if said:
                self.history.append({"role": "assistant", "content": " ".join(said)})
        self._heard.clear()

    def reply_ended(self, spoke: bool) -> None:
        if not spoke:
            self.thinking = False

    def interrupted(self) -> None:
        self._epoch += 1
        self.commit_heard()
        self.thinking = False

    def take_back(self) -> None:
        """The caller went on with their last turn before the Face said a word: that turn leaves the
        history (it comes back whole, with what follows) and its recognition, if still running, is void."""
        self._void = self._turns
        self._epoch += 1
        self.thinking = False
        if self.history and self.history[-1] is self._last_user:
            self.history.pop()
        self._last_user = None


def _extends(samples: np.ndarray, heard: np.ndarray) -> bool:
    """``samples`` are ``heard`` and quiet audio after it (what was recognised is what was said)."""
    tail = samples[heard.size:]
    quiet = not tail.size or float(np.abs(tail).max()) < QUIET_LEVEL
    return samples.size >= heard.size and np.array_equal(samples[:heard.size], heard) and quiet


def _emotion_tag(emotion: Emotion) -> str:
    if emotion.intensity >= 1.0:
        return f'<emotion value="{emotion.name}"/>'
    return f'<emotion value="{emotion.name}" intensity="{emotion.intensity:.2f}"/>'


def _word_count(text: str) -> int:
    """Words of ``text`` as said (its emotion tags are no words)."""
    return len(_TAGS.sub(" ", text).split())


class ReplyAssembler(FrameProcessor):
    """The LLM's streamed answer -> sentences queued on the echo path (``EchoFrame``s, one inference per
    answer); ``on_end(inference_id, spoke)`` when an answer is complete; ``on_first_clause(inference_id)``
    when its first words go to the voice. ``short_clause_after_s``: see ``SHORT_CLAUSE_AFTER_S``."""

    def __init__(self, *, on_end: Callable[[str, bool], Any] | None = None,
                 on_first_clause: Callable[[str], Any] | None = None,
                 short_clause_after_s: float | None = SHORT_CLAUSE_AFTER_S, eager_first: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_end = on_end
        self.on_first_clause = on_first_clause
        self.eager_first = eager_first  # the first sentence's full stop and phrase cuts (False: bench/first_clause)
        self.short_clause_after_s = short_clause_after_s
        self._first_token_at = 0.0
        self._inference: str | None = None
        self._stripper = TagStripper()
        self._text = ""
        self._spoke = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMFullResponseStartFrame):
            self._inference, self._stripper, self._text, self._spoke = uuid.uuid4().hex, TagStripper(), "", False
        elif isinstance(frame, LLMTextFrame):
            if self._inference is not None and not self._text and not self._spoke:
                log.info("timing llm_first_token %s", self._inference)
                self._first_token_at = time.monotonic()
            if self._inference is not None:
                await self._add(self._stripper.feed(frame.text))
        elif isinstance(frame, LLMAnswerFailedFrame):
            self._stripper, self._text = TagStripper(), ""  # a broken-off sentence is not said
        elif isinstance(frame, LLMFullResponseEndFrame):
            if self._inference is not None:
                log.info("timing llm_done %s", self._inference)
                await self._add(self._stripper.flush(), final=True)
                inference, self._inference = self._inference, None
                await self.push_frame(EchoFrame(echo=Echo(inference, text="", done=True)))
                if self.on_end is not None:
                    self.on_end(inference, self._spoke)
        else:
            if isinstance(frame, InterruptionFrame):
                self._inference, self._text = None, ""
            await self.push_frame(frame, direction)

    async def _add(self, items: list[str | Emotion], *, final: bool = False) -> None:
        for item in items:
            self._text += item if isinstance(item, str) else _emotion_tag(item)
        while True:
            cut = self._sentence_end()
            if cut is None:
                break
            sentence, self._text = self._text[:cut], self._text[cut:]
            await self._say(sentence)
        if final and self._text.strip():
            sentence, self._text = self._text, ""
            await self._say(sentence)
            self._text = ""

    def _sentence_end(self) -> int | None:
        match = _SENTENCE_END.search(self._text)
        if match is not None:
            return match.end()
        if not self._spoke:  # the reply's first words: a clause of a few words is said at once (the caller
            # waits for the first sound; the rest of the sentence is synthesised while it plays)
            if self.eager_first and _FINAL_STOP.search(self._text):
                return len(self._text)
            slow = (self.short_clause_after_s is not None
                    and time.monotonic() - self._first_token_at >= self.short_clause_after_s)
            for clause in _CLAUSE_END.finditer(self._text):
                if _word_count(self._text[:clause.start()]) >= (1 if slow else FIRST_CLAUSE_WORDS):
                    return clause.end()
            open_clause = not re.search(r"[,\u2013\u2014][\"')\]]*$", self._text)  # (else its comma cuts next)
            long = _word_count(self._text) >= LONG_FIRST_WORDS
            if self.eager_first and open_clause and (slow or long):
                for phrase in _PHRASE_START.finditer(self._text):
                    if _word_count(self._text[:phrase.start()]) >= FIRST_CLAUSE_WORDS:
                        return phrase.end()
        if len(self._text) > _LONG_CLAUSE:
            comma = self._text.rfind(", ")
            if comma > 0:
                return comma + 2
        return None

    async def _say(self, sentence: str) -> None:
        from facecraft.perform.script import parse_script

        try:
            words = parse_script(sentence).text
        except FacecraftError:
            words = _TAGS.sub(" ", sentence)
            sentence = words
        if not has_speakable(words):  # nothing to say: its tags go with the next sentence
            tags = "".join(_TAGS.findall(sentence))
            if tags:
                self._text = tags + " " + self._text
            return
        assert self._inference is not None
        if not self._spoke:
            log.info("timing first_clause %s: %d words, %.0f ms after the first token", self._inference,
                     len(words.split()), 1000 * (time.monotonic() - self._first_token_at))
            if self.on_first_clause is not None:
                self.on_first_clause(self._inference)
        self._spoke = True
        await self.push_frame(EchoFrame(echo=Echo(self._inference, text=sentence.strip(), done=False)))


class TimedEchoService(EchoService):
    """The echo path, logging when each reply's first TTS audio goes to the Face (``timing tts_first_audio``)
    and telling ``on_first_audio(inference_id)``."""

    def __init__(self, *args: Any, on_first_audio: Callable[[str | None], Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_first_audio = on_first_audio
        self._timed: str | None = None

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        if isinstance(frame, SpeechAudioFrame) and frame.inference_id != self._timed:
            self._timed = frame.inference_id
            log.info("timing tts_first_audio %s", frame.inference_id)
            if self.on_first_audio is not None:
                self.on_first_audio(frame.inference_id)
        await super().push_frame(frame, direction)


def llm_hold(llm: Any) -> Callable[[bool], None] | None:
    """The LLM's ``hold`` where it has one (the embedded model: it shares this machine's CPU with the voice;
    an endpoint by URL does not). A reply holds it from its first clause to its first audio (``LocalLLM.hold``)."""
    hold = getattr(llm, "hold", None)
    return hold if callable(hold) else None
