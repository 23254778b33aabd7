"""Train the speaker-independent audio -> mouth model (``src/facecraft/models/lipsync_general.npz``).

    .venv/bin/python scripts/train_lipsync.py            # train on every clip, write the model
    .venv/bin/python scripts/train_lipsync.py --loso     # leave-one-speaker-out scores, nothing written

Reads the talking-head clips of ``../shared/testdata`` (the people of ``corpus/`` and the dev clips of
``video/``; see ``bench/_corpus.py``), tracks them once (cached under ``.cache/``), encodes their audio
with Whisper tiny.en (``facecraft.speech.encoder``) and fits ``facecraft.engine.lipsync.fit_general``: a
ridge regression from the encoder states around each frame to the speaker-normalised lip aperture and
mouth width. The corpus is not part of the repository (its licence does not allow it); only the learned
weights are. The script writes the file and its sha256 and size into the model registry
(``facecraft/models/__init__.py``, checked at load) and ``MODELS.md``.
A few minutes on two cores once the tracks are cached (the first run tracks every clip: ~10 min).

``--loso`` prints, per clip, the aperture correlation of a model trained without that clip's speaker
(at lag 0, and at the clip's best lag within +-6 frames), for comparing features (``--features``) and
settings; ``bench/fidelity.py --loso`` measures the whole engine the same way.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import _corpus  # noqa: E402
from facecraft import models  # noqa: E402
from facecraft.engine import lipsync  # noqa: E402


def _r(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _last30(pred: np.ndarray, d: lipsync.TrainingClip) -> float:
    """Aperture r on the clip's last 30 % at the lag its first 70 % shows (as a Face built on the first 70 %
    would find it)."""
    split = int(d.n * 0.7)
    lag = lipsync.best_lag(pred[:split], d.targets[:split, 0], d.ok[:split])
    ys, oks = lipsync.shifted(d.targets, d.ok, lag)
    oks[:split] = False
    return _r(pred[oks], ys[oks, 0]) if oks.sum() > 4 else float("nan")


def loso(data: list[lipsync.TrainingClip], **kwargs) -> list[dict]:
    """Per clip: aperture and width correlations of a model trained without its speaker."""
    rows = []
    for speaker in dict.fromkeys(d.speaker for d in data):
        model = lipsync.fit_general([d for d in data if d.speaker != speaker], **kwargs)
        for d in (d for d in data if d.speaker == speaker):
            pred = model.predict_states(d.states, d.fps, d.n)
            lag = lipsync.best_lag(pred[:, 0], d.targets[:, 0], d.ok)
            ys, oks = lipsync.shifted(d.targets, d.ok, lag)
            row = {"clip": d.name, "r0": _r(pred[d.ok, 0], d.targets[d.ok, 0]),
                   "r_lag": _r(pred[oks, 0], ys[oks, 0]), "lag": lag, "r_width": _r(pred[oks, 1], ys[oks, 1]),
                   "r_last30": _last30(pred[:, 0], d)}
            rows.append(row)
            print(f"{d.name:<36} r0 {row['r0']:.3f} r_lag {row['r_lag']:.3f} lag {lag:+d} "
                  f"width r {row['r_width']:.3f} last 30 % {row['r_last30']:.3f}", flush=True)
    return rows


def write_model(model: lipsync.GeneralLipModel) -> tuple[str, int]:
    """Save the model into the models folder and record its sha256 and size in the registry
    (``facecraft/models/__init__.py``) and in ``MODELS.md``."""
    entry = models.MODELS[lipsync.GENERAL_MODEL]
    path = models.MODELS_DIR / entry.path
    model.save(path)
    digest, size = models.measure(path)
    init = models.MODELS_DIR / "__init__.py"
    pattern = (r'(ModelFile\("lipsync_general", "lipsync_general.npz",\s*)"[0-9a-f]{64}", [0-9_]+\)')
    text, count = re.subn(pattern, lambda m: f'{m.group(1)}"{digest}", {size:_})', init.read_text())
    if count != 1:
        raise SystemExit(f"the lipsync_general row was not found in {init}")
    init.write_text(text)
    table = models.MODELS_DIR / "MODELS.md"
    text, count = re.subn(r"(\| `lipsync_general` \|(?:[^|\n]*\|){4}) [0-9,]+ \| `[0-9a-f]{64}` \|",
                          lambda m: f"{m.group(1)} {size:,} | `{digest}` |", table.read_text())
    if count != 1:
        raise SystemExit(f"the lipsync_general row was not found in {table}")
    table.write_text(text)
    return digest, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loso", action="store_true", help="leave-one-speaker-out scores; write nothing")
    parser.add_argument("--pca", type=int, default=lipsync.N_PCA, help="PCA dimensions of the features")
    parser.add_argument("--ridge", type=float, default=lipsync.RIDGE)
    parser.add_argument("--within", action="store_true",
                        help="fit within clips (fit_general's within; measured, not shipped)")
    parser.add_argument("--features", choices=("whisper", "logmel"), default="whisper",
                        help="speech features (logmel only to compare, with --loso)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    _corpus.FEATURES = args.features
    data = _corpus.load_training_data()
    if args.loso:
        rows = loso(data, n_pca=args.pca, ridge=args.ridge, within=args.within)
        print(f"MEAN r0 {np.mean([r['r0'] for r in rows]):.3f} "
              f"r_lag {np.mean([r['r_lag'] for r in rows]):.3f} "
              f"width {np.mean([r['r_width'] for r in rows]):.3f} "
              f"last 30 % {np.nanmean([r['r_last30'] for r in rows]):.3f}")
        return 0
    if args.features != "whisper":
        parser.error("the engine reads Whisper features: train with --features whisper")
    digest, size = write_model(lipsync.fit_general(data, n_pca=args.pca, ridge=args.ridge, within=args.within))
    print(f"wrote {models.MODELS[lipsync.GENERAL_MODEL].path} (sha256 {digest}; {size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
