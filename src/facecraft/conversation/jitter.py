"""The caller's audio into the session without aiortc's fixed prefetch.

aiortc's ``RTCRtpReceiver`` puts received audio in a ``JitterBuffer(capacity=16, prefetch=4)``: a packet
leaves only once four more have arrived, so at 20 ms per Opus packet the caller's speech reached the VAD,
smart-turn and the STT 80 ms after it arrived (every stage of a reply and the barge-in waited for it). The
prefetch buys nothing here: the buffer still waits for a missing packet until it overflows, and it keeps
packets in order with no prefetch at all. ``receive_audio_promptly`` gives the connection's audio receivers a
buffer without it: a packet leaves when the next one shows it complete (20 ms).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["receive_audio_promptly", "AUDIO_JITTER_CAPACITY"]

log = logging.getLogger(__name__)

AUDIO_JITTER_CAPACITY = 16  # packets, as aiortc's own audio buffer
_BUFFER = "_RTCRtpReceiver__jitter_buffer"  # aiortc 1.16's private attribute (name-mangled)


def receive_audio_promptly(pc: Any) -> int:
    """Give each audio receiver of ``pc`` (an aiortc ``RTCPeerConnection`` whose remote description is set)
    a jitter buffer without prefetch; returns how many it changed. Call before media flows."""
    from aiortc.jitterbuffer import JitterBuffer

    changed = 0
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or receiver is None:
            continue
        if not hasattr(receiver, _BUFFER):
            log.warning("aiortc's receiver has no %s: the caller's audio keeps its prefetch", _BUFFER)
            continue
        setattr(receiver, _BUFFER, JitterBuffer(capacity=AUDIO_JITTER_CAPACITY))
        changed += 1
    return changed
