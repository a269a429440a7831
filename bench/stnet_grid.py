"""Grid of held-out pairs restyled by the shipped STNet graphs (ONNX Runtime, no torch):
one row per content image: content | style 1 output | style 2 output | ..., styles on top.

Also prints how much the palette follows the style, from chroma moments (mean and standard
deviation of a and b in CIELAB: hue and colourfulness, not lightness) of 5 content images (the coffee photo, 4 frames of the clip)
restyled with the 4 held-out paintings:
  palette spread   mean distance between the outputs of one content for different styles, divided
                   by the mean distance between the styles themselves (1: outputs differ as much
                   as the paintings do; 0: every style gives the same colours)
  own-style match  share of outputs whose colour moments are nearest to their own style's

    python bench/stnet_grid.py [-o docs/stnet_starter_grid.png] [--height 160]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from livestyle.io.images import centre_tile, read_image, resize_shorter, write_image
from livestyle.io.decode import sample_frames
from livestyle.runtime.sessions import Engine
from livestyle.runtime.manifest import models_dir
from livestyle.runtime.stnet_runner import STNetRunner

REPO = Path(__file__).resolve().parents[1]
# all held out of every STNet training set (bench/stnet_heldout.json)
STYLES = ("1831_hokusai_the_great_wave_off_kanagawa.jpg", "1893_munch_the_scream.jpg",
          "1905_matisse_woman_with_a_hat.jpg", "1565_elder_the_harvesters.jpg")


def colour_moments(image: np.ndarray) -> np.ndarray:
    import cv2

    ab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)[:, 1:]
    return np.concatenate([ab.mean(0), ab.std(0)])


def palette_figures(runner: STNetRunner, contents: list[np.ndarray], styles: list[np.ndarray]) -> dict:
    style_m = np.stack([colour_moments(s) for s in styles])
    between_styles = np.mean([np.linalg.norm(a - b) for i, a in enumerate(style_m) for b in style_m[i + 1:]])
    spreads, hits = [], 0
    for content in contents:
        outs = np.stack([colour_moments(runner.stylize(content, runner.style_state(resize_shorter(s, 256))))
                         for s in styles])
        spreads.append(np.mean([np.linalg.norm(a - b) for i, a in enumerate(outs) for b in outs[i + 1:]]))
        for k, m in enumerate(outs):
            hits += int(np.argmin(np.linalg.norm(style_m - m, axis=1)) == k)
    return {"palette_spread": round(float(np.mean(spreads) / between_styles), 3),
            "own_style_match": f"{hits}/{len(contents) * len(styles)}"}


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
    rows = [np.concatenate([blank] + [centre_tile(s, h, w) for s in styles], axis=1)]
    for content in contents:
        frame = centre_tile(content, h, w)
        outputs = [runner.stylize(frame, runner.style_state(resize_shorter(s, 256))) for s in styles]
        rows.append(np.concatenate([frame] + outputs, axis=1))
    write_image(args.output, np.concatenate(rows, axis=0))
    print(f"wrote {args.output}")
    frames = sample_frames(REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4", 24)
    measured = [centre_tile(c, h, w) for c in [contents[0]] + [frames[i] for i in (5, 11, 17, 23)]]
    print(palette_figures(runner, measured, styles))


if __name__ == "__main__":
    main()
