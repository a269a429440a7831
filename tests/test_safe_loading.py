"""What the product loads can run no code: runtime models are ONNX graphs checked by sha256 (no
pickle in exported/), every torch checkpoint is read with weights_only=True, YAML with safe_load.
Checked on the source, so a new loader that forgets it fails here."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def calls(name: str):
    for path in sorted((REPO / "livestyle").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                full = f"{getattr(func.value, 'id', '')}.{func.attr}" if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if full == name:
                    yield path.relative_to(REPO), node


def test_every_torch_load_is_weights_only():
    found = list(calls("torch.load"))
    assert found, "the scan found no torch.load at all: the check itself is broken"
    for path, node in found:
        kw = {k.arg: k.value for k in node.keywords}
        assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, \
            f"{path}:{node.lineno}: torch.load without weights_only=True"


def test_yaml_is_read_with_safe_load_only():
    assert list(calls("yaml.safe_load")), "no yaml.safe_load found: the check itself is broken"
    assert not list(calls("yaml.load")) and not list(calls("yaml.unsafe_load"))


def test_shipped_models_are_onnx_or_safetensors_and_checksummed():
    """No pickle ships: ONNX graphs, PolyDis's weights as safetensors (a header and raw
    tensors), MVNet's music map as plain JSON numbers, every file listed with its sha256."""
    import json

    files = {p.name for p in (REPO / "exported").iterdir() if p.is_file()}
    models = {f for f in files if f.endswith((".onnx", ".safetensors")) or f == "mvnet_music.json"}
    assert files <= {"manifest.json", "README.md"} | models
    graphs = json.loads((REPO / "exported" / "manifest.json").read_text())["graphs"]
    assert models == set(graphs)
    assert all(len(entry["sha256"]) == 64 for entry in graphs.values())
    for name in (f for f in models if f.endswith(".safetensors")):
        header_length = int.from_bytes((REPO / "exported" / name).read_bytes()[:8], "little")
        header = json.loads((REPO / "exported" / name).read_bytes()[8:8 + header_length])
        assert all(k == "__metadata__" or v["dtype"] in ("F32", "I64") for k, v in header.items())


def test_checkpoints_the_trainers_write_load_weights_only(tmp_path, photo_dir, painting_dir):
    import torch

    from test_train_stnet import tiny_config
    from livestyle.train.stnet_trainer import STNetTrainer

    path = STNetTrainer(tiny_config(photo_dir, painting_dir, tmp_path / "run", 1, 1), progress=False).train(evaluate=False)
    for file in (path, tmp_path / "run" / "decoder.ckpt", tmp_path / "run" / "transform.ckpt"):
        torch.load(file, map_location="cpu", weights_only=True)
