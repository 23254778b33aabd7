"""facecraft.engine: a Face speaks any audio or text (see DESIGN.md, "The engine").

Timeline (visemes, co-articulation, state) -> mouth selection (Viterbi over the Face's mouth
database) -> motion (a walk on the motion graph) -> compositing (landmark warp, jaw moved toward
the target opening, colour match, feathered lower-face blend) -> frames; batch renders write mp4
through ``facecraft.media``.
"""

from facecraft.engine.batch import (
    DubPlan,
    dub_frames,
    render_dub,
    render_listening,
    render_speech,
    render_text,
    select_dub_mouths,
    speech_frames,
)
from facecraft.engine.config import EngineConfig
from facecraft.engine.cues import EMOTIONS, Emotion
from facecraft.engine.renderer import FaceData, Renderer
from facecraft.engine.streaming import StreamFrame, StreamingRenderer

__all__ = [
    "EMOTIONS",
    "Emotion",
    "EngineConfig",
    "FaceData",
    "Renderer",
    "StreamFrame",
    "StreamingRenderer",
    "render_speech",
    "render_text",
    "render_listening",
    "render_dub",
    "dub_frames",
    "DubPlan",
    "select_dub_mouths",
    "speech_frames",
]
