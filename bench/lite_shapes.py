"""Time candidate lite STNet shapes (models/stnet_lite.py) in ONNX Runtime on this CPU, untrained:
cost does not depend on the weights, and issue 11 asks that every candidate be timed before it is
trained. Each shape is exported with the shipped content graph's uint8 interface (layout,
scaling, strength If and QuantizeLinear included), so the figure is the content path's whole
per-frame cost.

    python bench/lite_shapes.py [--size 640x360] [--threads 2] [--repeats 15]

Prints the median ms per frame and the parameter count per shape.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from livestyle.commands.export import CONTENT_AXES, CONTENT_NAMES, export_graph
from livestyle.models.stnet_lite import LiteContentBranch, LiteSTNet

# (widths, refine, U-Net skips); the shipped lite is (16, 32, 64), 8, skips
SHAPES = (((8, 32, 64), 8, False), ((16, 32, 64), 6, False), ((16, 32, 64), 8, False), ((16, 32, 96), 8, False),
          ((24, 48, 96), 12, False), ((8, 24, 64), 8, True), ((16, 32, 64), 8, True))


def time_graph(path: Path, w: int, h: int, threads: int, repeats: int) -> float:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"frame": rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8),
             "s_mean": rng.standard_normal((1, 256)).astype(np.float32),
             "s_matrix": (rng.standard_normal((1, 32, 32)) * 0.1).astype(np.float32),
             "strength": np.ones(1, np.float32)}
    feeds = {i.name: feeds[i.name] for i in session.get_inputs()}
    for _ in range(3):
        session.run(None, feeds)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    print(f"onnxruntime {ort.__version__}, CPU provider, {args.threads} threads, spinning off, {w}x{h}, "
          f"median of {args.repeats}")
    example = (torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8), torch.randn(1, 256),
               torch.randn(1, 32, 32) * 0.1, torch.ones(1))
    with tempfile.TemporaryDirectory() as tmp:
        for widths, refine, skips in SHAPES:
            net = LiteSTNet(widths, refine, skips=skips).eval()
            path = Path(tmp) / f"lite_{'_'.join(map(str, widths))}_r{refine}_{int(skips)}.onnx"
            export_graph(LiteContentBranch(net), example, path, CONTENT_NAMES, ["out"], CONTENT_AXES)
            ms = time_graph(path, w, h, args.threads, args.repeats)
            params = sum(p.numel() for p in net.parameters())
            print(f"widths {widths}, refine {refine}, skips {'yes' if skips else 'no'}: {ms:.1f} ms per frame ({1000 / ms:.0f} fps), "
                  f"{params / 1e3:.0f}k parameters")


if __name__ == "__main__":
    main()
