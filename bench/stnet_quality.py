"""Every STNet quality figure of issue 9, on the frozen held-out pairs (bench/stnet_heldout.json).

    python bench/stnet_quality.py                                   # the shipped graphs in exported/
    python bench/stnet_quality.py --models exported --models /tmp/old_export   # side by side
    python bench/stnet_quality.py --models exported:r31 --models exported:lite  # lite vs r31 (+ SSIM)
    python bench/stnet_quality.py [--data runs/stnet_data] [--json bench/stnet_quality.json]
                                  [-o docs/stnet_quality_grid.png] [--threads 1]
                                  [--contents N] [--styles N] [--frames N]

Inputs: the held-out images built by `livestyle data stnet-starter runs/stnet_data`
(DATA/content_heldout/<stem>.jpg, DATA/style_heldout/<stem>.jpg), and one or more folders of exported
STNet graphs, run on ONNX Runtime's CPU provider through the project's STNetRunner (uint8 frame in,
uint8 frame out, as `render` uses them). Content and style images are resized to 256 px on the long
side unless said otherwise. Every figure is a mean over the pairs; the JSON adds per-style (and per-
pair) values.

  1 Gram ratio     VGG-19 Gram matrices G = F F^T / (C h w) at relu2_1, relu3_1, relu4_1:
                   d(x) = mean over the 3 layers of ||G(x) - G(style)||_F / ||G(style)||_F, and the
                   figure is d(output) / d(content), per pair, then averaged (the JSON's
                   gram_ratio_pooled divides the pair means instead). 1 = the output is as far from the
                   style's textures as the untouched content, 0 = it has the style's Grams. Target
                   <= 0.45. Baselines on the same pairs: the content unchanged (1 by definition) and
                   a per-channel colour transfer (each RGB channel of the content shifted and scaled
                   to the style's mean and standard deviation).
  2 Legibility     Canny edges (greyscale, thresholds 50/150, at 256 px) of output and content.
                   Recall: share of content edge pixels with an output edge in their 5x5 window;
                   precision: share of output edge pixels with a content edge in their 5x5 window
                   Means over the pairs where they are defined: an output without any edge (a very
                   flat one) has no precision; the JSON counts those (edgeless_outputs). Targets
                   recall >= 0.5, precision >= 0.3.
  3 Palette        as bench/stnet_grid.py: colour moments = mean and std of CIELAB a, b. Spread =
                   mean distance between one content's outputs for different styles / mean distance
                   between the styles' own moments, averaged over contents (target >= 0.8).
                   Own-style match = share of outputs whose moments are nearest to their own style's
                   among all held-out styles, also as k/20 = round(20 * share) (target >= 15/20).
  4 Losses         the trainer's content_loss (relu4_1) and style_loss (relu1_1..relu4_1) with its
                   loss network, on the crops its evaluate_heldout uses (ImageFolder(dir, 256).fixed:
                   shorter side 384, then 256, centre crop 256x256). The output here is the graphs'
                   uint8 frame (clipped to [0,1] and rounded), not the trainer's unclipped float
                   tensor. Also given on the 16 starter pairs (4 contents x the 4 paintings), the
                   pairs of the manifest's `heldout` figures (241.2 style / 2.87 content shipped).
  5 Flicker        the first --frames frames (default 96 = 4 s) of data/video/big_buck_bunny_cut_10s.mp4
                   at 256x144, one fixed style (the first held-out style).
                   F (bench/temporal.py's definition, on a still region): RMS over t of
                   |m(t+1) - 2 m(t) + m(t-1)|, m(t) = mean RGB (0-255) of the output over the pixels
                   whose source grey level never changes by 4 or more between frames; the source's own
                   F on that region is given beside it.
                   Warped error: Farneback flow between consecutive SOURCE frames warps the previous
                   frame onto the current one (cv2.remap); over the pixels where the flow lands inside
                   the frame and explains the source (|warped source - source| < 10 of 255, channel
                   mean), E = mean |warped previous - current| (0-255). Reported as E(output) /
                   E(source): 1.0 = the output changes no more than the source moves unexplained.
                   --flicker-styles N: F and E are means over the first N held-out styles (the
                   JSON's flicker_per_style has each).
  6 Grid           one row per held-out content: the content, then its output for each held-out
                   style, the styles as a header row; tiles 128 px high. One file per model:
                   -o for the first, -o with `_<n>_<folder name>` before the extension for the others.

Output: a table (one line per figure per model and baseline, with target and PASS/MISS), --json,
the grid images. Runs on --threads CPU threads (default 1: torch, OpenCV and ONNX Runtime); the
shipped model takes about 2 minutes on one core. --contents/--styles/--frames subsample (first N)
for quick checks; the figures of record use all 55 pairs and 96 frames.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from livestyle.io.images import centre_tile, read_image, resize_shorter, write_image
from livestyle.models.vgg import VGGEncoder, load_vgg19_weights
from livestyle.runtime.sessions import Engine, RuntimeConfig
from livestyle.runtime.stnet_runner import STNetRunner
from livestyle.train.stnet_trainer import TransformStage, content_loss, style_loss

REPO = Path(__file__).resolve().parents[1]
HELDOUT = REPO / "bench" / "stnet_heldout.json"
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
SIZE = 256                     # long side of content and style images (the convention)
EVAL_SIZE = 256                # trainer's eval_size: 256x256 centre crops for the losses
GRAM_LAYERS = ("r21", "r31", "r41")
FLICKER_SIZE = (256, 144)      # (W, H) of the clip frames
STILL_THRESHOLD = 4.0          # grey levels: a still pixel never changes by this much between frames
EXPLAINED_THRESHOLD = 10.0     # of 255: the flow explains a pixel when warped source is this close
TILE_HEIGHT = 128
# The 16 pairs of the manifest's `heldout` figures (the starter's held-out set: coffee, flower,
# clip frames 5 and 17 x the 4 paintings).
STARTER_CONTENTS = ("skimage__coffee", "sklearn__flower", "bbb__frame_05", "bbb__frame_17")
STARTER_STYLES = ("painting__1831_hokusai_the_great_wave_off_kanagawa", "painting__1893_munch_the_scream",
                  "painting__1905_matisse_woman_with_a_hat", "painting__1565_elder_the_harvesters")
TARGETS = {  # figure: (comparison, threshold)
    "gram_ratio": ("<=", 0.45),
    "edge_recall": (">=", 0.5),
    "edge_precision": (">=", 0.3),
    "palette_spread": (">=", 0.8),
    "own_style_match": (">=", 0.75),  # 15/20
}


# ----------------------------------------------------------------- project imports (one place)
# The package is being restructured: every livestyle module this script uses is named here, with
# the layout of the commit the script was written against first and the restructured one second.

MODEL_SUFFIXES = {"r31": "stnet", "lite": "lite"}


def split_model(spec: Path) -> tuple[Path, str]:
    """`--models DIR[:r31|:lite]` -> (folder, manifest entry); r31 when no model is named."""
    folder, _, model = str(spec).rpartition(":")
    if folder and model in MODEL_SUFFIXES:
        return Path(folder), MODEL_SUFFIXES[model]
    return spec, "stnet"


def load_runner(spec: Path, threads: int = 1) -> STNetRunner:
    """The exported STNet graphs of `spec` (DIR or DIR:lite) on ONNX Runtime's CPU provider."""
    folder, model = split_model(spec)
    return STNetRunner(Engine(RuntimeConfig(intra_op_threads=threads), ("cpu",)), folder, model=model)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03) of the grey
    versions of two uint8 RGB images of one size."""
    x, y = (cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float64) for im in (a, b))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda im: cv2.GaussianBlur(im, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean())


def load_vgg() -> torch.nn.Module:
    """The trainer's loss network: VGG-19 to relu4_1, normalised features, frozen."""
    return VGGEncoder("r41", load_vgg19_weights()).eval()


def trainer_losses():
    """(content_loss, style_loss, content_layer, style_layers) as the STNet trainer defines them."""
    stage = TransformStage()
    return content_loss, style_loss, stage.content_layer, tuple(stage.style_layers)


class Problem(Exception):
    """A missing input: printed as one line, exit status 2."""


# --------------------------------------------------------------------------------- images

def fit_long_side(image: np.ndarray, side: int = SIZE) -> np.ndarray:
    """Resize so the longer side is `side` (aspect kept; area filter when shrinking)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def eval_crop(image: np.ndarray, size: int = EVAL_SIZE, max_zoom: float = 1.5) -> np.ndarray:
    """The trainer's held-out crop, ImageFolder(dir, size).fixed(): the image is cached with its
    shorter side at size * max_zoom, then resized to `size` and centre-cropped size x size."""
    image = resize_shorter(resize_shorter(image, int(size * max_zoom)), size)
    h, w = image.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(image[y:y + size, x:x + size])


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H,W,3) -> float (1,3,H,W) in [0,1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


def colour_transfer(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Baseline: each RGB channel of the content shifted and scaled to the style's mean and std."""
    c = content.reshape(-1, 3).astype(np.float64)
    s = style.reshape(-1, 3).astype(np.float64)
    out = (c - c.mean(0)) / np.maximum(c.std(0), 1e-6) * s.std(0) + s.mean(0)
    return np.clip(np.round(out), 0, 255).astype(np.uint8).reshape(content.shape)


# --------------------------------------------------------------------------------- figures

@torch.no_grad()
def gram_matrices(encoder: torch.nn.Module, image: np.ndarray, layers=GRAM_LAYERS) -> dict:
    """{layer: G = F F^T / (C h w)} of an RGB uint8 image (size-independent normalisation)."""
    feats = encoder(to_tensor(image), tuple(layers))
    grams = {}
    for name in layers:
        _, c, h, w = feats[name].shape
        flat = feats[name].reshape(c, h * w).double()
        grams[name] = flat @ flat.T / (c * h * w)
    return grams


def gram_distance(grams: dict, style_grams: dict) -> float:
    """Mean over layers of ||G - G_style||_F / ||G_style||_F."""
    return float(np.mean([float(torch.linalg.norm(grams[k] - style_grams[k]) / torch.linalg.norm(style_grams[k]))
                          for k in style_grams]))


def gram_ratio(out_grams: dict, content_grams: dict, style_grams: dict) -> float:
    """Gram distance of the output to the style, relative to the content's own."""
    return gram_distance(out_grams, style_grams) / max(gram_distance(content_grams, style_grams), 1e-12)


def canny(image: np.ndarray) -> np.ndarray:
    return cv2.Canny(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 50, 150) > 0


def edge_recall_precision(content: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """Share of content edges matched by an output edge within 5x5, and the reverse; NaN where
    the image it divides by has no edge."""
    kernel = np.ones((5, 5), np.uint8)
    ce, oe = canny(content), canny(output)
    near_c = cv2.dilate(ce.astype(np.uint8), kernel) > 0
    near_o = cv2.dilate(oe.astype(np.uint8), kernel) > 0
    recall = float((ce & near_o).sum() / ce.sum()) if ce.any() else float("nan")
    precision = float((oe & near_c).sum() / oe.sum()) if oe.any() else float("nan")
    return recall, precision


def colour_moments(image: np.ndarray) -> np.ndarray:
    """As bench/stnet_grid.py: mean and std of CIELAB a and b."""
    ab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)[:, 1:]
    return np.concatenate([ab.mean(0), ab.std(0)])


def mean_pairwise_distance(moments: list[np.ndarray]) -> float:
    d = [np.linalg.norm(a - b) for i, a in enumerate(moments) for b in moments[i + 1:]]
    return float(np.mean(d)) if d else float("nan")


def palette_figures(outputs: dict, style_moments: dict) -> dict:
    """outputs: {(content, style): output moments}; style_moments: {style: moments} (all held-out
    styles: own-style match looks for the nearest among all of them)."""
    styles = list(style_moments)
    table = np.stack([style_moments[s] for s in styles])
    between_styles = mean_pairwise_distance(list(table))
    per_content = {}
    for content in dict.fromkeys(c for c, _ in outputs):
        mine = [m for (c, _), m in outputs.items() if c == content]
        if len(mine) > 1:
            per_content[content] = mean_pairwise_distance(mine) / between_styles
    match = {pair: styles[int(np.argmin(np.linalg.norm(table - m, axis=1)))] == pair[1]
             for pair, m in outputs.items()}
    share = float(np.mean(list(match.values())))
    return {"palette_spread": float(np.mean(list(per_content.values()))) if per_content else float("nan"),
            "palette_spread_per_content": per_content,
            "own_style_match": share, "own_style_match_of_20": int(round(20 * share)),
            "own_style_match_per_pair": match}


def flicker_F(frames: list[np.ndarray], mask: np.ndarray) -> float:
    """bench/temporal.py's F over the masked region: RMS second difference of the mean colour."""
    if len(frames) < 3 or not mask.any():
        return float("nan")
    means = np.array([f[mask].reshape(-1, 3).astype(np.float64).mean(0) for f in frames])
    second = means[2:] - 2 * means[1:-1] + means[:-2]
    return float(np.sqrt((np.linalg.norm(second, axis=1) ** 2).mean()))


def source_motion(frames: list[np.ndarray]) -> dict:
    """Per consecutive pair (t-1, t): the remap grids taking frame t-1 onto frame t (Farneback flow
    between the source frames), the mask of pixels that flow explains, and the still mask."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    h, w = grey[0].shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    maps, masks = [], []
    for t in range(1, len(frames)):
        # flow from frame t to frame t-1: frame t (y, x) ~ frame t-1 (y + fy, x + fx)
        flow = cv2.calcOpticalFlowFarneback(grey[t], grey[t - 1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
        mx, my = xs + flow[..., 0], ys + flow[..., 1]
        inside = (mx > -0.5) & (mx < w - 0.5) & (my > -0.5) & (my < h - 0.5)  # lands on a pixel
        warped = cv2.remap(frames[t - 1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        err = np.abs(warped.astype(np.float32) - frames[t].astype(np.float32)).mean(2)
        maps.append((mx, my))
        masks.append(inside & (err < EXPLAINED_THRESHOLD))
    steps = np.stack([np.abs(grey[t].astype(np.int16) - grey[t - 1]) for t in range(1, len(grey))])
    return {"maps": maps, "masks": masks, "still": steps.max(0) < STILL_THRESHOLD}


def warped_error(frames: list[np.ndarray], motion: dict) -> float:
    """Mean |frame t-1 warped by the source flow - frame t| (0-255, channel mean) over the pixels
    the flow explains, pooled over all consecutive pairs."""
    total, count = 0.0, 0
    for t, ((mx, my), mask) in enumerate(zip(motion["maps"], motion["masks"]), start=1):
        warped = cv2.remap(frames[t - 1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        err = np.abs(warped.astype(np.float32) - frames[t].astype(np.float32)).mean(2)
        total += float(err[mask].sum())
        count += int(mask.sum())
    return total / count if count else float("nan")


# --------------------------------------------------------------------------------- grid

def grid_image(label: str, contents: dict, styles: dict, outputs: dict, height: int = TILE_HEIGHT) -> np.ndarray:
    width = int(height * 1.5)
    corner = np.full((height, width, 3), 255, np.uint8)
    for k, line in enumerate(_wrap(label, 22)[:4]):
        cv2.putText(corner, line, (6, 22 + 22 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    rows = [np.concatenate([corner] + [centre_tile(s, height, width) for s in styles.values()], axis=1)]
    for c, image in contents.items():
        rows.append(np.concatenate([centre_tile(image, height, width)]
                                   + [centre_tile(outputs[(c, s)], height, width) if (c, s) in outputs
                                      else np.full((height, width, 3), 255, np.uint8) for s in styles], axis=1))
    return np.concatenate(rows, axis=0)


def _wrap(text: str, n: int) -> list[str]:
    return [text[i:i + n] for i in range(0, len(text), n)] or [""]


def grid_path(base: Path, index: int, folder: Path) -> Path:
    if index == 0:
        return base
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", folder.resolve().name) or "model"
    return base.with_name(f"{base.stem}_{index + 1}_{name}{base.suffix}")


# --------------------------------------------------------------------------------- the run

def load_inputs(args) -> dict:
    if not args.heldout.is_file():
        raise Problem(f"{args.heldout}: missing (the frozen held-out list of issue 9)")
    listed = json.loads(args.heldout.read_text())
    contents = listed["contents"][:args.contents] if args.contents else listed["contents"]
    styles = listed["styles"][:args.styles] if args.styles else listed["styles"]
    pairs = [tuple(p) for p in listed["pairs"] if p[0] in contents and p[1] in styles]
    build = f"build it with `livestyle data stnet-starter {args.data}`"

    def read(folder: str, stem: str) -> np.ndarray:
        path = args.data / folder / f"{stem}.jpg"
        if not path.is_file():
            others = sorted(path.parent.glob(f"{stem}.*")) if path.parent.is_dir() else []
            if not others:
                raise Problem(f"{path}: missing; {build}")
            path = others[0]
        return read_image(path)

    raw_c = {c: read("content_heldout", c) for c in contents}
    raw_s = {s: read("style_heldout", s) for s in styles}
    return {"pairs": pairs,
            "contents": {c: fit_long_side(im) for c, im in raw_c.items()},
            "styles": {s: fit_long_side(im) for s, im in raw_s.items()},
            "content_crops": {c: eval_crop(im) for c, im in raw_c.items()},
            "style_crops": {s: eval_crop(im) for s, im in raw_s.items()}}


def read_clip(path: Path, count: int) -> list[np.ndarray]:
    import av

    if not path.is_file():
        raise Problem(f"{path}: missing (the bundled clip; pass --clip FILE, or --frames 0 to skip flicker)")
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(cv2.resize(frame.to_ndarray(format="rgb24"), FLICKER_SIZE, interpolation=cv2.INTER_AREA))
            if len(frames) == count:
                break
    return frames


@torch.no_grad()
def loss_features(encoder, image: np.ndarray, layers: tuple[str, ...]) -> dict:
    return encoder(to_tensor(image), layers)


def manifest_heldout(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        return manifest["models"]["stnet"]["training"]["heldout"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def graph_digests(folder: Path) -> dict:
    try:
        graphs = json.loads((folder / "manifest.json").read_text())["graphs"]
        return {k: graphs[k]["sha256"] for k in ("stnet_style.onnx", "stnet_content.onnx", "stnet_lite_content.onnx") if k in graphs}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def nan_mean(values) -> float:
    """Mean of the defined (non-NaN) values; NaN if none."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def mean_by(values: dict, key) -> dict:
    """{group: mean of the defined values whose pair maps to it}."""
    groups: dict = {}
    for pair, v in values.items():
        groups.setdefault(key(pair), []).append(v)
    return {g: nan_mean(v) for g, v in groups.items()}


def image_figures(inputs: dict, outputs: dict, encoder, content_grams: dict, style_grams: dict,
                  style_moments: dict) -> dict:
    """Figures 1-3 for one set of outputs {(content, style): RGB uint8 at 256 px}."""
    ratio, recall, precision, d_out, d_content = {}, {}, {}, {}, {}
    for pair, out in outputs.items():
        c, s = pair
        d_out[pair] = gram_distance(gram_matrices(encoder, out), style_grams[s])
        d_content[pair] = gram_distance(content_grams[c], style_grams[s])
        ratio[pair] = d_out[pair] / max(d_content[pair], 1e-12)
        recall[pair], precision[pair] = edge_recall_precision(inputs["contents"][c], out)
    palette = palette_figures({p: colour_moments(o) for p, o in outputs.items()}, style_moments)
    match = {p: float(m) for p, m in palette.pop("own_style_match_per_pair").items()}
    per_pair = {p: {"gram_ratio": ratio[p], "edge_recall": recall[p], "edge_precision": precision[p],
                    "own_style_match": bool(match[p])} for p in outputs}
    by_style = {name: mean_by(values, lambda p: p[1]) for name, values in
                (("gram_ratio", ratio), ("edge_recall", recall), ("edge_precision", precision),
                 ("own_style_match", match))}
    per_style = {s: {name: means[s] for name, means in by_style.items()} for s in dict.fromkeys(p[1] for p in outputs)}
    return {"gram_ratio": float(np.mean(list(ratio.values()))),
            # the same with numerator and denominator each averaged over the pairs first
            "gram_ratio_pooled": float(np.mean(list(d_out.values())) / np.mean(list(d_content.values()))),
            "edge_recall": nan_mean(recall.values()),
            "edge_precision": nan_mean(precision.values()),
            "edgeless_outputs": int(sum(not np.isfinite(v) for v in precision.values())),
            **palette, "per_style": per_style, "per_pair": per_pair}


def evaluate_model(index: int, args, inputs: dict, shared: dict) -> dict:
    """Every figure of the index-th --models folder."""
    t0 = time.perf_counter()
    spec = args.models[index]
    runner = load_runner(spec, args.threads)
    folder = split_model(spec)[0]
    pairs, encoder = inputs["pairs"], shared["encoder"]

    # figures 1-3 and the grid: images at 256 px on the long side
    states = {s: runner.style_state(im) for s, im in inputs["styles"].items()}
    outputs = {(c, s): runner.stylize(inputs["contents"][c], states[s]) for c, s in pairs}
    result = image_figures(inputs, outputs, encoder, shared["content_grams"], shared["style_grams"],
                           shared["style_moments"])
    # issue 11: how close a model's outputs are to the first --models entry's (r31's), pair by pair
    if index == 0:
        shared["reference_outputs"] = outputs
    else:
        reference = shared["reference_outputs"]
        result["ssim_to_first_model"] = float(np.mean([ssim(outputs[p], reference[p]) for p in pairs]))

    # figure 4: the trainer's losses on its 256x256 eval crops
    content_loss, style_loss, content_layer, style_layers = shared["losses"]
    layers = tuple(sorted(set(style_layers) | {content_layer}))
    crop_states = {s: runner.style_state(im) for s, im in inputs["style_crops"].items()}
    lc, ls = {}, {}
    with torch.no_grad():
        for c, s in pairs:
            out = runner.stylize(inputs["content_crops"][c], crop_states[s])
            o = loss_features(encoder, out, layers)
            lc[(c, s)] = float(content_loss(o[content_layer], shared["crop_feats"][c][content_layer]))
            ls[(c, s)] = float(style_loss(o, shared["crop_feats"][s], style_layers))
    starter = [p for p in pairs if p[0] in STARTER_CONTENTS and p[1] in STARTER_STYLES]
    result.update({
        "content_loss": float(np.mean(list(lc.values()))), "style_loss": float(np.mean(list(ls.values()))),
        "content_loss_starter_pairs": float(np.mean([lc[p] for p in starter])) if starter else None,
        "style_loss_starter_pairs": float(np.mean([ls[p] for p in starter])) if starter else None,
        "starter_pairs": len(starter),
        "manifest_heldout": manifest_heldout(folder)})
    lc_style, ls_style = mean_by(lc, lambda p: p[1]), mean_by(ls, lambda p: p[1])
    for s, figures in result["per_style"].items():
        figures.update(content_loss=lc_style[s], style_loss=ls_style[s])
    for p, figures in result["per_pair"].items():
        figures.update(content_loss=lc[p], style_loss=ls[p])

    # figure 5: flicker on the clip with the first held-out style
    if shared["clip"]:
        frames, motion = shared["clip"], shared["motion"]
        per_style = {}
        for style in shared["flicker_styles"]:
            state = runner.style_state(inputs["styles"][style])
            out_frames = [runner.stylize(f, state) for f in frames]
            per_style[style] = {"flicker_F": flicker_F(out_frames, motion["still"]),
                                "warped_error": warped_error(out_frames, motion)}
        e_out = float(np.mean([v["warped_error"] for v in per_style.values()]))
        result.update({"flicker_F": nan_mean(v["flicker_F"] for v in per_style.values()),
                       "flicker_F_source": shared["flicker_F_source"],
                       "warped_error": e_out, "warped_error_source": shared["warped_error_source"],
                       "warped_error_ratio": e_out / shared["warped_error_source"]})
        if len(per_style) > 1:
            result["flicker_per_style"] = per_style

    # figure 6: the grid
    path = grid_path(args.output, index, folder)
    write_image(path, grid_image(str(folder), inputs["contents"],
                                   {s: inputs["styles"][s] for s in dict.fromkeys(p[1] for p in pairs)}, outputs))
    shared["grids"].append(path)
    result["grid"] = str(path)
    result["per_style"] = result.pop("per_style")  # (key order in the JSON: per-style after the means)
    result["per_pair"] = [{"content": c, "style": s, **v} for (c, s), v in result.pop("per_pair").items()]
    result["palette_spread_per_content"] = result.pop("palette_spread_per_content")
    return {"folder": str(spec), "model": runner.model, "graphs_sha256": graph_digests(folder), **result,
            "seconds": round(time.perf_counter() - t0, 1)}


def finite(value):
    """NaN (a figure without data, e.g. no still region) as null, so the JSON stays standard."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def verdict(name: str, value) -> tuple[str, str]:
    if name not in TARGETS or value is None or not np.isfinite(value):
        return "", ""
    op, bound = TARGETS[name]
    ok = value <= bound if op == "<=" else value >= bound
    shown = "15/20" if name == "own_style_match" else f"{bound:g}"
    return f"{op} {shown}", "PASS" if ok else "MISS"


def print_table(report: dict) -> None:
    rows = [("Gram ratio (r21,r31,r41)", "gram_ratio", "{:.3f}"),
            ("edge recall", "edge_recall", "{:.3f}"),
            ("edge precision", "edge_precision", "{:.3f}"),
            ("palette spread", "palette_spread", "{:.3f}"),
            ("own-style match", "own_style_match", None),
            ("held-out content loss", "content_loss", "{:.3f}"),
            ("held-out style loss", "style_loss", "{:.1f}"),
            ("content loss, 16 starter pairs", "content_loss_starter_pairs", "{:.3f}"),
            ("style loss, 16 starter pairs", "style_loss_starter_pairs", "{:.1f}"),
            ("flicker F, still region", "flicker_F", "{:.4f}"),
            ("SSIM to the first model", "ssim_to_first_model", "{:.3f}"),
            ("warped error / source", "warped_error_ratio", "{:.2f}")]
    entries = [(f"model {m['folder']}", m) for m in report["models"]]
    entries += [(f"baseline: {k.replace('_', ' ')}", b) for k, b in report["baselines"].items()]
    width = max(len(e[0]) for e in entries)
    print(f"\n{'figure':<31} {'model / baseline':<{width}} {'value':>24}  {'target':<9} result")
    for title, key, fmt in rows:
        for label, figures in entries:
            value = figures.get(key)
            if value is None:
                continue
            if key == "own_style_match":
                text = f"{value:.3f} ({figures['own_style_match_of_20']}/20)"
            else:
                text = fmt.format(value)
                if key == "edge_precision" and figures.get("edgeless_outputs"):
                    text += f" ({figures['edgeless_outputs']} edgeless)"
                elif key == "flicker_F":
                    text += f" (src {figures['flicker_F_source']:.4f})"
                elif key == "warped_error_ratio":
                    text = f"{figures['warped_error']:.2f}/{figures['warped_error_source']:.2f} = {text}"
                elif key.endswith("_starter_pairs"):
                    ref = (figures.get("manifest_heldout") or {}).get("trained", {}).get(key.split("_loss")[0])
                    if ref is not None:
                        text += f" (manifest {ref:.{1 if key.startswith('style') else 2}f})"
            target, result = verdict(key, value)
            print(f"{title:<31} {label:<{width}} {text:>24}  {target:<9} {result}")
            title = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, action="append", default=None,
                        help="folder of exported STNet graphs with their manifest.json; give it several times "
                             "to compare models side by side (default: exported, relative to the repository "
                             "when not found here)")
    parser.add_argument("--data", type=Path, default=Path("runs/stnet_data"),
                        help="folder built by `livestyle data stnet-starter` (default runs/stnet_data, "
                             "relative to the repository when not found here)")
    parser.add_argument("--heldout", type=Path, default=HELDOUT, help="the frozen held-out list (default %(default)s)")
    parser.add_argument("--clip", type=Path, default=CLIP, help="clip for the flicker figures (default %(default)s)")
    parser.add_argument("--frames", type=int, default=96,
                        help="first N frames of the clip for flicker (default 96 = 4 s at 24 fps; 0 skips flicker)")
    parser.add_argument("--flicker-styles", type=int, default=1,
                        help="flicker figures averaged over the first N held-out styles (default 1, the figures "
                             "of record; 0: all). One style's F moves by 0.1 between close models: compare "
                             "candidates on several")
    parser.add_argument("--contents", type=int, default=0, help="only the first N held-out contents (quick check)")
    parser.add_argument("--styles", type=int, default=0, help="only the first N held-out styles (quick check)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "stnet_quality.json",
                        help="write every figure, per style and per pair, here (default bench/stnet_quality.json)")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "stnet_quality_grid.png",
                        help="grid image of the first model; others get _<n>_<folder> before the extension "
                             "(default docs/stnet_quality_grid.png)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch, OpenCV and ONNX Runtime (default 1)")
    args = parser.parse_args(argv)
    args.models = [in_repo(m) for m in args.models or [Path("exported")]]
    args.models = [m if m.exists() else Path(f"{in_repo(split_model(m)[0])}:{str(m).rpartition(':')[2]}")
                   for m in args.models]
    args.data = in_repo(args.data)
    try:
        return run(args)
    except Problem as exc:
        print(f"stnet_quality: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if type(exc).__name__ == "UserError":  # livestyle's one-line user errors (bad manifest, ...)
            print(f"stnet_quality: {exc}", file=sys.stderr)
            return 2
        raise


def in_repo(path: Path) -> Path:
    """A relative path that does not exist here but does in the repository: the repository's."""
    if not path.exists() and not path.is_absolute() and (REPO / path).exists():
        return REPO / path
    return path


def run(args) -> int:
    t0 = time.perf_counter()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    for name in ("frames", "flicker_styles", "contents", "styles"):
        if getattr(args, name) < 0:
            raise Problem(f"--{name.replace('_', '-')} {getattr(args, name)}: must be 0 or more")
    inputs = load_inputs(args)
    if not inputs["pairs"]:
        raise Problem(f"{args.heldout}: no pairs left with --contents {args.contents} --styles {args.styles}")
    for folder in (split_model(m)[0] for m in args.models):
        if not (folder / "manifest.json").is_file():
            raise Problem(f"{folder / 'manifest.json'}: missing; export the model with `livestyle export stnet` "
                          f"or point --models at a folder of exported graphs")
    encoder = load_vgg()
    losses = trainer_losses()
    content_layer, style_layers = losses[2], losses[3]
    loss_layers = tuple(sorted(set(style_layers) | {content_layer}))
    shared = {
        "encoder": encoder, "losses": losses, "grids": [],
        "content_grams": {c: gram_matrices(encoder, im) for c, im in inputs["contents"].items()},
        "style_grams": {s: gram_matrices(encoder, im) for s, im in inputs["styles"].items()},
        "style_moments": {s: colour_moments(im) for s, im in inputs["styles"].items()},
        "crop_feats": {**{c: loss_features(encoder, im, loss_layers) for c, im in inputs["content_crops"].items()},
                       **{s: loss_features(encoder, im, loss_layers) for s, im in inputs["style_crops"].items()}},
        "flicker_styles": list(inputs["styles"])[:args.flicker_styles or None], "clip": [],
    }
    if args.frames:
        clip = read_clip(args.clip, max(args.frames, 3))
        motion = source_motion(clip)
        shared.update(clip=clip, motion=motion, flicker_F_source=flicker_F(clip, motion["still"]),
                      warped_error_source=warped_error(clip, motion))

    # baselines: the content unchanged and a per-channel colour transfer (model-independent)
    baselines = {}
    for name, make in (("content_unchanged", lambda c, s: inputs["contents"][c]),
                       ("colour_transfer", lambda c, s: colour_transfer(inputs["contents"][c], inputs["styles"][s]))):
        figures = image_figures(inputs, {p: make(*p) for p in inputs["pairs"]}, encoder,
                                shared["content_grams"], shared["style_grams"], shared["style_moments"])
        figures.pop("per_pair")
        baselines[name] = figures

    models = []
    for index, folder in enumerate(args.models):
        models.append(evaluate_model(index, args, inputs, shared))
        print(f"{folder}: done in {models[-1]['seconds']} s", flush=True)

    report = {
        "command": "python bench/stnet_quality.py " + " ".join(sys.argv[1:]),
        "heldout": str(args.heldout), "data": str(args.data),
        "pairs": len(inputs["pairs"]), "contents": list(inputs["contents"]), "styles": list(inputs["styles"]),
        "sizes": {"images_long_side": SIZE, "loss_crops": EVAL_SIZE, "clip_frames": list(FLICKER_SIZE),
                  "grid_tile_height": TILE_HEIGHT},
        "flicker": ({"clip": str(args.clip), "frames": len(shared["clip"]), "styles": shared["flicker_styles"],
                     "still_share": float(shared["motion"]["still"].mean()),
                     "explained_share": float(np.mean([m.mean() for m in shared["motion"]["masks"]]))}
                    if shared["clip"] else None),
        "targets": {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()},
        "threads": args.threads, "torch": torch.__version__,
        "models": models, "baselines": baselines,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print_table(report)
    print(f"\n{report['pairs']} pairs; grids: {', '.join(map(str, shared['grids']))}; {report['seconds']} s")
    if args.json:
        args.json.write_text(json.dumps(finite(report), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
