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


def test_folding_the_preprocessing_into_conv1_1_is_exact():
    """Caffe's 1x1 preprocessing commutes with reflection padding, so folding it into conv1_1 (the
    content graph's encoder) changes nothing but float rounding."""
    import copy

    import torch.nn.functional as F

    from livestyle.models.vgg import fold_preprocess

    torch.manual_seed(0)
    encoder = VGGEncoder("r31").eval()
    folded = copy.deepcopy(encoder)
    fold_preprocess(folded)
    folded.padded_input = True
    x = torch.rand(1, 3, 24, 28)
    with torch.no_grad():
        torch.testing.assert_close(folded(F.pad(x, (1, 1, 1, 1), mode="reflect"))["r31"], encoder(x)["r31"],
                                   atol=1e-4, rtol=1e-4)


def test_partial_window_pooling_only_changes_the_edge_of_unaligned_frames():
    """The content graph pools partial windows instead of reflection-padding to the stride: the
    same picture away from the bottom/right edge, and any frame size accepted."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    net = STNet("r31", VGGEncoder("r31")).eval()
    frame_u8 = torch.randint(0, 256, (1, 38, 50, 3), dtype=torch.uint8)  # 38, 50: not multiples of 4
    with torch.no_grad():
        s_mean, s_matrix = StyleBranch(net)(torch.rand(1, 3, 40, 40))
        out = ContentBranch(net, quantize=False)(frame_u8, s_mean, s_matrix, torch.ones(1))
        x = frame_u8.permute(0, 3, 1, 2).float() / 255
        padded = F.pad(x, (0, 2, 0, 2), mode="reflect")
        old = net.stylize(padded, s_mean, s_matrix)[:, :, :38, :50].clamp(0, 1).permute(0, 2, 3, 1) * 255
    assert out.shape == frame_u8.shape
    # the transform's statistics are global, so the interior moves a little; the edge more
    assert (out - old)[:, :24, :36].abs().mean() < 2.0


def test_growing_skips_keeps_what_the_lite_student_computes():
    """Stage 2 of the lite recipe starts from the no-skip student with zero-weight skips: the
    grown network's output is the old one's."""
    from livestyle.models.stnet_lite import LiteSTNet, grow_skips

    torch.manual_seed(0)
    old = LiteSTNet((8, 16, 32), 4).eval()
    new = LiteSTNet((8, 16, 32), 4, skips=True).eval()
    new.load_state_dict(grow_skips(old.state_dict(), (8, 16, 32)))
    # multiples of 8, as the training crops: elsewhere the skips crop the upsampled features to the
    # encoder's sizes, which moves the decoder's bottom/right border by a pixel
    frame, s_mean, s_matrix = torch.rand(1, 3, 40, 56), torch.randn(1, 256), torch.randn(1, 32, 32) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(new(frame, s_mean, s_matrix), old(frame, s_mean, s_matrix))


def test_interleaved_conv_equals_the_conv_on_the_nchw_frame():
    """conv1_1 of the content graph reads the NHWC frame as one channel 3 times as wide (kernel
    3x9, stride (1,3)): the same numbers as the 3-channel conv on the NCHW frame."""
    from livestyle.models.stnet import ReflectPadFrame, interleaved_conv

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3)
    frame = torch.randint(0, 256, (2, 9, 13, 3), dtype=torch.uint8)
    padded = ReflectPadFrame.apply(frame)
    assert padded.shape == (2, 11, 15, 3)
    nchw = torch.nn.functional.pad(frame.permute(0, 3, 1, 2).float(), (1, 1, 1, 1), mode="reflect")
    torch.testing.assert_close(padded.permute(0, 3, 1, 2).float(), nchw)
    wide = interleaved_conv(conv)
    with torch.no_grad():
        torch.testing.assert_close(wide(padded.float().reshape(2, 1, 11, 45)), conv(nchw), atol=1e-3, rtol=1e-5)
