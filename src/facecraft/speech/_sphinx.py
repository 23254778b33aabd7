"""One shared PocketSphinx decoder (en-us model and cmudict shipped in the pocketsphinx wheel).

Loading the acoustic model and language model takes ~0.4 s and ~100 MB, so the recogniser, the forced
aligner and the phone loop share one decoder per process and switch its search module per call. The
decoder is not thread-safe: every use holds :data:`LOCK` (see :func:`decoder`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pocketsphinx

from facecraft.errors import SpeechError
from facecraft.speech._pcm import PCM_RATE

__all__ = ["FRAME_S", "LOCK", "clean_word", "decode", "decoder", "use_language_model", "use_phone_loop"]

log = logging.getLogger(__name__)

FRAME_S = 0.01  # PocketSphinx frame rate is 100 frames/s
LOCK = threading.RLock()
_ALLPHONE = "_allphone"
# Fewer active HMMs/words per frame than the defaults (30000/-1): recognition costs ~20% less CPU
# with a lower word error rate on JFK (0.23 -> 0.18) and the same on LibriVox (measured with
# process_time; bench/speech.py). Tighter limits (5000) were faster still but lost words on JFK.
_SEARCH_LIMITS = {"maxhmmpf": 10000, "maxwpf": 20}
_decoder: pocketsphinx.Decoder | None = None


def _create() -> pocketsphinx.Decoder:
    from facecraft.models import model_path

    model = model_path("pocketsphinx_en_us")  # the wheel's en-us folder (the decoder's defaults), checked
    try:
        dec = pocketsphinx.Decoder(samprate=PCM_RATE, loglevel="FATAL", **_SEARCH_LIMITS)
        dec.add_allphone_file(_ALLPHONE, str(model / "en-us-phone.lm.bin"))
    except (RuntimeError, ValueError, OSError) as exc:
        raise SpeechError(f"could not load the PocketSphinx model: {exc}") from exc
    log.debug("PocketSphinx decoder loaded")
    return dec


@contextmanager
def decoder() -> Iterator[pocketsphinx.Decoder]:
    """The process's decoder, held exclusively for the duration of the ``with`` block."""
    global _decoder
    with LOCK:
        if _decoder is None:
            _decoder = _create()
        yield _decoder


def decode(dec: pocketsphinx.Decoder, pcm: np.ndarray) -> None:
    """Run the active search over a whole utterance of 16 kHz int16 PCM."""
    try:
        # Reset CMN and the noise-removal estimate: the result must not depend on earlier utterances.
        dec.reinit_feat()
        dec.start_utt()
        dec.process_raw(pcm.tobytes(), full_utt=True)
        dec.end_utt()
    except RuntimeError as exc:
        raise SpeechError(f"PocketSphinx could not decode the audio: {exc}") from exc


def use_language_model(dec: pocketsphinx.Decoder) -> None:
    """Switch to the default search (en-us trigram LM): recognition."""
    dec.activate_search()


def use_phone_loop(dec: pocketsphinx.Decoder) -> None:
    """Switch to allphone search (phone n-gram): phones without words."""
    dec.activate_search(_ALLPHONE)


def clean_word(name: str) -> str:
    """Dictionary entry name without its alternative-pronunciation suffix: ``white(2)`` -> ``white``."""
    cut = name.find("(")
    return name[:cut] if cut > 0 else name
