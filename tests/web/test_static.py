"""The portal's static files hang together: every asset and ES-module import resolves (no browser)."""

from __future__ import annotations

import re
from pathlib import Path

from facecraft.web import INDEX_HTML, STATIC_DIR

IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";', re.M)
HTML_SINK = re.compile(r"\.(?:inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write\(")
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|class|const|let)\s+(\w+)", re.M)


def _modules() -> list[Path]:
    return sorted((STATIC_DIR / "js").rglob("*.js"))


def test_index_references_existing_assets() -> None:
    html = INDEX_HTML.read_text()
    refs = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert "js/app.js" in refs and "css/style.css" in refs
    for ref in refs:
        assert (STATIC_DIR / ref).is_file(), ref
    assert 'aria-live="polite"' in html, "progress and status changes need a live region"
    assert '<html lang="en">' in html


def test_every_import_names_an_export_of_an_existing_module() -> None:
    modules = _modules()
    assert len(modules) >= 8
    exports = {path: set(EXPORT.findall(path.read_text())) for path in modules}
    for path in modules:
        for names, target in IMPORT.findall(path.read_text()):
            assert target.startswith("./") or target.startswith("../"), f"{path.name}: bare import {target}"
            module = (path.parent / target).resolve()
            assert module in exports, f"{path.relative_to(STATIC_DIR)} imports missing {target}"
            for name in (n.strip() for n in names.split(",") if n.strip()):
                assert name in exports[module], f"{path.relative_to(STATIC_DIR)}: {target} does not export {name}"


def test_no_html_injection_of_api_text() -> None:
    """API strings (names, messages) reach the page as text nodes, never through innerHTML."""
    for path in _modules():
        assert not HTML_SINK.search(path.read_text()), path.name
