"""Broken and hostile inputs, generated on the fly, each with the API error id it must produce.

Used by ``bench/robustness.py`` (all of them, against a running server) and, in reduced form, by the
tests (``tests/service/test_hardening.py``). Nothing here is downloaded; the two recordings it borrows
real footage from are in ``../shared/testdata``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

__all__ = [
    "HostileFile",
    "png_bomb",
    "tiny_video",
    "huge_video",
    "zero_byte",
    "not_media",
    "truncated",
    "silent_video",
    "no_face_video",
    "two_faces_video",
    "training_files",
    "SSRF_URLS",
    "hostile_scripts",
    "make_pdf",
    "encrypted_pdf",
    "pdf_flate_bomb",
    "deep_html",
    "hostile_documents",
]


@dataclass(frozen=True)
class HostileFile:
    name: str  # what it is, for the report
    file_name: str  # the name it is uploaded under
    make: Callable[[Path], bytes]  # bytes of the file (given the folder of real recordings)
    error_id: str  # the error id the Face must end with


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(side: int = 20000) -> bytes:
    """A valid grey PNG of ``side`` x ``side`` pixels that compresses to a few hundred KB (a decompression
    bomb: 400 MB of pixels, 1.2 GB once decoded to RGB)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" * (side + 1)  # filter byte + a row of black
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 256) for _ in range(side // 256)]
    parts.append(comp.compress(row * (side % 256)))
    parts.append(comp.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def _encode(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str = "libx264",
    fps: int = 25,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> bytes:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            video.options = {"preset": "ultrafast"}
        astream = out.add_stream("aac", rate=sample_rate) if audio is not None else None
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if astream is not None and audio is not None:
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = sample_rate
            for packet in astream.encode(frame):
                out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
    return path.read_bytes()


def tiny_video(tmp: Path) -> bytes:
    """Two seconds of 1x1 frames (MPEG-4 part 2 encodes that size; H.264 does not)."""
    return _encode(tmp / "tiny.mp4", [np.zeros((1, 1, 3), np.uint8)] * 50, codec="mpeg4")


def huge_video(tmp: Path, side: int = 8192) -> bytes:
    """Three black 8192x8192 frames: a small file whose frames would take 200 MB each once decoded."""
    path = tmp / "huge.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "40"})
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame(side, side, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for _ in range(3):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def zero_byte(_: Path) -> bytes:
    return b""


def not_media(_: Path) -> bytes:
    return b"this is a text file that claims to be an mp4 " * 200


def truncated(clip: Path) -> Callable[[Path], bytes]:
    return lambda _: clip.read_bytes()[: clip.stat().st_size // 3]


def _clip_frames(clip: Path, seconds: float, side: int = 480) -> tuple[list[np.ndarray], float]:
    from facecraft import media

    frames = [f.image for f in media.iter_frames(clip, max_side=side, end_s=seconds)]
    fps = media.probe(clip).video.fps  # type: ignore[union-attr]
    return [f[: f.shape[0] & ~1, : f.shape[1] & ~1] for f in frames], fps


def silent_video(clip: Path) -> Callable[[Path], bytes]:
    """Real footage of a face with a silent audio track (no speech: no voice to build)."""

    def make(tmp: Path) -> bytes:
        frames, fps = _clip_frames(clip, 8.0)
        return _encode(
            tmp / "silent.mp4", frames, fps=round(fps), audio=np.zeros(int(8.0 * 16000), np.float32)
        )

    return make


def no_face_video(tmp: Path) -> bytes:
    """Eight seconds of a moving grey gradient with noise for sound: a valid video without a face."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(40, 200, 320, dtype=np.float32)
    frames = [
        np.repeat(((ramp + 3 * i) % 255).astype(np.uint8)[None, :, None], 240, 0).repeat(3, 2)
        for i in range(200)
    ]
    noise = (0.05 * rng.standard_normal(8 * 16000)).astype(np.float32)
    return _encode(tmp / "noface.mp4", frames, audio=noise)


def two_faces_video(clip: Path) -> Callable[[Path], bytes]:
    """The same footage twice, side by side: two people in every frame."""

    def make(tmp: Path) -> bytes:
        from facecraft import media

        frames, fps = _clip_frames(clip, 8.0, side=320)
        audio = media.read_audio(clip, sample_rate=16000).samples[: 8 * 16000]
        doubled = [np.concatenate([f, f[:, ::-1]], axis=1) for f in frames]
        return _encode(tmp / "two.mp4", doubled, fps=round(fps), audio=audio)

    return make


def training_files(testdata: Path) -> list[HostileFile]:
    """Every hostile training upload, with the error id its Face must end with."""
    clip = testdata / "video" / "mimictalk_German_20s.mp4"
    return [
        HostileFile("zero-byte file", "empty.mp4", zero_byte, "video_format"),
        HostileFile("not media (text)", "notes.mp4", not_media, "video_format"),
        HostileFile("truncated mp4", "cut.mp4", truncated(clip), "video_processing"),
        HostileFile("1x1 frames", "tiny.mp4", tiny_video, "video_format"),
        HostileFile("8192x8192 frames", "huge.mp4", huge_video, "video_format"),
        HostileFile("PNG decompression bomb as a video", "bomb.mp4", lambda _: png_bomb(), "video_format"),
        HostileFile("no face", "noface.mp4", no_face_video, "face_or_obstruction_detected"),
        HostileFile("two faces", "two.mp4", two_faces_video(clip), "second_person_detected"),
        HostileFile("silent audio", "silent.mp4", silent_video(clip), "audio_processing"),
    ]


# URLs a server must never fetch (error id download_link), as literal addresses and as names.
SSRF_URLS = [
    "http://127.0.0.1:9/train.mp4",
    "http://localhost/train.mp4",
    "http://[::1]/train.mp4",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.8/x.mp4",
    "http://0.0.0.0/x.mp4",
    "http://2130706433/x.mp4",  # 127.0.0.1 as one decimal number
    "http://127.1/x.mp4",  # 127.0.0.1, short form
    "http://[::ffff:127.0.0.1]/x.mp4",  # IPv4-mapped IPv6
    "file:///etc/passwd",
    "ftp://example.com/x.mp4",
    "gopher://127.0.0.1:25/x",
]


def hostile_scripts() -> list[tuple[str, str, int]]:
    """(what, script, HTTP status of POST /v2/videos): scripts the API must refuse at validation."""
    return [
        ("20,001 characters", "Hello there. " * 1538 + "Hi a", 400),
        ("NUL character", "Hello\x00 there.", 400),
        ("escape sequence", "Hello \x1b[31mthere\x1b[0m.", 400),
        ("only an emotion tag", '<emotion value="sad"/>', 400),
        ("unknown emotion", '<emotion value="furious"/> Hi there.', 400),
    ]


# --- knowledge documents (/v2/documents) -------------------------------------------------------------

def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf_assemble(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF whose pages hold the given lines as real text (Helvetica)."""
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(f"{p} 0 R".encode() for p in page_ids)
        + f"] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "40 800 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {page_ids[i] + 1} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    return _pdf_assemble(objects)


def encrypted_pdf(data: bytes, password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_flate_bomb(megabytes: int = 400) -> bytes:
    """A PDF whose one content stream inflates to ``megabytes`` MB of spaces (a few hundred KB on disk)."""
    comp = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    body = b"".join(comp.compress(chunk) for _ in range(megabytes)) + comp.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        f"<< /Length {len(body)} /Filter /FlateDecode >>\nstream\n".encode() + body + b"\nendstream",
    ]
    return _pdf_assemble(objects)


def deep_html(depth: int = 100_000) -> bytes:
    return (b"<html><body>" + b"<div>" * depth + b"deep text" + b"</div>" * depth + b"</body></html>")


def hostile_documents() -> list[tuple[str, str, bytes, str]]:
    """(what, file name, bytes, error id) of documents a PAL's knowledge must refuse clearly."""
    facts = [["Adult tickets cost twelve dollars."]]
    return [
        ("named pdf, not a pdf", "fake.pdf", b"not a pdf", "document_format"),
        ("an office file (zip)", "slides.pptx", b"PK\x03\x04" + b"\x00" * 64, "document_format"),
        ("empty", "empty.txt", b"", "document_empty"),
        ("password-protected pdf", "locked.pdf", encrypted_pdf(make_pdf(facts)), "document_format"),
        ("pdf deflate bomb (300 MB of spaces)", "bomb.pdf", pdf_flate_bomb(300), "document_empty"),
        ("binary data named .txt", "binary.txt", b"\x00\x01\x02\x03" * 1000, "document_format"),
        ("truncated pdf", "truncated.pdf", make_pdf(facts)[:200], "document_format"),
    ]
