"""`livestyle train stnet`: both stages run, checkpoint, resume, and actually reduce their losses."""

import json
import logging
from pathlib import Path

import pytest
import torch

from livestyle.errors import UserError
from livestyle.train.data import ImageFolder
from livestyle.train.stnet_trainer import (DecoderStage, STNetTrainConfig, STNetTrainer, TransformStage, gram,
                                   style_loss)


def tiny_config(content: Path, style: Path, out: Path, dec_steps=2, tr_steps=2) -> STNetTrainConfig:
    return STNetTrainConfig(
        content_dir=str(content), style_dir=str(style), heldout_content_dir=str(content),
        heldout_style_dir=str(style), out_dir=str(out), crop=64, eval_size=64, log_every=1,
        sample_every=2, checkpoint_every=1,
        decoder=DecoderStage(steps=dec_steps, batch_size=2),
        transform=TransformStage(steps=tr_steps, batch_size=2))


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_train_then_resume(photo_dir, painting_dir, tmp_path):
    out = tmp_path / "run"
    path = STNetTrainer(tiny_config(photo_dir, painting_dir, out), progress=False).train()
    assert path.exists() and (out / "decoder.ckpt").exists() and (out / "transform.ckpt").exists()
    assert list(out.glob("samples_decoder_*.png")) and list(out.glob("samples_transform_*.png"))
    first = read_log(out)
    assert [(r["stage"], r["step"]) for r in first] == [("decoder", 1), ("decoder", 2),
                                                        ("transform", 1), ("transform", 2)]
    # asking for more steps resumes from the checkpoints instead of starting over
    STNetTrainer(tiny_config(photo_dir, painting_dir, out, dec_steps=3, tr_steps=3), progress=False).train()
    resumed = read_log(out)[len(first):]
    assert [(r["stage"], r["step"]) for r in resumed] == [("decoder", 3), ("transform", 3)]
    state = torch.load(path, weights_only=True)
    assert set(state["final_losses"]) == {"decoder", "transform"}
    assert state["heldout"]["pairs"] == 12  # 4 frames x 3 paintings
    assert {"content", "style", "total"} <= set(state["heldout"]["trained"])
    assert "optimizer" not in state  # the shipped weights file carries no optimiser state


def overfit(trainer: STNetTrainer, stage: str, steps: int) -> list[float]:
    """Train one stage on one fixed batch; returns the total loss per step."""
    net = trainer.net
    content, style = trainer.content.fixed(2), trainer.style.fixed(2)
    if stage == "decoder":
        params = net.decoder.parameters()
    else:
        params = net.transform.parameters()
    opt = torch.optim.Adam(params, lr=1e-3)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        if stage == "decoder":
            feat = net.encode(content).detach()
            recon = net.decoder(feat)
            loss = (recon - content).pow(2).mean() + (net.encode(recon) - feat).pow(2).mean()
        else:
            loss = trainer.transform_losses(content, style)["total"]
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


@pytest.mark.parametrize("stage", ["decoder", "transform"])
def test_each_stage_reduces_its_loss(photo_dir, painting_dir, tmp_path, stage):
    torch.manual_seed(0)
    trainer = STNetTrainer(tiny_config(photo_dir, painting_dir, tmp_path / "o"), progress=False)
    history = overfit(trainer, stage, 25)
    assert history[-1] < 0.7 * history[0]


def test_style_loss_zero_for_identical_features_and_positive_otherwise():
    a = {"r11": torch.rand(2, 4, 5, 5)}
    assert float(style_loss(a, a, ("r11",))) == 0.0
    b = {"r11": a["r11"] * 2}
    assert float(style_loss(a, b, ("r11",))) > 0
    assert gram(a["r11"]).shape == (2, 4, 4)


def test_unreadable_images_skipped_with_warning(tmp_path, photo_dir, caplog):
    (photo_dir / "broken.jpg").write_bytes(b"not a jpeg")
    folder = ImageFolder(photo_dir, crop=32, seed=0)
    with caplog.at_level(logging.WARNING):
        batch = folder.batch(12)
    assert batch.shape == (12, 3, 32, 32)
    assert any("broken.jpg" in r.message for r in caplog.records)


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        ImageFolder(tmp_path / "empty", crop=32)
    with pytest.raises(UserError, match="not found"):
        ImageFolder(tmp_path / "missing", crop=32)
