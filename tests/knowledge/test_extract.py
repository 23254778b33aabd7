"""Text out of knowledge documents: real txt, md, pdf (pypdf) and html (BeautifulSoup) files give their
words; hostile or wrong files give a DocumentError with an error id and a sentence, never a parser's
traceback, and bounded work (a deflate bomb, a deeply nested page, binary data, an encrypted PDF)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from facecraft.errors import DocumentError
from facecraft.knowledge import ExtractLimits, detect_kind, extract_text
from tests.knowledge.docs import MUSEUM_FACTS, deep_html, encrypted_pdf, make_pdf, pdf_flate_bomb


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _kind_and_text(path: Path, content_type: str = "") -> str:
    kind = detect_kind(path.read_bytes()[:8192], file_name=path.name, content_type=content_type)
    return extract_text(path, kind=kind)


def test_each_format_gives_its_words(tmp_path: Path) -> None:
    pdf = _write(tmp_path, "facts.pdf", make_pdf([MUSEUM_FACTS[:3], MUSEUM_FACTS[3:]]))
    text = _kind_and_text(pdf)
    assert "twelve dollars" in text and "carrot cake" in text
    html = _write(tmp_path, "page.html", (
        "<!doctype html><html><head><title>Museum</title><style>p{color:red}</style>"
        "<script>var secret='do not index';</script></head><body><h1>Hours</h1><p>"
        + MUSEUM_FACTS[0] + "</p><ul><li>Closed on Mondays.</li></ul></body></html>").encode())
    text = _kind_and_text(html)
    assert "nine in the morning" in text and "Closed on Mondays." in text
    assert "secret" not in text and "color" not in text
    md = _write(tmp_path, "notes.md", b"# Tickets\n\n**Adult** tickets cost [twelve dollars](http://x/y).\n")
    text = _kind_and_text(md)
    assert "Adult tickets cost twelve dollars." in text and "http" not in text and "#" not in text
    txt = _write(tmp_path, "plain.txt", "Caf\u00e9 au lait, na\u00efve.\r\n".encode("utf-16"))
    assert _kind_and_text(txt) == "Caf\u00e9 au lait, na\u00efve."
    old = _write(tmp_path, "old.txt", "Caf\u00e9 \u2013 1999".encode("cp1252"))
    assert _kind_and_text(old) == "Caf\u00e9 \u2013 1999"


def test_the_kind_comes_from_the_bytes_first(tmp_path: Path) -> None:
    pdf = make_pdf([["hello"]])
    assert detect_kind(pdf[:100], file_name="upload.bin", content_type="application/octet-stream") == "pdf"
    assert detect_kind(b"<!DOCTYPE html><html><body>x", file_name="page.txt") == "html"
    assert detect_kind(b"just words", content_type="text/markdown") == "md"
    assert detect_kind(b"just words") == "txt"


@pytest.mark.parametrize(
    ("name", "data", "error_id", "words"),
    [
        ("fake.pdf", b"this is not a pdf at all", "document_format", "not one"),
        ("slides.pptx", b"PK\x03\x04" + b"\x00" * 100, "document_format", "zip archive"),
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "document_format", "PNG"),
        ("data.bin", bytes(range(256)) * 40, "document_format", "not supported"),
        ("blob.txt", b"\x00\x01\x02binary\x00" * 100, "document_format", "binary"),
        ("empty.txt", b"", "document_empty", "no text"),
        ("spaces.md", b"   \n\n\t  \n", "document_empty", "no text"),
        ("truncated.pdf", make_pdf([["hello"]])[:200], "document_format", "damaged"),
        ("scan.pdf", make_pdf([[]]), "document_empty", "no text"),
    ],
)
def test_bad_documents_are_refused_by_name(tmp_path: Path, name: str, data: bytes, error_id: str,
                                           words: str) -> None:
    path = _write(tmp_path, name, data)
    with pytest.raises(DocumentError) as info:
        _kind_and_text(path)
    assert info.value.error_id == error_id and words in info.value.message, info.value.message


def test_an_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "locked.pdf", encrypted_pdf(make_pdf([MUSEUM_FACTS])))
    with pytest.raises(DocumentError, match="password"):
        _kind_and_text(path)


def test_hostile_files_cost_bounded_work(tmp_path: Path) -> None:
    """A PDF stream inflating to 400 MB and a page nested 100 000 deep: a clear answer within seconds."""
    started = time.monotonic()
    bomb = _write(tmp_path, "bomb.pdf", pdf_flate_bomb(400))
    assert bomb.stat().st_size < 2_000_000
    try:
        text = _kind_and_text(bomb)
        assert not text.strip("\n ")  # pypdf stopped inflating or found only spaces: nothing to index
    except DocumentError as exc:
        assert exc.error_id in ("document_empty", "document_format", "file_size")
    deep = _write(tmp_path, "deep.html", deep_html(100_000))
    try:
        assert "deep text" in _kind_and_text(deep)
    except DocumentError as exc:
        assert "nested too deeply" in exc.message
    assert time.monotonic() - started < 60


def test_limits_turn_into_file_size_errors(tmp_path: Path) -> None:
    big = _write(tmp_path, "big.txt", b"word " * 50_000)
    with pytest.raises(DocumentError) as info:
        extract_text(big, kind="txt", limits=ExtractLimits(max_chars=10_000))
    assert info.value.error_id == "file_size"
    pages = _write(tmp_path, "pages.pdf", make_pdf([["page"]] * 5))
    with pytest.raises(DocumentError) as info:
        extract_text(pages, kind="pdf", limits=ExtractLimits(max_pages=3))
    assert info.value.error_id == "file_size" and "5 pages" in info.value.message
