"""A lite content path for CPUs (issue 11): the Linear split kept, the per-frame network made cheap.

The style side is r31's own: its style graph (VGG r31 features -> s_mean (256), s_matrix (32x32))
runs once per tick, so a lite model shares the style state, the smoothing and the bank with r31.
Only the per-frame path changes:

  frame -> three stride-2 convs (16, 32, 64 channels; 1/8 resolution) -> a 3x3 conv
        -> Linear's transform at 1/8 resolution: centre, compress 64 -> 32, the content matrix from
           a MatrixNet on the lite features, T = s_matrix T_c, unzip 32 -> 256 (r31's space, where
           s_mean is added), a 1x1 bridge 256 -> 64
        -> a 3x3 conv, two nearest x2 upsamplings each with a 3x3 conv (32, 16 channels), a third
           upsampling to full resolution
        -> refinement at full resolution that sees the frame: concat(features, frame) -> 3x3 conv
           to `refine` channels -> 3x3 conv to RGB

Why this shape (bench/RESULTS.md, ../shared/design/lite_cpu_budget.md): thin convolutions at full
resolution are memory-bound on a CPU, so the work happens at 1/8 to 1/2 resolution and only two
narrow convolutions touch every pixel. Every convolution zero-pads through its own `pads`
attribute: ONNX Runtime's CPU provider keeps such a network in its blocked NCHWc layout
throughout, where each reflection Pad costs a layout round trip (23 % of r31's time at 1080p).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from livestyle.models.stnet import MATRIX_SIZE, MatrixNet, QuantizeToUint8, blend, linear_transform

LITE_STRIDE = 8


def conv(c_in: int, c_out: int, stride: int = 1, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2)


def upsample_to(x: torch.Tensor, like: torch.Tensor | None) -> torch.Tensor:
    """Nearest x2, cropped to `like`'s height and width (a stride-2 level of an odd size): one
    Resize to that size, which for nearest neighbours picks exactly the pixels x2-then-crop would
    (source index floor(i * s / d) = floor(i / 2) for d in {2s - 1, 2s}), without a Slice that
    ONNX Runtime runs as a full copy even when nothing is cropped (3.7 ms of 33 at 640x360).
    `like` None: plain x2 (the no-skip decoder's inner levels)."""
    if like is None:
        return F.interpolate(x, scale_factor=2, mode="nearest")
    return F.interpolate(x, size=like.shape[2:], mode="nearest")


class LiteSTNet(nn.Module):
    """frame (N,3,H,W) in [0,1] + r31 style state -> stylised frame (N,3,H,W), unclamped."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), refine: int = 8, style_channels: int = 256,
                 skips: bool = False):
        super().__init__()
        a, b, c = widths
        self.widths, self.refine_width, self.style_channels = tuple(widths), refine, style_channels
        self.skips = skips
        self.down = nn.ModuleList([conv(3, a, 2), conv(a, b, 2), conv(b, c, 2)])
        self.encode_out = conv(c, c)
        self.cnet = MatrixNet(c)
        self.compress = nn.Conv2d(c, MATRIX_SIZE, 1)
        self.unzip = nn.Conv2d(MATRIX_SIZE, style_channels, 1)
        self.bridge = nn.Conv2d(style_channels, c, 1)
        self.decode_in = conv(c, c)
        # skips: the encoder's 1/4 and 1/2 resolution features join the decoder there (U-Net), so
        # the content's detail does not have to pass through the 1/8 bottleneck
        self.up = nn.ModuleList([conv(c + (b if skips else 0), b), conv(b + (a if skips else 0), a)])
        self.refine = nn.ModuleList([conv(a + 3, refine), conv(refine, 3)])

    def encode(self, frame: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The 1/8 features and the 1/2 and 1/4 ones (for the skips)."""
        x, levels = frame, []
        for layer in self.down:
            x = F.relu(layer(x))
            levels.append(x)
        return F.relu(self.encode_out(x)), levels[:2]

    def transform(self, feat: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor) -> torch.Tensor:
        return self.bridge(linear_transform(feat, s_mean, s_matrix, self.compress, self.cnet, self.unzip))

    def decode(self, x: torch.Tensor, frame: torch.Tensor, levels: list[torch.Tensor]) -> torch.Tensor:
        x = F.relu(self.decode_in(x))
        for layer, skip in zip(self.up, reversed(levels)):
            x = upsample_to(x, skip if self.skips else None)
            if self.skips:
                x = torch.cat([x, skip], 1)
            x = F.relu(layer(x))
        x = upsample_to(x, frame)
        return self.refine[1](F.relu(self.refine[0](torch.cat([x, frame], 1))))

    def stylize(self, frame: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor) -> torch.Tensor:
        feat, levels = self.encode(frame)
        return self.decode(self.transform(feat, s_mean, s_matrix), frame, levels)

    def forward(self, frame: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor) -> torch.Tensor:
        return self.stylize(frame, s_mean, s_matrix)


def lite_pixel_scaled(net: LiteSTNet) -> LiteSTNet:
    """A copy that takes and returns pixel values 0..255: 1/255 folded into the first conv and into
    the refinement's weights on the frame's channels (the last three of its input), 255 into the
    last conv."""
    scaled = copy.deepcopy(net)
    with torch.no_grad():
        scaled.down[0].weight.mul_(1.0 / 255.0)
        scaled.refine[0].weight[:, -3:].mul_(1.0 / 255.0)
        scaled.refine[1].weight.mul_(255.0)
        scaled.refine[1].bias.mul_(255.0)
    return scaled


class LiteContentBranch(nn.Module):
    """Export wrapper with the r31 content graph's interface (models/stnet.py ContentBranch): frame
    uint8 (N,H,W,3) of any size, s_mean, s_matrix, strength (1,) -> uint8 (N,H,W,3). Layout on
    uint8, scalings folded, no padding pass (the convolutions zero-pad; the decoder crops to the
    frame), the strength If and one QuantizeLinear, so the runtime treats both models alike."""

    def __init__(self, net: LiteSTNet, quantize: bool = True):
        super().__init__()
        self.net = lite_pixel_scaled(net)
        self.quantize = quantize

    def forward(self, frame: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor,
                strength: torch.Tensor) -> torch.Tensor:
        styled = self.net.stylize(frame.permute(0, 3, 1, 2).float(), s_mean, s_matrix)
        out = blend(frame, styled, strength)
        out = QuantizeToUint8.apply(out) if self.quantize else out.clamp(0.0, 255.0)
        return out.permute(0, 2, 3, 1)


def grow_skips(state: dict, widths: tuple[int, int, int]) -> dict:
    """A no-skip student's weights as a skip student's: the decoder convs that take the skips get
    zero weights on those channels, so the grown network computes exactly what the old one did
    and training adds detail through the skips from there (starting a skip network from scratch,
    its early training leaned on the skips and ignored the style: grey outputs at step 500)."""
    a, b, c = widths
    grown = dict(state)
    for name, extra in (("up.0.weight", b), ("up.1.weight", a)):
        w = state[name]
        grown[name] = torch.cat([w, w.new_zeros(w.shape[0], extra, *w.shape[2:])], 1)
    return grown
