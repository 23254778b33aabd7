"""Contact sheet of the stock Faces: the source photo, and frames of each preview (sample) video, so a
person can judge them; plus a few numbers per sample video.

    .venv/bin/python bench/stock_sheet.py [--stock faces/stock] [--out bench/results/stock_sheet.json]

Builds the stock Faces first if they are not built (``facecraft stock build``). Writes
``stock_sheet.png`` (one row per stock Face: the photo, then 6 frames spread over its sample video)
and ``stock_frames_<key>.png`` (8 consecutive frames of speech, cut to the face and enlarged) next to the
JSON. Per sample video: length, frame size, the voice's F0 median and speaking rate measured on the
video's own audio, and how much the mouth moves (spread of the inner-lip opening over the frames,
from tracking the rendered video).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from _common import REPO, machine_info, write_result
from facecraft import media, vision
from facecraft.faces.stock import STOCK_SOURCES, read_source
from facecraft.service.stock import build_stock_faces
from facecraft.speech.voice import profile_voice

ROW_H = 200
FRAMES_PER_ROW = 6


def _fit(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, out.shape[0] - 22), (out.shape[1], out.shape[0]), (0, 0, 0), -1)
    cv2.putText(out, text, (6, out.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def _hstack(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    parts: list[np.ndarray] = []
    for image in images:
        parts += [image, np.full((h, gap, 3), 255, np.uint8)]
    return np.hstack(parts[:-1])


def _vstack(rows: list[np.ndarray], gap: int = 6) -> np.ndarray:
    w = max(r.shape[1] for r in rows)
    parts: list[np.ndarray] = []
    for row in rows:
        padded = np.full((row.shape[0], w, 3), 255, np.uint8)
        padded[:, : row.shape[1]] = row
        parts += [padded, np.full((gap, w, 3), 255, np.uint8)]
    return np.vstack(parts[:-1])


def sample_row(name: str, photo: np.ndarray, frames: list[np.ndarray], fps: float) -> np.ndarray:
    picks = np.linspace(0, len(frames) - 1, FRAMES_PER_ROW + 2)[1:-1].round().astype(int)
    cells = [_label(_fit(photo, ROW_H), f"{name}: photo")]
    cells += [_label(_fit(frames[i], ROW_H), f"{i / fps:.1f} s") for i in picks]
    return _hstack(cells)


def track(frames: list[np.ndarray], fps: float):  # noqa: ANN201 - vision.Tracks
    h, w = frames[0].shape[:2]
    return vision.track_frames([media.Frame(index=i, time_s=i / fps, image=f) for i, f in enumerate(frames)],
                               fps=fps, width=w, height=h)


def mouth_spread(tracks) -> float:  # noqa: ANN001
    """Spread (std) of the normalised inner-lip opening over the video's frames (0: a still mouth)."""
    aperture = np.asarray(tracks.aperture, dtype=np.float64)[np.asarray(tracks.present, dtype=bool)]
    return float(np.std(aperture)) if aperture.size else 0.0


def face_strip(frames: list[np.ndarray], tracks, fps: float, start: int,  # noqa: ANN001
               count: int = 8) -> np.ndarray:
    """``count`` consecutive frames from ``start``, cut to the face (its median box, enlarged) and
    enlarged to 200 px high, so the mouth can be judged."""
    boxes = np.asarray(tracks.box, dtype=np.float64)[np.asarray(tracks.present, dtype=bool)]
    x0, y0, x1, y1 = np.median(boxes, axis=0)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.65 * max(x1 - x0, y1 - y0)
    h, w = frames[0].shape[:2]
    a, b = int(max(0, cy - half)), int(min(h, cy + half))
    c, d = int(max(0, cx - half)), int(min(w, cx + half))
    picks = range(start, min(len(frames), start + count))
    cells = [_label(_fit(frames[i][a:b, c:d], 200), f"{i / fps:.2f} s") for i in picks]
    return _hstack(cells)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stock", type=Path, default=REPO / "faces" / "stock")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "stock_sheet.json")
    args = parser.parse_args(argv)
    built = build_stock_faces(args.stock, on_step=lambda line: print(line, file=sys.stderr))
    faces = {f.key: f for f in built}
    rows: list[np.ndarray] = []
    results: list[dict[str, Any]] = []
    for source in STOCK_SOURCES:
        face = faces[source.key]
        assert face.preview is not None
        info = media.probe(face.preview)
        fps = float(info.video.fps) if info.video else 25.0
        frames = [f.image for f in media.iter_frames(face.preview)]
        audio = media.read_audio(face.preview, sample_rate=16000)
        photo = cv2.cvtColor(cv2.imdecode(np.frombuffer(read_source(source), np.uint8), cv2.IMREAD_COLOR),
                             cv2.COLOR_BGR2RGB)
        rows.append(sample_row(source.name, photo, frames, fps))
        tracks = track(frames, fps)
        strip = face_strip(frames, tracks, fps, len(frames) // 3)
        strip_path = args.out.with_name(f"stock_frames_{source.key}.png")
        _write_png(strip_path, strip)
        profile = profile_voice(audio.samples, audio.sample_rate)
        results.append({
            "key": source.key,
            "name": source.name,
            "voice": source.voice,
            "preview": str(face.preview),
            "seconds": round(len(frames) / fps, 2),
            "frames": len(frames),
            "size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
            "f0_median_hz": round(profile.f0_median_hz, 1),
            "syllables_per_s": round(profile.speaking_rate_sps, 2),
            "mouth_aperture_std": round(mouth_spread(tracks), 4),
            "frames_png": _shown(strip_path),
        })
    sheet = args.out.with_name("stock_sheet.png")
    _write_png(sheet, _vstack(rows))
    print(f"wrote {sheet}")
    print(f"{'stock Face':<16} {'voice':<9} {'seconds':>7} {'size':>9} {'F0 med':>7} {'syl/s':>6} "
          f"{'mouth sd':>9}")
    for r in results:
        print(f"{r['name']:<16} {r['voice']:<9} {r['seconds']:>7.2f} {r['size'][0]:>4}x{r['size'][1]:<4} "
              f"{r['f0_median_hz']:>7.1f} {r['syllables_per_s']:>6.2f} {r['mouth_aperture_std']:>9.4f}")
    write_result(args.out, {"machine": machine_info(), "sheet": _shown(sheet), "faces": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
