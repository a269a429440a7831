"""MVNet (Lee et al., "Crossing You in Style", ACM MM 2020): music -> style image (spec A).

E  encoder: log-mel (3,128,256) -> music latent v (1,8,16)            (InstanceNorm, per the code)
   v is resized to 8x8 by bilinear interpolation (the paper; deterministic and exportable,
   unlike the code's random FractionalMaxPool) and concatenated with a fixed z (256,8,8).
G  generator: (257,8,8) -> style image (3,64,64) in [-1,1]; spectral norm on the first two
   deconvolutions, two self-attention blocks at 32x32, Tanh.
D  PatchGAN discriminator -> (5,5) logits; C era classifier. D and C are training-only.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

Z_DIM = 256
IMAGE_SIZE = 64


def cir(c_in: int, c_out: int) -> nn.Sequential:
    """Conv3x3 (zero pad, bias) -> InstanceNorm (affine=False) -> ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.InstanceNorm2d(c_out), nn.ReLU())


class MusicEncoder(nn.Module):
    """Spec A.2 down path: 32/64/128/256/256 channels, max-pool between, 1x1 conv to 1 channel."""

    def __init__(self):
        super().__init__()
        self.down = nn.Sequential(
            cir(3, 32),
            nn.MaxPool2d(2), cir(32, 64),
            nn.MaxPool2d(2), cir(64, 128),
            nn.MaxPool2d(2), cir(128, 256),
            nn.MaxPool2d(2), cir(256, 256),
        )
        self.latent = nn.Conv2d(256, 1, 1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.latent(self.down(mel))  # (B, 1, 8, 16)


def resize_latent(v: torch.Tensor) -> torch.Tensor:
    """(B,1,8,16) -> (B,1,8,8), bilinear (paper)."""
    return F.interpolate(v, size=(8, 8), mode="bilinear", align_corners=False)


class SelfAttention(nn.Module):
    """SAGAN self-attention; y = ReLU(gamma * attention(x) + x) (the code's trailing ReLU)."""

    def __init__(self, channels: int):
        super().__init__()
        self.query = nn.Conv2d(channels, channels // 8, 1)
        self.key = nn.Conv2d(channels, channels // 8, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).reshape(b, -1, h * w).transpose(1, 2)   # (B, N, C/8)
        k = self.key(x).reshape(b, -1, h * w)                      # (B, C/8, N)
        attention = torch.softmax(torch.bmm(q, k), dim=-1)         # (B, N, N), softmax over keys
        v = self.value(x).reshape(b, c, h * w)                     # (B, C, N)
        out = torch.bmm(v, attention.transpose(1, 2)).reshape(b, c, h, w)
        return F.relu(self.gamma * out + x)


def upsample2x(c_in: int, c_out: int, mode: str) -> nn.Module:
    """x2 upsampling with `mode` "deconv" (the paper's 4x4 stride-2 transposed conv) or "resize"
    (nearest x2 then a 3x3 conv). A stride-2 transposed conv lets neighbouring output pixels take
    different kernel taps, which a GAN readily turns into a 2-pixel checkerboard (the starter
    MVNet's images show one); resize-then-convolve gives every pixel the same taps (Odena et al.,
    "Deconvolution and Checkerboard Artifacts", Distill 2016)."""
    if mode == "deconv":
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)
    if mode == "resize":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1))
    raise ValueError(f"upsample mode must be 'deconv' or 'resize', got {mode!r}")


def _spectral(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.Sequential):  # resize: normalise the conv after the upsampling
        return nn.Sequential(module[0], spectral_norm(module[1]))
    return spectral_norm(module)


class Generator(nn.Module):
    def __init__(self, z_dim: int = Z_DIM, upsample: str = "deconv"):
        super().__init__()
        self.l1 = nn.Sequential(_spectral(upsample2x(z_dim + 1, 256, upsample)), nn.InstanceNorm2d(256), nn.ReLU())
        self.l2 = nn.Sequential(_spectral(upsample2x(256, 128, upsample)), nn.InstanceNorm2d(128), nn.ReLU())
        self.attn1 = SelfAttention(128)
        self.attn2 = SelfAttention(128)
        self.last = nn.Sequential(upsample2x(128, 3, upsample), nn.Tanh())

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.last(self.attn2(self.attn1(self.l2(self.l1(latent)))))


class Discriminator(nn.Module):
    """Spec A.5: three SN convs (LeakyReLU 0.1), two self-attention blocks, 4x4 valid conv -> 5x5."""

    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(
            spectral_norm(nn.Conv2d(3, 64, 4, 2, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(64, 128, 4, 2, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(128, 256, 4, 2, 1)), nn.LeakyReLU(0.1),
            SelfAttention(256), SelfAttention(256),
        )
        self.last = nn.Conv2d(256, 1, 4)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.last(self.convs(image)).squeeze(1)  # (B, 5, 5)


class EraClassifier(nn.Module):
    """Spec A.6: Conv-BN-ReLU x3 with max-pools, global 16x16 average, linear to n_eras."""

    def __init__(self, n_eras: int):
        super().__init__()

        def cbr(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(*cbr(3, 32), nn.MaxPool2d(2), *cbr(32, 64), nn.MaxPool2d(2),
                                      *cbr(64, 128), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(128, n_eras)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(image).flatten(1))


class MVNet(nn.Module):
    """E + G: the inference model. `forward(mel, z)` -> style image in [-1,1]."""

    def __init__(self, z_dim: int = Z_DIM, upsample: str = "deconv"):
        super().__init__()
        self.encoder = MusicEncoder()
        self.generator = Generator(z_dim, upsample)
        self.z_dim = z_dim

    def forward(self, mel: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.generate(self.encoder(mel), z)

    def generate(self, v: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.generator(torch.cat([resize_latent(v), z], dim=1))


def seeded_z(seed: int, batch: int = 1, z_dim: int = Z_DIM) -> torch.Tensor:
    """The fixed noise z for a seed: the same numbers as `livestyle.runtime.mvnet.seeded_z`
    (numpy's PCG64 normal draws), so torch training/eval and the runtime agree."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((batch, z_dim, 8, 8), dtype=np.float32))


def fold_spectral_norm(module: nn.Module) -> nn.Module:
    """Replace every spectral-norm parametrisation by its current normalised weight (for export)."""
    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
    return module
