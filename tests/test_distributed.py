"""Data-parallel training under torchrun (train/distributed.py): gradients averaged across
processes with gloo on the CPU, and a whole two-process run of the trainer (slow)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _average_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    from livestyle.train import distributed

    distributed.setup()
    layer = torch.nn.Linear(3, 2)
    torch.manual_seed(rank)
    layer(torch.randn(4, 3) * (rank + 1)).sum().backward()
    mine = [p.grad.clone() for p in layer.parameters()]
    distributed.average_gradients(layer)
    torch.save({"mine": mine, "averaged": [p.grad for p in layer.parameters()],
                "loss": distributed.average_value(float(rank + 1))}, f"{out}.{rank}")
    distributed.cleanup()


def test_gradients_are_averaged_across_two_gloo_processes(tmp_path):
    out = str(tmp_path / "grads")
    mp.spawn(_average_worker, args=(free_port(), out), nprocs=2, join=True)
    r0, r1 = (torch.load(f"{out}.{r}", weights_only=True) for r in (0, 1))
    for a0, a1, m0, m1 in zip(r0["averaged"], r1["averaged"], r0["mine"], r1["mine"]):
        torch.testing.assert_close(a0, a1)
        torch.testing.assert_close(a0, (m0 + m1) / 2)
    assert r0["loss"] == r1["loss"] == 1.5


def test_one_process_needs_no_process_group(monkeypatch):
    from livestyle.train import distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    distributed.setup()
    layer = torch.nn.Linear(2, 1)
    layer(torch.ones(1, 2)).sum().backward()
    before = [p.grad.clone() for p in layer.parameters()]
    distributed.average_gradients(layer)
    assert all(torch.equal(b, p.grad) for b, p in zip(before, layer.parameters()))
    assert distributed.is_main() and distributed.average_value(2.0) == 2.0


@pytest.mark.slow
def test_torchrun_two_processes_train_stnet_like_one(tmp_path):
    """The documented command on two CPU processes: one log, one checkpoint, one weights file;
    the final losses (running means over the last 40 steps) agree with a one-process run of the
    same recipe and effective batch within 5 %."""
    from livestyle.io.images import write_image
    import numpy as np

    rng = np.random.default_rng(0)
    for folder in ("content", "style"):
        (tmp_path / folder).mkdir()
        for i in range(6):
            write_image(tmp_path / folder / f"{folder}{i}.png", rng.integers(0, 256, (48, 48, 3), np.uint8))
    def config(batch: int) -> Path:
        path = tmp_path / f"tiny{batch}.yaml"
        path.write_text(recipe.format(batch=batch))
        return path

    recipe = f"""layer: r31
content_dir: {tmp_path / 'content'}
style_dir: {tmp_path / 'style'}
heldout_content_dir: {tmp_path / 'content'}
heldout_style_dir: {tmp_path / 'style'}
heldout_list: ""
crop: 32
eval_size: 32
threads: 1
device: cpu
log_every: 40
sample_every: 1000
checkpoint_every: 40
decoder: {{{{steps: 80, batch_size: {{batch}}, lr: 5.0e-4}}}}
transform: {{{{steps: 80, batch_size: {{batch}}}}}}
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    # the same effective batch: 16 on one process, 8 on each of two
    for name, prefix, batch in (("one", [sys.executable, "-m", "livestyle"], 16),
                                ("two", [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                                         "--master-port", str(free_port()), "-m", "livestyle"], 8)):
        out = tmp_path / name
        subprocess.run([*prefix, "train", "stnet", "--config", str(config(batch)), "--out-dir", str(out), "--quiet"],
                       check=True, env=env, cwd=REPO, timeout=900)
        assert (out / "stnet_r31.pt").is_file()
        runs[name] = torch.load(out / "stnet_r31.pt", weights_only=True)["final_losses"]
    for stage, key in (("decoder", "pixel"), ("transform", "content"), ("transform", "style")):
        one, two = runs["one"][stage][key], runs["two"][stage][key]
        assert abs(two - one) <= 0.05 * abs(one), f"{stage} {key}: one process {one:.4g}, two {two:.4g}"
