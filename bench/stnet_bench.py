"""ms per frame of the STNet content branch: the exported graph on ONNX Runtime (CPU provider by
default) vs the same network in PyTorch eager mode, same weights, same uint8 frames, one process.
On a GPU also fp16 in torch (and the fp32 vs fp16 ratio), at the sizes that matter for video.

    python bench/stnet_bench.py [--providers cpu|none] [--device cpu|cuda] [--fp16]
                                [--sizes 256x256,640x360,1280x720] [--repeats 10] [--threads 0] [--json out.json]

Needs the train extra (torch). The torch side uses the exported graphs' own weights, so both
sides compute the same thing. Prints a table and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np


def timed(fn, repeats: int, warmup: int = 2, sync=lambda: None) -> float:
    """Median wall time of `fn()` in ms after warm-up runs; `sync` waits for a GPU."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", default="cpu",
                        help="ONNX Runtime providers, e.g. tensorrt,cuda,cpu; none: torch alone (on a GPU the "
                             "CPU provider's 4K frames take minutes)")
    parser.add_argument("--device", default="cpu", help="torch device for the eager side (cpu, cuda)")
    parser.add_argument("--fp16", action="store_true", help="also time torch in float16 (GPU)")
    parser.add_argument("--sizes", default="256x256,640x360,1280x720", help="WxH list")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="threads for both runtimes (0: default)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from livestyle.models.stnet import ContentBranch, STNet
    from livestyle.models.vgg import build_encoder
    from livestyle.runtime.manifest import models_dir
    from livestyle.runtime.sessions import Engine, RuntimeConfig
    from livestyle.runtime.stnet_runner import STNetRunner
    from livestyle.train.stnet_trainer import load_exported_weights

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with_ort = args.providers != "none"
    # the style state comes from the style graph either way (the CPU provider is enough for it)
    providers = tuple(args.providers.split(",")) if with_ort else ("cpu",)
    runner = STNetRunner(Engine(RuntimeConfig(intra_op_threads=args.threads), providers), models_dir())
    net = STNet("r31", build_encoder("r31"))
    load_exported_weights(net, models_dir())
    net.eval().to(device)
    branches = {"fp32": ContentBranch(net).to(device).eval()}
    if args.fp16:
        branches["fp16"] = ContentBranch(net.half(), torch.float16).to(device).eval()

    rng = np.random.default_rng(0)
    style = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    state = runner.style_state(style)
    s_mean, s_matrix = (torch.from_numpy(a).to(device) for a in (state.mean, state.matrix))
    strength = torch.ones(1, device=device)
    rows = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        row = {"size": f"{w}x{h}"}
        if with_ort:
            row["onnxruntime_ms"] = round(timed(lambda: runner.stylize(frame, state), args.repeats), 2)
        tensor = torch.from_numpy(frame[None]).to(device)
        for name, branch in branches.items():
            with torch.inference_mode():
                row[f"torch_{name}_ms"] = round(timed(lambda: branch(tensor, s_mean, s_matrix, strength),
                                                      args.repeats, sync=sync), 2)
        if with_ort:
            row["onnxruntime_fps"] = round(1000 / row["onnxruntime_ms"], 2)
        rows.append(row)
    result = {"provider": runner.provider if with_ort else None, "torch_device": str(device), "threads": args.threads or "default",
              "repeats": args.repeats, "torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__,
              "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {__import__('os').cpu_count()} cores",
              "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None, "rows": rows}
    print(f"STNet r31 content branch (uint8 frame in and out), median of {args.repeats} runs; "
          f"ONNX Runtime: {runner.provider if with_ort else 'not run'}; torch: {device}")
    for r in rows:
        print("  " + ", ".join(f"{k} {v}" for k, v in r.items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
