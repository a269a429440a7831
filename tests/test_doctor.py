"""`livestyle doctor`: real checks with reasons; failing only when render itself cannot run."""

import shutil
from pathlib import Path

import onnxruntime
import pytest

from livestyle.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cpu_only_build(monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])


def lines(out: str) -> dict[str, str]:
    """'area name' -> the whole line."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("ok", "no", "FAIL"):
            found[f"{parts[1]} {parts[2]}"] = line
    return found


def test_doctor_on_this_machine(capsys, cpu_only_build):
    assert main(["doctor", "--no-camera"]) == 0
    out = capsys.readouterr().out
    got = lines(out)
    assert got["runtime CPU"].startswith("ok") and "runs a style tick and a 640x360 frame" in got["runtime CPU"]
    assert got["runtime TensorRT"].startswith("no") and "not in this onnxruntime build" in got["runtime TensorRT"]
    assert all(got[f"models {g}"].startswith("ok") for g in ("mvnet.onnx", "stnet_style.onnx", "stnet_content.onnx"))
    assert got["encode libx264"].startswith("ok")
    assert got["stream rtmp://"].startswith("ok") and got["stream udp://"].startswith("ok")
    from livestyle.io.media import output_protocols

    has_srt = "srt" in output_protocols()  # PyPI's PyAV 18.1 wheel: no libsrt
    assert got["stream srt://"].startswith("ok" if has_srt else "no")
    assert "live microphone" in got and "live window" in got and "train torch" in got
    assert not any(k.startswith("live camera") for k in got)
    assert out.rstrip().endswith("render, stylize and visualize can run")


def test_doctor_fails_when_render_cannot_run(tmp_path, capsys, cpu_only_build):
    models = tmp_path / "models"
    shutil.copytree(REPO / "exported", models)
    (models / "stnet_content.onnx").write_bytes(b"damaged")
    assert main(["doctor", "--no-camera", "--models", str(models)]) == 2
    captured = capsys.readouterr()
    got = lines(captured.out)
    assert got["models stnet_content.onnx"].startswith("FAIL") and "sha256 differs" in got["models stnet_content.onnx"]
    assert got["models mvnet.onnx"].startswith("ok")
    assert "render cannot run" in captured.out
    assert captured.err.strip() == "livestyle: error: a check that render needs failed (see the FAIL lines)"
