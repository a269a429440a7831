"""Grid of held-out pairs restyled by the shipped STNet graphs (ONNX Runtime, no torch):
one row per content image: content | style 1 output | style 2 output | ..., styles on top.

    python bench/stnet_grid.py [-o docs/stnet_starter_grid.png] [--height 192]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from livestyle.io.images import fit_height, read_image, resize_shorter, write_image
from livestyle.io.video import sample_frames
from livestyle.runtime.engine import Engine
from livestyle.runtime.models import models_dir
from livestyle.runtime.stylizer import STNetRunner

REPO = Path(__file__).resolve().parents[1]
# all held out of the starter training set (livestyle/train/starter.py)
STYLES = ("1831_hokusai_the_great_wave_off_kanagawa.jpg", "1893_munch_the_scream.jpg",
          "1905_matisse_woman_with_a_hat.jpg", "1565_elder_the_harvesters.jpg")


def tile(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop to the aspect ratio, then resize."""
    h, w = image.shape[:2]
    if w / h > width / height:
        new_w = int(h * width / height)
        image = image[:, (w - new_w) // 2:(w - new_w) // 2 + new_w]
    else:
        new_h = int(w * height / width)
        image = image[(h - new_h) // 2:(h - new_h) // 2 + new_h]
    return fit_height(image, height)[:, :width]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "stnet_starter_grid.png")
    parser.add_argument("--height", type=int, default=160)
    args = parser.parse_args()

    runner = STNetRunner(Engine(providers=("cpu",)), models_dir())
    contents = [read_image(REPO / "data" / "photos" / "coffee.jpg"),
                sample_frames(REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4", 24)[17]]
    styles = [read_image(REPO / "data" / "paintings" / name) for name in STYLES]
    h = args.height
    w = int(h * 1.5)
    blank = np.full((h, w, 3), 255, np.uint8)
    rows = [np.concatenate([blank] + [tile(s, h, w) for s in styles], axis=1)]
    for content in contents:
        frame = tile(content, h, w)
        outputs = [runner.stylize(frame, runner.style_state(resize_shorter(s, 256))) for s in styles]
        rows.append(np.concatenate([frame] + outputs, axis=1))
    write_image(args.output, np.concatenate(rows, axis=0))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
