"""facecraft.perform: the speaking path. Text or audio plus cues -> the Face's frames, as files or live.

Text (a script: emotion tags allowed, ``perform.script``) is synthesised a sentence at a time
(``speech.tts``), moved toward the Face's voice (``speech.voice``) and handed with its phone timings
and cues to the engine's streaming renderer; recorded audio is aligned to its transcript or
recognised first. File renders write the frames and their audio to an mp4 as they come
(``perform.render``); dub mode re-voices another video (``perform.dub``). The service (videos) and
the conversation layer (live calls) both speak through here; the engine only turns a timeline into
frames.
"""

from facecraft.perform.dub import DubPlan, dub_frames, render_dub, select_dub_mouths
from facecraft.perform.render import (
    check_text,
    render_listening,
    render_pieces,
    render_speech,
    render_text,
    renderer_for,
    speech_frames,
)
from facecraft.perform.script import Cue, Script, Segment, parse_script
from facecraft.perform.speech import Piece, audio_pieces, face_voice, prepare_audio, text_pieces

__all__ = [
    "Cue",
    "DubPlan",
    "Piece",
    "Script",
    "Segment",
    "audio_pieces",
    "check_text",
    "dub_frames",
    "face_voice",
    "parse_script",
    "prepare_audio",
    "render_dub",
    "render_listening",
    "render_pieces",
    "render_speech",
    "render_text",
    "renderer_for",
    "select_dub_mouths",
    "speech_frames",
    "text_pieces",
]
