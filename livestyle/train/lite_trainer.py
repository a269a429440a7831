"""`livestyle train lite`: the lite content path (models/stnet_lite.py) distilled from r31.

The teacher is the shipped r31 (its exported graphs, `teacher:`), whose style branch also gives
the student its style state, exactly as at run time. Per step, on random content crops and style
crops of the style work's data set (the frozen held-out set refused):

  pixel     L1 between the student's and the teacher's (clamped) output
  feature   MSE between VGG-19 relu1_1, relu2_1, relu3_1 of the two outputs
  temporal  the ReReVST-style term of the r31 trainer: L1 between the student's output on warped,
            noisy content and its warped output, so the cheap net does not flicker more
  style     (optional, `style_weight`) r31's own style loss against the style image (Gram matrices
            and means at relu1_1..relu4_1): pixel and feature matching alone leave the student's
            textures flatter than the teacher's (Gram ratio 0.875 vs 0.644, bench/RESULTS.md),
            because the average of plausible textures is a blur; the style term rewards texture
  ssim      (optional, `ssim_weight`) 1 - SSIM between the grey student and teacher outputs
            (Wang et al. 2004: Gaussian window 11, sigma 1.5): L1 is met by the local mean, SSIM
            also asks for the teacher's local contrast and structure, which is where the stage-3
            student still differed (SSIM 0.742 to r31 on the held-out pairs, bench/RESULTS.md)

Distillation rather than training on the style losses alone: the student then inherits r31's
balance of content and style, which the held-out quality figures compare against (issue 11), and
converges in the few thousand CPU steps a session affords. The student's unzip starts from r31's
(it maps the 32-d coloured space back to r31's feature space, where the style mean is added).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from livestyle.config import to_dict
from livestyle.errors import UserError
from livestyle.models.stnet_lite import LiteSTNet
from livestyle.train import distributed
from livestyle.train.stnet_trainer import STNetTrainConfig, STNetTrainer, random_smooth_flow, style_loss, warp

log = logging.getLogger(__name__)

FEATURE_LAYERS = ("r11", "r21", "r31")


@dataclass
class DistillStage:
    steps: int = 2000
    batch_size: int = 6
    lr: float = 1e-3
    lr_decay: float = 1e-3            # lr / (1 + step * lr_decay)
    pixel_weight: float = 1.0
    feature_weight: float = 0.05
    temporal_weight: float = 1.0
    temporal_flow: float = 4.0        # pixels of random smooth displacement
    temporal_noise: float = 0.02
    style_weight: float = 0.0         # r31's style loss (stnet_trainer.style_loss) against the style image
    style_layers: tuple[str, ...] = ("r11", "r21", "r31", "r41")
    ssim_weight: float = 0.0          # 1 - SSIM(student, teacher), grey, see ssim()


@dataclass
class LiteTrainConfig(STNetTrainConfig):
    teacher: str = "exported"         # folder of the exported r31 graphs (weights and style branch)
    widths: tuple[int, int, int] = (16, 32, 64)
    refine: int = 8
    skips: bool = True                # U-Net skips at 1/4 and 1/2 (without: a blurry student, bench/RESULTS.md)
    init_student: str = ""            # a lite checkpoint (lite.ckpt or stnet_lite.pt) to start from;
                                      # a no-skip one is grown (models/stnet_lite.grow_skips)
    out_dir: str = "runs/stnet_lite"
    distill: DistillStage = field(default_factory=DistillStage)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of the grey versions (ITU-R 601 luma) of two (N,3,H,W) batches in [0,1], with
    Wang et al.'s constants and an 11x11 Gaussian window of sigma 1.5 (valid positions only), as
    bench/stnet_quality.py measures it on uint8 images."""
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=a.dtype, device=a.device).view(1, 3, 1, 1)
    x, y = (im.mul(luma).sum(1, keepdim=True) for im in (a, b))
    w = gaussian_window().to(a)
    blur = lambda t: F.conv2d(t, w)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean()


class LiteTrainer(STNetTrainer):
    """Reuses the r31 trainer's data, checkpoints, logging and resume; `self.net` is the teacher."""

    def __init__(self, cfg: LiteTrainConfig, progress: bool = True, command: str | None = None,
                 where: str = "lite training config"):
        cfg.init_from = cfg.teacher   # the r31 trainer loads the exported weights into self.net
        super().__init__(cfg, progress, command, where)
        self.net.eval().requires_grad_(False)
        self.student = LiteSTNet(tuple(cfg.widths), cfg.refine, self.net.transform.unzip.out_channels, cfg.skips)
        with torch.no_grad():
            self.student.unzip.load_state_dict(self.net.transform.unzip.state_dict())
        self.init_student_sha256 = None
        if cfg.init_student:
            self.init_student_sha256 = self.load_student(Path(cfg.init_student))
        self.student.to(self.device)

    def load_student(self, path: Path) -> str:
        from livestyle.models.stnet_lite import grow_skips
        from livestyle.runtime.manifest import sha256

        state = torch.load(path, map_location="cpu", weights_only=True)
        weights = state.get("student", state.get("model"))
        if weights is None:
            raise UserError(f"{path}: not a lite checkpoint (no student weights)")
        if self.student.skips and weights["up.0.weight"].shape[1] != self.student.up[0].weight.shape[1]:
            weights = grow_skips(weights, tuple(self.cfg.widths))
        self.student.load_state_dict(weights)
        log.info("lite student starts from %s", path)
        return sha256(path)

    def teacher(self, content: torch.Tensor, style: torch.Tensor):
        with torch.no_grad():
            s_mean, s_matrix = self.net.style_state(style)
            return s_mean, s_matrix, self.net.stylize(content, s_mean, s_matrix).clamp(0, 1)

    def distill_losses(self, content: torch.Tensor, style: torch.Tensor) -> dict:
        cfg = self.cfg.distill
        s_mean, s_matrix, target = self.teacher(content, style)
        out = self.student.stylize(content, s_mean, s_matrix)
        layers = FEATURE_LAYERS + tuple(n for n in cfg.style_layers if n not in FEATURE_LAYERS) \
            if cfg.style_weight > 0 else FEATURE_LAYERS
        with torch.no_grad():
            t_feats = self.loss_net(target, FEATURE_LAYERS)
        o_feats = self.loss_net(out, layers)
        pixel = F.l1_loss(out, target)
        feature = sum(F.mse_loss(o_feats[n], t_feats[n]) for n in FEATURE_LAYERS)
        total = cfg.pixel_weight * pixel + cfg.feature_weight * feature
        losses = {"pixel": pixel.detach(), "feature": feature.detach(), "out": out}
        if cfg.ssim_weight > 0:
            structural = 1.0 - ssim(out, target)
            total = total + cfg.ssim_weight * structural
            losses["ssim"] = structural.detach()
        if cfg.style_weight > 0:
            with torch.no_grad():
                s_feats = self.loss_net(style, tuple(cfg.style_layers))
            ls = style_loss(o_feats, s_feats, tuple(cfg.style_layers))
            total = total + cfg.style_weight * ls
            losses["style"] = ls.detach()
        if cfg.temporal_weight > 0 and self.student.training:
            grid = random_smooth_flow(content.shape, cfg.temporal_flow, device=content.device)
            moved = (warp(content, grid) + cfg.temporal_noise * torch.randn_like(content)).clamp(0, 1)
            temporal = F.l1_loss(self.student.stylize(moved, s_mean, s_matrix), warp(out, grid))
            total = total + cfg.temporal_weight * temporal
            losses["temporal"] = temporal.detach()
        losses["total"] = total
        return losses

    def train_student(self) -> dict:
        cfg = self.cfg.distill
        opt = torch.optim.Adam(self.student.parameters(), lr=cfg.lr)

        return self._run_pairs("lite", cfg.steps, self.student, opt, self.distill_losses, cfg.batch_size,
                               lr_fn=lambda t: cfg.lr / (1 + t * cfg.lr_decay))

    def train(self, evaluate: bool = False) -> Path:
        losses = self.train_student()
        path = self.out / "stnet_lite.pt"
        if not distributed.is_main():
            distributed.barrier()
            return path
        cfg = self.cfg
        final = {k: round(float(v), 5) for k, v in losses.items()} if losses else {}
        torch.save({"kind": "lite", "widths": list(cfg.widths), "refine": cfg.refine, "skips": cfg.skips,
                    "style_channels": self.student.style_channels,
                    "student": distributed.cpu_state(self.student),
                    "config": to_dict(cfg), "final_losses": final, "command": self.command,
                    "data": {"content_dir": cfg.content_dir, "content_images": len(self.content),
                             "style_dir": cfg.style_dir, "style_images": len(self.style),
                             "teacher": cfg.teacher, "teacher_sha256": self.init_sha256,
                             "init_student": cfg.init_student or None,
                             "init_student_sha256": self.init_student_sha256}}, path)
        log.info("wrote %s (final losses %s)", path, final)
        distributed.barrier()
        return path
