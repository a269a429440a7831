"""bench/stnet_quality.py: its figure functions on tiny synthetic images (no model, no data set),
and its one-line error when the held-out images are missing."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def q():
    spec = importlib.util.spec_from_file_location("stnet_quality", REPO / "bench" / "stnet_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def scene(h=48, w=64, seed=0) -> np.ndarray:
    """Rectangles on a gradient: edges, colours, no clipping in a colour transfer."""
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.float64)
    image[:] = np.linspace(70, 150, w)[None, :, None]
    for _ in range(4):
        y, x = rng.integers(0, h - 12), rng.integers(0, w - 12)
        image[y:y + 10, x:x + 10] = rng.uniform(40, 200, 3)
    return image.astype(np.uint8)


def test_gram_ratio_is_0_for_the_style_and_1_for_the_content(q, one_thread):
    encoder = q.load_vgg()
    content, style = scene(seed=1), (np.random.default_rng(2).uniform(0, 255, (40, 56, 3))).astype(np.uint8)
    gc, gs = q.gram_matrices(encoder, content), q.gram_matrices(encoder, style)
    assert set(gc) == {"r21", "r31", "r41"}
    assert q.gram_ratio(gs, gc, gs) == 0.0
    assert q.gram_ratio(gc, gc, gs) == pytest.approx(1.0)
    assert q.gram_distance(gc, gs) > 0


def test_edges_of_identical_images_match_fully_and_a_flat_output_recalls_nothing(q):
    content = scene()
    assert q.canny(content).any()
    assert q.edge_recall_precision(content, content) == (1.0, 1.0)
    shifted = np.concatenate([content[:, :1], content[:, :-1]], axis=1)  # 1 px: within the 5x5 window
    recall, precision = q.edge_recall_precision(content, shifted)
    assert recall > 0.9 and precision > 0.9
    recall, precision = q.edge_recall_precision(content, np.full_like(content, 128))
    assert recall == 0.0 and np.isnan(precision)  # no output edge: precision undefined


def test_colour_transfer_takes_the_style_channel_means_and_spreads(q):
    content, style = scene(seed=3), scene(seed=4)[::-1, ::-1] // 2 + 60
    out = q.colour_transfer(content, style)
    assert out.shape == content.shape and out.dtype == np.uint8
    assert np.allclose(out.reshape(-1, 3).mean(0), style.reshape(-1, 3).mean(0), atol=0.6)
    assert np.allclose(out.reshape(-1, 3).std(0), style.reshape(-1, 3).std(0), atol=0.6)


def test_palette_figures(q):
    styles = {f"s{k}": q.colour_moments(scene(seed=10 + k)) for k in range(3)}
    # outputs that carry their style's colours exactly: spread 1, every one matched
    exact = {(c, s): m for c in ("a", "b") for s, m in styles.items()}
    figures = q.palette_figures(exact, styles)
    assert figures["palette_spread"] == pytest.approx(1.0)
    assert figures["own_style_match"] == 1.0 and figures["own_style_match_of_20"] == 20
    # every style gives the same colours: spread 0
    same = {(c, s): styles["s0"] for c in ("a", "b") for s in styles}
    figures = q.palette_figures(same, styles)
    assert figures["palette_spread"] == 0.0 and figures["own_style_match"] == pytest.approx(1 / 3)


def test_flicker_figures_are_0_for_a_still_clip(q):
    frames = [scene(seed=5)] * 5
    motion = q.source_motion(frames)
    assert motion["still"].all() and all(m.all() for m in motion["masks"])
    assert q.flicker_F(frames, motion["still"]) == 0.0
    assert q.warped_error(frames, motion) == 0.0
    noisy = [np.clip(f.astype(int) + k % 2 * 8, 0, 255).astype(np.uint8) for k, f in enumerate(frames)]
    assert q.flicker_F(noisy, motion["still"]) > 0 and q.warped_error(noisy, motion) > 0


def test_sizes(q):
    image = scene(300, 500)
    assert q.fit_long_side(image).shape == (154, 256, 3)
    assert q.eval_crop(image).shape == (256, 256, 3)


def test_missing_heldout_image_is_one_line_naming_the_file_and_the_command(q, tmp_path, capsys):
    code = q.main(["--data", str(tmp_path), "--json", str(tmp_path / "q.json"), "-o", str(tmp_path / "g.png")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(tmp_path / "content_heldout" / "skimage__coffee.jpg") in err
    assert f"livestyle data stnet-starter {tmp_path}" in err
    assert not (tmp_path / "q.json").exists()


@pytest.mark.parametrize("option", ["--flicker-styles", "--frames", "--contents", "--styles"])
def test_a_negative_count_is_one_line(q, tmp_path, capsys, option):
    code = q.main([option, "-1", "--data", str(tmp_path), "--json", str(tmp_path / "q.json")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"stnet_quality: {option} -1: must be 0 or more"
    assert not (tmp_path / "q.json").exists()


def test_ssim_is_1_for_one_image_and_low_for_unrelated_ones(q):
    a = scene(seed=0)
    assert q.ssim(a, a) == pytest.approx(1.0)
    noise = np.random.default_rng(5).integers(0, 256, a.shape, dtype=np.uint8)
    assert q.ssim(a, noise) < 0.3
    assert q.ssim(a, np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)) > 0.9  # a brightness shift


def test_models_name_a_folder_and_optionally_its_model(q):
    assert q.split_model(Path("exported")) == (Path("exported"), "stnet")
    assert q.split_model(Path("exported:lite")) == (Path("exported"), "lite")
    assert q.split_model(Path("/tmp/x:r31")) == (Path("/tmp/x"), "stnet")


def test_decoder_bound_whitening_colouring_gives_the_style_statistics():
    """bench/stnet_decoder_bound.py's WCT: the output's mean and covariance are the style's (its
    bound is only as good as this), whatever the content's were."""
    spec = importlib.util.spec_from_file_location("stnet_decoder_bound", REPO / "bench" / "stnet_decoder_bound.py")
    bound = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bound)
    g = torch.Generator().manual_seed(0)
    content = torch.randn(1, 8, 12, 16, generator=g) * 3 + 1
    mix = torch.randn(8, 8, generator=g)
    style = (mix @ torch.randn(8, 10 * 10, generator=g)).reshape(1, 8, 10, 10) + torch.arange(8.0)[None, :, None, None]
    out = bound.whiten_colour(content, style)
    assert out.shape == content.shape

    def stats(x):
        flat = x[0].reshape(8, -1).double()
        return flat.mean(1), torch.cov(flat)

    (m_out, c_out), (m_style, c_style) = stats(out), stats(style)
    assert torch.allclose(m_out, m_style, atol=1e-4)
    assert torch.allclose(c_out, c_style, atol=1e-3 * float(c_style.abs().max()))
