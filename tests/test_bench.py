"""`livestyle bench`: every stage is measured on each provider that can run, providers that cannot
are reported as skipped (never silently measured on the CPU), JSON and table agree. No timing
values are asserted, only that they were measured."""

import json
from pathlib import Path

import onnxruntime
import pytest

from livestyle.cli import main

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
SMALL = ["--sizes", "64x48,100x60", "--repeats", "2", "--warmup", "1"]


@pytest.fixture
def cpu_only_build(monkeypatch):
    """ONNX Runtime as the CPU-only wheel reports itself (CI may have either wheel)."""
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])


def test_bench_measures_every_stage_and_skips_what_cannot_run(tmp_path, capsys, cpu_only_build):
    out = tmp_path / "bench.json"
    code = main(["bench", "--providers", "tensorrt,cpu", *SMALL, "--clip", str(CLIP), "--clip-height", "36",
                 "--clip-seconds", "1", "--json", str(out), "--quiet"])
    assert code == 0
    report = json.loads(out.read_text())
    assert "not in this onnxruntime build" in report["providers"]["tensorrt"]["skipped"]
    cpu = report["providers"]["cpu"]
    stages = [s["stage"] for s in cpu["stages"]]
    # the painting model's content stages, then those of the export's other STNet (the lite one)
    assert stages == ["mvnet (1 window)", "style branch (128x128)", "bank blend (12 images)", "content 64x48",
                      "content 100x60", "content 64x48 (lite)", "content 100x60 (lite)"]
    assert cpu["model"] == "r31" and cpu["frames"]["100x60 lite"]["model"].startswith("lite")
    for s in cpu["stages"] + [report["audio_front_end"]]:
        assert s["runs"] == 2 and 0 < s["p50_ms"] <= s["max_ms"] and s["fps"] > 0
    assert set(cpu["live"]["fps_with_style"]) == {"64x48", "100x60"}  # the painting model's
    assert cpu["render"]["frames"] == 20 and cpu["render"]["provider"] == "cpu"
    assert report["machine"]["onnxruntime"] == onnxruntime.__version__
    table = capsys.readouterr().out
    assert "TensorRT   skipped: not in this onnxruntime build" in table
    assert "content 100x60" in table and "render big_buck_bunny_cut_10s.mp4 at 36p: 20 frames" in table


def test_bench_with_no_usable_provider_is_a_clear_error(capsys, cpu_only_build):
    assert main(["bench", "--providers", "cuda", *SMALL]) == 2
    err = capsys.readouterr().err
    assert "none of the requested providers can run here (CUDA: not in this onnxruntime build" in err


def test_bench_rejects_bad_arguments(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--sizes", "64by48"])
    assert exc.value.code == 2 and "expected WxH" in capsys.readouterr().err
    assert main(["bench", "--providers", "cpu", "--clip", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4: no such file" in capsys.readouterr().err


def test_live_capacity_arithmetic():
    from livestyle.commands.bench import live_capacity

    result = {"stages": [{"stage": "mvnet (1 window)", "mean_ms": 10.0}, {"stage": "style branch (128x128)", "mean_ms": 5.0},
                         {"stage": "content 640x360", "mean_ms": 20.0}]}
    mel = {"mean_ms": 1.0}
    cpu = live_capacity(result, mel, on_cpu=True)  # 16 ms per tick x 20 = 320 ms of each second
    assert cpu["style_tick_ms"] == 16.0 and cpu["style_load_at_20hz"] == 0.32
    assert cpu["fps_with_style"] == {"640x360": 34.0} and cpu["style_hz_max"] == 62.5
    gpu = live_capacity(result, mel, on_cpu=False)  # the mel runs on the CPU, beside the device
    assert gpu["style_tick_ms"] == 15.0 and gpu["fps_with_style"] == {"640x360": 35.0}
    # with the default bank a tick blends states instead of running the style branch
    result["stages"].insert(2, {"stage": "bank blend (12 images)", "mean_ms": 1.0})
    bank = live_capacity(result, mel, on_cpu=True)
    assert bank["style_tick_ms"] == 12.0 and bank["style_tick_mvnet_image_ms"] == 16.0
    assert bank["fps_with_style"] == {"640x360": 38.0}
