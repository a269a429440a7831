"""Brightness and contrast follow PIL's ImageEnhance exactly as the Vis2Mus interface uses them."""

from pathlib import Path

import numpy as np
import pytest

from livestyle.image_adjust import adjust, brightness, contrast, contrast_factor
from conftest import PAINTINGS

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageEnhance  # noqa: E402


@pytest.fixture(scope="module")
def painting():
    from livestyle.io.images import read_image, resize_shorter

    return resize_shorter(read_image(PAINTINGS / "1889_van_gogh_the_starry_night.jpg"), 96)


@pytest.mark.parametrize("b", [-70, -20, 0, 35, 100])
def test_brightness_matches_pil(painting, b):
    expected = np.asarray(ImageEnhance.Brightness(Image.fromarray(painting)).enhance(1 + b / 100))
    assert np.abs(brightness(painting, b).astype(int) - expected).max() <= 1


@pytest.mark.parametrize("k", [-70, -10, 0, 5, 30])
def test_contrast_matches_pil_with_the_interface_factor(painting, k):
    expected = np.asarray(ImageEnhance.Contrast(Image.fromarray(painting)).enhance(contrast_factor(k)))
    assert np.abs(contrast(painting, k).astype(int) - expected).max() <= 1


def test_factor_convention_and_float_images(painting):
    assert contrast_factor(-50) == 0.5 and contrast_factor(50) == 6.0  # 1 + k/10 above zero
    x = painting.astype(np.float32) / 255
    out = adjust(x, b=20, k=-30)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert np.abs(out * 255 - adjust(painting, b=20, k=-30)).max() <= 1.5
    flat = contrast(x, -100)  # factor 0: every pixel the mean luminance
    assert np.ptp(flat) < 1e-6


@pytest.mark.parametrize("b, k", [(30, -20), (40, 20), (-50, 40), (-40, 0), (0, 50), (0, 0), (-70, -70), (70, -30)])
def test_estimate_reads_back_the_edit(b, k):
    """What `livestyle vis2mus from-images` reads from a BEFORE/AFTER pair, within 2 points."""
    import cv2

    from livestyle.image_adjust import estimate

    photo = cv2.cvtColor(cv2.imread(str(Path(__file__).parents[1] / "data" / "photos" / "coffee.jpg")),
                         cv2.COLOR_BGR2RGB)
    got_b, got_k = estimate(photo, adjust(photo, b, k))
    assert got_b == pytest.approx(b, abs=2.0) and got_k == pytest.approx(k, abs=2.0)


def test_estimate_refuses_what_it_cannot_read():
    from livestyle.image_adjust import estimate

    flat = np.full((32, 32, 3), 128, np.uint8)
    ramp = np.tile(np.arange(32, dtype=np.uint8)[None, :, None] * 8, (32, 1, 3))
    with pytest.raises(ValueError, match="clips"):
        estimate(ramp, np.full_like(ramp, 255))
    with pytest.raises(ValueError, match="inverts"):
        estimate(ramp, 255 - ramp)
    with pytest.raises(ValueError, match="differ in size"):
        estimate(flat, ramp[:16])
