"""facecraft.conversation: a Face in a live call (see DESIGN.md and docs/live.md).

The server holds one ``SessionManager``; each conversation runs in its own process (``session``), where
a pipecat pipeline connects pipecat's SmallWebRTC transport to the Face (``FaceVideoService``) through
the mode's processors (echo mode: ``EchoService``).
"""

from facecraft.conversation.manager import SessionManager
from facecraft.conversation.spec import SessionEvent, SessionSpec

__all__ = ["SessionManager", "SessionSpec", "SessionEvent"]
