"""Do the shipped MVNet's style images of two pieces differ? Runs the exported graph (no torch) on
the bundled Brahms and Tchaikovsky recordings, one window per second (windows wholly inside the
recording), with one fixed z, and prints:

- mean pairwise distance between images of different pieces vs of the same piece (RMS over
  RGB pixels in [0,1]), and their ratio;
- leave-one-out nearest-centroid accuracy telling the two pieces apart from the images alone;
- the mean colour of each piece's images.

    python bench/mvnet_recordings.py [--seed 0] [--hop 1.0] [--json out.json] [--sheet docs/mvnet_recordings.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from livestyle.io.decode import load_audio
from livestyle.audio.features import IncrementalMel, clip_start_for
from livestyle.io.images import write_image
from livestyle.runtime.sessions import Engine
from livestyle.runtime.manifest import models_dir
from livestyle.runtime.mvnet_runner import MVNetRunner, seeded_z
from livestyle.commands.visualize import contact_sheet

REPO = Path(__file__).resolve().parents[1]
PIECES = {"brahms": REPO / "data" / "audio" / "brahms_hungarian_dance_5.ogg",
          "tchaikovsky": REPO / "data" / "audio" / "tchaikovsky_sugar_plum_fairy_macleod.ogg"}


def piece_images(runner: MVNetRunner, path: Path, seed: int, hop: float) -> np.ndarray:
    cfg = runner.mel_config
    audio = load_audio(path, cfg.sample_rate)
    half = cfg.clip_seconds / 2
    times = np.arange(half, len(audio) / cfg.sample_rate - half, hop)
    mel, z = IncrementalMel(cfg), seeded_z(seed)
    return np.stack([runner.style_image(mel.window(audio, clip_start_for(t, cfg)), z) for t in times])


def mean_pairwise(a: np.ndarray, b: np.ndarray, same: bool) -> float:
    d = np.sqrt(((a[:, None] - b[None]) ** 2).mean(-1))
    if same:
        d = d[~np.eye(len(a), dtype=bool)]
    return float(d.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hop", type=float, default=1.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet (row per piece)")
    args = parser.parse_args()

    runner = MVNetRunner(Engine(providers=("cpu",)), models_dir())
    images = {name: piece_images(runner, path, args.seed, args.hop) for name, path in PIECES.items()}
    flat = {k: v.reshape(len(v), -1).astype(np.float64) / 255 for k, v in images.items()}
    a, b = flat["brahms"], flat["tchaikovsky"]
    between = mean_pairwise(a, b, same=False)
    within = {k: mean_pairwise(v, v, same=True) for k, v in flat.items()}
    within_mean = float(np.mean(list(within.values())))

    # leave-one-out nearest centroid
    correct = total = 0
    for name, own in flat.items():
        other = flat["tchaikovsky" if name == "brahms" else "brahms"]
        for i in range(len(own)):
            rest = np.delete(own, i, axis=0).mean(0)
            correct += np.linalg.norm(own[i] - rest) < np.linalg.norm(own[i] - other.mean(0))
            total += 1
    result = {
        "seed": args.seed, "hop_seconds": args.hop,
        "windows": {k: len(v) for k, v in images.items()},
        "rms_distance_between_pieces": round(between, 4),
        "rms_distance_within_piece": {k: round(v, 4) for k, v in within.items()},
        "between_over_within": round(between / within_mean, 3),
        "nearest_centroid_accuracy": round(correct / total, 3),
        "mean_rgb": {k: [round(float(c), 1) for c in v.reshape(-1, 3).mean(0)] for k, v in images.items()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.sheet:
        rows = []
        for name, imgs in images.items():
            picks = imgs[np.linspace(0, len(imgs) - 1, 8).round().astype(int)]
            rows.append(contact_sheet(list(picks), [name[:5]] * len(picks), columns=8))
        write_image(args.sheet, np.concatenate(rows, axis=0))


if __name__ == "__main__":
    main()
