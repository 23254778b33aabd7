"""One live session: the process the ``SessionManager`` starts for a conversation.

It loads the Face once (one ``StreamingRenderer`` for the whole session), answers WebRTC offers with
pipecat's SmallWebRTC transport (aiortc), and runs one pipecat pipeline per connected participant:

    transport in -> Silero VAD -> user events -> [full: TurnTaker -> LLM -> ReplyAssembler ->]
    ``EchoService`` -> ``FaceVideoService`` -> transport out

In echo mode the app decides what the Face says; in full mode (a PAL) the Face answers the caller
(``pal_pipeline``, ``turns``) through the same speech path, and the app may still echo.

Inbound interactions messages come over the call's data channel or from the server (its WebSocket);
outbound events go to both. The session ends itself on ``max_call_duration``, when nobody joined
within ``participant_absent_timeout`` or the participant left for ``participant_left_timeout``;
the server ends it with ``end``. The last thing it reports is a ``shutdown`` event with the reason.

The server talks to the process over its stdin/stdout, one JSON object a line (``run_process``):
commands ``{"op": "offer"|"send"|"end", "id": n, ...}``, replies ``{"reply": n, "result"|"error"}``,
events ``{"event": "ready"|"joined"|"left"|"message"|"shutdown", ...}``. Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from facecraft.conversation.protocol import (
    ContextUpdate,
    Echo,
    Interrupt,
    Outbound,
    ProtocolError,
    Respond,
    parse_inbound,
)
from facecraft.conversation.spec import MODES, SessionSpec
from facecraft.errors import FacecraftError, InputError

__all__ = ["Session", "run_process"]

log = logging.getLogger(__name__)


class Session:
    """A live session of one Face (one per process); ``emit`` gets every event for the server."""

    def __init__(self, spec: SessionSpec, emit: Callable[[dict[str, Any]], None]) -> None:
        if spec.mode not in MODES:
            raise InputError(f"pipeline mode {spec.mode!r} is not available; available: {', '.join(MODES)}")
        if spec.mode == "full" and not spec.pal:
            raise InputError("pipeline mode full needs a PAL")
        self.spec = spec
        self.emit = emit
        self.out = Outbound(spec.conversation_id)
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="session")
        self.stream: Any = None
        self.voice: Any = None
        self.full = spec.mode == "full"
        self.pal_parts: Any = None  # full mode: pal_pipeline.PalParts
        self.brain: Any = None  # full mode: pal_pipeline.PalBrain (the conversation's memory, across reloads)
        self.llm_context = spec.conversational_context or ""
        self.finished = asyncio.Event()
        self.reason = "ended"
        self._pipeline: _Call | None = None
        self._left_timer: asyncio.TimerHandle | None = None
        self._absent_timer: asyncio.TimerHandle | None = None
        self._call_timer: asyncio.TimerHandle | None = None
        self._ending = False

    # --- life ---------------------------------------------------------------------------------

    async def load(self) -> None:
        """Load the Face and its voice (raises BundleError, InputError for an unusable Face or voice)."""
        loop = asyncio.get_running_loop()
        self.stream, self.voice = await loop.run_in_executor(self.executor, self._load)
        self.executor.submit(_warm, self.stream)  # while the participant connects
        self.voice.start(self.executor)
        if self.full:
            await self._load_pal(loop)
        s = self.spec
        self._call_timer = loop.call_later(s.max_call_duration_s, self._end_soon, "max_call_duration")
        self._absent_timer = loop.call_later(s.participant_absent_timeout_s, self._end_soon,
                                             "participant_absent_timeout")

    def _load(self) -> tuple[Any, Any]:
        from facecraft.conversation.echo import FaceVoice
        from facecraft.engine import Renderer, StreamingRenderer
        from facecraft.faces.bundle import load_bundle
        from facecraft.models import model_path
        from facecraft.perform.speech import face_speaker, face_voice
        from facecraft.speech.voices import tts_for

        model_path("silero_vad")  # the VAD model pipecat ships, hash-checked before anything loads it
        face = load_bundle(self.spec.bundle_dir)
        side = int(self.spec.video_size)
        stream = StreamingRenderer(Renderer(face, size=(side, side), config=live_engine_config()))
        _keep_footage(stream.renderer)
        if self.spec.voice:
            tts, adapt = tts_for(self.spec.voice), False
        else:
            tts, adapt = face_speaker(face)
        remote = self._pal_tts()
        if remote is not None:  # the PAL's TTS by URL speaks as the endpoint's voice, not adapted
            tts, adapt = remote, False
        return stream, FaceVoice(tts, face_voice(face) if adapt else None)

    def _pal_tts(self) -> Any:
        """The PAL's ``layers.tts`` endpoint (or the server's) as a TTS, None for the Face's own voice;
        without phone timings (the Face lip-syncs from the audio: no alignment per sentence in a call)."""
        from facecraft.speech.remote import SpeechDefaults, make_tts

        pal = self.spec.pal or {}
        return make_tts((pal.get("layers") or {}).get("tts"), SpeechDefaults(**(pal.get("speech_defaults") or {})),
                        embedded=lambda: None, timed=False)

    async def _load_pal(self, loop: asyncio.AbstractEventLoop) -> None:
        from facecraft.conversation.pal_pipeline import PalBrain, load_pal_parts

        self.pal_parts = await loop.run_in_executor(self.executor, load_pal_parts, self.spec.pal)
        self.brain = PalBrain(self.pal_parts, self.executor, push=self._push_turn, report=self._report,
                              on_error=self._turn_failed)
        loop.create_task(self._prefill())

    async def _prefill(self) -> None:
        try:
            await self.pal_parts.llm.prefill([{"role": "system", "content": self.instruction()}])
        except FacecraftError as exc:  # an endpoint that is down now may be up at the first turn
            log.info("prefill failed: %s", exc)

    def instruction(self) -> str:
        from facecraft.conversation.llm import pal_instruction

        pal = self.spec.pal or {}
        return pal_instruction(pal.get("system_prompt"), pal.get("context"), self.llm_context)

    @property
    def greeting(self) -> str | None:
        return self.spec.custom_greeting or (self.spec.pal or {}).get("greeting") or None

    def _push_turn(self, frame: Any) -> None:
        if self._pipeline is not None:
            self._pipeline.push_turn(frame)

    def _report(self, event_type: str, props: dict[str, Any], inference_id: str | None) -> None:
        self.message(self.out.event(event_type, props, inference_id=inference_id))

    def _turn_failed(self, exc: FacecraftError) -> None:
        from facecraft.conversation.llm import DEFAULT_APOLOGY

        self.message(self.out.error(InputError(exc.message, error_id=exc.error_id)))
        self.inbound_echo(Echo(f"apology-{time.monotonic_ns()}", text=DEFAULT_APOLOGY))

    async def end(self, reason: str = "ended") -> None:
        """Stop the call (idempotent); ``finished`` is set once everything is closed."""
        if self._ending:
            return
        self._ending = True
        self.reason = reason
        for timer in (self._left_timer, self._absent_timer, self._call_timer):
            if timer is not None:
                timer.cancel()
        if self._pipeline is not None:
            await self._pipeline.close()
            self._pipeline = None
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.pal_parts is not None:
            try:
                await asyncio.wait_for(self.pal_parts.llm.aclose(), 2)
            except Exception:  # noqa: BLE001 - closing: nothing left to report to
                log.debug("the LLM did not close cleanly", exc_info=True)
        self.finished.set()

    def _end_soon(self, reason: str) -> None:
        log.info("session %s ends: %s", self.spec.conversation_id, reason)
        asyncio.get_running_loop().create_task(self.end(reason))

    # --- signalling -----------------------------------------------------------------------------

    async def offer(self, sdp: str, type: str) -> dict[str, Any]:
        """Answer a participant's WebRTC offer; a new offer replaces the call in progress (a reload)."""
        if self._ending:
            raise InputError("the conversation has ended")
        if type != "offer" or not isinstance(sdp, str) or not sdp.startswith("v=0"):
            raise InputError('the offer must be {"sdp": <an SDP offer>, "type": "offer"}')
        if "m=audio" not in sdp and "m=video" not in sdp:
            raise InputError("the offer has no audio or video: offer to receive the Face's video and audio")
        if self._pipeline is not None:
            await self._pipeline.close()
            self._pipeline = None
        call = _Call(self)
        try:
            answer = await call.open(sdp, type)
        except (ValueError, RuntimeError) as exc:  # aiortc's refusal of an unusable SDP
            await call.close()
            raise InputError(f"the offer could not be answered: {exc}") from exc
        self._pipeline = call
        return answer

    # --- events from the call ---------------------------------------------------------------------

    def joined(self) -> None:
        for timer in (self._absent_timer, self._left_timer):
            if timer is not None:
                timer.cancel()
        self._absent_timer = self._left_timer = None
        self.emit({"event": "joined"})
        if self.greeting:
            self.inbound_echo(Echo("greeting", text=self.greeting))

    def left(self) -> None:
        self.emit({"event": "left"})
        if not self._ending:
            loop = asyncio.get_running_loop()
            self._left_timer = loop.call_later(max(0.0, self.spec.participant_left_timeout_s), self._end_soon,
                                               "participant_left_timeout")

    def message(self, event: dict[str, Any]) -> None:
        """An outbound event: to the participant's data channel and to the server."""
        if self._pipeline is not None:
            self._pipeline.send_app_message(event)
        self.emit({"event": "message", "message": event})

    # --- inbound interactions -------------------------------------------------------------------

    async def inbound(self, raw: str | bytes | dict[str, Any]) -> None:
        """One interactions message (data channel or server); problems come back as error events."""
        try:
            request = parse_inbound(raw, self.spec.conversation_id, full=self.full)
        except ProtocolError as exc:
            self.message(self.out.error(exc, exc.inference_id))
            return
        if isinstance(request, Interrupt):
            await self.interrupt()
        elif isinstance(request, Respond):
            if self._pipeline is None:
                self.message(self.out.error(InputError("nobody is in the call yet: the Face answers once a "
                                                       "participant has joined"), request.inference_id))
                return
            await self._pipeline.respond(request.text)
        elif isinstance(request, ContextUpdate):
            self.llm_context = request.context if request.overwrite else "\n\n".join(
                p for p in (self.llm_context, request.context) if p)
            if self._pipeline is not None:
                self._pipeline.set_instruction(self.instruction())
        else:
            self.inbound_echo(request)

    def inbound_echo(self, echo: Echo) -> None:
        if self._pipeline is None:
            self.message(self.out.error(InputError("nobody is in the call yet: the Face speaks once a "
                                                   "participant has joined"), echo.inference_id))
            return
        self._pipeline.echo(echo)

    async def interrupt(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.interrupt()


def _warm(stream: Any) -> None:
    """Predict the mouth for a short sound once as the session starts: what the first utterance would load
    lazily (the lip-sync model's speech encoder: seconds on a busy machine, under the renderer's lock)
    is loaded now. The renderer's own state (motion, mouth) is left as it is."""
    import numpy as np

    rate = 16000
    t = np.arange(int(0.6 * rate)) / rate
    sound = (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    try:
        stream.renderer.predict_mouth(sound, int(0.6 * stream.fps))
    except Exception:  # noqa: BLE001 - the first reply then loads it itself
        log.warning("warming the lip-sync model failed", exc_info=True)


LIVE_FIRST_BLOCK = 8  # frames of a reply shaped without the lip-sync model (see live_engine_config)


def live_engine_config() -> Any:
    """The engine's settings for a live Face: a reply's first ``LIVE_FIRST_BLOCK`` frames (0.32 s at 25 fps)
    are shaped from its phones and loudness, without the lip-sync model, while the model's speech states
    are encoded in the background. With the engine's default (1 frame) the reply's second frame waited for
    those states (a batch of 2 s windows: 238-376 ms at load ~21 on 2 cores), the video and audio stalled
    at every reply's start and the clock then caught up in a burst. From the ninth frame on the mouth is the
    same either way (aperture r 1.000, measured on a GRID sentence); the first eight differ by up to 0.10."""
    from dataclasses import replace

    from facecraft.engine.config import EngineConfig

    return replace(EngineConfig(), first_block=LIVE_FIRST_BLOCK)


FOOTAGE_CACHE_BYTES = 96 * 1024 * 1024


def _keep_footage(renderer: Any) -> None:
    """Keep up to ``FOOTAGE_CACHE_BYTES`` of decoded footage frames (all of a short Face's): the motion walk
    keeps coming back to the same frames for as long as the call lasts, and each miss costs a seek and a
    decode (~12 % of a listening frame's CPU with the engine's default 48-frame cache)."""
    frame_bytes = renderer.footage.get(0).nbytes
    renderer.footage.cache_frames = max(renderer.footage.cache_frames, FOOTAGE_CACHE_BYTES // max(1, frame_bytes))


class _Call:
    """One participant's connection and the pipeline serving it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.connection: Any = None
        self.worker: Any = None
        self.runner: Any = None
        self.face: Any = None
        self.echo_service: Any = None
        self.turns: Any = None
        self.llm_service: Any = None
        self._llm_hold: Callable[[bool], None] | None = None  # the embedded LLM's (full mode)
        self._run: asyncio.Task | None = None
        self._connected = False
        self._closed = False
        self._said: list[str] = []  # captions of the reply playing now

    async def open(self, sdp: str, type: str) -> dict[str, Any]:
        from pipecat.pipeline.pipeline import Pipeline
        from pipecat.pipeline.worker import PipelineWorker
        from pipecat.processors.audio.vad_processor import VADProcessor
        from pipecat.transports.base_transport import TransportParams
        from pipecat.transports.smallwebrtc.connection import IceServer, SmallWebRTCConnection
        from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
        from pipecat.workers.runner import WorkerRunner

        from facecraft.conversation.echo import EchoService
        from facecraft.conversation.face_video import (
            OUT_RATE,
            FaceAudioTrack,
            FaceVideoService,
            FaceVideoTrack,
        )
        from facecraft.conversation.turns import vad_analyzer
        from facecraft.conversation.user import UserEvents

        s = self.session
        ice = [IceServer(urls=d["urls"], username=d.get("username", ""), credential=d.get("credential", ""))
               for d in s.spec.ice_servers]
        self.connection = SmallWebRTCConnection(ice_servers=ice or None)
        w, h = s.stream.size
        fps = s.stream.fps
        transport = SmallWebRTCTransport(webrtc_connection=self.connection, params=TransportParams(
            audio_in_enabled=True, audio_in_sample_rate=16000, audio_out_enabled=True,
            audio_out_sample_rate=OUT_RATE, audio_out_10ms_chunks=2,
            # the Face sends audio all the time (silence while listening): a late chunk must wait for its
            # turn, not be replaced by inserted silence that would push the rest of the speech behind
            # the mouth for good
            audio_out_auto_silence=False, video_out_enabled=True, video_out_is_live=True,
            video_out_width=w, video_out_height=h, video_out_framerate=int(round(fps))))
        self.face = FaceVideoService(s.stream, on_speech=self._speech)
        from facecraft.conversation.pal_pipeline import TimedEchoService, llm_hold

        # full mode: the same speech path, with the timing line of each reply's first audio, which releases
        # the embedded LLM held since the reply's first clause (the voice has the CPU to itself meanwhile)
        if s.full:
            hold = llm_hold(s.pal_parts.llm)
            self._llm_hold = hold
            self.echo_service = TimedEchoService(s.voice, s.executor, on_error=self._echo_error,
                                                 on_first_audio=(lambda _i: hold(False)) if hold else None)
        else:
            self.echo_service = EchoService(s.voice, s.executor, on_error=self._echo_error)
        pipeline = Pipeline([
            transport.input(),
            VADProcessor(vad_analyzer=vad_analyzer()),
            UserEvents(self._user),
            *(self._pal_stages() if s.full else []),
            self.echo_service,
            self.face,
            transport.output(),
        ])
        self.worker = PipelineWorker(pipeline, enable_rtvi=False, idle_timeout_secs=None,
                                     conversation_id=s.spec.conversation_id)

        @transport.event_handler("on_client_connected")
        async def _connected(transport: Any, connection: Any) -> None:
            # pipecat's own tracks pace video at 30 fps and audio 10 ms at a time (see face_video)
            track = FaceVideoTrack(w, h, fps)
            connection.replace_video_track(track)
            transport._client._video_output_track = track  # noqa: SLF001
            self.face.video_out = track.add_video_frame  # past pipecat's video pacer (see face_video)
            audio = FaceAudioTrack(sample_rate=OUT_RATE, auto_silence=False)
            connection.replace_audio_track(audio)
            transport._client._audio_output_track = audio  # noqa: SLF001
            self._connected = True
            s.joined()

        @transport.event_handler("on_client_disconnected")
        async def _disconnected(transport: Any, connection: Any) -> None:
            self.face.video_out = None
            if self._connected and not self._closed:
                self._connected = False
                s.left()

        # Interactions messages are read off the data channel here, not through pipecat's "app-message"
        # (which drops any JSON without a "type" key, as the API.md envelope is, and anything not JSON
        # without a word back): every message gets an answer, an error event at worst.
        @self.connection.pc.on("datachannel")
        def _channel(channel: Any) -> None:
            @channel.on("message")
            async def _message(message: Any) -> None:
                if isinstance(message, str) and message.startswith("ping"):
                    return  # pipecat's keep-alive
                if isinstance(message, str) and '"signalling"' in message[:200]:
                    try:
                        if json.loads(message).get("type") == "signalling":
                            return
                    except ValueError:
                        pass
                await s.inbound(message)

        await self.connection.initialize(sdp=sdp, type=type)
        from facecraft.conversation.jitter import receive_audio_promptly

        receive_audio_promptly(self.connection.pc)  # before media flows: the caller's audio 60 ms sooner
        self.runner = WorkerRunner(handle_sigint=False)
        await self.runner.add_workers(self.worker)
        self._run = asyncio.get_running_loop().create_task(self.runner.run())
        answer = self.connection.get_answer()
        return {"sdp": answer["sdp"], "type": answer["type"]}

    def _pal_stages(self) -> list[Any]:
        """Full mode: turn taking, the PAL's LLM and the reply's sentences (see ``pal_pipeline``)."""
        from facecraft.conversation.llm import DEFAULT_APOLOGY, FacecraftLLMService
        from facecraft.conversation.pal_pipeline import ReplyAssembler
        from facecraft.conversation.turns import TURN_RATE, TurnSettings, TurnTaker

        s = self.session
        brain = s.brain
        flow = ((s.spec.pal or {}).get("layers") or {}).get("conversational_flow")

        async def turn(samples: Any) -> None:
            await brain.user_audio(samples, TURN_RATE)

        self.turns = TurnTaker(TurnSettings.from_flow(flow), replying=self._replying, on_turn=turn,
                               on_barge_in=self.interrupt, on_pause=brain.speculate, on_hold=self._hold,
                               unheard=self._reply_unheard, on_continue=self._withdraw)
        self.llm_service = FacecraftLLMService(s.pal_parts.llm, system_instruction=s.instruction(),
                                               options=s.pal_parts.options, apology=DEFAULT_APOLOGY)
        self.llm_service.register_function(None, self._tool_call)

        @self.llm_service.event_handler("on_llm_error")
        async def _llm_error(service: Any, exc: Any) -> None:
            s.message(s.out.error(InputError(exc.message, error_id=exc.error_id)))

        hold = self._llm_hold
        return [self.turns, self.llm_service, ReplyAssembler(on_end=lambda _i, spoke: brain.reply_ended(spoke),
                                                             on_first_clause=(lambda _i: hold(True)) if hold else None)]

    def _replying(self) -> bool:
        return bool(self.session.brain.thinking) or bool(self.face is not None and self.face.busy)

    def _hold(self, held: bool) -> None:
        """The caller speaks over the Face: hold its speech (released when it was only a cough)."""
        if self.face is not None:
            log.info("the Face's speech %s", "held" if held else "goes on")
            self.face.hold(held)

    def _reply_unheard(self) -> bool:
        """A reply is on its way and the caller has not heard a word of it yet."""
        return bool(self.session.brain.thinking) and (self.face is None or self.face.speaking_inference is None)

    async def _withdraw(self) -> None:
        """The caller went on with their turn: the reply on its way is dropped, unheard and unreported."""
        if self.face is None:
            return
        self.face.interrupt()
        await self.face.broadcast_interruption()
        self.session.brain.take_back()

    async def _tool_call(self, params: Any) -> None:
        """A tool the PAL offers: the app runs it (``conversation.tool_call``), not facecraft."""
        s = self.session
        s.message(s.out.event("conversation.tool_call", {
            "name": params.function_name, "arguments": json.dumps(params.arguments),
            "tool_call_id": params.tool_call_id}))
        await params.result_callback({"status": "sent to the application"})

    def push_turn(self, frame: Any) -> None:
        """A frame from the turn taker down the pipeline (the caller's turn as an LLM context)."""
        if self.turns is not None and not self._closed:
            asyncio.get_running_loop().create_task(self.turns.push_frame(frame))

    async def respond(self, text: str) -> None:
        """``conversation.respond``: the text is the caller's turn (a reply in progress stops first)."""
        if self._replying():
            await self.interrupt()
        await self.session.brain.user_text(text)

    def set_instruction(self, text: str) -> None:
        if self.llm_service is not None:
            self.llm_service.set_system_instruction(text)

    def send_app_message(self, event: dict[str, Any]) -> None:
        if self.connection is not None and not self._closed:
            self.connection.send_app_message(event)

    def echo(self, echo: Echo) -> None:
        """Hand the echo to the echo processor's queue directly (not down the pipeline from the
        transport's input: every processor on the way costs a hop of latency)."""
        self.echo_service.enqueue(echo)

    async def interrupt(self) -> None:
        """Silence the Face now: the Face drops its queue at once and broadcasts the interruption from
        where it sits (upstream: the TTS in flight; downstream: the output's queued audio and video)
        instead of sending it through the whole pipeline from the transport's input."""
        if self.face is None:
            return
        was_speaking, inference = self.face.busy, self.face.speaking_inference
        self.face.interrupt()
        await self.face.broadcast_interruption()
        if self.session.brain is not None:
            self.session.brain.interrupted()
        if was_speaking:
            s = self.session
            s.message(s.out.event("conversation.replica_interrupted", inference_id=inference))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.runner is not None:
            await self.runner.cancel(reason="session ended")
        if self._run is not None:
            try:
                await asyncio.wait_for(self._run, timeout=2)
            except Exception:  # noqa: BLE001 - closing: nothing left to report to
                log.debug("pipeline did not stop cleanly", exc_info=True)
        if self.connection is not None:
            await self.connection.disconnect()

    # --- reports ----------------------------------------------------------------------------------

    def _speech(self, event: Any) -> None:
        s = self.session
        if s.brain is not None:
            s.brain.speech(event.kind, event.inference_id, event.text)
        if event.kind == "started":
            s.out.next_turn()
            s.message(s.out.event("conversation.replica.started_speaking", inference_id=event.inference_id))
        elif event.kind == "caption":
            self._said.append(event.text)
            s.message(s.out.event("conversation.utterance.streaming",
                                  {"role": "replica", "speech": event.text}, inference_id=event.inference_id))
        elif event.kind == "stopped":
            if self._said:  # what was heard of the reply, whole (cut where it was interrupted)
                s.message(s.out.event("conversation.utterance",
                                      {"role": "replica", "speech": " ".join(self._said),
                                       "interrupted": event.interrupted}, inference_id=event.inference_id))
                self._said = []
            s.message(s.out.event("conversation.replica.stopped_speaking",
                                  {"duration": round(event.duration_s, 3), "interrupted": event.interrupted},
                                  inference_id=event.inference_id))

    def _user(self, started: bool) -> None:
        s = self.session
        if started:
            s.out.next_turn()
        s.message(s.out.event("conversation.user.started_speaking" if started
                              else "conversation.user.stopped_speaking"))

    def _echo_error(self, exc: InputError | FacecraftError, inference_id: str | None) -> None:
        s = self.session
        err = exc if isinstance(exc, InputError) else InputError(exc.message, error_id=exc.error_id)
        s.message(s.out.error(err, inference_id))


# --- the process -------------------------------------------------------------------------------------


def run_process() -> int:
    """Entry point of a session process (``python -m facecraft.conversation.session``): the spec on the
    first stdin line, then commands; see the module doc."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to the log, not into the protocol
    logging.basicConfig(level=os.environ.get("FACECRAFT_SESSION_LOG", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s session %(levelname)s %(name)s: %(message)s")
    _quiet_pipecat()
    _one_thread_each()
    from facecraft.conversation.video_codec import use_face_encoder

    use_face_encoder()  # VP8 with a rendered Face's settings (see video_codec)

    def emit(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    code = asyncio.run(_serve(emit))
    proto.flush()
    sys.stderr.flush()
    os._exit(code)  # the session is over: no waiting for a TTS or encoder thread still running


def _one_thread_each() -> None:
    """OpenCV draws on one thread per session (see ``manager.SESSION_THREADS``: its pool costs ~40 % more
    CPU per frame, and the sessions are the parallelism)."""
    import cv2

    cv2.setNumThreads(int(os.environ.get("FACECRAFT_SESSION_CV_THREADS", "1")))


def _quiet_pipecat() -> None:
    try:
        from loguru import logger

        def keep(record: Any) -> bool:  # interactions messages are parsed by the session, not by pipecat
            return not (record["name"] == "pipecat.transports.smallwebrtc.connection"
                        and record["function"] == "on_message")

        logger.remove()
        logger.add(sys.stderr, level=os.environ.get("FACECRAFT_PIPECAT_LOG", "WARNING"), filter=keep)
    except ImportError:  # pragma: no cover - pipecat depends on loguru
        pass


async def _serve(emit: Callable[[dict[str, Any]], None]) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    first = await reader.readline()
    try:
        spec = SessionSpec.from_json(json.loads(first))
        session = Session(spec, emit)
        await session.load()
    except FacecraftError as exc:
        emit({"event": "error", "error": {"class": type(exc).__name__, "error_id": exc.error_id,
                                           "message": exc.message}})
        return 2
    except Exception as exc:  # noqa: BLE001 - reported to the server as a failed start
        emit({"event": "error", "error": {"class": "FacecraftError", "error_id": "invalid_input",
                                           "message": f"the session could not start: {exc}"}})
        return 2
    emit({"event": "ready", "pid": os.getpid(), "fps": session.stream.fps, "size": list(session.stream.size)})
    commands = loop.create_task(_commands(reader, session, emit))
    await session.finished.wait()
    commands.cancel()
    emit({"event": "shutdown", "reason": session.reason})
    return 0


async def _commands(reader: asyncio.StreamReader, session: Session, emit: Callable[[dict[str, Any]], None]) -> None:
    while True:
        line = await reader.readline()
        if not line:  # the server went away: nobody to serve
            await session.end("server gone")
            return
        cmd = json.loads(line)
        asyncio.get_running_loop().create_task(_command(cmd, session, emit))


async def _command(cmd: dict[str, Any], session: Session, emit: Callable[[dict[str, Any]], None]) -> None:
    op, ident = cmd.get("op"), cmd.get("id")
    started = time.monotonic()
    try:
        result: Any = None
        if op == "offer":
            result = await session.offer(str(cmd.get("sdp") or ""), str(cmd.get("type") or ""))
        elif op == "send":
            await session.inbound(cmd.get("message") or "")
        elif op == "end":
            await session.end(cmd.get("reason") or "ended")
        else:
            raise InputError(f"unknown session command {op!r}")
        emit({"reply": ident, "result": result})
    except FacecraftError as exc:
        emit({"reply": ident, "error": {"class": type(exc).__name__, "error_id": exc.error_id,
                                         "message": exc.message}})
    except Exception as exc:  # noqa: BLE001 - a failed command must not end the session
        log.exception("session command %s failed", op)
        emit({"reply": ident, "error": {"class": "FacecraftError", "error_id": "invalid_input",
                                         "message": f"{op} failed: {exc}"}})
    finally:
        log.debug("command %s took %.0f ms", op, (time.monotonic() - started) * 1000)


if __name__ == "__main__":
    raise SystemExit(run_process())
