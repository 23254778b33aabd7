"""Speech recognition: Whisper tiny.en offline by default, PocketSphinx as the light fallback, an
OpenAI-compatible endpoint optionally.

Recognition lets audio without a transcript be aligned (recognise, then align) and lets a user talk
to a Face. Whisper tiny.en (shipped in a wheel, run by faster-whisper; WER 0-5% on the test speech)
gives the words that forced alignment then times phone by phone. PocketSphinx's en-us trigram model is
small and dated (WER ~20-40% on read speech, see bench/speech.py); a better recogniser can be plugged
in by URL. Long audio is decoded per stretch of speech found by the VAD, because PocketSphinx
degrades on long utterances and silence wastes its time.
"""

from __future__ import annotations

import io
import logging
import wave
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from facecraft.errors import SpeechError, SpeechServiceError
from facecraft.speech import _sphinx
from facecraft.speech._pcm import PCM_RATE, to_pcm16k
from facecraft.speech.g2p import transcript_words
from facecraft.speech.types import Segment, Word
from facecraft.speech.vad import detect_speech

__all__ = ["LIVE_WINDOW_S", "ASRBackend", "OpenAIASR", "PocketSphinxASR", "WhisperASR", "Transcript",
           "speech_windows", "word_error_rate", "wer_measures", "normalise_words"]

log = logging.getLogger(__name__)


def normalise_words(text: str) -> list[str]:
    """The words WER compares: lower case, punctuation dropped, numbers spelled out (``g2p``)."""
    return transcript_words(text)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate (jiwer: substitutions + deletions + insertions over the reference's words) after
    :func:`normalise_words` on both sides: how recognition quality is measured."""
    return wer_measures([reference], [hypothesis])["wer"]


def wer_measures(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus WER over pairs of texts (errors summed before dividing, as jiwer does) with its parts:
    ``wer``, ``substitutions``, ``deletions``, ``insertions``, ``hits``, ``reference_words``."""
    import jiwer

    refs = [" ".join(normalise_words(r)) for r in references]
    if not refs or not all(refs):
        raise ValueError("the reference transcript has no words")
    hyps = [" ".join(normalise_words(h)) for h in hypotheses]
    # jiwer refuses an empty hypothesis string; a lone space is "no words", scored as all deletions
    out = jiwer.process_words(refs, [h or " " for h in hyps])
    total = out.hits + out.substitutions + out.deletions
    return {"wer": float(out.wer), "substitutions": out.substitutions, "deletions": out.deletions,
            "insertions": out.insertions, "hits": out.hits, "reference_words": total}

_MAX_WINDOW_S = 20.0  # longest stretch handed to PocketSphinx in one utterance
_PAD_S = 0.25  # silence kept around each stretch of speech (the acoustic model expects some)


@dataclass
class Transcript:
    text: str
    words: list[Word] = field(default_factory=list)  # empty when the backend gives no word timings
    # False when the recogniser itself doubts most of the words (Whisper's own tests: see ``WhisperASR``);
    # forced alignment then has no words worth aligning
    reliable: bool = True


class ASRBackend(Protocol):
    def transcribe(self, samples: np.ndarray, sample_rate: int) -> Transcript: ...


def speech_windows(
    segments: list[Segment], duration: float, *, max_s: float = _MAX_WINDOW_S
) -> list[Segment]:
    """Padded windows that group consecutive speech segments, each at most ``max_s`` long when possible."""
    windows: list[Segment] = []
    for seg in segments:
        start, end = max(0.0, seg.start - _PAD_S), min(duration, seg.end + _PAD_S)
        if windows and end - windows[-1].start <= max_s:
            windows[-1] = Segment(windows[-1].start, end)
        else:
            windows.append(Segment(start, end))
    return windows


def _speech_segments(pcm: np.ndarray) -> list[Segment]:
    segments = detect_speech(pcm.astype(np.float32) / 32768.0, PCM_RATE)
    if not segments:
        raise SpeechError("no speech found in the audio (it is silent or only noise)")
    return segments


class PocketSphinxASR:
    """Offline recogniser (PocketSphinx en-us); the decoder is shared per process and loaded once."""

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> Transcript:
        """Words and their timings; SpeechError for silence or unusable audio.

        An empty ``Transcript`` means speech was heard but no word was recognised.
        """
        pcm = to_pcm16k(samples, sample_rate)
        duration = pcm.size / PCM_RATE
        windows = speech_windows(_speech_segments(pcm), duration)
        words: list[Word] = []
        fs = _sphinx.FRAME_S
        with _sphinx.decoder() as dec:
            _sphinx.use_language_model(dec)
            for win in windows:
                a, b = int(win.start * PCM_RATE), int(win.end * PCM_RATE)
                _sphinx.decode(dec, pcm[a:b])
                for seg in dec.seg():
                    name = seg.word
                    if name.startswith(("<", "[", "+")):
                        continue  # <s>, </s>, <sil>, [NOISE], +SPN+
                    start = win.start + seg.start_frame * fs
                    end = win.start + (seg.end_frame + 1) * fs
                    end = min(end, b / PCM_RATE)
                    words.append(Word(_sphinx.clean_word(name), round(start, 4), round(end, 4)))
        log.debug("recognised %d words in %d windows", len(words), len(windows))
        return Transcript(text=" ".join(w.text for w in words), words=words)


class WhisperASR:
    """Offline recogniser: Whisper tiny.en (``speech.encoder.whisper_model``, hash-checked), greedy decoding
    per stretch of speech. English only.

    ``word_timings`` False (a live conversation, which needs the words, not their times): no word alignment
    pass and no temperature fallback. On 2-3 s questions that halves the time (0.48 s against about 1.0 s,
    same words; bench/stt.py ``whisper_tiny_en_live``). ``window_s`` (live): audio that fits is encoded in a
    window of that many seconds instead of Whisper's 30 (the encoder's cost is the window's; see
    ``_windowed``).

    ``fallback`` False: greedy decoding only, no retries at higher temperatures where Whisper's own tests
    fail (log-probability below -1, or text compressing like a loop). Those retries sample at random: on
    speech Whisper cannot read (another language, mumbling) they cost up to 6 decodings (the 20 s German
    clip: 11 s against 1 s) and give a different wrong text each time, while on the 27 English corpus and
    dev clips greedy decoding passes on every window (the same words with or without). The transcript is
    ``reliable`` unless windows failing those tests hold at least half of its time."""

    def __init__(self, *, beam_size: int = 1, word_timings: bool = True, window_s: float | None = None,
                 fallback: bool = True) -> None:
        self.beam_size = beam_size
        self.word_timings = word_timings
        self.window_s = window_s
        self.fallback = fallback

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> Transcript:
        from facecraft.speech.encoder import whisper_model

        pcm = to_pcm16k(samples, sample_rate)
        _speech_segments(pcm)
        audio = pcm.astype(np.float32) / 32768.0
        timed = self.word_timings
        if not timed and self.window_s is not None and audio.size <= (self.window_s - WINDOW_PAD_S) * PCM_RATE:
            text = self._windowed(audio, self.window_s)
            if text is not None:
                return Transcript(text=text)
        try:
            segments, _ = whisper_model().transcribe(
                audio, language="en", beam_size=self.beam_size, word_timestamps=timed,
                condition_on_previous_text=False, vad_filter=False, without_timestamps=not timed,
                **({} if timed and self.fallback else {"temperature": 0.0}))
            segments = list(segments)
            reliable = _reliable(segments)
            if not timed:
                return Transcript(text=" ".join(s.text.strip() for s in segments if s.text.strip()),
                                  reliable=reliable)
            words = [Word(w.word.strip(), round(float(w.start), 4), round(float(w.end), 4))
                     for seg in segments for w in (seg.words or []) if w.word.strip()]
        except (RuntimeError, ValueError) as exc:  # CTranslate2 reports failures as RuntimeError
            raise SpeechError(f"Whisper could not transcribe the audio: {exc}") from exc
        return Transcript(text=" ".join(w.text for w in words), words=words, reliable=reliable)

    def _windowed(self, audio: np.ndarray, window_s: float) -> str | None:
        """The words of ``audio`` encoded in a ``window_s`` window, decoded with timestamp tokens; None when
        the decoding repeats itself or holds no words (Whisper trained on 30 s windows; in a short one it may
        say the words again: the caller's turn then goes through the full window).

        Measured on Piper questions (bench/data/stt_questions.txt, joe-us + ada-us, tuned there): windows of
        8-10 s repeated or lost words (WER 0.026-0.093), without timestamp tokens more often; 15 s with them
        gave the same words as 30 s at about half the time (bench/stt.py ``whisper_tiny_en_live``)."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        from facecraft.speech.encoder import whisper_model

        model = whisper_model()
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
        frames = int(round(window_s * PCM_RATE / _MEL_HOP))
        padded = np.zeros(frames * _MEL_HOP, np.float32)
        padded[:audio.size] = audio
        mel = model.feature_extractor(padded, padding=0)[:, :frames]
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None].astype(np.float32)))
        try:
            result = model.model.generate(features, [list(tokenizer.sot_sequence)], beam_size=self.beam_size,
                                          max_length=_MAX_TOKENS)
        except (RuntimeError, ValueError) as exc:
            raise SpeechError(f"Whisper could not transcribe the audio: {exc}") from exc
        text = tokenizer.decode([t for t in result[0].sequences_ids[0] if t < tokenizer.eot]).strip()
        words = normalise_words(text)
        if not words or _repeats(words):  # (no words: the full window has its say too)
            log.info("Whisper %s in a %.0f s window: the full window decodes the audio",
                     "repeated itself" if words else "heard no words", window_s)
            return None
        return text


# Whisper's own tests of a decoding (faster-whisper's defaults: below them it retries at a higher temperature)
_MIN_LOGPROB = -1.0
_MAX_COMPRESSION = 2.4


def _reliable(segments: list[Any]) -> bool:
    """Whether segments failing Whisper's tests (``_MIN_LOGPROB``, ``_MAX_COMPRESSION``) hold less than
    half of the recognised time (windows Whisper found silent are left out by faster-whisper already)."""
    total = doubtful = 0.0
    for seg in segments:
        span = max(float(seg.end) - float(seg.start), 0.0)
        total += span
        if float(seg.avg_logprob) < _MIN_LOGPROB or float(seg.compression_ratio) > _MAX_COMPRESSION:
            doubtful += span
    return doubtful < 0.5 * total or total == 0.0


LIVE_WINDOW_S = 15.0  # the encoder window of a conversation's turns (``WhisperASR.window_s``)
WINDOW_PAD_S = 2.0  # silence after the audio in a short window (at least)
_MEL_HOP = 160
_MAX_TOKENS = 224  # Whisper's decoding limit (half its 448 positions)


def _repeats(words: list[str], n: int = 3) -> bool:
    """Some ``n`` or more words come twice in a row ("where did you grow up where did you grow up")."""
    for size in range(n, len(words) // 2 + 1):
        for i in range(len(words) - 2 * size + 1):
            if words[i:i + size] == words[i + size:i + 2 * size]:
                return True
    return False


def wav_bytes(pcm: np.ndarray, sample_rate: int = PCM_RATE) -> bytes:
    """A mono 16-bit WAV file in memory."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


class OpenAIASR:
    """An OpenAI-compatible ``POST {base_url}/v1/audio/transcriptions`` endpoint (multipart upload).

    Asks for ``verbose_json`` with word timestamps; servers that only return ``{"text": ...}`` give a
    Transcript without word timings. Failures are typed (``speech.remote.post``): SpeechTimeoutError past
    ``timeout`` seconds, SpeechServiceError when the endpoint is unreachable, refuses or answers garbage.
    """

    def __init__(self, base_url: str, api_key: str | None, model: str, *, timeout: float = 60.0) -> None:
        from facecraft.speech.remote import endpoint_url

        self.url = endpoint_url(base_url, "/audio/transcriptions")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> Transcript:
        from facecraft.speech.remote import post

        pcm = to_pcm16k(samples, sample_rate)
        _speech_segments(pcm)
        data = {"model": self.model, "response_format": "verbose_json", "timestamp_granularities[]": "word"}
        files = {"file": ("audio.wav", wav_bytes(pcm), "audio/wav")}
        resp = post(self.url, what="transcription service", api_key=self.api_key, timeout=self.timeout,
                    data=data, files=files)
        try:
            body: Any = resp.json()
        except ValueError as exc:
            raise SpeechServiceError("transcription service returned something that is not JSON") from exc
        return _parse_transcription(body)


def _parse_transcription(body: Any) -> Transcript:
    if isinstance(body, dict) and isinstance(body.get("text"), str):
        words = []
        for item in body.get("words") or []:
            try:
                words.append(Word(str(item["word"]).strip(), float(item["start"]), float(item["end"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise SpeechServiceError(f"transcription service returned a malformed word: {item!r}") from exc
        return Transcript(text=body["text"].strip(), words=words)
    raise SpeechServiceError("transcription service returned JSON without a 'text' field")
