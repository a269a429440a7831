"""`livestyle export stnet`: ONNX graphs that match torch, and a manifest the runtime accepts."""

import json

import numpy as np
import pytest
import torch

from livestyle.commands.export import TOLERANCE, export_stnet
from livestyle.models.stnet import STNet
from livestyle.models.vgg import VGGEncoder
from livestyle.runtime.sessions import Engine
from livestyle.runtime.manifest import sha256
from livestyle.runtime.stnet_runner import STNetRunner


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Export a randomly initialised r31 STNet (parity does not depend on training)."""
    tmp = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    net = STNet("r31", VGGEncoder("r31"))
    ckpt = tmp / "stnet_r31.pt"
    torch.save({"layer": "r31", "decoder": net.decoder.state_dict(), "transform": net.transform.state_dict(),
                "config": {"decoder": {"steps": 1}, "transform": {"steps": 1}}, "final_losses": {}}, ckpt)
    out = tmp / "exported"
    export_stnet(ckpt, out, training_command="test")
    return out


def test_manifest_records_parity_hash_and_shapes(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    for name in ("stnet_style.onnx", "stnet_content.onnx"):
        entry = manifest["graphs"][name]
        assert entry["max_abs_diff"] <= TOLERANCE
        assert len(entry["parity_sizes_hw"]) == 3
        assert entry["sha256"] == sha256(exported / name)
        assert entry["opset"] >= 17
    stnet = manifest["models"]["stnet"]
    assert (stnet["stride"], stnet["channels"], stnet["variant"]) == (4, 256, "r31")
    assert stnet["training"]["command"] == "test"


def test_graphs_have_dynamic_spatial_size(exported):
    import onnx

    model = onnx.load(str(exported / "stnet_content.onnx"))
    frame_input = model.graph.input[0]
    dims = [d.dim_param or d.dim_value for d in frame_input.type.tensor_type.shape.dim]
    assert dims == ["N", "H", "W", 3] and frame_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [i.name for i in model.graph.input] == ["frame", "s_mean", "s_matrix", "strength"]
    runner = STNetRunner(Engine(providers=("cpu",)), exported)
    state = runner.style_state(np.full((64, 64, 3), 128, np.uint8))
    for h, w in ((40, 52), (37, 61), (100, 17)):  # including sizes that are not multiples of 4
        frame = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
        out = runner.stylize(frame, state)
        assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_strength_blends_with_the_raw_frame_inside_the_graph(exported):
    runner = STNetRunner(Engine(providers=("cpu",)), exported)
    state = runner.style_state(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    frame = np.random.default_rng(2).integers(0, 255, (36, 44, 3), dtype=np.uint8)
    assert np.array_equal(runner.stylize(frame, state, strength=0.0), frame)  # 0 = the raw frame
    full = runner.stylize(frame, state, strength=1.0).astype(float)
    half = runner.stylize(frame, state, strength=0.5).astype(float)
    assert np.abs(full - frame).mean() > 5  # the style does something
    assert np.abs(half - (frame + full) / 2).max() <= 1.0  # pixel-space blend, within rounding


def test_io_binding_matches_a_plain_run(exported):
    """The IO-binding path (what every frame uses) gives the graph's own answer, frame after frame,
    with the state rebound when it changes and not otherwise."""
    runner = STNetRunner(Engine(providers=("cpu",)), exported)
    rng = np.random.default_rng(3)
    states = [runner.style_state(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(2)]
    for state in (states[0], states[0], states[1]):
        frame = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        plain = runner.content_session.run(frame=frame[None], s_mean=state.mean, s_matrix=state.matrix,
                                           strength=np.ones(1, np.float32))["out"][0]
        bound = runner.stylize(frame, state)
        assert np.array_equal(bound, plain)


def test_sizes_outside_the_runtime_are_refused_before_work(exported):
    from livestyle.errors import UserError

    runner = STNetRunner(Engine(providers=("cpu",)), exported)
    runner.check_frame_size(2160, 3840)  # portrait 4K: inside (either orientation)
    with pytest.raises(UserError, match="too small"):
        runner.check_frame_size(8, 100)
    with pytest.raises(UserError, match="larger than"):
        runner.check_frame_size(100000, 100)
    with pytest.raises(UserError, match="too small"):
        runner.style_state(np.zeros((1, 1, 3), np.uint8))


def test_content_graph_makes_few_full_frame_passes(exported):
    """The per-frame graph's shape after issue 8: no float stride padding at the top level, one
    QuantizeLinear in each branch of the strength If (the full-strength branch quantises the
    decoder output directly, so nothing copies the float frame), no Clip/Cast pair left, and no
    transpose of the input frame outside the partial-strength branch (conv1_1 reads it in its
    NHWC layout as one wide channel)."""
    import onnx

    model = onnx.load(str(exported / "stnet_content.onnx"))
    top = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" not in top and top.count("If") == 1
    branch_if = next(n for n in model.graph.node if n.op_type == "If")
    branches = {a.name: [n.op_type for n in a.g.node] for a in branch_if.attribute}
    assert branches["then_branch"] == ["QuantizeLinear"]
    assert branches["else_branch"][-1] == "QuantizeLinear"
    pads = [n for n in model.graph.node if n.op_type == "Pad" and not n.name.startswith(("/net/", "/encoder", "/decoder"))]
    assert len(pads) == 1  # conv1_1's one-pixel reflection, on the uint8 frame
    assert not [n for n in model.graph.node if n.op_type == "Transpose" and "frame" in n.input]
    assert "Transpose" in branches["else_branch"]  # the blend's, only when there is a blend
    conv1_1 = next(n for n in model.graph.node if n.op_type == "Conv")
    weight = next(i for i in model.graph.initializer if i.name == conv1_1.input[1])
    assert list(weight.dims) == [64, 1, 3, 9]
    assert [list(a.ints) for a in conv1_1.attribute if a.name == "strides"] == [[1, 3]]
    assert {p.key: p.value for p in model.metadata_props}["decoder_output_scale"] == "255"


def test_training_can_start_from_the_exported_graphs(exported, tmp_path):
    """load_exported_weights undoes the 255 folded into the content graph's last conv, so a run
    with init_from: exported starts from the trained network, not one 255 times too bright."""
    from livestyle.train.stnet_trainer import load_exported_weights

    torch.manual_seed(0)
    source = STNet("r31", VGGEncoder("r31")).eval()  # the fixture's weights (same seed)
    loaded = STNet("r31", source.encoder).eval()  # the encoder is VGG's, not in the graphs' weights
    torch.nn.init.zeros_(loaded.decoder.convs[-1].weight)
    load_exported_weights(loaded, exported)
    x, style = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, style), source(x, style), atol=1e-5, rtol=1e-4)


def test_lite_export_shares_r31_style_graph_and_auto_picks_it_on_the_cpu(exported, tmp_path):
    """`export lite` adds the lite content graph beside r31's (whose style graph it uses); with
    runtime.model auto a CPU-only engine paints with lite once it is marked past the quality gate,
    and r31 stays selectable."""
    import shutil

    from livestyle.commands.export import export_lite
    from livestyle.models.stnet_lite import LiteSTNet
    from livestyle.runtime.sessions import RuntimeConfig
    from livestyle.runtime.stnet_runner import choose_model

    folder = tmp_path / "exported"
    shutil.copytree(exported, folder)
    engine = Engine(providers=("cpu",))
    assert choose_model("auto", engine, folder) == "stnet"  # no lite exported yet
    torch.manual_seed(0)
    ckpt = tmp_path / "lite.pt"
    torch.save({"kind": "lite", "widths": [8, 16, 32], "refine": 4, "style_channels": 256, "skips": True,
                "student": LiteSTNet((8, 16, 32), 4, skips=True).state_dict(), "config": {}}, ckpt)
    manifest = export_lite(ckpt, folder, "test")
    assert choose_model("auto", engine, folder) == "stnet"  # not past the quality gate
    entry = json.loads((folder / "manifest.json").read_text())
    entry["models"]["lite"]["quality"] = {"gram_ratio": 0.7}  # measured on these weights
    entry["models"]["lite"]["training"]["stages"] = ["stage 1", "stage 2"]
    (folder / "manifest.json").write_text(json.dumps(entry))
    manifest = export_lite(ckpt, folder, "test", default_on_cpu=True)
    lite = manifest["models"]["lite"]
    assert lite["quality"] == {"gram_ratio": 0.7} and lite["training"]["stages"] == ["stage 1", "stage 2"]
    assert lite["style_graph"] == "stnet_style.onnx" and lite["stride"] == 8 and lite["architecture"]["skips"]
    assert manifest["graphs"]["stnet_lite_content.onnx"]["max_level_diff"] <= 1
    assert choose_model("auto", engine, folder) == "lite"
    assert choose_model("r31", engine, folder) == "stnet"
    runner = STNetRunner(Engine(RuntimeConfig(model="auto"), ("cpu",)), folder)
    assert runner.model == "lite"
    state = runner.style_state(np.full((64, 64, 3), 128, np.uint8))
    frame = np.random.default_rng(0).integers(0, 255, (37, 61, 3), dtype=np.uint8)
    assert runner.stylize(frame, state).shape == (37, 61, 3)
    assert np.array_equal(runner.stylize(frame, state, strength=0.0), frame)  # strength 0: the raw frame


def test_nodes_only_a_branch_reads_are_moved_into_it():
    """sink_branch_only_nodes: a top-level node whose output only one If branch reads runs inside
    that branch (the exporter hoists the blend's frame transpose out of the scripted if)."""
    import onnx
    from onnx import TensorProto, helper

    from livestyle.commands.export import sink_branch_only_nodes

    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["a"])], "then", [],
                               [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["t"], ["b"])], "else", [],
                               [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, 2])])
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0]),
         helper.make_node("Abs", ["x"], ["kept"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
         helper.make_node("Add", ["y", "kept"], ["z"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2]),
              helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert sink_branch_only_nodes(model)
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["Abs", "If", "Add"]  # Abs is read at the top
    branch_if = model.graph.node[1]
    else_nodes = [n.op_type for a in branch_if.attribute if a.name == "else_branch" for n in a.g.node]
    assert else_nodes == ["Transpose", "Neg"]
    assert not sink_branch_only_nodes(model)  # nothing left to move
