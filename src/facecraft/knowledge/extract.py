"""Plain text out of a knowledge document: txt, md, pdf (``pypdf``) or html (``beautifulsoup4``).

The kind is taken from the file's own bytes where they tell (``%PDF-``, an html root), else from its name
or declared type; a file whose bytes contradict its name (a ``.pdf`` that is no PDF) is refused. Every
problem is a :class:`~facecraft.errors.DocumentError` with an error id (``document_format``,
``document_empty``, ``file_size``) and a sentence, never a parser's traceback. Limits bound the work a
hostile file can cause: pages read, characters kept (decompression bombs inside a PDF are stopped by
pypdf's own output limits, and the caller runs this in a process with a memory budget).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from facecraft.errors import DocumentError

__all__ = ["DOCUMENT_KINDS", "DocumentError", "ExtractLimits", "detect_kind", "extract_text"]

log = logging.getLogger(__name__)

DOCUMENT_KINDS = ("txt", "md", "pdf", "html")
_SUFFIXES = {
    ".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".html": "html",
    ".htm": "html", ".xhtml": "html",
}
_TYPES = {
    "text/plain": "txt", "text/markdown": "md", "text/x-markdown": "md", "application/pdf": "pdf",
    "text/html": "html", "application/xhtml+xml": "html",
}
# Signatures of formats people upload by mistake: named in the refusal instead of "unreadable".
_OTHER_FORMATS = (
    (b"PK\x03\x04", "a zip archive (docx, pptx and xlsx files are zip archives)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF file"),
)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)
_UNSUPPORTED = "only txt, md, pdf and html documents can be used"


@dataclass(frozen=True)
class ExtractLimits:
    max_pages: int = 3000  # PDF pages read
    max_chars: int = 10_000_000  # characters of text kept (about 2.5 M tokens)


def detect_kind(head: bytes, *, file_name: str = "", content_type: str = "") -> str:
    """``txt``, ``md``, ``pdf`` or ``html`` for a file starting with ``head``; DocumentError otherwise."""
    by_name = _SUFFIXES.get(Path(file_name).suffix.lower()) if file_name else None
    by_type = _TYPES.get(content_type.split(";")[0].strip().lower()) if content_type else None
    claimed = by_name or by_type
    if head.startswith(b"%PDF-"):
        return "pdf"
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            raise DocumentError(f"the document is {what}: {_UNSUPPORTED}")
    if claimed == "pdf":
        raise DocumentError("the document is named or declared a PDF but is not one (no %PDF- header)")
    if _HTML_START.match(head[:4096].lstrip(b"\xef\xbb\xbf")):
        return "html"
    if claimed is not None:
        return claimed
    if file_name and Path(file_name).suffix:
        raise DocumentError(f"{Path(file_name).suffix!r} files are not supported: {_UNSUPPORTED}")
    return "txt"


def extract_text(path: Path, *, kind: str, limits: ExtractLimits | None = None) -> str:
    """The document's text, whitespace tidied; DocumentError when it has none or cannot be read."""
    limits = limits or ExtractLimits()
    if kind == "pdf":
        text = _pdf_text(path, limits)
    elif kind == "html":
        text = _html_text(_decode(path.read_bytes()))
    elif kind == "md":
        text = _markdown_text(_decode(path.read_bytes()))
    elif kind == "txt":
        text = _decode(path.read_bytes())
    else:
        raise DocumentError(f"unknown document kind {kind!r}: {_UNSUPPORTED}")
    text = _tidy(text)
    if len(text) > limits.max_chars:
        raise DocumentError(
            f"the document holds more than {limits.max_chars:,} characters of text; split it into smaller "
            "documents",
            error_id="file_size",
        )
    if not any(ch.isalnum() for ch in text):
        raise DocumentError(
            "no text could be found in the document (a scanned PDF has images, not text)",
            error_id="document_empty",
        )
    return text


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; Windows-1252 as the last resort for old text.
    Binary data (NUL bytes, mostly control characters) is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError("the document claims UTF-16 but is not valid UTF-16") from exc
    if b"\x00" in data[:65536]:
        raise DocumentError(f"the document is binary data, not text: {_UNSUPPORTED}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    sample = text[:65536]
    control = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if sample and control > 0.05 * len(sample):
        raise DocumentError(f"the document is binary data, not text: {_UNSUPPORTED}")
    return text


def _pdf_text(path: Path, limits: ExtractLimits) -> str:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("the PDF is password-protected: upload an unprotected copy")
        pages = len(reader.pages)
        if pages > limits.max_pages:
            raise DocumentError(
                f"the PDF has {pages} pages, more than the limit of {limits.max_pages}; split it",
                error_id="file_size",
            )
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size > limits.max_chars:
                raise DocumentError(
                    f"the PDF holds more than {limits.max_chars:,} characters of text; split it",
                    error_id="file_size",
                )
    except DocumentError:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentError("the PDF is password-protected: upload an unprotected copy") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            OSError, AssertionError, ZeroDivisionError) as exc:
        # pypdf raises its own errors for most damage, and plain Python ones for some malformed objects.
        raise DocumentError(f"the PDF could not be read ({type(exc).__name__}): it is damaged") from exc
    return "\n\n".join(parts)


_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "head")
_TAG_START = re.compile(r"<[A-Za-z]")
_MAX_HTML_TAGS = 300_000
_BLOCK_TAGS = frozenset((
    "p", "div", "section", "article", "li", "tr", "br", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "ul", "ol", "dd", "dt", "header", "footer", "main", "aside", "nav",
))


def _html_text(html: str) -> str:
    """The page's words; a line break where a block element starts. Walked iteratively (a page nested
    100 000 deep costs no recursion and no quadratic tree edits)."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    if len(_TAG_START.findall(html, 0, len(html))) > _MAX_HTML_TAGS:
        raise DocumentError(f"the html has more than {_MAX_HTML_TAGS:,} elements; split it", error_id="file_size")
    try:
        soup = BeautifulSoup(html, "html.parser")
        title = soup.title.get_text(" ", strip=True) if soup.title else ""
        for tag in soup(list(_DROP_TAGS)):
            tag.decompose()
        parts: list[str] = []
        for node in soup.descendants:
            if isinstance(node, Tag):
                if node.name in _BLOCK_TAGS:
                    parts.append("\n")
            elif type(node) is NavigableString:  # not comments, doctypes or processing instructions
                parts.append(str(node))
        body = "".join(parts)
    except RecursionError as exc:
        raise DocumentError("the html is nested too deeply to be read") from exc
    return f"{title}\n\n{body}" if title and title not in body[:2000] else body


_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_MARKS = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__|`{1,3})")


def _markdown_text(text: str) -> str:
    """Markdown read as prose: link targets, heading and list marks and emphasis dropped (the words stay)."""
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_MARKS.sub("", text)
    return _MD_EMPHASIS.sub("", text)


_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co"))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
