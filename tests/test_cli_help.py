"""A quiet, clear CLI: every command's --help ends with examples; progress is a bar on a terminal and
one line per stage elsewhere; native libraries' log lines stay out of the output."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys

import pytest

from facecraft.cli import build_parser, main
from facecraft.commands._progress import PercentBar
from facecraft.faces.stock import STOCK_SOURCES, source_path
from facecraft.speech.voices import VOICES


def _parsers(parser: argparse.ArgumentParser, name: str = "facecraft"):  # noqa: ANN202
    yield name, parser
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_command_has_an_example_in_its_help() -> None:
    seen = []
    for name, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "examples:\n  facecraft" in text, f"`{name} --help` has no example"
        first = text.split("examples:\n", 1)[1].splitlines()[0].strip()
        assert first.startswith(name.split()[0]), (name, first)
        seen.append(name)
    wanted = {"facecraft stock build", "facecraft stock add", "facecraft voices", "facecraft faces create"}
    assert wanted <= set(seen)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_line_per_stage_off_a_terminal() -> None:
    stream = io.StringIO()
    with PercentBar("building", stream=stream) as bar:
        for i, step in enumerate(["photo", "photo", "speech", "mouths"]):
            bar(i / 4, step)
    lines = stream.getvalue().splitlines()
    assert lines[:3] == ["building: photo", "building: speech", "building: mouths"]
    assert lines[3].startswith("building: done in ") and len(lines) == 4
    quiet = io.StringIO()
    with PercentBar("building", enabled=False, stream=quiet) as bar:
        bar(0.5, "photo")
    assert quiet.getvalue() == ""
    tty = _Tty()
    with PercentBar("building", stream=tty) as bar:
        bar(0.5, "photo")
    assert "%|" in tty.getvalue() and "building: photo\n" not in tty.getvalue()  # a bar, not lines


def test_progress_notes_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with PercentBar("building", stream=io.StringIO()) as bar:
        bar.write("Eileen Collins: building")
    assert capsys.readouterr().out == "Eileen Collins: building\n"


def test_native_log_lines_stay_out_of_a_command_run() -> None:
    photo = source_path(STOCK_SOURCES[0])
    done = subprocess.run([sys.executable, "-m", "facecraft.cli", "check", str(photo)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "result: " in done.stdout
    for noise in ("W0000", "I0000", "XNNPACK", "absl::InitializeLog", "libpng warning"):
        assert noise not in done.stderr + done.stdout, done.stderr
    # -vv keeps them, and Python's own errors always come through.
    args = [sys.executable, "-m", "facecraft.cli", "say", "/no/such/bundle", "hi", "-o", "x.mp4"]
    bad = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error [")


def test_voices_and_stock_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    assert all(v.voice_id in out for v in VOICES)
    assert main(["stock", "list"]) == 0
    out = capsys.readouterr().out
    assert all(s.sha256 in out and s.licence in out for s in STOCK_SOURCES)
    assert main(["stock", "add", "/no/such/folder"]) == 2
    assert "no such bundle or folder" in capsys.readouterr().err
    assert main(["tts", "hi", "-o", "x.wav", "--voice", "nobody"]) == 2
    assert "unknown voice 'nobody'" in capsys.readouterr().err
