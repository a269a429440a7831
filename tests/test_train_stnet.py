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
        sample_every=2, checkpoint_every=1, device="cpu",   # exact-resume checks need the CPU's determinism
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


def test_decoder_lr_trains_the_decoder_with_the_transform(photo_dir, painting_dir, tmp_path):
    """decoder_lr > 0: the stage "joint" moves decoder and transform (decoder at its own rate);
    0 (Linear's recipe): the transform stage leaves the decoder as the decoder stage left it."""
    def decoder_after(decoder_lr: float, out: Path) -> tuple[dict, dict, list]:
        cfg = tiny_config(photo_dir, painting_dir, out, dec_steps=0, tr_steps=2)
        cfg.transform.decoder_lr = decoder_lr
        trainer = STNetTrainer(cfg, progress=False)
        before = {k: v.clone() for k, v in trainer.net.decoder.state_dict().items()}
        trainer.train(evaluate=False)
        return before, trainer.net.decoder.state_dict(), read_log(out)

    before, after, log = decoder_after(0.0, tmp_path / "frozen")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [r["stage"] for r in log] == ["transform", "transform"]
    before, after, log = decoder_after(1e-4, tmp_path / "joint")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert [r["stage"] for r in log] == ["joint", "joint"]
    assert (tmp_path / "joint" / "joint.ckpt").exists() and not (tmp_path / "joint" / "transform.ckpt").exists()
    state = torch.load(tmp_path / "joint" / "stnet_r31.pt", weights_only=True)
    assert state["config"]["transform"]["decoder_lr"] == 1e-4


def test_a_frozen_style_side_keeps_the_style_graph(photo_dir, painting_dir, tmp_path):
    """train_style_side False: snet (stnet_style.onnx, shared with the lite graph) is not trained,
    the content side is."""
    cfg = tiny_config(photo_dir, painting_dir, tmp_path / "o", dec_steps=0, tr_steps=2)
    cfg.transform.decoder_lr, cfg.transform.train_style_side = 1e-4, False
    trainer = STNetTrainer(cfg, progress=False)
    before = {k: v.clone() for k, v in trainer.net.transform.state_dict().items()}
    trainer.train(evaluate=False)
    after = trainer.net.transform.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(not k.startswith("snet.") for k in changed)
    assert any(k.startswith("cnet.") for k in changed)


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


def test_lite_ssim_loss_is_the_benchmarks_ssim():
    """The lite trainer's SSIM term (1 - SSIM to the teacher) is the figure bench/stnet_quality.py
    reports: 1 for identical images, and within 0.01 of OpenCV's version on a noisy copy (only the
    border handling differs: valid positions here, reflected borders there)."""
    import cv2
    import numpy as np

    from livestyle.train.lite_trainer import ssim

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    to_tensor = lambda im: torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    assert float(ssim(to_tensor(a), to_tensor(a))) == pytest.approx(1.0, abs=1e-5)
    x, y = (cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float64) for im in (a, b))
    blur = lambda im: cv2.GaussianBlur(im, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    reference = (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean()
    assert float(ssim(to_tensor(a), to_tensor(b))) == pytest.approx(reference, abs=0.01)
    assert float(ssim(to_tensor(a), to_tensor(b))) < 0.99


@pytest.mark.parametrize("field,value,message", [("decoder_lr", -1e-4, "decoder_lr -0.0001: must be 0"),
                                                 ("lr", 0.0, "transform.lr 0.0: must be positive")])
def test_bad_stnet_training_settings_are_clear_errors(photo_dir, painting_dir, tmp_path, field, value, message):
    cfg = tiny_config(photo_dir, painting_dir, tmp_path / "o")
    cfg.transform.decoder_lr = 1e-4
    setattr(cfg.transform, field, value)
    with pytest.raises(UserError, match=message):
        STNetTrainer(cfg, progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("device,message", [("tpu", "device 'tpu': must be one of auto, cpu, cuda"),
                                            ("cuda", "device cuda: this torch .* sees no CUDA GPU")])
def test_bad_training_device_is_a_clear_error(photo_dir, painting_dir, tmp_path, device, message):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    cfg = tiny_config(photo_dir, painting_dir, tmp_path / "o")
    cfg.device = device
    with pytest.raises(UserError, match=message):
        STNetTrainer(cfg, progress=False)
    assert not (tmp_path / "o").exists()


def test_training_device_auto_is_the_cpu_without_cuda(monkeypatch):
    from livestyle.train import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert distributed.device("auto") == torch.device("cpu")
    assert distributed.device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.device("auto") == torch.device("cuda", 1)   # torchrun's second process
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(UserError, match="LOCAL_RANK 2 but only 2 CUDA GPUs"):
        distributed.device("cuda")


def test_prefetched_batches_are_the_ones_drawn_in_order(photo_dir, painting_dir):
    """The GPU path draws batches on a thread: same batches, same order, and each comes with the
    data RNG states right after it was drawn (what a checkpoint must save to resume exactly)."""
    from livestyle.train.stnet_trainer import PairPrefetcher

    direct_c, direct_s = ImageFolder(photo_dir, 32, seed=5), ImageFolder(painting_dir, 32, seed=6)
    ahead_c, ahead_s = ImageFolder(photo_dir, 32, seed=5), ImageFolder(painting_dir, 32, seed=6)
    prefetcher = PairPrefetcher(ahead_c, ahead_s, batch_size=2)
    try:
        for _ in range(4):
            c, s, (c_state, s_state) = prefetcher.next()
            assert torch.equal(c, direct_c.batch(2)) and torch.equal(s, direct_s.batch(2))
            assert c_state == direct_c.rng.getstate() and s_state == direct_s.rng.getstate()
    finally:
        prefetcher.close()
    assert not prefetcher.thread.is_alive()


def test_prefetching_trains_the_same_weights_and_resumes_exactly(photo_dir, painting_dir, tmp_path):
    """The GPU's batch thread (forced on here, on the CPU) changes nothing a run computes, and a run
    interrupted while the thread had drawn ahead resumes with the batches it would have had."""
    def transform_after(out: Path, steps: int, prefetch: bool) -> dict:
        trainer = STNetTrainer(tiny_config(photo_dir, painting_dir, out, dec_steps=0, tr_steps=steps), progress=False)
        trainer.prefetch = prefetch
        trainer.train_transform()
        return trainer.net.transform.state_dict()

    direct = transform_after(tmp_path / "direct", 4, prefetch=False)
    transform_after(tmp_path / "ahead", 2, prefetch=True)          # stops with batches drawn ahead
    resumed = transform_after(tmp_path / "ahead", 4, prefetch=True)
    assert all(torch.allclose(direct[k], resumed[k], atol=1e-6) for k in direct)
    assert all("data_wait" in r for r in read_log(tmp_path / "ahead"))


def test_relative_style_loss_weighs_each_layer_alike():
    from livestyle.train.stnet_trainer import style_loss

    torch.manual_seed(0)
    style = {"a": torch.rand(2, 4, 8, 8), "b": 100 * torch.rand(2, 4, 8, 8)}
    out = {k: v * 1.1 for k, v in style.items()}             # 10 % off on both layers
    absolute = [float(style_loss(out, style, (k,))) for k in "ab"]
    relative = [float(style_loss(out, style, (k,), relative=True)) for k in "ab"]
    assert absolute[1] > 1000 * absolute[0]                  # the large layer rules Linear's loss
    assert relative[0] == pytest.approx(relative[1], rel=1e-4)
    assert relative[0] == pytest.approx(0.1 ** 2 + 0.21 ** 2, rel=1e-3)   # the mean and Gram terms


def test_logged_style_loss_is_linears_whatever_the_training_form(photo_dir, painting_dir, tmp_path):
    """With style_relative the logs and the held-out figures still carry Linear's absolute style
    loss under "style" (runs of both forms compare), the trained-on one under "style_relative"."""
    cfg = tiny_config(photo_dir, painting_dir, tmp_path / "rel", dec_steps=0, tr_steps=2)
    cfg.transform.style_relative, cfg.transform.style_weight = True, 8.0
    trainer = STNetTrainer(cfg, progress=False)
    c, s = trainer.content.fixed(2), trainer.style.fixed(2)
    with torch.no_grad():
        losses = trainer.transform_losses(c, s)
    from livestyle.train.stnet_trainer import style_loss
    layers = tuple(cfg.transform.style_layers)
    with torch.no_grad():
        o_feats, s_feats = trainer.loss_net(losses["out"], layers), trainer.loss_net(s, layers)
    assert float(losses["style"]) == pytest.approx(float(style_loss(o_feats, s_feats, layers)), rel=1e-4)
    assert float(losses["style_relative"]) == pytest.approx(float(style_loss(o_feats, s_feats, layers, True)), rel=1e-4)
    path = trainer.train()
    heldout = torch.load(path, weights_only=True)["heldout"]["trained"]
    assert heldout["style"] > 10 * heldout["style_relative"]
    assert heldout["total"] == pytest.approx(heldout["content"] + 8.0 * heldout["style_relative"], rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_the_gpu_writes_weights_any_machine_loads(photo_dir, painting_dir, tmp_path):
    """device cuda: both stages run there (batches from the prefetch thread) and the weights file
    holds CPU tensors."""
    cfg = tiny_config(photo_dir, painting_dir, tmp_path / "gpu")
    cfg.device = "cuda"
    trainer = STNetTrainer(cfg, progress=False)
    assert trainer.prefetch and next(trainer.net.decoder.parameters()).is_cuda
    state = torch.load(trainer.train(), weights_only=True)
    assert all(v.device.type == "cpu" for v in state["decoder"].values())
    assert all("data_wait" in r for r in read_log(tmp_path / "gpu"))
