"""Linear style transfer (Li, Liu, Kautz, Yang, CVPR 2019), variants r31 and r41 (spec B).

The model is split the way the runtime uses it (docs/ARCHITECTURE.md):
  style branch   style image -> (s_mean, s_matrix)           once per style tick, cheap, smoothable
  content branch frame, s_mean, s_matrix -> stylised frame   every frame, at full resolution
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from livestyle.models.vgg import VGGEncoder, build_encoder, fold_preprocess

MATRIX_SIZE = 32
CHANNELS = {"r31": 256, "r41": 512}
# Decoder convs (in, out) per resolution level, coarse to fine; "up" = nearest x2 upsample.
DECODER_LAYERS = {
    "r31": ((256, 128), "up", (128, 128), (128, 64), "up", (64, 64), (64, 3)),
    "r41": ((512, 256), "up", (256, 256), (256, 256), (256, 256), (256, 128), "up",
            (128, 128), (128, 64), "up", (64, 64), (64, 3)),
}
# Spatial stride of the encoder: training crops are multiples of it; the content graph pools partial
# windows and so takes any size.
STRIDE = {"r31": 4, "r41": 8}


class Decoder(nn.Module):
    """Mirror of the VGG prefix: reflection-padded 3x3 convs, nearest x2 upsampling, ReLU after
    every conv except the last, no output activation (spec B.2)."""

    def __init__(self, layer: str = "r31"):
        super().__init__()
        self.plan = DECODER_LAYERS[layer]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3) for i, o in (p for p in self.plan if p != "up"))

    def forward(self, x: torch.Tensor, out_hw: tuple[int, int] | None = None) -> torch.Tensor:
        """`out_hw`: crop the output to this size (the frame's, when the encoder pooled partial
        windows and the decoder returns it rounded up to its stride). The crop is folded into the
        last conv's reflection pad as negative bottom/right pads (pad-then-crop, same values), so
        no separate pass copies the frame: in the uint8 content graph that removed two Slices."""
        convs = iter(self.convs)
        n_convs = len(self.convs)
        done = 0
        for step in self.plan:
            if step == "up":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
                continue
            done += 1
            pad = (1, 1, 1, 1)
            if out_hw is not None and done == n_convs:
                pad = (1, 1 - (x.shape[3] - out_hw[1]), 1, 1 - (x.shape[2] - out_hw[0]))
            x = next(convs)(F.pad(x, pad, mode="reflect"))
            if done < n_convs:
                x = F.relu(x)
        return x


class MatrixNet(nn.Module):
    """CNN(layer) of spec B.3: three zero-padded 3x3 convs to 32 channels, the uncentred second
    moment O O^T / (h w), then a 1024 -> 1024 FC reshaped to a 32x32 matrix.

    The moment is formed as (O / sqrt(hw)) (O / sqrt(hw))^T: the same value, but summing scaled
    terms keeps every partial sum near the mean instead of growing with the frame's area, which at
    1080p would pass float16's 65 504 (TensorRT/CUDA fp16 graphs)."""

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.convs = nn.Sequential(
            nn.Conv2d(c, c // 2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c // 2, c // 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c // 4, MATRIX_SIZE, 3, padding=1),
        )
        self.fc = nn.Linear(MATRIX_SIZE * MATRIX_SIZE, MATRIX_SIZE * MATRIX_SIZE)

    def forward(self, centred: torch.Tensor) -> torch.Tensor:
        out = self.convs(centred)
        b, c, h, w = out.shape
        flat = out.reshape(b, c, h * w) * (h * w) ** -0.5  # traced: the scale follows the frame size
        moment = torch.bmm(flat, flat.transpose(1, 2))
        return self.fc(moment.reshape(b, c * c)).reshape(b, MATRIX_SIZE, MATRIX_SIZE)


def linear_transform(content_feat: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor,
                     compress: nn.Module, cnet: nn.Module, unzip: nn.Module) -> torch.Tensor:
    """The content side of MulLayer: centre the features, compress them to 32-d, apply
    T = s_matrix T_c (T_c from `cnet`), unzip to the style's feature space and add its mean.
    Shared by r31's Transform and the lite content path."""
    centred = content_feat - content_feat.mean(dim=(2, 3), keepdim=True)
    b, _, h, w = centred.shape
    comp = compress(centred).reshape(b, MATRIX_SIZE, h * w)
    matrix = torch.bmm(s_matrix, cnet(centred))
    out = torch.bmm(matrix, comp).reshape(b, MATRIX_SIZE, h, w)
    return unzip(out) + s_mean[:, :, None, None]


class Transform(nn.Module):
    """MulLayer (spec B.3): T = T_s T_c applied in a 32-d compressed space, plus the style mean."""

    def __init__(self, layer: str = "r31"):
        super().__init__()
        c = CHANNELS[layer]
        self.snet = MatrixNet(c)
        self.cnet = MatrixNet(c)
        self.compress = nn.Conv2d(c, MATRIX_SIZE, 1)
        self.unzip = nn.Conv2d(MATRIX_SIZE, c, 1)

    def style_state(self, style_feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Style features -> (s_mean (B,C), s_matrix (B,32,32))."""
        s_mean = style_feat.mean(dim=(2, 3))
        return s_mean, self.snet(style_feat - s_mean[:, :, None, None])

    def apply(self, content_feat: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor) -> torch.Tensor:
        return linear_transform(content_feat, s_mean, s_matrix, self.compress, self.cnet, self.unzip)


class STNet(nn.Module):
    """Frozen VGG encoder + trainable transform + decoder (frozen during transform training)."""

    def __init__(self, layer: str = "r31", encoder: VGGEncoder | None = None):
        super().__init__()
        self.layer = layer
        self.encoder = encoder if encoder is not None else VGGEncoder(layer)
        self.transform = Transform(layer)
        self.decoder = Decoder(layer)

    @classmethod
    def pretrained_encoder(cls, layer: str = "r31") -> "STNet":
        return cls(layer, build_encoder(layer))

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(image, (self.layer,))[self.layer]

    def style_state(self, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform.style_state(self.encode(style))

    def stylize(self, frame: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor,
                out_hw: tuple[int, int] | None = None) -> torch.Tensor:
        """Unclamped output (training); the exported graph clamps to [0,1]. `out_hw`: see Decoder."""
        return self.decoder(self.transform.apply(self.encode(frame), s_mean, s_matrix), out_hw)

    def forward(self, frame: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.stylize(frame, *self.style_state(style))


class StyleBranch(nn.Module):
    """Export wrapper: style (N,3,h,w) in [0,1] -> s_mean (N,C), s_matrix (N,32,32)."""

    def __init__(self, net: STNet):
        super().__init__()
        self.net = net

    def forward(self, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.style_state(style)


def interleaved_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """`conv` (C input channels, k x k) as the same convolution of the image in its NHWC layout read
    as one channel C times as wide: kernel k x kC, stride and zero padding C times as wide. Pixel
    x's channels sit at columns Cx..Cx+C-1, so the wide kernel's column C*dx + c weighs channel c
    of the pixel dx to the right. Same outputs up to float rounding, and the frame needs no
    NHWC -> NCHW transpose before it; in ONNX Runtime's CPU provider the one-channel convolution
    is also faster than the three-channel one (r31's conv1_1 at 1080p: 25 ms against 51,
    bench/RESULTS.md)."""
    c_out, c_in, kh, kw = conv.weight.shape
    (sh, sw), (ph, pw) = conv.stride, conv.padding
    wide = nn.Conv2d(1, c_out, (kh, kw * c_in), stride=(sh, sw * c_in), padding=(ph, pw * c_in),
                     bias=conv.bias is not None).to(conv.weight.dtype)
    with torch.no_grad():
        wide.weight.copy_(conv.weight.permute(0, 2, 3, 1).reshape(c_out, 1, kh, kw * c_in))
        if conv.bias is not None:
            wide.bias.copy_(conv.bias)
    return wide


def pixel_scaled(net: STNet, interleaved: bool = False) -> STNet:
    """A copy of `net` for the content graph: it takes pixel values 0..255 reflection-padded by
    one pixel and returns 0..255. 1/255 and the 1x1 preprocessing conv are folded into conv1_1,
    255 into the decoder's last conv. Same outputs up to float rounding, three full-resolution
    passes fewer per frame. `interleaved`: conv1_1 takes the padded frame in NHWC read as one
    channel (N, 1, H+2, 3(W+2)) (see interleaved_conv)."""
    scaled = copy.deepcopy(net)
    with torch.no_grad():
        scaled.encoder.preprocess.weight.mul_(1.0 / 255.0)
        fold_preprocess(scaled.encoder)
        last = scaled.decoder.convs[-1]
        last.weight.mul_(255.0)
        last.bias.mul_(255.0)
    if interleaved:
        scaled.encoder.convs["conv1_1"] = interleaved_conv(scaled.encoder.convs["conv1_1"])
    scaled.encoder.padded_input = True
    scaled.encoder.ceil_pool = True
    return scaled


class ReflectPadFrame(torch.autograd.Function):
    """A uint8 (N,H,W,C) frame reflection-padded by one pixel on H and W, in its own layout: one
    ONNX Pad over axes 1 and 2 (ONNX Runtime reflects any axis; torch's F.pad only the last ones)."""

    @staticmethod
    def forward(ctx, frame: torch.Tensor) -> torch.Tensor:  # noqa: D102 - torch's signature
        return F.pad(frame.permute(0, 3, 1, 2), (1, 1, 1, 1), mode="reflect").permute(0, 2, 3, 1).contiguous()

    @staticmethod
    def symbolic(g, frame):  # noqa: D102 - the ONNX export
        pads = g.op("Constant", value_t=torch.tensor([0, 1, 1, 0, 0, 1, 1, 0], dtype=torch.int64))
        return g.op("Pad", frame, pads, mode_s="reflect")


class QuantizeToUint8(torch.autograd.Function):
    """Float pixel values -> uint8, saturated to 0..255 and rounded half to even, as one ONNX
    QuantizeLinear (scale 1, zero point 0): one vectorised pass where Clip, Round and Cast are
    three (measured at 1080p: 0.7 ms against 2.9 ms on 2 threads, bench/RESULTS.md)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102 - torch's signature
        return x.clamp(0.0, 255.0).round().to(torch.uint8)

    @staticmethod
    def symbolic(g, x):  # noqa: D102 - the ONNX export
        scale = g.op("Constant", value_t=torch.tensor(1.0))
        zero_point = g.op("Constant", value_t=torch.tensor(0, dtype=torch.uint8))
        return g.op("QuantizeLinear", x, scale, zero_point)


# Scripted, so that the exported graph keeps the branch as an ONNX If node: at full strength (the
# common case) the blend's passes are skipped and the padded output goes straight to quantizing.

@torch.jit.script
def blend(frame: torch.Tensor, styled: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """(1 - s) frame + s styled, s clamped to [0, 1]; `frame` is the uint8 NHWC input, transposed
    and cast only here, when a blend is needed, and `styled` the network's NCHW output at the
    frame's size. `styled` is clamped first, so a partial strength blends the image a viewer would
    see at full strength."""
    s = strength.clamp(0.0, 1.0)
    if bool(s.min() >= 1.0):
        return styled
    x = frame.permute(0, 3, 1, 2).to(styled.dtype)
    styled = styled.clamp(0.0, 255.0)
    return x + s.reshape(-1, 1, 1, 1).to(styled.dtype) * (styled - x)


class ContentBranch(nn.Module):
    """Export wrapper, the per-frame graph: frame uint8 (N,H,W,3) RGB of any size, s_mean, s_matrix,
    strength (1,) -> out uint8 (N,H,W,3).

    Everything between the decoded frame and the encoded frame happens inside the graph, in as
    few full-frame passes as the ops allow: conv1_1's reflection pad done on the uint8 frame in
    its own NHWC layout, which conv1_1 then reads as one wide channel (interleaved_conv: no input
    transpose), scaling and Caffe preprocessing folded into the first and last convs, no
    stride padding (the encoder pools partial windows; the crop back to the frame's size is
    folded into the decoder's last reflection pad), the
    strength blend (skipped at full strength), and saturating and rounding in one QuantizeLinear,
    moved into the blend's branches at export (commands/export.py) so that full strength does
    not copy the frame. So frames cross between host and device as 3
    bytes a pixel each way, and the host does no per-pixel work. `strength` blends in pixel
    space, clamped to [0,1]: 0 = the raw frame, 1 = full style (one definition for every control
    source). `dtype` float16 makes an fp16 graph with the same uint8 interface (QuantizeLinear
    takes float32 at opset 17, so the fp16 graph casts before it). `quantize=False` returns the
    float 0..255 image, clamped, before rounding (parity checks).
    """

    def __init__(self, net: STNet, dtype: torch.dtype = torch.float32, quantize: bool = True):
        super().__init__()
        self.net = pixel_scaled(net, interleaved=True)
        self.dtype = dtype
        self.quantize = quantize

    def forward(self, frame: torch.Tensor, s_mean: torch.Tensor, s_matrix: torch.Tensor,
                strength: torch.Tensor) -> torch.Tensor:
        n, h, w, c = frame.shape
        padded = ReflectPadFrame.apply(frame)  # on uint8: a quarter of float's traffic
        x = padded.reshape(n, 1, h + 2, (w + 2) * c).to(self.dtype)  # 0..255, NHWC read as one channel
        styled = self.net.stylize(x, s_mean.to(self.dtype), s_matrix.to(self.dtype), (h, w))
        out = blend(frame, styled, strength.to(self.dtype))
        if self.dtype != torch.float32:
            out = out.float()
        out = QuantizeToUint8.apply(out) if self.quantize else out.clamp(0.0, 255.0)
        return out.permute(0, 2, 3, 1)
