"""Imported first by the benches that stand in for a live session's process.

They get the session's thread settings (``manager.SESSION_THREADS``: one-thread math, one TTS thread,
libgomp's short spin) before numpy, ONNX Runtime, CTranslate2 or llama.cpp read them at load, so what they
time is what a session runs. A value already in the environment wins, as in the manager.
"""

from __future__ import annotations

import os

from facecraft.conversation.manager import SESSION_THREADS

for _name, _value in SESSION_THREADS.items():
    os.environ.setdefault(_name, _value)
