"""`livestyle train vis2mus` (issue 14): a tiny run on the two POP909 songs in tests/data, resumed,
with its checkpoint, log and weights; the schedules; config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from livestyle.cli import main  # noqa: E402
from livestyle.train.vis2mus_trainer import Vis2MusTrainConfig, schedule  # noqa: E402

POP909 = Path(__file__).parent / "data" / "vis2mus" / "pop909"


def config(tmp_path: Path, steps: int, **extra) -> Path:
    lines = [f"data_dir: {POP909}", f"out_dir: {tmp_path / 'run'}", "size: small", f"steps: {steps}",
             "batch_size: 2", "threads: 1", "log_every: 2", "checkpoint_every: 2", "eval_every: 4",
             "eval_segments: 2", "full_teacher_forcing: 0.5"] + [f"{k}: {v}" for k, v in {"device": "cpu", **extra}.items()]
    path = tmp_path / f"train_{steps}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_tiny_run_resumes_and_writes_its_weights(tmp_path, capsys):
    assert main(["train", "vis2mus", "--config", str(config(tmp_path, 4)), "--quiet"]) == 0
    run = tmp_path / "run"
    assert (run / "vis2mus.ckpt").exists() and (run / "vis2mus.pt").exists()
    assert main(["train", "vis2mus", "--config", str(config(tmp_path, 6)), "--quiet"]) == 0   # resumes at 4
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "total" in r]
    assert steps == [2, 4, 6]
    first = [r for r in records if "total" in r][0]
    assert first["tfr1"] == 1.0 and {"pitch", "dur", "kl", "chord", "beta"} <= set(first)
    assert any("val_note_f1" in r for r in records)
    state = torch.load(run / "vis2mus.pt", map_location="cpu", weights_only=True)
    assert state["size"] == "small" and state["data"]["train_songs"] == ["001"] \
        and state["data"]["validation_songs"] == ["002"] and state["data"]["train_segments"] > 50
    assert "trained weights" in capsys.readouterr().out


def test_schedules():
    intended = Vis2MusTrainConfig(steps=1000)
    start, end = schedule(intended, 0), schedule(intended, 999)
    assert start["tfr1"] == pytest.approx(0.6, abs=0.01) and end["tfr1"] < 0.01
    assert start["beta"] < 0.001 and end["beta"] == pytest.approx(0.1, abs=0.001)
    as_coded = Vis2MusTrainConfig(steps=1000, schedule="as_coded")
    assert schedule(as_coded, 2)["tfr1"] < 1e-6 and schedule(as_coded, 2)["beta"] == pytest.approx(0.1)
    warm = Vis2MusTrainConfig(steps=1000, full_teacher_forcing=0.3)
    assert schedule(warm, 299)["tfr2"] == 1.0 and schedule(warm, 300)["tfr2"] < 0.5


@pytest.mark.parametrize("extra, message", [
    ({"size": "huge"}, "size must be 'small' or 'full'"),
    ({"schedule": "fast"}, "schedule must be"),
    ({"data_dir": "/nonexistent/pop909"}, "POP909 folder not found"),
    ({"songs": "[999]"}, "not a POP909 song folder"),
    ({"device": "tpu"}, "device 'tpu': must be one of auto, cpu, cuda"),
])
def test_config_errors_are_one_line(tmp_path, capsys, extra, message):
    assert main(["train", "vis2mus", "--config", str(config(tmp_path, 2, **extra)), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
