"""Knowledge documents made on the fly for the tests: a real PDF (hand-assembled, one text line per
``Tj``), an encrypted copy, html and a few hostile files."""

from __future__ import annotations

import io
import zlib

__all__ = ["make_pdf", "encrypted_pdf", "pdf_flate_bomb", "deep_html", "MUSEUM_FACTS"]

MUSEUM_FACTS = [
    "The Riverside Science Museum opens at nine in the morning and closes at five in the afternoon.",
    "It is open from Tuesday to Sunday and closed on Mondays.",
    "Adult tickets cost twelve dollars. Children under twelve enter free of charge.",
    "The current exhibition tells the history of flight, from the Wright brothers to the jet engine.",
    "The museum cafe on the ground floor serves coffee, sandwiches and carrot cake.",
    "Wheelchairs can be borrowed at the front desk without a deposit.",
]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _assemble(objects: list[bytes]) -> bytes:
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
            ops.append(f"({_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {page_ids[i] + 1} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    return _assemble(objects)


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
    return _assemble(objects)


def deep_html(depth: int = 100_000) -> bytes:
    return (b"<html><body>" + b"<div>" * depth + b"deep text" + b"</div>" * depth + b"</body></html>")
