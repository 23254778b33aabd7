"""The caller's audio into a session: aiortc's audio jitter buffer without its prefetch (``jitter``), on a
real negotiated connection; a packet leaves when the next one arrives, not four later."""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import AudioStreamTrack
from aiortc.rtp import RtpPacket

from facecraft.conversation.jitter import _BUFFER, receive_audio_promptly


def _packet(n: int) -> RtpPacket:
    """The ``n``-th 20 ms Opus packet as the receiver hands it to its jitter buffer (parsed off the wire,
    its payload depayloaded: ``_data``, as ``RTCRtpReceiver`` sets it)."""
    packet = RtpPacket.parse(RtpPacket(payload_type=111, sequence_number=n, timestamp=960 * n,
                                       payload=b"\xf8\xff\xfe").serialize())
    packet._data = packet.payload  # type: ignore[attr-defined]  # noqa: SLF001
    return packet


def _released(buffer: JitterBuffer, packets: int) -> list[int | None]:
    """Per 20 ms Opus packet added in order: the timestamp of the frame the buffer lets go (None: none)."""
    out = []
    for n in range(packets):
        _, frame = buffer.add(_packet(n))
        out.append(None if frame is None else frame.timestamp)
    return out


def test_the_callers_audio_leaves_the_jitter_buffer_one_packet_later_not_four() -> None:
    async def negotiate() -> tuple[int, object]:
        caller, session = RTCPeerConnection(), RTCPeerConnection()
        try:
            caller.addTrack(AudioStreamTrack())
            await caller.setLocalDescription(await caller.createOffer())
            await session.setRemoteDescription(caller.localDescription)
            changed = receive_audio_promptly(session)
            receiver = next(t.receiver for t in session.getTransceivers() if t.kind == "audio")
            return changed, getattr(receiver, _BUFFER)
        finally:
            await caller.close()
            await session.close()

    changed, buffer = asyncio.run(negotiate())
    assert changed == 1 and isinstance(buffer, JitterBuffer)
    # aiortc's own audio buffer (prefetch 4) lets packet 0 go once packet 4 has come: 80 ms at 20 ms a packet
    assert _released(JitterBuffer(capacity=16, prefetch=4), 6) == [None, None, None, None, 0, 960]
    assert _released(buffer, 6) == [None, 0, 960, 1920, 2880, 3840]  # now 20 ms: the next packet completes it


def test_a_packet_out_of_order_is_still_played_in_order() -> None:
    buffer = JitterBuffer(capacity=16)
    order = [0, 2, 1, 3, 4]
    got = []
    for n in order:
        _, frame = buffer.add(_packet(n))
        if frame is not None:
            got.append(frame.timestamp // 960)
    assert got == sorted(got) and got[0] == 0, got
