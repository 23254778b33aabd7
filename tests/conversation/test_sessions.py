"""Live sessions as processes: the cap, ending, the timeouts and a crash each release the session's
process and report a shutdown with the reason; a Face that cannot load is a clear error."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from facecraft.conversation import SessionEvent, SessionManager
from facecraft.conversation.client import LiveClient
from facecraft.conversation.manager import SESSION_THREADS
from facecraft.errors import FacecraftError, NotFoundError, SessionLimitError
from tests.conversation.live import run, spec


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purpose (reaped by asyncio later)
        return f.read().split()[2] != "Z"


async def _shutdown(events: list[SessionEvent], cid: str, timeout: float = 60) -> SessionEvent:
    for _ in range(int(timeout * 10)):
        for e in events:
            if e.conversation_id == cid and e.kind == "shutdown":
                return e
        await asyncio.sleep(0.1)
    raise AssertionError(f"no shutdown event for {cid}: {events}")


def test_the_cap_end_and_a_crash_release_every_process(bundle_dir: Path) -> None:
    async def scenario() -> None:
        events: list[SessionEvent] = []
        manager = SessionManager(2, events.append)
        try:
            await manager.start(spec(bundle_dir, "a"))
            await manager.start(spec(bundle_dir, "b"))
            pids = manager.pids()
            assert manager.active() == 2 and all(_alive(p) for p in pids.values())
            # the session's OpenMP threads (llama.cpp, Whisper) wait briefly, not for 300000 spins
            spin = os.environ.get("GOMP_SPINCOUNT", SESSION_THREADS["GOMP_SPINCOUNT"])
            assert f"GOMP_SPINCOUNT={spin}".encode() in Path(f"/proc/{pids['a']}/environ").read_bytes().split(b"\0")
            with pytest.raises(SessionLimitError) as over:
                await manager.start(spec(bundle_dir, "c"))
            assert over.value.error_id == "too_many_conversations"
            await manager.end("a")
            await manager.end("a")  # idempotent
            assert not _alive(pids["a"]) and manager.active() == 1
            assert (await _shutdown(events, "a")).reason == "ended"
            with pytest.raises(NotFoundError):
                await manager.offer("a", "v=0", "offer")
            os.kill(pids["b"], signal.SIGKILL)  # a crash
            assert (await _shutdown(events, "b")).reason.startswith("crashed")
            assert manager.active() == 0
            await manager.start(spec(bundle_dir, "c"))  # room again
            c_pid = manager.pids()["c"]
        finally:
            await manager.close()
        assert not _alive(c_pid) and manager.active() == 0
        assert (await _shutdown(events, "c")).reason == "server_shutdown"

    run(scenario, timeout=300)


def test_timeouts_end_the_session_with_their_reason(bundle_dir: Path) -> None:
    async def scenario() -> None:
        events: list[SessionEvent] = []
        manager = SessionManager(3, events.append)
        try:
            await manager.start(spec(bundle_dir, "absent", participant_absent_timeout_s=2.0))
            await manager.start(spec(bundle_dir, "short", max_call_duration_s=6.0))
            await manager.start(spec(bundle_dir, "left", participant_left_timeout_s=1.0))
            pids = manager.pids()
            client = LiveClient(lambda o: manager.offer("left", o["sdp"], o["type"]), keep_images=False)
            await client.connect()
            await client.wait_frames(5, timeout=60)
            await client.close()  # the participant leaves
            assert (await _shutdown(events, "absent")).reason == "participant_absent_timeout"
            assert (await _shutdown(events, "left")).reason == "participant_left_timeout"
            assert (await _shutdown(events, "short")).reason == "max_call_duration"
            kinds = [e.kind for e in events if e.conversation_id == "left"]
            assert kinds[:2] == ["joined", "left"]
            for _ in range(50):
                if not any(_alive(p) for p in pids.values()):
                    break
                await asyncio.sleep(0.1)
            assert not any(_alive(p) for p in pids.values()) and manager.active() == 0
        finally:
            await manager.close()

    run(scenario, timeout=300)


def test_a_face_that_cannot_load_is_a_clear_error_and_leaves_no_process(tmp_path: Path, bundle_dir: Path) -> None:
    async def scenario() -> None:
        manager = SessionManager(2, lambda e: None)
        with pytest.raises(FacecraftError) as missing:
            await manager.start(spec(tmp_path / "nowhere", "x"))
        assert "nowhere" in missing.value.message
        (tmp_path / "broken").mkdir()
        (tmp_path / "broken" / "manifest.json").write_text("{not json")
        with pytest.raises(FacecraftError):
            await manager.start(spec(tmp_path / "broken", "y"))
        with pytest.raises(FacecraftError) as voice:
            await manager.start(spec(bundle_dir, "z", voice="no-such-voice"))
        assert "no-such-voice" in voice.value.message
        with pytest.raises(FacecraftError) as mode:
            await manager.start(spec(bundle_dir, "w", mode="karaoke"))
        assert "karaoke" in mode.value.message
        assert manager.active() == 0 and manager.pids() == {}

    run(scenario, timeout=300)


def test_a_bad_offer_is_a_clear_error(bundle_dir: Path) -> None:
    async def scenario() -> None:
        manager = SessionManager(1, lambda e: None)
        try:
            await manager.start(spec(bundle_dir, "o"))
            with pytest.raises(FacecraftError) as bad:
                await manager.offer("o", "hello", "offer")
            assert "offer" in bad.value.message
            with pytest.raises(FacecraftError):
                await manager.offer("o", "v=0\r\nnonsense", "offer")
            assert manager.active() == 1  # the session survives
        finally:
            await manager.close()

    run(scenario, timeout=200)
