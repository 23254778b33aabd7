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
from facecraft.engine.renderer import Renderer
from facecraft.engine.streaming import StreamingRenderer

__all__ = [
    "EngineConfig",
    "Renderer",
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
