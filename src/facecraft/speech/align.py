"""Forced alignment: audio + transcript -> words and ARPAbet phones with timings (PocketSphinx).

The engine animates the mouth from phone timings, so this is where lip-sync accuracy comes from.
Two passes over the shared decoder: word-level alignment (``set_align_text``) of the whole audio, then
phone-level alignment (``set_alignment``) of stretches of ~8 s cut in its pauses, since PocketSphinx's
phone pass fails on long (and some fast) stretches; a stretch it rejects is halved and tried again.
Words missing from cmudict get a pronunciation from :mod:`.g2p`.
When no transcript is given, :func:`align_audio` recognises the speech first; when recognition or
alignment fails it falls back to phone-loop decoding (phones only, ~50% phone error: coarse mouth
shapes, better than nothing).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pocketsphinx

from facecraft.errors import InputError, SpeechError
from facecraft.speech import _sphinx
from facecraft.speech._pcm import PCM_RATE, to_pcm16k
from facecraft.speech.g2p import ARPABET, arpabet, transcript_words
from facecraft.speech.types import Alignment, Phone, Word
from facecraft.speech.vad import detect_speech

if TYPE_CHECKING:
    from facecraft.speech.asr import ASRBackend

__all__ = ["BOUNDARY_SHIFT_S", "align", "align_audio", "phone_loop"]

log = logging.getLogger(__name__)

# Every boundary PocketSphinx reports is moved by this much. Measured (bench/speech.py): on the GRID
# clip against its reference .align file the signed word-boundary error has a median of +20 ms (mean
# +12 ms; 12 boundaries, 10 ms frames, errors of both signs), so the aligner does not lead the
# reference. Against Piper's own timings (TTS round trip) its onsets are ~54 ms earlier, but for words
# after a pause both sit within ~25 ms of the energy onset (Piper +8..+24 ms, PocketSphinx -25..-5 ms):
# the gap is mostly inside connected speech, where a word boundary is a convention. No systematic bias
# is established, so none is corrected.
BOUNDARY_SHIFT_S = 0.0

_SILENCES = {"SIL", "<sil>", "<s>", "</s>"}
_Seg = tuple[str, int, int]  # a word-pass segment: dictionary word or <sil>, first frame, last frame


def _speech_pcm(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """16 kHz PCM of audio that holds speech; SpeechError for silence or unusable audio."""
    pcm = to_pcm16k(samples, sample_rate)
    if not detect_speech(pcm.astype(np.float32) / 32768.0, PCM_RATE):
        raise SpeechError("no speech found in the audio (it is silent or only noise)")
    return pcm


def _ensure_in_dictionary(dec: pocketsphinx.Decoder, words: list[str]) -> list[str]:
    """Add out-of-vocabulary words to the decoder's dictionary; returns the words it can align.

    Only the last word added updates the active search (``add_word``'s ``update``: 0.11 s each, so a
    transcript with 15 unknown words spent 1.7 s there); the alignment searches are built from the
    dictionary afresh and need no update."""
    prons: dict[str, str] = {}
    for word in dict.fromkeys(words):
        if dec.lookup_word(word) is None:
            phones = [p for p in arpabet(word) if p in ARPABET]
            if not phones:
                log.warning("no pronunciation for %r: left out of the alignment", word)
                continue
            log.debug("OOV %r -> %s", word, " ".join(phones))
            prons[word] = " ".join(phones)
    failed: set[str] = set()
    for k, (word, pron) in enumerate(prons.items()):
        try:
            dec.add_word(word, pron, k == len(prons) - 1)
        except RuntimeError as exc:
            log.warning("could not add %r to the dictionary: %s", word, exc)
            failed.add(word)
    return [w for w in words if w not in failed and dec.lookup_word(w) is not None]


def _shift(t: float, duration: float) -> float:
    return float(min(max(t + BOUNDARY_SHIFT_S, 0.0), duration))


def _phone_symbol(name: str) -> str:
    return "SIL" if name in _SILENCES or name.startswith(("+", "[")) else name


_CHUNK_S = 8.0  # phone-level alignment is run on stretches of about this length, cut in pauses
_MAX_CHUNK_S = 15.0  # ... and at a word boundary if no pause comes (PocketSphinx's second pass fails
# with "Failed to stop utterance processing" on long utterances, e.g. 30 s of continuous speech)


def _word_pass(dec: pocketsphinx.Decoder, pcm: np.ndarray, words: list[str]) -> list[_Seg]:
    """Word-level alignment: (dictionary word or ``<sil>``, first frame, last frame) per segment."""
    try:
        dec.set_align_text(" ".join(words))
        _sphinx.decode(dec, pcm)
    except (RuntimeError, ValueError) as exc:
        raise SpeechError(f"forced alignment failed: {exc}") from exc
    if dec.hyp() is None:
        raise SpeechError("the transcript could not be aligned to the audio (does it match?)")
    return [(seg.word, seg.start_frame, seg.end_frame) for seg in dec.seg()]


def _is_word(name: str) -> bool:
    return name not in _SILENCES and not name.startswith(("+", "["))


def _chunks(segs: list[_Seg], n_frames: int) -> list[tuple[int, int]]:
    """Cut the word-pass result into (first frame, end frame) stretches, in pauses where possible."""
    cuts = [0]
    chunk_frames, max_frames = round(_CHUNK_S / _sphinx.FRAME_S), round(_MAX_CHUNK_S / _sphinx.FRAME_S)
    words_since_cut = 0
    for name, a, b in segs:
        if _is_word(name):
            if words_since_cut and a - cuts[-1] >= max_frames:  # no pause for too long: cut before it
                cuts.append(a)
                words_since_cut = 0
            words_since_cut += 1
        elif words_since_cut and b - cuts[-1] >= chunk_frames:  # a pause after enough speech
            cuts.append((a + b + 1) // 2)
            words_since_cut = 0
    if not words_since_cut and len(cuts) > 1:
        cuts.pop()  # only silence after the last cut: it joins the previous stretch
    cuts.append(n_frames)
    return list(zip(cuts, cuts[1:]))


def _inside(segs: list[_Seg], first: int, end: int) -> list[_Seg]:
    """The word-pass segments overlapping frames [first, end), clipped to them."""
    return [(n, max(a, first), min(b, end - 1)) for n, a, b in segs if b >= first and a < end]


def _align_span(
    dec: pocketsphinx.Decoder, pcm: np.ndarray, segs: list[_Seg], first: int, end: int, depth: int = 0
) -> tuple[list[Word], list[Phone]]:
    """Phone-level alignment of frames [first, end); halves the stretch when PocketSphinx's phone pass
    fails on it (it does on some long or fast stretches), and spreads phones evenly as a last resort."""
    frame = round(PCM_RATE * _sphinx.FRAME_S)
    inside = _inside(segs, first, end)
    words = [_sphinx.clean_word(n) for n, _, _ in inside if _is_word(n)]
    offset = first * _sphinx.FRAME_S
    if not words:
        return [], [Phone("SIL", offset, end * _sphinx.FRAME_S)]
    try:
        return _phone_pass(dec, pcm[first * frame : end * frame], words, offset)
    except SpeechError as exc:
        word_segs = [seg for seg in inside if _is_word(seg[0])]
        if len(word_segs) < 2 or depth >= 4:
            log.info("phone pass failed at %.2f s (%s): spreading phones evenly", offset, exc.message)
            return _even_phones(dec, inside)
        log.debug("phone pass failed at %.2f s (%s): aligning the two halves", offset, exc.message)
    cut = word_segs[len(word_segs) // 2][1]  # start frame of the middle word
    left = _align_span(dec, pcm, segs, first, cut, depth + 1)
    right = _align_span(dec, pcm, segs, cut, end, depth + 1)
    return left[0] + right[0], left[1] + right[1]


def _phone_pass(
    dec: pocketsphinx.Decoder, pcm: np.ndarray, words: list[str], offset: float
) -> tuple[list[Word], list[Phone]]:
    """Word and phone alignment of one stretch (both passes), times shifted by ``offset`` seconds."""
    _word_pass(dec, pcm, words)
    try:
        dec.set_alignment()
        _sphinx.decode(dec, pcm)
        result = dec.get_alignment()
    except (RuntimeError, ValueError) as exc:
        raise SpeechError(f"phone alignment failed: {exc}") from exc
    if result is None:
        raise SpeechError("phone alignment failed")
    fs = _sphinx.FRAME_S
    out_words = [
        Word(_sphinx.clean_word(e.name), offset + e.start * fs, offset + (e.start + e.duration) * fs)
        for e in result.words()
        if _is_word(e.name)
    ]
    phones = [
        Phone(_phone_symbol(e.name), offset + e.start * fs, offset + (e.start + e.duration) * fs)
        for e in result.phones()
        if e.duration > 0
    ]
    return out_words, phones


def _even_phones(dec: pocketsphinx.Decoder, segs: list[_Seg]) -> tuple[list[Word], list[Phone]]:
    """Fallback for a stretch whose phone pass failed: word-pass timings, phones spread evenly."""
    fs = _sphinx.FRAME_S
    words: list[Word] = []
    phones: list[Phone] = []
    for name, a, b in segs:
        start, end = a * fs, (b + 1) * fs
        if not _is_word(name):
            phones.append(Phone("SIL", start, end))
            continue
        words.append(Word(_sphinx.clean_word(name), start, end))
        symbols = (dec.lookup_word(name) or "SIL").split()
        step = (end - start) / len(symbols)
        phones += [Phone(sym, start + i * step, start + (i + 1) * step) for i, sym in enumerate(symbols)]
    return words, phones


def align(samples: np.ndarray, sample_rate: int, text: str) -> Alignment:
    """Words and phones of ``text`` as spoken in the audio, timed in seconds (silences as ``SIL``)."""
    if not isinstance(text, str) or not transcript_words(text):
        raise InputError("the transcript is empty: nothing to align")
    pcm = _speech_pcm(samples, sample_rate)
    duration = pcm.size / PCM_RATE
    frame = round(PCM_RATE * _sphinx.FRAME_S)
    out_words: list[Word] = []
    phones: list[Phone] = []
    with _sphinx.decoder() as dec:
        try:
            words = _ensure_in_dictionary(dec, transcript_words(text))
            if not words:
                raise SpeechError("none of the transcript's words could be pronounced")
            segs = _word_pass(dec, pcm, words)
            for first, end in _chunks(segs, -(-pcm.size // frame)):
                w, p = _align_span(dec, pcm, segs, first, end)
                out_words += w
                phones += p
        finally:
            _sphinx.use_language_model(dec)
    if not out_words:
        raise SpeechError("the transcript could not be aligned to the audio (does it match?)")
    out_words = [
        Word(w.text, round(_shift(w.start, duration), 4), round(_shift(w.end, duration), 4))
        for w in out_words
    ]
    phones = [Phone(p.symbol, _shift(p.start, duration), _shift(p.end, duration)) for p in phones]
    return Alignment(words=out_words, phones=_cover(phones, duration), duration_s=duration, source="align")


_MAX_GAP_S = 0.05


def _cover(phones: list[Phone], duration: float) -> list[Phone]:
    """Contiguous phones spanning the audio: neighbouring SILs merged, empty phones dropped, small gaps
    closed by the phone before, larger ones and the start and end filled with SIL."""
    out: list[Phone] = []
    for p in phones:
        start, end = round(p.start, 4), round(p.end, 4)
        if end <= start:
            continue
        if out and start > out[-1].end:  # stretches aligned apart can leave a frame between them
            if start - out[-1].end <= _MAX_GAP_S or out[-1].symbol == "SIL":
                out[-1] = Phone(out[-1].symbol, out[-1].start, start)
            else:
                out.append(Phone("SIL", out[-1].end, start))
        if out and p.symbol == "SIL" and out[-1].symbol == "SIL":
            out[-1] = Phone("SIL", out[-1].start, end)
        else:
            out.append(Phone(p.symbol, start, end))
    if not out:
        return [Phone("SIL", 0.0, duration)]
    if out[0].start > 0.0:
        out.insert(0, Phone("SIL", 0.0, out[0].start))
    if out[-1].end < duration - 1e-6:
        if out[-1].symbol == "SIL":
            out[-1] = Phone("SIL", out[-1].start, duration)
        else:
            out.append(Phone("SIL", out[-1].end, duration))
    return out


def phone_loop(samples: np.ndarray, sample_rate: int) -> Alignment:
    """Phones recognised without words (allphone search): ``source="phone_loop"``, ``words=[]``."""
    pcm = _speech_pcm(samples, sample_rate)
    duration = pcm.size / PCM_RATE
    fs = _sphinx.FRAME_S
    with _sphinx.decoder() as dec:
        try:
            _sphinx.use_phone_loop(dec)
            _sphinx.decode(dec, pcm)
            segs = [(s.word, s.start_frame, s.end_frame) for s in dec.seg()]
        finally:
            _sphinx.use_language_model(dec)
    phones = [
        Phone(_phone_symbol(name), a * fs, min((b + 1) * fs, duration)) for name, a, b in segs if b >= a
    ]
    if not any(p.symbol != "SIL" for p in phones):
        raise SpeechError("phone-loop decoding found no phones in the audio")
    return Alignment(words=[], phones=_cover(phones, duration), duration_s=duration, source="phone_loop")


def align_audio(
    samples: np.ndarray, sample_rate: int, text: str | None = None, *, asr: ASRBackend | None = None
) -> Alignment:
    """Align with ``text`` if given, else with the transcript ``asr`` (default: Whisper tiny.en, greedy:
    ``WhisperASR(fallback=False)``) recognises; phone-loop decoding if recognition or alignment fails or the
    recogniser doubts its words (``Transcript.reliable``: words guessed in another language only misplace
    the phones, and aligning them costs more than the phone loop)."""
    from facecraft.speech.asr import WhisperASR

    if text is not None and not transcript_words(text):
        raise InputError("the transcript is empty: pass text=None to recognise the speech instead")
    _speech_pcm(samples, sample_rate)  # silence and bad audio fail here, not in the fallback
    try:
        if text is None:
            transcript = (asr or WhisperASR(fallback=False)).transcribe(samples, sample_rate)
            if not transcript.text:
                raise SpeechError("recognition found no words")
            if not transcript.reliable:
                raise SpeechError("recognition doubts its words (not English, or unclear speech)")
            text = transcript.text
        return align(samples, sample_rate, text)
    except SpeechError as exc:
        log.info("alignment failed (%s): falling back to phone-loop decoding", exc.message)
        return phone_loop(samples, sample_rate)
