"""CLI commands ``say``, ``render`` and ``listen``: a Face bundle speaks text or audio, or listens."""

from __future__ import annotations

import argparse
from pathlib import Path

from facecraft.commands._help import example
from facecraft.commands._progress import PercentBar
from facecraft.errors import InputError


def _size(value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 512x512, got {value!r}") from None
    return w, h


_EMOTION_HELP = ("emotion shown (and, for text, spoken) from the start: neutral, angry, excited, elated, content, "
                 "sad, dejected, scared, contempt, disgusted, surprised (script tags take over from where they stand)")


def _add_emotion(p: argparse.ArgumentParser) -> None:
    p.add_argument("--emotion", default=None, metavar="NAME", help=_EMOTION_HELP)
    p.add_argument("--intensity", type=float, default=None, help="how strongly, 0..1 (default 1; needs --emotion)")


def _emotion(args: argparse.Namespace):  # noqa: ANN202 - engine types load late
    """The --emotion/--intensity pair (None: neutral); InputError with the API's error ids."""
    if args.emotion is None:
        if args.intensity is not None:
            raise InputError("--intensity needs --emotion", error_id="invalid_emotion_intensity")
        return None
    from facecraft.engine.cues import Emotion

    return Emotion(args.emotion.strip().lower(), 1.0 if args.intensity is None else args.intensity)


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``say``, ``render`` and ``listen`` to the top-level parser."""
    s = sub.add_parser("say", help='the Face says a text in its own voice (<emotion value="sad"/> tags allowed)',
                       **example('facecraft say faces/r1234abcd "Hello there." -o hello.mp4\n'
                               '  facecraft say faces/r1234abcd \'<emotion value="sad"/>I am sorry to hear that.\' '
                               '--emotion content --intensity 0.6 -o out.mp4'))
    s.add_argument("bundle", metavar="BUNDLE", help="Face bundle directory")
    s.add_argument("text", nargs="?", help="what to say (or --text-file)")
    s.add_argument("--text-file", help="read what to say from this file (long scripts)")
    s.add_argument("-o", "--out", required=True, help="output mp4")
    s.add_argument("--size", type=_size, help="output WxH (default: the footage size)")
    s.add_argument("--no-adapt", action="store_true", help="keep the TTS voice as it is")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_emotion(s)
    s.set_defaults(handler=say)

    r = sub.add_parser("render", help="the Face speaks an audio file, lip-synced",
                       **example("facecraft render faces/r1234abcd --audio speech.wav -o out.mp4"))
    r.add_argument("bundle", metavar="BUNDLE", help="Face bundle directory")
    r.add_argument("--audio", required=True, help="speech audio (wav, mp3, flac, or a video's audio)")
    r.add_argument("--text", help="transcript of the audio (better lip-sync)")
    r.add_argument("-o", "--out", required=True, help="output mp4")
    r.add_argument("--size", type=_size, help="output WxH (default: the footage size)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_emotion(r)
    r.set_defaults(handler=render)

    li = sub.add_parser("listen", help="the Face listens (idle motion) for some seconds",
                        **example("facecraft listen faces/r1234abcd --seconds 10 -o idle.mp4\n"
                                "  facecraft listen faces/r1234abcd --emotion content --intensity 0.5 -o nod.mp4"))
    li.add_argument("bundle", metavar="BUNDLE", help="Face bundle directory")
    li.add_argument("--seconds", type=float, default=10.0, help="length (default 10)")
    li.add_argument("-o", "--out", required=True, help="output mp4")
    li.add_argument("--size", type=_size, help="output WxH (default: the footage size)")
    li.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_emotion(li)
    li.set_defaults(handler=listen)


def _renderer(args: argparse.Namespace):  # noqa: ANN202
    from facecraft.engine import Renderer
    from facecraft.faces.bundle import load_bundle

    return Renderer(load_bundle(args.bundle), size=args.size)


def say(args: argparse.Namespace) -> int:
    from facecraft.perform import check_text, render_text

    if (args.text is None) == (args.text_file is None):
        raise InputError("give the text to say, or --text-file, not both")
    if args.text_file is not None:
        try:
            args.text = Path(args.text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {args.text_file}: {exc}") from exc
    check_text(args.text)
    emotion = _emotion(args)
    renderer = _renderer(args)
    with PercentBar("say", enabled=not args.no_progress) as update:
        out = render_text(renderer, args.text, out_path=args.out, adapt_voice=not args.no_adapt, progress=update,
                          emotion=emotion)
    print(out)
    return 0


def render(args: argparse.Namespace) -> int:
    from facecraft import media
    from facecraft.audio import RATE
    from facecraft.perform import render_speech

    if not Path(args.audio).is_file():
        raise InputError(f"audio file not found: {args.audio}")
    emotion = _emotion(args)
    renderer = _renderer(args)
    audio = media.read_audio(args.audio, sample_rate=RATE, mono=True)
    with PercentBar("render", enabled=not args.no_progress) as update:
        out = render_speech(renderer, audio.samples, audio.sample_rate, text=args.text, out_path=args.out,
                            progress=update, emotion=emotion)
    print(out)
    return 0


def listen(args: argparse.Namespace) -> int:
    from facecraft.perform import render_listening

    emotion = _emotion(args)
    renderer = _renderer(args)
    with PercentBar("listen", enabled=not args.no_progress) as update:
        out = render_listening(renderer, args.seconds, out_path=args.out, progress=update, emotion=emotion)
    print(out)
    return 0
