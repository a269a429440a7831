"""How much texture can an r31 STNet show through its decoder? (issue 9)

    python bench/stnet_decoder_bound.py [--models exported] [--models runs/stnet_v2]
                                        [--data runs/stnet_data] [--json out.json] [--threads 1]

For every frozen held-out pair (bench/stnet_heldout.json, images at 256 px on the long side, as
bench/stnet_quality.py) and every --models folder of exported r31 graphs, the decoder of that
folder decodes three sets of relu3_1 features:

  learned   the folder's own transform (the MulLayer): what the product shows, in float, unclipped
            until the decoder's output is rounded to uint8
  wct       the exact whitening-colouring transform (Li et al. 2017) of the content features to the
            style's mean and covariance: the best any transform that matches relu3_1's second-order
            statistics could hand the decoder
  content   the content's own features (no transfer): the decoder's floor, near 1

and prints stnet_quality.py's Gram ratio (its gram_ratio: mean over pairs of d(output)/d(content),
d = mean over relu2_1, relu3_1, relu4_1 of the relative Frobenius distance of the VGG-19 Grams to
the style's), then per layer the mean over pairs of ||G(out) - G(style)|| / ||G(content) - G(style)||. If `wct` is
far above the target of 0.45, no training of the transform alone can reach the target with that
decoder: the decoder must learn to paint the style's textures (train_stnet_joint.yaml).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stnet_quality as quality  # noqa: E402

from livestyle.models.stnet import STNet  # noqa: E402
from livestyle.models.vgg import build_encoder  # noqa: E402
from livestyle.train.data import to_image  # noqa: E402
from livestyle.train.stnet_trainer import load_exported_weights  # noqa: E402

MODES = ("learned", "wct", "content")


def whiten_colour(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """WCT of (1,C,h,w) content features to the style's mean and covariance, in float64."""
    c = content[0].reshape(content.shape[1], -1).double()
    s = style[0].reshape(style.shape[1], -1).double()
    c_mean, s_mean = c.mean(1, keepdim=True), s.mean(1, keepdim=True)
    c, s = c - c_mean, s - s_mean

    def cov_power(x: torch.Tensor, power: float) -> torch.Tensor:
        cov = x @ x.T / (x.shape[1] - 1) + eps * torch.eye(x.shape[0], dtype=x.dtype)
        values, vectors = torch.linalg.eigh(cov)
        return vectors @ torch.diag(values.clamp_min(eps) ** power) @ vectors.T

    out = cov_power(s, 0.5) @ cov_power(c, -0.5) @ c + s_mean
    return out.float().reshape(content.shape)


def layer_ratios(out_grams: dict, content_grams: dict, style_grams: dict) -> list[float]:
    return [float(torch.linalg.norm(out_grams[k] - style_grams[k]) /
                  torch.linalg.norm(content_grams[k] - style_grams[k])) for k in quality.GRAM_LAYERS]


@torch.no_grad()
def evaluate(folder: Path, inputs: dict, vgg, content_grams: dict, style_grams: dict) -> dict:
    net = STNet("r31", build_encoder("r31")).eval()
    load_exported_weights(net, folder)
    style_feats = {s: net.encode(quality.to_tensor(im)) for s, im in inputs["styles"].items()}
    ratios: dict[str, list[float]] = {m: [] for m in MODES}
    per_layer: dict[str, list[list[float]]] = {m: [] for m in MODES}
    for c, s in inputs["pairs"]:
        frame = quality.to_tensor(inputs["contents"][c])
        hw = tuple(frame.shape[2:])
        feat = net.encode(frame)
        for mode in MODES:
            if mode == "learned":
                s_mean, s_matrix = net.transform.style_state(style_feats[s])
                moved = net.transform.apply(feat, s_mean, s_matrix)
            elif mode == "wct":
                moved = whiten_colour(feat, style_feats[s])
            else:
                moved = feat
            out_grams = quality.gram_matrices(vgg, to_image(net.decoder(moved)[0, :, :hw[0], :hw[1]]))
            ratios[mode].append(quality.gram_ratio(out_grams, content_grams[c], style_grams[s]))
            per_layer[mode].append(layer_ratios(out_grams, content_grams[c], style_grams[s]))
    return {mode: {"gram_ratio": float(np.mean(ratios[mode])),
                   "per_layer": dict(zip(quality.GRAM_LAYERS, np.mean(per_layer[mode], 0).round(4).tolist()))}
            for mode in MODES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, action="append",
                        help="folder of exported r31 graphs (repeatable; default exported/)")
    parser.add_argument("--data", type=Path, default=quality.REPO / "runs" / "stnet_data")
    parser.add_argument("--heldout", type=Path, default=quality.HELDOUT)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    args.models = args.models or [quality.REPO / "exported"]
    args.contents = args.styles = None
    torch.set_num_threads(args.threads)
    try:
        inputs = quality.load_inputs(args)
    except quality.Problem as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    vgg = quality.load_vgg()
    content_grams = {c: quality.gram_matrices(vgg, im) for c, im in inputs["contents"].items()}
    style_grams = {s: quality.gram_matrices(vgg, im) for s, im in inputs["styles"].items()}
    report = {"pairs": len(inputs["pairs"]), "layers": list(quality.GRAM_LAYERS), "models": {}}
    print(f"{'model':40s} {'decoded':8s} {'Gram ratio':>10s}  " + "  ".join(f"{k:>6s}" for k in quality.GRAM_LAYERS))
    for folder in args.models:
        result = evaluate(folder, inputs, vgg, content_grams, style_grams)
        report["models"][str(folder)] = result
        for mode, r in result.items():
            print(f"{str(folder):40s} {mode:8s} {r['gram_ratio']:10.3f}  "
                  + "  ".join(f"{v:6.3f}" for v in r["per_layer"].values()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
