"""facecraft.engine: a timeline (visemes, emotion, state) -> frames of a Face (see DESIGN.md, "The engine").

Timeline (visemes, co-articulation, state, cues) -> mouth selection (Viterbi over the Face's mouth
database) -> motion (a walk on the motion graph) -> compositing (landmark warp, jaw moved toward
the target opening, colour match, feathered lower-face blend) -> frames, through the streaming
renderer. Its build artefacts (mouth database, audio-to-mouth model, motion graph) live here too.
It synthesises no speech and writes no file: ``facecraft.perform`` does, on top of it.
"""

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
]
