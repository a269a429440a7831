"""ms per frame of the STNet content branch: exported ONNX graph on ONNX Runtime (CPU provider by
default) vs the PyTorch eager model, same weights, same inputs, same process.

    python bench/stnet_bench.py [--providers cpu] [--repeats 10] [--threads 0] [--json out.json]

Needs the train extra (torch) for the eager side. Prints a table and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZES = ((256, 256), (640, 360), (1280, 720))  # (W, H)


def timed(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of `fn()` in ms, after warm-up runs."""
    from livestyle.commands.bench import timed as each_timed

    return statistics.median(each_timed(fn, warmup, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", default="cpu", help="ONNX Runtime providers, e.g. tensorrt,cuda,cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="threads for both runtimes (0: default)")
    parser.add_argument("--checkpoint", default=str(REPO / "runs" / "stnet" / "stnet_r31.pt"),
                        help="torch weights for the eager side (default: the starter training run); "
                             "without it the eager model uses random weights (same cost)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from livestyle.models.stnet import ContentBranch, STNet, StyleBranch
    from livestyle.models.vgg import build_encoder
    from livestyle.runtime.sessions import Engine, RuntimeConfig
    from livestyle.runtime.manifest import models_dir
    from livestyle.runtime.stnet_runner import STNetRunner

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = RuntimeConfig(intra_op_threads=args.threads)
    runner = STNetRunner(Engine(cfg, tuple(args.providers.split(","))), models_dir())
    net = STNet("r31", build_encoder("r31"))
    if Path(args.checkpoint).exists():
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        net.decoder.load_state_dict(state["decoder"])
        net.transform.load_state_dict(state["transform"])
    net.eval()
    style_branch, content_branch = StyleBranch(net), ContentBranch(net)

    rng = np.random.default_rng(0)
    style = rng.random((1, 3, 256, 256), dtype=np.float32)
    state = runner.style_state((style[0].transpose(1, 2, 0) * 255).astype(np.uint8))
    with torch.no_grad():
        s_mean, s_matrix = style_branch(torch.from_numpy(style))
    rows = []
    for w, h in SIZES:
        frame = rng.random((1, 3, h, w), dtype=np.float32)
        ort_ms = timed(lambda: runner.stylize_tensor(frame, state), args.repeats)
        tensor = torch.from_numpy(frame)
        with torch.inference_mode():
            torch_ms = timed(lambda: content_branch(tensor, s_mean, s_matrix), args.repeats)
        rows.append({"size": f"{w}x{h}", "onnxruntime_ms": round(ort_ms, 1), "torch_eager_ms": round(torch_ms, 1),
                     "speedup": round(torch_ms / ort_ms, 2), "onnxruntime_fps": round(1000 / ort_ms, 2)})
    result = {
        "provider": runner.provider, "threads": args.threads or "default", "repeats": args.repeats,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {__import__('os').cpu_count()} cores",
        "torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__,
        "rows": rows,
    }
    print(f"STNet r31 content branch, median of {args.repeats} runs; ONNX Runtime provider: {runner.provider}")
    print(f"{'size':>10} {'ORT ms':>9} {'torch ms':>9} {'torch/ORT':>9} {'ORT fps':>8}")
    for r in rows:
        print(f"{r['size']:>10} {r['onnxruntime_ms']:>9} {r['torch_eager_ms']:>9} {r['speedup']:>9} {r['onnxruntime_fps']:>8}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
