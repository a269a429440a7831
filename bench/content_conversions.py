"""What the per-frame conversions cost now that they run inside the content graph (issue 8).

The shipped content graph takes uint8 (1,H,W,3) and returns uint8: layout, conv1_1's padding
(on uint8), cropping, the strength blend, saturation and rounding are ONNX ops; the scalings and
the Caffe preprocessing are folded into convolutions. This script times, in ONNX Runtime on this
machine, at each size:

  full (uint8 in/out)     the shipped graph's design, exported from the shipped weights
  core (float NCHW)       the same network without the conversions (frame float (1,3,H,W) in
                          [0,1], H and W multiples of 4; float out), i.e. the old graph; the
                          issue's measure is full minus core, reported as the median of paired
                          (back-to-back) differences, since drift between 4-second runs is larger
                          than the few ms in question
  conversions only        a graph of the conversion ops around an identity network
  ends (--ends)           full minus core measured where they differ: the two graphs run the
                          same ops on the same shapes from conv1_2 to the decoder's last conv, so
                          full - core = (full's input side - core's) + (full's output side -
                          core's). Each side is exported alone from the same modules (input side:
                          frame -> conv1_1 -> ReLU; output side: the decoder's last pad and conv ->
                          clamp, or -> strength If, QuantizeLinear, NHWC) and timed interleaved:
                          tens of ms each, so a few ms resolve where the 4-second graphs cannot
  conversion kernels      ONNX Runtime's profiler inside the full graph: the summed kernel time
                          of its conversion nodes (Transpose, Cast, Pad on uint8, If with the
                          QuantizeLinear in its branch, Slice, Clip), per run. The full-minus-core
                          difference of 4-second runs cannot resolve a few ms; this can.

plus the numpy conversions the old runner did on the host (uint8 HWC -> float NCHW, pad; clip,
scale, round, HWC uint8), for comparison. Same process, same session options, interleaved runs.

    python bench/content_conversions.py [--sizes 1920x1080,1280x720] [--repeats 5] [--threads 2]
    python bench/content_conversions.py --ends --sizes 1920x1080,1280x720 --repeats 20
    python bench/content_conversions.py --graphs old.onnx,exported/stnet_content.onnx --sizes 1920x1080 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from livestyle.commands.export import CONTENT_AXES, CONTENT_NAMES, export_graph
from livestyle.models.stnet import (ContentBranch, QuantizeToUint8, ReflectPadFrame, STNet, StyleBranch, blend,
                                    pixel_scaled)
from livestyle.models.vgg import build_encoder
from livestyle.runtime.manifest import models_dir
from livestyle.train.stnet_trainer import load_exported_weights


class Identity(torch.nn.Module):
    """Stands in for the network: the conversions alone. The style inputs go unused, so the
    exporter drops them and the graph is fed only what it has."""

    def stylize(self, x, s_mean, s_matrix, out_hw=None):
        # x is the padded NHWC frame read as one channel (N, 1, H+2, 3(W+2)); a network's first conv
        # reads it as it is, so this stand-in takes one pass over it to an NCHW-shaped result
        h, w = out_hw
        return x[:, :, 1:1 + h, 3:3 + 3 * w].reshape(x.shape[0], 3, h, w)


class Core(torch.nn.Module):
    """The network without conversions: float NCHW in [0,1] (multiples of 4) -> float NCHW."""

    def __init__(self, net: STNet):
        super().__init__()
        self.net = net

    def forward(self, frame, s_mean, s_matrix):
        return self.net.stylize(frame, s_mean, s_matrix).clamp(0, 1)


class InputSide(torch.nn.Module):
    """The graph up to conv1_1's ReLU: the shipped design (uint8 NHWC frame, padded on uint8, read
    as one wide channel) or the core's (float NCHW in [0,1]: Caffe preprocessing, float reflection
    pad, conv1_1), from the network's own modules."""

    def __init__(self, net: STNet, shipped: bool):
        super().__init__()
        self.shipped = shipped
        self.encoder = pixel_scaled(net, interleaved=True).encoder if shipped else net.encoder

    def forward(self, frame):
        if self.shipped:
            n, h, w, c = frame.shape
            x = ReflectPadFrame.apply(frame).reshape(n, 1, h + 2, (w + 2) * c).float()
        else:
            x = torch.nn.functional.pad(self.encoder.preprocess(frame), (1, 1, 1, 1), mode="reflect")
        return torch.relu(self.encoder.convs["conv1_1"](x))


class OutputSide(torch.nn.Module):
    """The graph from the decoder's last reflection pad: the shipped design (the strength If with
    its QuantizeLinear, back to NHWC uint8) or the core's (clamped float NCHW)."""

    def __init__(self, net: STNet, shipped: bool):
        super().__init__()
        self.shipped = shipped
        self.last = pixel_scaled(net).decoder.convs[-1] if shipped else net.decoder.convs[-1]

    def forward(self, x, frame, strength):
        styled = self.last(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"))
        if not self.shipped:
            return styled.clamp(0, 1)  # the exporter drops the unused inputs
        return QuantizeToUint8.apply(blend(frame, styled, strength)).permute(0, 2, 3, 1)


def compare_ends(net: STNet, args: argparse.Namespace) -> None:
    """full - core from the parts where the two graphs differ (see the module docstring)."""
    rng = np.random.default_rng(0)
    print(f"onnxruntime {ort.__version__}, CPU provider, {args.threads} intra-op thread(s), input and output "
          f"sides of the shipped and core graphs, {args.repeats} interleaved runs (median ms)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, module, example, names, axes in (
                ("input shipped", InputSide(net, True), (torch.randint(0, 256, (1, 16, 16, 3), dtype=torch.uint8),),
                 ["frame"], {"frame": {1: "H", 2: "W"}}),
                ("input core", InputSide(net, False), (torch.rand(1, 3, 16, 16),), ["frame"], {"frame": {2: "H", 3: "W"}}),
                ("output shipped", OutputSide(net, True), (torch.rand(1, 64, 16, 16), torch.zeros(1, 16, 16, 3, dtype=torch.uint8),
                                                           torch.ones(1)), ["x", "frame", "strength"],
                 {"x": {2: "H", 3: "W"}, "frame": {1: "H", 2: "W"}}),
                ("output core", OutputSide(net, False), (torch.rand(1, 64, 16, 16), torch.zeros(1, 16, 16, 3, dtype=torch.uint8),
                                                        torch.ones(1)), ["x", "frame", "strength"],
                 {"x": {2: "H", 3: "W"}, "frame": {1: "H", 2: "W"}})):
            paths[name] = Path(tmp) / f"{name.replace(' ', '_')}.onnx"
            export_graph(module.eval(), example, paths[name], names, ["out"], axes)
        sessions = {name: session(path, args.threads) for name, path in paths.items()}
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            frame = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
            feeds = {"input shipped": {"frame": frame},
                     "input core": {"frame": np.ascontiguousarray(frame.transpose(0, 3, 1, 2), dtype=np.float32) / 255},
                     "output shipped": {"x": rng.random((1, 64, h, w), dtype=np.float32), "frame": frame,
                                        "strength": np.ones(1, np.float32)}}
            feeds["output core"] = feeds["output shipped"]
            feeds = {name: {i.name: feeds[name][i.name] for i in sess.get_inputs()} for name, sess in sessions.items()}
            times: dict[str, list[float]] = {name: [] for name in sessions}
            for name, sess in sessions.items():
                for _ in range(WARMUP_RUNS):
                    sess.run(None, feeds[name])
            for _ in range(args.repeats):
                for name, sess in sessions.items():
                    t0 = time.perf_counter()
                    sess.run(None, feeds[name])
                    times[name].append((time.perf_counter() - t0) * 1000)
            med = {k: statistics.median(v) for k, v in times.items()}
            delta = med["input shipped"] - med["input core"] + med["output shipped"] - med["output core"]
            print(f"{w}x{h}: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items())
                  + f"; full - core = {delta:+.1f} ms")


def session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# Runs not counted: the first allocates the arena; the second, for a new input shape, has ONNX
# Runtime build its memory pattern (one block for the whole plan, page-faulted in: at 1080p that
# run takes 7.8 s instead of 4.5 and the uint8->float Cast in it 36 ms instead of 4). Session 4's
# figures counted that second run.
WARMUP_RUNS = 2

CONVERSION_OPS = {"Transpose", "Cast", "QuantizeLinear", "If", "Slice", "Clip"}


def conversion_kernel_ms(path: Path, threads: int, feeds: dict, runs: int = 2) -> tuple[float, dict[str, float]]:
    """Summed profiler kernel time per run of the conversion nodes of the full graph: the ops in
    CONVERSION_OPS plus the top-level uint8 Pad (the network's own float Pads are not counted;
    the network's few small Transposes and Casts at a quarter resolution are, a slight
    overstatement). An If's time includes the QuantizeLinear in its branch, counted once."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = str(path.with_suffix(""))
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(runs + WARMUP_RUNS):
        sess.run(None, feeds)
    profile = sess.end_profiling()
    events = json.loads(Path(profile).read_text())
    os.remove(profile)
    model_runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    warm_from = model_runs[WARMUP_RUNS - 1]["ts"] + model_runs[WARMUP_RUNS - 1]["dur"]
    top_level = {n.name for n in onnx.load(str(path)).graph.node}
    per_node: dict[str, float] = {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < warm_from:
            continue
        op, node = e["args"]["op_name"], e["name"][: -len("_kernel_time")]
        if node not in top_level:  # an If's time includes its branch's nodes: count them once
            continue
        if op in CONVERSION_OPS or (op == "Pad" and node == "/Pad"):
            per_node[f"{op} {node}"] = per_node.get(f"{op} {node}", 0.0) + e["dur"] / 1000 / runs
    return sum(per_node.values()), per_node


def host_conversions(frame: np.ndarray, out: np.ndarray) -> None:
    """What the old runner did in numpy around each run."""
    h, w = frame.shape[:2]
    padded = np.pad(frame, ((0, -h % 4), (0, -w % 4), (0, 0)), mode="reflect")
    np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(1 / 255)
    (np.clip(out[0].transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)[:h, :w]


def compare_graphs(graphs: list[Path], args: argparse.Namespace) -> None:
    """Conversion kernels of shipped-interface graphs (uint8 frame, s_mean, s_matrix, strength),
    each profiled `--repeats` times in turn, so drift on the machine hits all alike."""
    rng = np.random.default_rng(0)
    print(f"onnxruntime {ort.__version__}, CPU provider, {args.threads} intra-op thread(s), "
          f"conversion kernels per run (profiler, {WARMUP_RUNS} warm-up runs, 5 runs summed)")
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        feeds = {"frame": rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8),
                 "s_mean": np.zeros((1, 256), np.float32), "s_matrix": (np.eye(32, dtype=np.float32) * 0.1)[None],
                 "strength": np.ones(1, np.float32)}
        totals: dict[Path, list[float]] = {g: [] for g in graphs}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeats):
                for i, graph in enumerate(graphs):
                    copy = Path(tmp) / f"g{i}.onnx"  # the profile file goes beside it
                    copy.write_bytes(graph.read_bytes())
                    total, per_node = conversion_kernel_ms(copy, args.threads, feeds, runs=5)
                    totals[graph].append(total)
                    print(f"{w}x{h} {graph}: {total:.2f} ms  " + ", ".join(
                        f"{k} {v:.2f}" for k, v in sorted(per_node.items(), key=lambda kv: -kv[1]) if v >= 0.05))
        for graph, values in totals.items():
            print(f"{w}x{h} {graph}: median {statistics.median(values):.2f} ms, min {min(values):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1920x1080,1280x720")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ends", action="store_true",
                        help="full minus core from the graphs' input and output sides alone (see above)")
    parser.add_argument("--graphs", default=None,
                        help="comma-separated content graphs (e.g. two exports) whose conversion kernels "
                             "to compare, interleaved, instead of the full/core/conversions-only figures")
    args = parser.parse_args()
    if args.graphs:
        compare_graphs([Path(g) for g in args.graphs.split(",")], args)
        return
    torch.set_num_threads(args.threads)
    net = STNet("r31", build_encoder("r31")).eval()
    load_exported_weights(net, models_dir())
    if args.ends:
        compare_ends(net, args)
        return
    with torch.no_grad():
        s_mean, s_matrix = StyleBranch(net)(torch.rand(1, 3, 128, 128))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.onnx" for name in ("full", "core", "conversions")}
        example = (torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8), s_mean, s_matrix, torch.ones(1))
        export_graph(ContentBranch(net).eval(), example, paths["full"], CONTENT_NAMES, ["out"], CONTENT_AXES)
        conversions = ContentBranch(net).eval()
        conversions.net = Identity()
        export_graph(conversions, example, paths["conversions"], CONTENT_NAMES, ["out"], CONTENT_AXES)
        export_graph(Core(net).eval(), (torch.rand(1, 3, 64, 64), s_mean, s_matrix), paths["core"],
                     ["frame", "s_mean", "s_matrix"], ["out"],
                     {"frame": {0: "N", 2: "H", 3: "W"}, "s_mean": {0: "N"}, "s_matrix": {0: "N"}, "out": {0: "N", 2: "H", 3: "W"}})
        sessions = {name: session(path, args.threads) for name, path in paths.items()}
        state = {"s_mean": s_mean.numpy(), "s_matrix": s_matrix.numpy()}
        print(f"onnxruntime {ort.__version__}, CPU provider, {args.threads} intra-op thread(s), "
              f"{args.repeats} runs per figure (median ms)")
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            feeds = {"full": dict(frame=frame[None], strength=np.ones(1, np.float32), **state),
                     "conversions": dict(frame=frame[None], strength=np.ones(1, np.float32), **state),
                     "core": dict(frame=np.random.rand(1, 3, h + -h % 4, w + -w % 4).astype(np.float32), **state)}
            times: dict[str, list[float]] = {name: [] for name in (*sessions, "host numpy")}
            core_out = sessions["core"].run(None, feeds["core"])[0]
            for _ in range(args.repeats):  # interleaved, so drift hits every figure alike
                for name, sess in sessions.items():
                    t0 = time.perf_counter()
                    sess.run(None, {i.name: feeds[name][i.name] for i in sess.get_inputs()})
                    times[name].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                host_conversions(frame, core_out)
                times["host numpy"].append((time.perf_counter() - t0) * 1000)
            med = {k: statistics.median(v) for k, v in times.items()}
            # paired: each repeat runs full and core back to back, so drift cancels in the difference
            paired = sorted(f - c for f, c in zip(times["full"], times["core"]))
            quartiles = statistics.quantiles(paired, n=4) if len(paired) >= 4 else (paired[0], None, paired[-1])
            kernels, per_node = conversion_kernel_ms(paths["full"], args.threads, feeds["full"])
            print(f"{w}x{h}: full graph {med['full']:.1f} ms, core graph {med['core']:.1f} ms "
                  f"(paired difference: median {statistics.median(paired):+.1f} ms, quartiles "
                  f"{quartiles[0]:+.1f} / {quartiles[-1]:+.1f}), conversions-only graph "
                  f"{med['conversions']:.2f} ms, conversion kernels in the full graph {kernels:.2f} ms, "
                  f"old host numpy conversions {med['host numpy']:.2f} ms")
            print("   " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_node.items(), key=lambda kv: -kv[1]) if v >= 0.05))


if __name__ == "__main__":
    main()
