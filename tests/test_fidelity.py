"""bench/fidelity.py: its figure functions on synthetic inputs (no model, no audio), and its piece
lists: disjoint, every repo file present, nothing MVNet's starter set trains on."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fid():
    spec = importlib.util.spec_from_file_location("fidelity", REPO / "bench" / "fidelity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fidelity"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("fidelity", None)


@pytest.fixture(scope="module")
def lists():
    return json.loads((REPO / "bench" / "fidelity_pieces.json").read_text(encoding="utf-8"))


def solid(rgb, size=8):
    return np.full((size, size, 3), rgb, np.uint8)


def test_delta_e_is_0_for_identical_colours_and_100_for_black_and_white(fid):
    grey = fid.lab_means(solid((120, 130, 140)))
    assert fid.delta_e(grey, fid.lab_means(solid((120, 130, 140)))) == 0.0
    black, white = fid.lab_means(np.stack([solid((0, 0, 0)), solid((255, 255, 255))]))
    assert black == pytest.approx([0, 0, 0], abs=1e-3)
    assert white == pytest.approx([100, 0, 0], abs=1e-2)
    assert fid.delta_e(black, white) == pytest.approx(100.0, abs=1e-2)
    pw = fid.pairwise_delta_e({"k": black, "w": white, "k2": black + [0, 0, 2]})
    assert pw["min"] == pytest.approx(2.0) and pw["closest"] == ["k", "k2"]
    assert pw["mean"] == pytest.approx((100 + 2 + np.hypot(100, 2)) / 3, abs=1e-2)


def test_rgb_histogram_sums_to_1_and_bins_colours(fid):
    image = np.concatenate([solid((0, 0, 0)), solid((255, 255, 255))], axis=1)
    h = fid.rgb_histogram(image)
    assert h.shape == (512,) and h.sum() == pytest.approx(1.0)
    assert h[0] == pytest.approx(0.5) and h[511] == pytest.approx(0.5)


def pieces_with(feature_of, n=4, sections=3, frames_per_section=30, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(sections * frames_per_section, dtype=float)  # one frame a second
    feats = [np.stack([feature_of(i) + 0.01 * rng.random(16) for _ in t]) for i in range(n)]
    return feats, [t] * n


def test_identification_is_perfect_on_separable_histograms_and_at_chance_on_identical_ones(fid):
    feats, times = pieces_with(lambda i: np.eye(16)[i])
    r = fid.identify_sections(feats, times, section=30.0, guard=6.0)
    assert r["frame_accuracy"] == 1.0 and r["section_accuracy"] == 1.0
    assert r["sections"] == 12 and r["chance"] == 0.25
    same = [np.full((90, 16), 1 / 16)] * 4
    r = fid.identify_sections(same, times, section=30.0, guard=6.0)
    assert r["frame_accuracy"] == pytest.approx(0.25)  # ties: every frame goes to one piece


def test_identification_guard_keeps_frames_that_share_audio_out_of_the_centroid(fid):
    # piece 0: section 0 looks like X; its section 1 starts with 6 s that still look like X (the
    # windows reach back into section 0), then Y. Piece 1 looks like Z, nearer to X than Y is but
    # farther than the leaky centroid. Without the guard those 6 s flatter the held-out section 0.
    X, Y, Z = np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([0, 0.9, 0.3])
    t = np.arange(60, dtype=float)
    piece0 = np.stack([X if s < 36 else Y for s in t])
    piece1 = np.tile(Z, (60, 1))
    leaky = fid.identify_sections([piece0, piece1], [t, t], section=30.0, guard=0.0)
    guarded = fid.identify_sections([piece0, piece1], [t, t], section=30.0, guard=6.0)
    assert leaky["frame_accuracy"] == pytest.approx(96 / 120)
    assert guarded["frame_accuracy"] == pytest.approx(66 / 120)
    # a guard longer than the other section leaves nothing to hold the piece: nothing is scored
    assert fid.identify_sections([piece0, piece1], [t, t], section=30.0, guard=31.0)["sections"] == 0


def test_checkerboard_share_is_high_for_a_2_pixel_checkerboard_and_about_0_for_a_gradient(fid):
    y, x = np.mgrid[:64, :64]
    checker = ((x + y) % 2).astype(float)
    assert fid.nyquist_share(checker) > 0.95
    stripes = (x % 2).astype(float)  # 2-pixel period along one axis only
    assert fid.nyquist_share(stripes) > 0.95
    assert fid.nyquist_share(x / 63.0) < 1e-3
    assert fid.nyquist_share(np.full((64, 64), 0.5)) == 0.0
    rgb_checker = np.repeat((checker * 255).astype(np.uint8)[..., None], 3, axis=2)
    rgb_ramp = np.repeat((x * 4).astype(np.uint8)[..., None], 3, axis=2)
    assert fid.checkerboard_energy([rgb_checker]) > 100 * fid.checkerboard_energy([rgb_ramp])


def test_variance_shares_on_constructed_data(fid):
    piece = np.array([0.0, 10.0, 20.0])                      # L of three pieces
    seed = np.array([1.0, -1.0])                             # two seeds shift L by +-1
    means = np.zeros((3, 2, 3))
    means[..., 0] = piece[:, None] + seed[None, :]
    r = fid.variance_shares(means)
    assert r["music_var"] == pytest.approx(100.0)            # var([0, 10, 20], ddof 1)
    assert r["seed_var"] == pytest.approx(2.0)               # var([1, -1], ddof 1)
    assert r["music_over_seed"] == pytest.approx(50.0)
    swapped = np.swapaxes(np.stack([means[:2, 0], means[:2, 1]], axis=0), 0, 1)  # seed effect only
    swapped[..., 0] = np.array([[0.0, 10.0], [0.0, 10.0]])
    r = fid.variance_shares(swapped)
    assert r["music_var"] == 0.0 and r["music_over_seed"] == 0.0
    with pytest.raises(ValueError):
        fid.variance_shares(np.zeros((1, 3, 3)))


def test_fade_holds_full_level_then_falls_30_db(fid):
    g = fid.fade_gain(400, 10)  # 40 s at 10 Hz
    assert g[:200] == pytest.approx(1.0)
    assert g[300:] == pytest.approx(10 ** (-30 / 20))
    assert np.all(np.diff(g) <= 0)


def test_targets_say_pass_and_miss(fid):
    assert fid.check("pairwise_dE_mean", 12.0) == "PASS"
    assert fid.check("pairwise_dE_mean", 9.0) == "MISS"
    assert fid.check("checkerboard_ratio", 1.2) == "PASS"
    assert fid.check("checkerboard_ratio", float("nan")) == "MISS"


def test_piece_lists_are_disjoint_and_their_files_exist(lists):
    tuning, reporting = lists["tuning"], lists["reporting"]
    for pieces in (tuning, reporting):
        music = [p for p in pieces if p["kind"] != "silence"]
        assert len(music) >= 8 and any(p["kind"] == "silence" for p in pieces)
        assert len({p["id"] for p in pieces}) == len(pieces)
        for p in pieces:
            assert p["kind"] in ("recording", "midi", "music21", "silence")
            assert p["licence"] and p["genre"] and p["excerpt"]["seconds"] >= 40
            if p["kind"] in ("recording", "midi"):
                assert (REPO / p["source"]).is_file(), p["source"]
                assert not p["source"].startswith("..")
    def keys(pieces):
        out = set()
        for p in pieces:
            if p["kind"] != "silence":
                src = p["source"]
                out.update(src if isinstance(src, list) else [src])
        return out
    assert not keys(tuning) & keys(reporting)
    assert not {p["id"] for p in tuning if p["kind"] != "silence"} & {p["id"] for p in reporting}


def test_no_piece_is_mvnet_training_data(fid, lists):
    pytest.importorskip("music21")
    from livestyle.train.mvnet_data import RECORDINGS

    taken = fid.training_scores()
    assert "bach/bwv1.6.mxl" in taken and "beethoven/opus18no1/movement2.krn" in taken  # the check sees the set
    taken_stems = {t.rsplit(".", 1)[0] for t in taken}
    for p in lists["tuning"] + lists["reporting"]:
        if p["kind"] == "music21":
            for src in (p["source"] if isinstance(p["source"], list) else [p["source"]]):
                assert src not in taken and src.rsplit(".", 1)[0] not in taken_stems, src
        if p["kind"] == "recording":
            assert Path(p["source"]).name not in RECORDINGS


def test_contact_sheet_has_a_block_per_piece(fid):
    photo = np.full((96, 144, 3), 128, np.uint8)
    styles = np.zeros((3, 64, 64, 3), np.uint8)
    frames = np.zeros((3, 96, 144, 3), np.uint8)
    sheet = fid.contact_sheet([("a", "pop", np.array([0.0, 5.0, 10.0]), styles, frames)] * 2, photo)
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 170 + 3 * 148
    assert sheet.shape[0] == 24 + 96 + 8 + 18 + 2 * (2 * 96 + 8)
