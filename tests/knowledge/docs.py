"""Knowledge documents for the tests: the museum facts; the PDF and hostile-file generators live in
``bench/hostile.py`` (shared with the robustness bench)."""

from __future__ import annotations

from bench.hostile import deep_html, encrypted_pdf, make_pdf, pdf_flate_bomb

__all__ = ["make_pdf", "encrypted_pdf", "pdf_flate_bomb", "deep_html", "MUSEUM_FACTS"]

MUSEUM_FACTS = [
    "The Riverside Science Museum opens at nine in the morning and closes at five in the afternoon.",
    "It is open from Tuesday to Sunday and closed on Mondays.",
    "Adult tickets cost twelve dollars. Children under twelve enter free of charge.",
    "The current exhibition tells the history of flight, from the Wright brothers to the jet engine.",
    "The museum cafe on the ground floor serves coffee, sandwiches and carrot cake.",
    "Wheelchairs can be borrowed at the front desk without a deposit.",
]
