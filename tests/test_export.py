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
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[2] == "H" and dims[3] == "W"
    runner = STNetRunner(Engine(providers=("cpu",)), exported)
    state = runner.style_state(np.full((64, 64, 3), 128, np.uint8))
    for h, w in ((40, 52), (37, 61), (100, 8)):  # including sizes that are not multiples of 4
        frame = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
        assert runner.stylize(frame, state).shape == (h, w, 3)
