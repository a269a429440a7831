"""Linear STNet structure (spec B): shapes, parameter counts, and the style/content split."""

import pytest
import torch

from livestyle.models.stnet import ContentBranch, STNet, StyleBranch
from livestyle.models.vgg import VGGEncoder


@pytest.mark.parametrize("layer,params", [("r31", 4_000_879), ("r41", 12_167_151)])
def test_parameter_counts_match_spec(layer, params):
    net = STNet(layer, VGGEncoder(layer))
    total = sum(p.numel() for p in net.parameters())
    # spec D.2 counts include the 1x1 preprocessing conv (12 params) in the encoder
    assert total == params


@pytest.mark.parametrize("layer", ["r31", "r41"])
def test_branches_compose_to_forward(layer):
    torch.manual_seed(0)
    net = STNet(layer, VGGEncoder(layer)).eval()
    frame_u8 = torch.randint(0, 256, (1, 32, 48, 3), dtype=torch.uint8)
    frame, style = frame_u8.permute(0, 3, 1, 2).float() / 255, torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        s_mean, s_matrix = StyleBranch(net)(style)
        out = ContentBranch(net, quantize=False)(frame_u8, s_mean, s_matrix, torch.ones(1))
        full = net(frame, style).clamp(0, 1)
    assert s_mean.shape == (1, 256 if layer == "r31" else 512)
    assert s_matrix.shape == (1, 32, 32)
    assert out.shape == frame_u8.shape  # NHWC, the frame's own layout
    torch.testing.assert_close(out, full.permute(0, 2, 3, 1) * 255, atol=1e-3, rtol=1e-4)


def test_style_mean_is_added_back():
    """With a zero style matrix the transform outputs exactly the style mean at every position."""
    net = STNet("r31", VGGEncoder("r31")).eval()
    feat = torch.rand(1, 256, 8, 8)
    s_mean = torch.rand(1, 256)
    torch.nn.init.zeros_(net.transform.unzip.bias)
    out = net.transform.apply(feat, s_mean, torch.zeros(1, 32, 32))
    torch.testing.assert_close(out, s_mean[:, :, None, None].expand_as(out))
