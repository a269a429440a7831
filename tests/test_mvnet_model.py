"""MVNet structure (spec A): shapes, parameter counts, determinism, spectral-norm folding."""

import numpy as np
import torch

from livestyle.models.mvnet import (MVNet, Discriminator, EraClassifier, fold_spectral_norm, resize_latent,
                                    seeded_z)
from livestyle.runtime.mvnet_runner import seeded_z as runtime_seeded_z


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_shapes_and_parameter_counts_match_spec():
    net, disc, cls = MVNet(), Discriminator(), EraClassifier(54)
    mel = torch.randn(2, 3, 128, 256)
    v = net.encoder(mel)
    assert v.shape == (2, 1, 8, 16)
    assert resize_latent(v).shape == (2, 1, 8, 8)
    image = net(mel, seeded_z(0, 2))
    assert image.shape == (2, 3, 64, 64) and image.abs().max() <= 1
    assert disc(image).shape == (2, 5, 5)
    assert cls(image).shape == (2, 54)
    assert (count(net.encoder), count(net.generator), count(disc), count(cls)) == \
        (978_753, 1_624_773, 827_459, 100_662)


def test_inference_is_deterministic_for_fixed_z():
    torch.manual_seed(0)
    net = MVNet().eval()
    mel = torch.randn(1, 3, 128, 256)
    with torch.no_grad():
        a, b = net(mel, seeded_z(7)), net(mel, seeded_z(7))
        c = net(mel, seeded_z(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_seeded_z_same_in_torch_and_runtime():
    np.testing.assert_array_equal(seeded_z(3, 2).numpy(), runtime_seeded_z(3, 2))


def test_folding_spectral_norm_keeps_the_output():
    torch.manual_seed(0)
    net = MVNet()
    net.train()
    net(torch.randn(2, 3, 128, 256), seeded_z(0, 2))  # a power iteration updates u, v
    net.eval()
    mel = torch.randn(1, 3, 128, 256)
    with torch.no_grad():
        before = net(mel, seeded_z(1))
        folded = fold_spectral_norm(net)
        after = folded(mel, seeded_z(1))
    assert not any("parametrizations" in k for k in folded.state_dict())
    torch.testing.assert_close(before, after)
