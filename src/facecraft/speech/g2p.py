"""Transcript words for the aligner, and letter-to-sound for words cmudict does not know.

PocketSphinx can only align words that are in its dictionary, spelled the way cmudict spells them:
lower case, numbers written out. :func:`transcript_words` turns free text into such words.
For out-of-vocabulary words, :func:`arpabet` asks espeak-ng (shipped inside piper-tts, the same
phonemiser Piper speaks with) for IPA and maps it to ARPAbet; if espeak is unavailable or gives
nothing usable, a small spelling-rule mapping gives a rough but alignable pronunciation.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata

from facecraft.speech.text import normalize_text

__all__ = [
    "ARPABET",
    "arpabet",
    "espeak_arpabet",
    "ipa_to_arpabet",
    "number_words",
    "rule_arpabet",
    "transcript_words",
]

log = logging.getLogger(__name__)

# The 39 phones of the PocketSphinx en-us acoustic model (cmudict without stress).
ARPABET = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"
    .split()
)

# ---------------------------------------------------------------- transcript normalisation

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_END = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "=": " equals "}
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "vs": "versus"}
_CURRENCIES = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds")}
_TOKEN_RE = re.compile(r"[$€£]?\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?|[^\W\d_]+(?:'[^\W\d_]+)*", re.UNICODE)


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def number_words(n: int, *, year_style: bool = False) -> list[str]:
    """English words for a non-negative integer; ``year_style`` reads 1961 as "nineteen sixty one"."""
    if year_style and 1100 <= n <= 2099 and not (2000 <= n <= 2009) and n % 100:
        return _below_thousand(n // 100) + (["oh"] if n % 100 < 10 else []) + _below_thousand(n % 100)
    if n == 0:
        return ["zero"]
    words: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            words += number_words(n // scale) + [name]
            n %= scale
    if n:
        words += _below_thousand(n)
    return words


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINAL_END:
        last = _ORDINAL_END[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return words[:-1] + [last]


def _number_token(token: str) -> list[str]:
    currency = _CURRENCIES.get(token[0])
    token = token.lstrip("".join(_CURRENCIES))
    suffix = re.search(r"(st|nd|rd|th|s)$", token)
    body = token[: suffix.start()] if suffix else token
    body = body.replace(",", "")
    if "." in body:
        whole, _, frac = body.partition(".")
        words = number_words(int(whole or 0)) + ["point"] + [_ONES[int(d)] for d in frac if d.isdigit()]
    else:
        value = int(body)
        words = number_words(value, year_style=currency is None and "," not in token and len(body) == 4)
    if suffix and suffix.group(1) in ("st", "nd", "rd", "th"):
        words = _ordinal(words)
    elif suffix:  # "1960s"
        words = words[:-1] + [words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"]
    if currency:
        words.append(currency[0] if words == ["one"] else currency[1])
    return words


def transcript_words(text: str) -> list[str]:
    """Lower-case dictionary-style words of a transcript: numbers and symbols spelled out, no punctuation."""
    text = normalize_text(text)
    for sym, spoken in _SYMBOLS.items():
        text = text.replace(sym, spoken)
    words: list[str] = []
    for token in _TOKEN_RE.findall(text.lower()):
        if token[0].isdigit() or token[0] in _CURRENCIES:
            words += _number_token(token)
        else:
            words.append(_ABBREVIATIONS.get(token, token))
    return words


# ---------------------------------------------------------------- IPA (espeak) -> ARPAbet

# Longest sequences first. Stress, length and syllabic marks are dropped before matching.
_IPA = {
    "eɪ": "EY", "aɪ": "AY", "aʊ": "AW", "oʊ": "OW", "əʊ": "OW", "ɔɪ": "OY", "tʃ": "CH", "dʒ": "JH",
    "ɑ": "AA", "ɒ": "AA", "a": "AE", "æ": "AE", "ɐ": "AH", "ʌ": "AH", "ə": "AH", "ɔ": "AO", "o": "OW",
    "ɚ": "ER", "ɝ": "ER", "ɜ": "ER", "ɛ": "EH", "e": "EH", "ɪ": "IH", "ᵻ": "IH", "i": "IY", "ʊ": "UH",
    "u": "UW", "ɯ": "UW", "y": "UW",
    "b": "B", "d": "D", "f": "F", "ɡ": "G", "g": "G", "h": "HH", "ç": "HH", "j": "Y", "k": "K",
    "x": "K", "l": "L", "ɫ": "L", "ɬ": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R",
    "r": "R", "ɾ": "T", "ʔ": "T", "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "ð": "DH", "v": "V",
    "w": "W", "ʍ": "W", "z": "Z", "ʒ": "ZH",
}  # fmt: skip
_IPA_MAX = max(len(k) for k in _IPA)
_IPA_DROP = set("ˈˌːˑ‿ʲ̩̃ ") | {"\u0329", "\u0303", "\u02de"}

_espeak_lock = threading.Lock()
_espeak_ready = False


def ipa_to_arpabet(ipa: str) -> list[str]:
    """ARPAbet phones for an IPA string (espeak-ng en-us style); unknown symbols are skipped."""
    decomposed = unicodedata.normalize("NFD", ipa)
    text = "".join(c for c in decomposed if c not in _IPA_DROP and not unicodedata.combining(c))
    phones: list[str] = []
    i = 0
    while i < len(text):
        for size in range(min(_IPA_MAX, len(text) - i), 0, -1):
            phone = _IPA.get(text[i : i + size])
            if phone:
                phones.append(phone)
                i += size
                break
        else:
            i += 1
    return phones


def espeak_arpabet(word: str) -> list[str]:
    """Pronunciation of ``word`` from espeak-ng (via piper's bridge); empty list if unavailable."""
    global _espeak_ready
    try:
        from piper import espeakbridge
        from piper.phonemize_espeak import ESPEAK_DATA_DIR
    except ImportError:  # piper-tts is a declared dependency; tolerate a broken install here
        log.warning("espeak-ng (piper) unavailable; using spelling rules for %r", word)
        return []
    with _espeak_lock:
        if not _espeak_ready:
            espeakbridge.initialize(str(ESPEAK_DATA_DIR))
            _espeak_ready = True
        espeakbridge.set_voice("en-us")
        clauses = espeakbridge.get_phonemes(word)
    ipa = " ".join(re.sub(r"\([^)]+\)", "", phonemes) for phonemes, _term, _end in clauses)
    return ipa_to_arpabet(ipa)


# ---------------------------------------------------------------- spelling rules (last resort)

_RULES = (
    ("tion", "SH AH N"), ("ough", "AO"), ("igh", "AY"), ("sch", "S K"), ("tch", "CH"),
    ("sh", "SH"), ("ch", "CH"), ("th", "TH"), ("ph", "F"), ("ng", "NG"), ("ck", "K"), ("qu", "K W"),
    ("wh", "W"), ("kn", "N"), ("ee", "IY"), ("ea", "IY"), ("oo", "UW"), ("ai", "EY"), ("ay", "EY"),
    ("ou", "AW"), ("ow", "OW"), ("oi", "OY"), ("oy", "OY"), ("au", "AO"), ("aw", "AO"), ("ie", "IY"),
    ("a", "AE"), ("b", "B"), ("c", "K"), ("d", "D"), ("e", "EH"), ("f", "F"), ("g", "G"), ("h", "HH"),
    ("i", "IH"), ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"), ("o", "AA"), ("p", "P"),
    ("q", "K"), ("r", "R"), ("s", "S"), ("t", "T"), ("u", "AH"), ("v", "V"), ("w", "W"), ("x", "K S"),
    ("y", "Y"), ("z", "Z"),
)  # fmt: skip


def rule_arpabet(word: str) -> list[str]:
    """Rough ARPAbet from spelling rules: always gives phones for a word with at least one letter."""
    letters = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if "a" <= c <= "z")
    if len(letters) > 2 and letters.endswith("e") and letters[-2] not in "aeiou":
        letters = letters[:-1]  # silent final e
    phones: list[str] = []
    i = 0
    while i < len(letters):
        for graph, phone in _RULES:
            if letters.startswith(graph, i):
                if graph == "y" and i > 0:
                    phone = "IY" if i == len(letters) - 1 else "IH"
                phones += phone.split()
                i += len(graph)
                break
        else:
            i += 1
    return phones


def arpabet(word: str) -> list[str]:
    """Best available pronunciation of an out-of-vocabulary word: espeak-ng, else spelling rules."""
    phones = espeak_arpabet(word)
    if not phones:
        phones = rule_arpabet(word)
    return phones
