"""The STNet training set: the frozen held-out list is enforced, package images are picked one per
wallpaper, style augmentation moves the palette, and the temporal loss's warp is sound."""

import json
import random

import numpy as np
import pytest
import torch

from livestyle.errors import UserError
from livestyle.io.images import write_image
from livestyle.train.data import ColourJitter, ImageFolder
from livestyle.train.stnet_trainer import STNetTrainConfig, STNetTrainer, random_smooth_flow, warp
from livestyle.train.stnet_data import (DEB_SOURCES, HELDOUT_LIST, check_not_heldout, deb_images,
                                        heldout_names, is_flat, load_heldout)

from conftest import PAINTINGS


def test_frozen_list_is_complete_and_consistent():
    data = load_heldout(HELDOUT_LIST)
    assert len(data["styles"]) >= 10 and len(data["contents"]) >= 4
    assert len(set(data["styles"])) == len(data["styles"])
    assert [tuple(p) for p in data["pairs"]] == [(c, s) for c in data["contents"] for s in data["styles"]]
    # every name says where the material comes from
    assert all("__" in name for name in data["styles"] + data["contents"])
    # the four paintings that were held out from the first starter set stay held out
    for stem in ("1831_hokusai_the_great_wave_off_kanagawa", "1893_munch_the_scream"):
        assert f"painting__{stem}" in data["styles"]


def test_training_refuses_heldout_files_by_built_or_original_name(tmp_path, clip_frames):
    heldout = heldout_names()
    built = tmp_path / "built"
    built.mkdir()
    write_image(built / "painting__1893_munch_the_scream.jpg", clip_frames[0])
    write_image(built / "other.jpg", clip_frames[1])
    with pytest.raises(UserError, match="held-out set.*painting__1893_munch_the_scream.jpg"):
        ImageFolder(built, 64, refuse=heldout)
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / "1893_munch_the_scream.jpg").write_bytes((PAINTINGS / "1893_munch_the_scream.jpg").read_bytes())
    with pytest.raises(UserError, match="held-out"):
        check_not_heldout(sorted(copied.iterdir()), heldout, copied)
    clean = tmp_path / "clean"
    clean.mkdir()
    write_image(clean / "frame.png", clip_frames[2])
    assert len(ImageFolder(clean, 64, refuse=heldout)) == 1


def test_trainer_refuses_a_style_folder_with_a_heldout_painting(photo_dir, tmp_path):
    style = tmp_path / "styles"
    style.mkdir()
    for name in ("1889_van_gogh_the_starry_night.jpg", "1905_matisse_woman_with_a_hat.jpg"):
        (style / name).write_bytes((PAINTINGS / name).read_bytes())
    cfg = STNetTrainConfig(content_dir=str(photo_dir), style_dir=str(style), out_dir=str(tmp_path / "run"),
                           heldout_list=str(HELDOUT_LIST))
    with pytest.raises(UserError, match="1905_matisse_woman_with_a_hat.jpg"):
        STNetTrainer(cfg, progress=False)


def test_heldout_list_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_heldout(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        load_heldout(bad)
    bad.write_text(json.dumps({"styles": []}))
    with pytest.raises(UserError, match="expected lists"):
        load_heldout(bad)


def test_package_images_one_per_wallpaper_largest_wins(tmp_path):
    plasma = next(s for s in DEB_SOURCES if s.prefix == "plasma")
    base = tmp_path / "usr/share/wallpapers/Flow/contents"
    for folder, name, size in (("images", "1920x1080.jpg", 10), ("images", "5120x2880.jpg", 30),
                               ("images_dark", "720x1440.jpg", 5), ("images", "screenshot.png", 99)):
        (base / folder).mkdir(parents=True, exist_ok=True)
        (base / folder / name).write_bytes(b"x" * size)
    found = dict(deb_images(plasma, tmp_path))
    assert found == {"plasma__Flow_images": base / "images/5120x2880.jpg",
                     "plasma__Flow_images_dark": base / "images_dark/720x1440.jpg"}


def test_flat_images_are_recognised(clip_frames):
    assert is_flat(np.full((32, 32, 3), 200, np.uint8))
    assert not is_flat(clip_frames[0])


def test_colour_jitter_turns_the_hue_and_keeps_the_shape(clip_frames):
    import cv2

    image = clip_frames[1]
    out = ColourJitter(hue_p=1.0)(image, random.Random(3))
    assert out.shape == image.shape and out.dtype == np.uint8
    hue = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2HSV_FULL)[..., 0].astype(int)
    turned = np.abs(((hue(out) - hue(image)) + 128) % 256 - 128)
    saturated = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL)[..., 1] > 60
    assert np.median(turned[saturated]) > 10
    assert not ColourJitter().active and ColourJitter(hue_p=0.5).active  # ImageFolder skips an inactive one


def test_temporal_warp_identity_and_displacement():
    images = torch.rand(2, 3, 32, 48)
    assert torch.allclose(warp(images, random_smooth_flow(images.shape, 0.0)), images, atol=1e-5)
    torch.manual_seed(0)
    grid = random_smooth_flow(images.shape, 4.0)
    pixels = (grid - random_smooth_flow(images.shape, 0.0)) * torch.tensor([47 / 2, 31 / 2])
    assert 0.5 < pixels.abs().max() <= 4.0 + 1e-4


def test_temporal_term_is_trained_and_logged(photo_dir, painting_dir, tmp_path):
    from test_train_stnet import read_log, tiny_config

    cfg = tiny_config(photo_dir, painting_dir, tmp_path / "run", dec_steps=1, tr_steps=1)
    cfg.transform.temporal_weight = 10.0
    STNetTrainer(cfg, progress=False).train(evaluate=False)
    record = read_log(tmp_path / "run")[-1]
    assert record["stage"] == "transform" and record["temporal"] > 0
    assert record["total"] == pytest.approx(record["content"] + 0.02 * record["style"] + 10 * record["temporal"], rel=1e-4)
