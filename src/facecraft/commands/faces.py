"""CLI command group ``facecraft faces``: build a Face (from a video or a photo), show, export, import."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facecraft.commands._help import example

DEFAULT_OUT = "faces"


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``faces create|show|export|import`` to the top-level parser."""
    p = sub.add_parser("faces", help="build and inspect Face bundles",
                       **example("facecraft faces create --video clip.mp4 --name Alex",
                                 "facecraft faces show faces/r1234abcd"))
    fsub = p.add_subparsers(dest="faces_command", metavar="ACTION")

    c = fsub.add_parser("create", help="build a Face bundle from a training video or a photo",
                        **example("facecraft faces create --video clip.mp4 --name Alex",
                                  "facecraft faces create --image portrait.jpg --name Sam --voice ada-us"))
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", help="training video (~30 s speaking, then ~30 s listening)")
    src.add_argument("--image", help="a photo (JPG/PNG >= 512x512, one front-facing face)")
    c.add_argument("--name", required=True, help="name of the Face")
    c.add_argument("--out", default=DEFAULT_OUT, help=f"directory for bundles (default: ./{DEFAULT_OUT})")
    c.add_argument("--range", nargs=2, type=float, metavar=("START", "END"), help="use only this part (s)")
    c.add_argument("--voice", default=None,
                   help="stock voice of a photo Face (default: joe-us; `facecraft voices` lists them)")
    c.add_argument("--auto-fix", action="store_true", help="reframe a photo to a head-and-shoulders square")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    consent = c.add_mutually_exclusive_group()
    consent.add_argument("--consent-clip", default=None,
                         help="a separate clip in which the same person says the consent statement")
    consent.add_argument("--consent-attested", action="store_true",
                         help="skip the consent checks: you attest the person's consent (recorded in the "
                              "bundle)")
    c.set_defaults(handler=create)

    s = fsub.add_parser("show", help="summarise a Face bundle",
                        **example("facecraft faces show faces/r1234abcd",
                                  "facecraft faces show faces/r1234abcd --json"))
    s.add_argument("bundle", metavar="BUNDLE", help="bundle directory")
    s.add_argument("--json", action="store_true", help="print the manifest and report as JSON")
    s.set_defaults(handler=show)

    e = fsub.add_parser("export", help="pack a bundle into one .face file",
                        **example("facecraft faces export faces/r1234abcd alex.face"))
    e.add_argument("bundle", metavar="BUNDLE")
    e.add_argument("out", metavar="FILE.face")
    e.set_defaults(handler=export)

    i = fsub.add_parser("import", help="unpack a .face file into a bundle directory",
                        **example("facecraft faces import alex.face --out faces"))
    i.add_argument("face_file", metavar="FILE.face")
    i.add_argument("--out", default=DEFAULT_OUT, help=f"directory for bundles (default: ./{DEFAULT_OUT})")
    i.set_defaults(handler=import_)
    p.set_defaults(handler=lambda args: p.print_help() or 2)


def create(args: argparse.Namespace) -> int:
    from facecraft.commands._progress import PercentBar
    from facecraft.errors import InputError
    from facecraft.faces.build import build_face

    if args.image is None and (args.voice is not None or args.auto_fix):
        raise InputError("--voice and --auto-fix apply to --image (a photo) only")
    if args.image is not None and args.range:
        raise InputError("--range applies to --video only")
    if args.image is not None and (args.consent_clip or args.consent_attested):
        raise InputError("--consent-clip and --consent-attested apply to --video only")

    with PercentBar("building", enabled=not args.no_progress, width=18) as progress:
        if args.image is not None:
            from facecraft.faces.from_image import DEFAULT_VOICE_NAME, build_face_from_image

            path = build_face_from_image(args.image, name=args.name, out_dir=args.out, progress=progress,
                                         voice=args.voice or DEFAULT_VOICE_NAME, auto_fix=args.auto_fix)
        else:
            path = build_face(args.video, name=args.name, out_dir=args.out, progress=progress,
                              source_range=tuple(args.range) if args.range else None,
                              consent=_consent_policy(args))
    print(path)
    return 0


def _consent_policy(args: argparse.Namespace):  # noqa: ANN202 - a ConsentPolicy, imported lazily
    from facecraft.faces.consent import ConsentPolicy

    if args.consent_attested:
        return ConsentPolicy("attested", attested_by="cli")
    if args.consent_clip:
        return ConsentPolicy("clip", clip_path=str(args.consent_clip))
    return ConsentPolicy("statement")


def summary(bundle) -> str:  # noqa: ANN001 - FaceBundle, imported lazily
    """A few readable lines about a bundle."""
    m = bundle.manifest
    src, out, voice = m.get("source", {}), m.get("output", {}), m.get("voice", {})
    a = bundle.analysis
    size = sum(f.stat().st_size for f in bundle.path.iterdir() if f.is_file())
    warns = [c for c in bundle.report.checks if c.status == "warn"]
    lines = [
        f"Face {m['name']!r}  id {m['id']}  ({m['format']}, created {m.get('created_at', '?')})",
        f"  path      {bundle.path}  ({size / 1e6:.1f} MB)",
        f"  source    {src.get('filename')}  {src.get('duration')} s  {src.get('size')}  {src.get('fps')} fps"
        f"  sha256 {str(src.get('sha256', ''))[:12]}",
        f"  footage   {out.get('frames')} frames  {out.get('size')}  {out.get('fps')} fps",
        f"  segments  speaking {a.speaking_s:.1f} s in {len(a.speaking)}, listening {a.listening_s:.1f} s "
        f"in {len(a.listening)}",
        f"  voice     {voice.get('seconds')} s clean speech" + _stock_voice(voice),
        f"  checks    {bundle.report.status}" + (f" ({len(warns)} warnings)" if warns else ""),
    ]
    lines += [f"    warn  {c.label}: {c.message}" for c in warns]
    extra = sorted(f.name for f in bundle.path.iterdir() if f.is_file() and f.name not in _CORE)
    if extra:
        lines.append(f"  engine    {', '.join(extra)}")
    return "\n".join(lines)


def _stock_voice(voice: dict) -> str:
    source = voice.get("source")
    return f" (stock voice {source.get('voice_name')})" if isinstance(source, dict) else ""


_CORE = {"manifest.json", "report.json", "footage.mp4", "tracks.npz", "analysis.json", "voice.wav",
         "voice.json", "thumbnail.jpg"}


def show(args: argparse.Namespace) -> int:
    from facecraft.faces.bundle import load_bundle

    bundle = load_bundle(args.bundle)
    if args.json:
        print(json.dumps({"manifest": bundle.manifest, "report": bundle.report.to_dict()}, indent=2))
    else:
        print(summary(bundle))
    return 0


def export(args: argparse.Namespace) -> int:
    from facecraft.faces.bundle import export_bundle

    print(export_bundle(args.bundle, Path(args.out)))
    return 0


def import_(args: argparse.Namespace) -> int:
    from facecraft.faces.bundle import import_bundle

    print(import_bundle(args.face_file, args.out))
    return 0
