"""The live Face's video encoding: CPU per frame and image quality, aiortc's VP8 settings against the Face's.

A Face (512x512 by default) renders ``--frames`` live frames (a few sentences, then listening) through
the session's engine settings. Each setting encodes them with libvpx (PyAV, as aiortc does) at a
constant bitrate, and the decoded frames are compared with the rendered ones:

- ``convert_ms``: RGB -> I420 per frame (aiortc: PyAV's swscale; the Face: OpenCV, ``video_codec``);
- ``encode_ms``: VP8 encode per frame (process CPU time);
- ``kbps``: what the encoder sent; ``psnr_db``, ``ssim``: decoded frames against the rendered ones
  (every 5th frame after the first second).

    python bench/live_codec.py [--bundle DIR | --video CLIP] [--size 512] [--frames 300] [--out FILE]

Times are CPU seconds on a shared machine (noisy); the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import os
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from skimage.metrics import structural_similarity

from _common import REPO, TESTDATA, live_bundle, machine_info, write_result
from facecraft.conversation.video_codec import ENCODER_OPTIONS, rgb_to_i420

AIORTC_OPTIONS = {"cpu-used": "-6", "deadline": "realtime", "lag-in-frames": "0", "noise-sensitivity": "4",
                  "overshoot-pct": "15", "partitions": "0", "static-thresh": "1", "undershoot-pct": "100"}
BITRATES = (500_000, 1_500_000)  # aiortc's start and ceiling
TEXT = "Hello there. Nice to meet you. How are you today? That sounds great."


def render_frames(bundle: Path, size: int, count: int) -> np.ndarray:
    """``count`` live frames of the Face: a few sentences, then listening."""
    from facecraft.conversation.session import _keep_footage, live_engine_config
    from facecraft.engine import Renderer, StreamingRenderer
    from facecraft.faces.bundle import load_bundle
    from facecraft.perform.speech import face_speaker

    face = load_bundle(bundle)
    stream = StreamingRenderer(Renderer(face, size=(size, size), config=live_engine_config()))
    _keep_footage(stream.renderer)
    tts, _ = face_speaker(face)
    samples, rate, alignment = tts.synthesize(TEXT)
    for _ in range(30):
        stream.next_frame()
    stream.push_audio(samples, rate, list(alignment.phones) or None)
    stream.end_of_speech()
    return np.stack([stream.next_frame().image.copy() for _ in range(count)])


def measure(frames: np.ndarray, bitrate: int, options: dict[str, str], opencv: bool) -> dict[str, Any]:
    side_h, side_w = frames.shape[1:3]
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.bit_rate, encoder.pix_fmt = side_w, side_h, bitrate, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, 90000), Fraction(30, 1)
    encoder.gop_size, encoder.qmin, encoder.qmax = 3000, 2, 56
    encoder.options = {**options, "bufsize": str(bitrate), "minrate": str(bitrate), "maxrate": str(bitrate)}
    encoder.thread_count = 1
    decoder = av.CodecContext.create("libvpx", "r")
    convert = encode = 0.0
    sent = 0
    psnr: list[float] = []
    ssim: list[float] = []
    for k, image in enumerate(frames):
        c = time.process_time()
        if opencv:
            frame = av.VideoFrame.from_ndarray(rgb_to_i420(image), format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = k * 3000, Fraction(1, 90000)
        convert += time.process_time() - c
        c = time.process_time()
        packets = encoder.encode(frame)
        encode += time.process_time() - c
        for packet in packets:
            sent += packet.size
            for decoded in decoder.decode(av.Packet(bytes(packet))):
                if k >= 30 and k % 5 == 0:
                    out = decoded.to_ndarray(format="rgb24")
                    mse = float(np.mean((out.astype(np.float64) - image) ** 2))
                    psnr.append(10 * np.log10(255.0 ** 2 / max(mse, 1e-9)))
                    ssim.append(float(structural_similarity(out, image, channel_axis=2)))
    n = len(frames)
    return {"bitrate": bitrate, "convert_ms": round(1000 * convert / n, 3), "encode_ms": round(1000 * encode / n, 3),
            "kbps": round(sent * 8 * 30 / n / 1000, 1), "psnr_db": round(float(np.mean(psnr)), 2),
            "ssim": round(float(np.mean(ssim)), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, help="a built Face bundle (default: build one from --video)")
    ap.add_argument("--video", type=Path, default=TESTDATA / "video" / "styletalk_Obama_clip2_muxed.mp4")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "live_codec.json")
    args = ap.parse_args()
    bundle = live_bundle(args.bundle, args.video, "bench codec")
    load_before = os.getloadavg()
    frames = render_frames(bundle, args.size, args.frames)
    rows = []
    for bitrate in BITRATES:
        for name, options, opencv in (("aiortc", AIORTC_OPTIONS, False), ("face", ENCODER_OPTIONS, True)):
            rows.append({"setting": name, **measure(frames, bitrate, options, opencv)})
    print(f"\nVP8 for a {args.size}x{args.size} Face, {args.frames} frames, load average before {load_before[0]:.1f}")
    print(f"{'setting':8} {'kbit/s':>7} {'convert ms':>10} {'encode ms':>9} {'sent kbps':>9} {'PSNR dB':>8} "
          f"{'SSIM':>7}")
    for r in rows:
        print(f"{r['setting']:8} {r['bitrate'] // 1000:7d} {r['convert_ms']:10.2f} {r['encode_ms']:9.2f} "
              f"{r['kbps']:9.0f} {r['psnr_db']:8.2f} {r['ssim']:7.4f}")
    write_result(args.out, {"bench": "live_codec", "size": args.size, "frames": args.frames, "bundle": str(bundle),
                            "aiortc_options": AIORTC_OPTIONS, "face_options": ENCODER_OPTIONS,
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load_before]),
                            "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
