"""Phones to visemes: one table for ARPAbet (PocketSphinx) and IPA (Piper/espeak-ng), plus lip priors.

The 15 visemes are the common set of DESIGN.md (sil, PP, FF, TH, DD, kk, CH, SS, nn, RR, aa, E, ih, oh,
ou). A phone is reduced to its base before lookup: ARPAbet stress digits go ("AH0" → "AH"), and so do
IPA stress, length and diacritic marks ("ˈɑː" → "ɑ"). Pauses, punctuation and recogniser fillers are
``sil``. ``VISEME_SHAPES`` gives each viseme's expected lip shape so the engine can score mouth
candidates before it has seen that viseme in the footage.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from facecraft.errors import InputError

__all__ = [
    "VISEMES",
    "ARPABET_TO_VISEME",
    "IPA_TO_VISEME",
    "VisemeShape",
    "VISEME_SHAPES",
    "phone_to_viseme",
    "viseme_index",
]

log = logging.getLogger(__name__)

VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)

# PocketSphinx en-us phone set (its mdef) plus the fillers it emits.
ARPABET_TO_VISEME: dict[str, str] = {
    "SIL": "sil", "SP": "sil", "+NSN+": "sil", "+SPN+": "sil", "+BREATH+": "sil", "+COUGH+": "sil",
    "+NOISE+": "sil", "+UM+": "aa", "+UH+": "aa", "<s>": "sil", "</s>": "sil", "<sil>": "sil",
    "P": "PP", "B": "PP", "M": "PP",
    "F": "FF", "V": "FF",
    "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD",
    "K": "kk", "G": "kk", "NG": "kk", "HH": "kk",
    "CH": "CH", "JH": "CH", "SH": "CH", "ZH": "CH",
    "S": "SS", "Z": "SS",
    "N": "nn", "L": "nn",
    "R": "RR", "ER": "RR",
    "AA": "aa", "AE": "aa", "AH": "aa", "AY": "aa", "AW": "aa",
    "EH": "E", "EY": "E",
    "IH": "ih", "IY": "ih", "Y": "ih",
    "AO": "oh", "OW": "oh", "OY": "oh",
    "UH": "ou", "UW": "ou", "W": "ou",
}

_IPA_GROUPS: dict[str, str] = {
    # Pauses Piper times: BOS "^", EOS "$", pad "_", word space and punctuation; digits and clicks'
    # odd symbols never come out of espeak's English phonemiser but sit in the voice's id map.
    "sil": " ^$_!\"#'(),-.:;?0123456789",
    "PP": "pbmɓʙʘ",
    "FF": "fvɱʋⱱɸβ",
    "TH": "θðǀ",
    "DD": "tdɾʈɖɗɺɽǃǂǁ",
    "kk": "kgɡqɢɠʛcɟʄxɣχʁħʕhɦʜʢʡʔŋɰ",
    "CH": "ʃʒɕʑçʝʂʐɧ",
    "SS": "sz",
    "nn": "nlɲɳɴɫɭʎʟɬɮ",
    "RR": "rɹɻʀɚɝ",
    "aa": "aɑɐæʌəɶ",
    "E": "eɛɜɞɘεᵻ",
    "ih": "iɪɨjɯ",
    "oh": "oɔɒøœɤɵ",
    "ou": "uʊʉwʍɥʏy",
}
IPA_TO_VISEME: dict[str, str] = {sym: vis for vis, syms in _IPA_GROUPS.items() for sym in syms}

# Marks that modify the phone next to them and are never a sound on their own.
IPA_MODIFIERS = frozenset("ˈˌːˑʰʲˤ˞↓̧̩̪̯̃")
_STRESS_DIGITS = re.compile(r"^([A-Z]+)[0-2]$")


@dataclass(frozen=True)
class VisemeShape:
    """Expected lip shape of a viseme, all 0..1: how open, how wide, how rounded, whether lips close.

    ``teeth`` is how much of the upper teeth a viewer expects to see (FF, TH, SS show them).
    """

    aperture: float
    width: float
    rounding: float
    closure: bool
    teeth: float


VISEME_SHAPES: dict[str, VisemeShape] = {
    "sil": VisemeShape(aperture=0.0, width=0.50, rounding=0.0, closure=True, teeth=0.0),
    "PP": VisemeShape(aperture=0.0, width=0.45, rounding=0.1, closure=True, teeth=0.0),
    "FF": VisemeShape(aperture=0.15, width=0.50, rounding=0.0, closure=False, teeth=0.8),
    "TH": VisemeShape(aperture=0.25, width=0.50, rounding=0.0, closure=False, teeth=0.7),
    "DD": VisemeShape(aperture=0.30, width=0.55, rounding=0.0, closure=False, teeth=0.5),
    "kk": VisemeShape(aperture=0.40, width=0.55, rounding=0.0, closure=False, teeth=0.4),
    "CH": VisemeShape(aperture=0.30, width=0.35, rounding=0.6, closure=False, teeth=0.6),
    "SS": VisemeShape(aperture=0.15, width=0.65, rounding=0.0, closure=False, teeth=0.9),
    "nn": VisemeShape(aperture=0.30, width=0.55, rounding=0.0, closure=False, teeth=0.4),
    "RR": VisemeShape(aperture=0.30, width=0.40, rounding=0.5, closure=False, teeth=0.3),
    "aa": VisemeShape(aperture=1.00, width=0.60, rounding=0.0, closure=False, teeth=0.5),
    "E": VisemeShape(aperture=0.60, width=0.70, rounding=0.0, closure=False, teeth=0.6),
    "ih": VisemeShape(aperture=0.40, width=0.75, rounding=0.0, closure=False, teeth=0.6),
    "oh": VisemeShape(aperture=0.70, width=0.35, rounding=0.8, closure=False, teeth=0.2),
    "ou": VisemeShape(aperture=0.30, width=0.25, rounding=1.0, closure=False, teeth=0.1),
}

_INDEX = {name: i for i, name in enumerate(VISEMES)}


def viseme_index(viseme: str) -> int:
    """Position of a viseme in ``VISEMES`` (for integer label arrays)."""
    try:
        return _INDEX[viseme]
    except KeyError:
        raise InputError(f"unknown viseme {viseme!r}; expected one of {', '.join(VISEMES)}") from None


def phone_to_viseme(symbol: str, *, strict: bool = False) -> str:
    """Viseme of an ARPAbet ("AH0", "SIL", "+SPN+") or IPA ("ˈɑː", "tʃ") phone.

    A multi-letter IPA phone takes the viseme of its most visible sound (a closing diphthong such as
    "aɪ" starts open; "tʃ" is CH). An unknown symbol is ``sil`` with a warning, or InputError when
    ``strict``: the engine must never stop on a phone a future voice invents, but tests want to know.
    """
    if symbol in ARPABET_TO_VISEME:
        return ARPABET_TO_VISEME[symbol]
    upper = symbol.upper()
    stressed = _STRESS_DIGITS.match(upper)
    if stressed and stressed.group(1) in ARPABET_TO_VISEME:
        return ARPABET_TO_VISEME[stressed.group(1)]
    base = "".join(ch for ch in symbol if ch not in IPA_MODIFIERS)
    if not base:
        return "sil"  # a lone stress or length mark
    if base in ("tʃ", "dʒ", "ʧ", "ʤ"):
        return "CH"
    if base in ("ts", "dz"):
        return "SS"
    if base[0] in IPA_TO_VISEME:
        return IPA_TO_VISEME[base[0]]
    if strict:
        raise InputError(f"no viseme for the phone {symbol!r}")
    log.warning("no viseme for the phone %r; using sil", symbol)
    return "sil"
